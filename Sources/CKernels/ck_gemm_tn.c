// The weight-gradient GEMM c(m, n) += aᵀ·b reduced over rows (see ck_gemm_train.h): scalar twin, AVX2, AVX-512,
// dispatch. Every path computes each c[i, j] as one chain of fused multiply-adds over the rows in order
// (fmaf in the twin), so the SIMD paths equal the twin bit for bit.
#include "ck_internal.h"

#include <math.h>

// Rows per cache block: a block of b (rows × 32 columns, 32 KB) stays in L1 while every row tile of c passes over it.
#define TN_ROW_BLOCK 256

// MARK: - Scalar twin

void ck_sgemm_tn_f32_ref(float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb, size_t r0,
                         size_t r1, size_t m, size_t n0, size_t n1) {
    // Rows outer: the same per-element order as the SIMD tiles, and cache-friendly for a small c.
    for (size_t r = r0; r < r1; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        for (size_t i = 0; i < m; i++) {
            float* ci = c + i * ldc;
            const float ai = ar[i];
            for (size_t j = n0; j < n1; j++) ci[j] = fmaf(ai, br[j], ci[j]);
        }
    }
}

// MARK: - AVX2: tiles of up to 6 rows of c × 16 columns (two 8-lane vectors), 12 accumulators.

CK_INLINE CK_AVX2 void tn_tile_avx2(const int mr, float* c, size_t ldc, const float* a, size_t lda, const float* b,
                                    size_t ldb, size_t rows, __m256i k0, __m256i k1) {
    __m256 acc0[6], acc1[6];
    for (int i = 0; i < mr; i++) {
        acc0[i] = _mm256_maskload_ps(c + i * ldc, k0);
        acc1[i] = _mm256_maskload_ps(c + i * ldc + 8, k1);
    }
    for (size_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        const __m256 b0 = _mm256_maskload_ps(br, k0), b1 = _mm256_maskload_ps(br + 8, k1);
        for (int i = 0; i < mr; i++) {
            const __m256 av = _mm256_broadcast_ss(ar + i);
            acc0[i] = _mm256_fmadd_ps(av, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(av, b1, acc1[i]);
        }
    }
    for (int i = 0; i < mr; i++) {
        _mm256_maskstore_ps(c + i * ldc, k0, acc0[i]);
        _mm256_maskstore_ps(c + i * ldc + 8, k1, acc1[i]);
    }
}

CK_AVX2 static void ck_sgemm_tn_avx2(float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb,
                                    size_t r0, size_t r1, size_t m, size_t n0, size_t n1) {
    for (size_t rb = r0; rb < r1; rb += TN_ROW_BLOCK) {
        const size_t rows = r1 - rb < TN_ROW_BLOCK ? r1 - rb : TN_ROW_BLOCK;
        for (size_t j = n0; j < n1; j += 16) {
            const size_t w = n1 - j < 16 ? n1 - j : 16;
            const __m256i k0 = ck_avx2_tail_mask(w < 8 ? w : 8), k1 = ck_avx2_tail_mask(w > 8 ? w - 8 : 0);
            const float* bj = b + rb * ldb + j;
            const size_t tiles = (m + 5) / 6;
            for (size_t t = 0, i = 0; t < tiles; t++) {
                const size_t mr = (m - i) / (tiles - t);
                float* cij = c + i * ldc + j;
                const float* ai = a + rb * lda + i;
                i += mr;
                switch (mr) {
                case 6: tn_tile_avx2(6, cij, ldc, ai, lda, bj, ldb, rows, k0, k1); break;
                case 5: tn_tile_avx2(5, cij, ldc, ai, lda, bj, ldb, rows, k0, k1); break;
                case 4: tn_tile_avx2(4, cij, ldc, ai, lda, bj, ldb, rows, k0, k1); break;
                case 3: tn_tile_avx2(3, cij, ldc, ai, lda, bj, ldb, rows, k0, k1); break;
                case 2: tn_tile_avx2(2, cij, ldc, ai, lda, bj, ldb, rows, k0, k1); break;
                default: tn_tile_avx2(1, cij, ldc, ai, lda, bj, ldb, rows, k0, k1); break;
                }
            }
        }
    }
}

// MARK: - AVX-512: tiles of up to 12 rows of c × 32 columns (two 16-lane vectors), 24 accumulators.

CK_INLINE CK_AVX512 void tn_tile_avx512(const int mr, float* c, size_t ldc, const float* a, size_t lda, const float* b,
                                        size_t ldb, size_t rows, __mmask16 k0, __mmask16 k1) {
    __m512 acc0[12], acc1[12];
    for (int i = 0; i < mr; i++) {
        acc0[i] = _mm512_maskz_loadu_ps(k0, c + i * ldc);
        acc1[i] = _mm512_maskz_loadu_ps(k1, c + i * ldc + 16);
    }
    for (size_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        const __m512 b0 = _mm512_maskz_loadu_ps(k0, br), b1 = _mm512_maskz_loadu_ps(k1, br + 16);
        for (int i = 0; i < mr; i++) {
            const __m512 av = _mm512_set1_ps(ar[i]);
            acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
        }
    }
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(c + i * ldc, k0, acc0[i]);
        _mm512_mask_storeu_ps(c + i * ldc + 16, k1, acc1[i]);
    }
}

