// Packing helpers that let the training backward run its GEMMs on ck_sgemm_packed (the AVX-512/AVX2 kernel the
// inference path uses) instead of OpenBLAS. Included from CKernels.h.
//
// Why: profiled on this host, OpenBLAS 0.3.21 does not recognise the virtual CPU ("Intel Xeon Processor") and runs
// its generic PRESCOTT (SSE3) sgemm kernel: 60–72 % of a training step went there.
#ifndef CK_GEMM_TRAIN_H
#define CK_GEMM_TRAIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Packs B (k, n) row-major with row stride ldb for c = a · B (no transpose) into ck_sgemm_packed's layout:
/// packed[(p·k + kk)·16 + j] = B[kk, p·16 + j] (zero past n). Same size as ck_sgemm_packed_size(n, k).
/// Equivalent to ck_sgemm_pack_b on Bᵀ, without materialising the transpose.
void ck_sgemm_pack_b_kn(const float* b, size_t ldb, size_t k, size_t n, float* packed);

/// dst(cols, rows) = src(rows, cols)ᵀ; src row stride lds, dst row stride ldd. Blocked by 16 × 16 tiles.
void ck_transpose_f32(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols);

/// The weight-gradient GEMM without transposes or packing: c(m, n) += aᵀ·b over rows [r0, r1), for the columns
/// [n0, n1) of c, i.e. c[i, j] += Σ_r a[r, i]·b[r, j] with a (rows, m; row stride lda), b (rows, n; ldb), c (m, ldc).
/// For dW(out, in) += doutᵀ·x: a = dout, b = x. Each c[i, j] is one chain of fused multiply-adds over r in order
/// (fmaf in the twin), so every path gives the same bits; callers split columns (disjoint c) or rows (partial sums
/// into separate buffers) across threads. Replaces ck_transpose_f32 of dout plus ck_sgemm_pack_b_kn of x, which
/// were 12 % and 10 % of a Fashion-CNN training step (perf, one thread).
void ck_sgemm_tn_f32(float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb, size_t r0, size_t r1,
                     size_t m, size_t n0, size_t n1);
void ck_sgemm_tn_f32_ref(float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb, size_t r0,
                         size_t r1, size_t m, size_t n0, size_t n1);

#ifdef __cplusplus
}
#endif
#endif
