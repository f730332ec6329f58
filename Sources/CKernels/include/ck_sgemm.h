// Pre-packed fp32 GEMM for Linear layers: y = x · Wᵀ (+ bias), W in PyTorch layout (out = N, in = K).
// Included from CKernels.h.
#ifndef CK_SGEMM_H
#define CK_SGEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Columns per packed panel; column ranges given to ck_sgemm_packed start on a panel boundary.
#define CK_SGEMM_PANEL 16

/// Floats needed for the packed form of W (n, k): ceil(n / 16) panels of k × 16.
/// Any float alignment works (the kernels use unaligned loads); 64-byte alignment keeps every 16-float row of a
/// panel on one cache line, which is what the benchmarks measure.
size_t ck_sgemm_packed_size(size_t n, size_t k);
/// Packs W (n, k) row-major into panels: packed[(p·k + kk)·16 + j] = W[p·16 + j, kk] (zero past n).
/// The layout is the same for every ISA: pack once, run on whatever ck_isa() picks.
void ck_sgemm_pack_b(const float* w, size_t n, size_t k, float* packed);
/// c[:, n0:n1] = a · Wᵀ (+ bias[n0:n1]) for a (m, k) with row stride lda, c (m, ldc); other columns untouched.
/// n0 must be a multiple of CK_SGEMM_PANEL, n1 ≤ n (n1 may be n). bias: (n) /*nullable*/. Any m, n, k.
/// AVX-512: tiles of up to 12 rows × 32 columns (1–2 rows: 64 columns, K unrolled by 2); AVX2: 6 rows × 16
/// (1 row: 32 columns); FMA sums over k in order, so SIMD and twin differ only by FMA rounding.
/// Example: 2 threads over n = 384 call (n0, n1) = (0, 192) and (192, 384).
void ck_sgemm_packed(const float* a, size_t lda, const float* packed, const float* bias, float* c, size_t ldc,
                     size_t m, size_t n, size_t k, size_t n0, size_t n1);
/// Scalar twin over the same packed layout (the reference and the CK_ISA_SCALAR path).
void ck_sgemm_packed_ref(const float* a, size_t lda, const float* packed, const float* bias, float* c, size_t ldc,
                         size_t m, size_t n, size_t k, size_t n0, size_t n1);
/// Naive reference on the unpacked weight, double accumulation: c (m, ldc) = a (m, k; lda) · Wᵀ (+ bias),
/// W (n, k) row-major. For tests; also the algorithm ck_sgemm_packed implements, without the packing.
void ck_sgemm_ref_unpacked(const float* a, size_t lda, const float* w, const float* bias, float* c, size_t ldc, size_t m,
                           size_t n, size_t k);

#ifdef __cplusplus
}
#endif
#endif