// One column panel of 16 (k1 empty): half the work of a 32-wide tile, so it gets its own loop without the dead half.
CK_INLINE CK_AVX512 void tn_tile16_avx512(const int mr, float* c, size_t ldc, const float* a, size_t lda, const float* b,
                                          size_t ldb, size_t rows, __mmask16 k0) {
    __m512 acc[12];
    for (int i = 0; i < mr; i++) acc[i] = _mm512_maskz_loadu_ps(k0, c + i * ldc);
    for (size_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda;
        const __m512 b0 = _mm512_maskz_loadu_ps(k0, b + r * ldb);
        for (int i = 0; i < mr; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(ar[i]), b0, acc[i]);
    }
    for (int i = 0; i < mr; i++) _mm512_mask_storeu_ps(c + i * ldc, k0, acc[i]);
}

#define TN512_CASES(CALL)                                                                                               \
    switch (mr) {                                                                                                       \
    case 12: CALL(12); break;                                                                                           \
    case 11: CALL(11); break;                                                                                           \
    case 10: CALL(10); break;                                                                                           \
    case 9: CALL(9); break;                                                                                             \
    case 8: CALL(8); break;                                                                                             \
    case 7: CALL(7); break;                                                                                             \
    case 6: CALL(6); break;                                                                                             \
    case 5: CALL(5); break;                                                                                             \
    case 4: CALL(4); break;                                                                                             \
    case 3: CALL(3); break;                                                                                             \
    case 2: CALL(2); break;                                                                                             \
    default: CALL(1); break;                                                                                            \
    }

CK_AVX512 static void ck_sgemm_tn_avx512(float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb,
                                        size_t r0, size_t r1, size_t m, size_t n0, size_t n1) {
    for (size_t rb = r0; rb < r1; rb += TN_ROW_BLOCK) {
        const size_t rows = r1 - rb < TN_ROW_BLOCK ? r1 - rb : TN_ROW_BLOCK;
        for (size_t j = n0; j < n1; j += 32) {
            const size_t w = n1 - j < 32 ? n1 - j : 32;
            const __mmask16 k0 = ck_avx512_tail_mask(w < 16 ? w : 16), k1 = ck_avx512_tail_mask(w > 16 ? w - 16 : 0);
            const float* bj = b + rb * ldb + j;
            // Near-equal row tiles of at most 12 (64 → 10, 10, 11, 11, 11, 11 rather than 5 × 12 + 4).
            const size_t tiles = (m + 11) / 12;
            for (size_t t = 0, i = 0; t < tiles; t++) {
                const size_t mr = (m - i) / (tiles - t);
                float* cij = c + i * ldc + j;
                const float* ai = a + rb * lda + i;
                i += mr;
                if (w > 16) {
#define TN512_WIDE(MR) tn_tile_avx512(MR, cij, ldc, ai, lda, bj, ldb, rows, k0, k1)
                    TN512_CASES(TN512_WIDE)
#undef TN512_WIDE
                } else {
#define TN512_NARROW(MR) tn_tile16_avx512(MR, cij, ldc, ai, lda, bj, ldb, rows, k0)
                    TN512_CASES(TN512_NARROW)
#undef TN512_NARROW
                }
            }
        }
    }
}

// MARK: - Dispatch

void ck_sgemm_tn_f32(float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb, size_t r0, size_t r1,
                     size_t m, size_t n0, size_t n1) {
    if (r1 <= r0 || m == 0 || n1 <= n0) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_sgemm_tn_avx512(c, ldc, a, lda, b, ldb, r0, r1, m, n0, n1); return;
    case CK_ISA_AVX2: ck_sgemm_tn_avx2(c, ldc, a, lda, b, ldb, r0, r1, m, n0, n1); return;
    default: ck_sgemm_tn_f32_ref(c, ldc, a, lda, b, ldb, r0, r1, m, n0, n1); return;
    }
}
