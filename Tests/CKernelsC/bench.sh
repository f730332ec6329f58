#!/bin/sh
# Kernel micro-benchmarks (not tests), one thread, built like SwiftPM builds CKernels (clang -O3):
#   bench_sgemm: our pre-packed fp32 GEMM vs OpenBLAS sgemm;  bench_gemm: int8/int4 GEMMs vs OpenBLAS sgemm;
#   bench_sparse: the CSR sparse kernel vs our dense packed GEMM (BENCHES="bench_sparse" runs one).
set -e
cd "$(dirname "$0")/../.."
CC="${CC:-clang}"
BLAS_INC="$(pkg-config --cflags openblas 2>/dev/null || true)"
for b in ${BENCHES:-bench_sgemm bench_gemm bench_sparse}; do
    "$CC" -O3 -I Sources/CKernels/include $BLAS_INC Sources/CKernels/*.c Tests/CKernelsC/$b.c -lopenblas -lm -o "${TMPDIR:-/tmp}/$b"
    echo "== $b"
    OPENBLAS_NUM_THREADS=1 "${TMPDIR:-/tmp}/$b"
done
