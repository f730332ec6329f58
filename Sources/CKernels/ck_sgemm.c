// Pre-packed fp32 GEMM: c = a · Wᵀ (+ bias) with W packed once into 16-column panels.
// Why not OpenBLAS: it re-packs W on every call (26 % of MiniLM batch-1 time under perf) and picks Haswell
// kernels for small M here; with W packed once, small-M GEMMs run straight from the panels.
#include "ck_internal.h"

#include <string.h>

size_t ck_sgemm_packed_size(size_t n, size_t k) {
    return (n + CK_SGEMM_PANEL - 1) / CK_SGEMM_PANEL * k * CK_SGEMM_PANEL;
}

void ck_sgemm_pack_b(const float* w, size_t n, size_t k, float* packed) {
    size_t panels = (n + CK_SGEMM_PANEL - 1) / CK_SGEMM_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float* dst = packed + p * k * CK_SGEMM_PANEL;
        for (size_t kk = 0; kk < k; kk++) {
            for (size_t j = 0; j < CK_SGEMM_PANEL; j++) {
                size_t row = p * CK_SGEMM_PANEL + j;
                dst[kk * CK_SGEMM_PANEL + j] = row < n ? w[row * k + kk] : 0.0f;
            }
        }
    }
}

// MARK: - Scalar twin

void ck_sgemm_ref_unpacked(const float* a, size_t lda, const float* w, const float* bias, float* c, size_t ldc, size_t m,
                           size_t n, size_t k) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double acc = bias ? bias[j] : 0.0;
            for (size_t kk = 0; kk < k; kk++) acc += (double)a[i * lda + kk] * (double)w[j * k + kk];
            c[i * ldc + j] = (float)acc;
        }
    }
}

void ck_sgemm_packed_ref(const float* a, size_t lda, const float* packed, const float* bias, float* c, size_t ldc,
                         size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    (void)n;
    for (size_t i = 0; i < m; i++) {
        for (size_t col = n0; col < n1; col++) {
            const float* panel = packed + (col / CK_SGEMM_PANEL) * k * CK_SGEMM_PANEL + col % CK_SGEMM_PANEL;
            float acc = 0.0f;
            for (size_t kk = 0; kk < k; kk++) acc += a[i * lda + kk] * panel[kk * CK_SGEMM_PANEL];
            c[i * ldc + col] = acc + (bias ? bias[col] : 0.0f);
        }
    }
}

// MARK: - AVX-512: MR rows × 32 columns (two panels) per microkernel call

#define CK_SGEMM_512_2P(MR)                                                                                  \
    static CK_AVX512 void ck_sgemm_512_2p_##MR(const float* a, size_t lda, const float* b0, const float* b1, \
                                                size_t k, const float* bias, float* c, size_t ldc,           \
                                                __mmask16 mask0, __mmask16 mask1) {                          \
        __m512 acc0[MR], acc1[MR];                                                                           \
        for (int i = 0; i < MR; i++) { acc0[i] = _mm512_setzero_ps(); acc1[i] = _mm512_setzero_ps(); }      \
        for (size_t kk = 0; kk < k; kk++) {                                                                  \
            __m512 vb0 = _mm512_loadu_ps(b0 + kk * CK_SGEMM_PANEL);                                          \
            __m512 vb1 = _mm512_loadu_ps(b1 + kk * CK_SGEMM_PANEL);                                          \
            for (int i = 0; i < MR; i++) {                                                                   \
                __m512 va = _mm512_set1_ps(a[i * lda + kk]);                                                 \
                acc0[i] = _mm512_fmadd_ps(va, vb0, acc0[i]);                                                 \
                acc1[i] = _mm512_fmadd_ps(va, vb1, acc1[i]);                                                 \
            }                                                                                                \
        }                                                                                                    \
        __m512 bias0 = bias ? _mm512_maskz_loadu_ps(mask0, bias) : _mm512_setzero_ps();                      \
        __m512 bias1 = bias ? _mm512_maskz_loadu_ps(mask1, bias + 16) : _mm512_setzero_ps();                 \
        for (int i = 0; i < MR; i++) {                                                                       \
            _mm512_mask_storeu_ps(c + i * ldc, mask0, _mm512_add_ps(acc0[i], bias0));                        \
            _mm512_mask_storeu_ps(c + i * ldc + 16, mask1, _mm512_add_ps(acc1[i], bias1));                   \
        }                                                                                                    \
    }

// 12 rows × 2 panels = 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers; every tail size
// gets its own kernel so m = 23 runs as 12 + 11 instead of 8 + 8 + 4 + 2 + 1.
CK_SGEMM_512_2P(12)
CK_SGEMM_512_2P(11)
CK_SGEMM_512_2P(10)
CK_SGEMM_512_2P(9)
CK_SGEMM_512_2P(8)
CK_SGEMM_512_2P(7)
CK_SGEMM_512_2P(6)
CK_SGEMM_512_2P(5)
CK_SGEMM_512_2P(4)
CK_SGEMM_512_2P(3)
CK_SGEMM_512_2P(2)
CK_SGEMM_512_2P(1)

typedef void (*ck_sgemm_512_fn)(const float*, size_t, const float*, const float*, size_t, const float*, float*, size_t,
                                __mmask16, __mmask16);
static const ck_sgemm_512_fn ck_sgemm_512_kernels[13] = {
    NULL, ck_sgemm_512_2p_1, ck_sgemm_512_2p_2, ck_sgemm_512_2p_3, ck_sgemm_512_2p_4, ck_sgemm_512_2p_5, ck_sgemm_512_2p_6,
    ck_sgemm_512_2p_7, ck_sgemm_512_2p_8, ck_sgemm_512_2p_9, ck_sgemm_512_2p_10, ck_sgemm_512_2p_11, ck_sgemm_512_2p_12,
};

// One or two rows (single-token decoding, pooler): 4 panels (64 columns) per call with K unrolled by 2, so one row
// keeps 8 independent FMA chains in flight instead of 2. Measured at m = 1: 384 x 384 (weights in L2) 95 vs 75
// GFLOP/s; weights beyond L2 are bandwidth-bound (~58 GFLOP/s either way); from m = 3 on the 2-panel tiles win.
#define CK_SGEMM_512_4P(MR)                                                                                  \
    static CK_AVX512 void ck_sgemm_512_4p_##MR(const float* a, size_t lda, const float* const* bq,              \
                                                size_t k, const float* bias, float* c, size_t ldc,           \
                                                size_t valid) {                                              \
        __m512 acc[MR][4], acc2[MR][4];                                                                      \
        for (int i = 0; i < MR; i++)                                                                         \
            for (int q = 0; q < 4; q++) { acc[i][q] = _mm512_setzero_ps(); acc2[i][q] = _mm512_setzero_ps(); } \
        size_t kk = 0;                                                                                       \
        for (; kk + 2 <= k; kk += 2) {                                                                       \
            for (int q = 0; q < 4; q++) {                                                                    \
                __m512 vb = _mm512_loadu_ps(bq[q] + kk * CK_SGEMM_PANEL);                          \
                __m512 vb2 = _mm512_loadu_ps(bq[q] + (kk + 1) * CK_SGEMM_PANEL);                   \
                for (int i = 0; i < MR; i++) {                                                               \
                    acc[i][q] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda + kk]), vb, acc[i][q]);             \
                    acc2[i][q] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda + kk + 1]), vb2, acc2[i][q]);      \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
        for (; kk < k; kk++) {                                                                               \
            for (int q = 0; q < 4; q++) {                                                                    \
                __m512 vb = _mm512_loadu_ps(bq[q] + kk * CK_SGEMM_PANEL);                          \
                for (int i = 0; i < MR; i++)                                                                 \
                    acc[i][q] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda + kk]), vb, acc[i][q]);             \
            }                                                                                                \
        }                                                                                                    \
        for (int q = 0; q < 4; q++) {                                                                        \
            size_t left = valid > (size_t)q * 16 ? valid - (size_t)q * 16 : 0;                               \
            __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : ck_avx512_tail_mask(left);                     \
            __m512 vbias = bias ? _mm512_maskz_loadu_ps(mask, bias + q * 16) : _mm512_setzero_ps();          \
            for (int i = 0; i < MR; i++)                                                                     \
                _mm512_mask_storeu_ps(c + i * ldc + q * 16, mask,                                            \
                                      _mm512_add_ps(_mm512_add_ps(acc[i][q], acc2[i][q]), vbias));           \
        }                                                                                                    \
    }

CK_SGEMM_512_4P(1)
CK_SGEMM_512_4P(2)

typedef void (*ck_sgemm_512_4p_fn)(const float*, size_t, const float* const*, size_t, const float*, float*, size_t,
                                   size_t);
static const ck_sgemm_512_4p_fn ck_sgemm_512_4p_kernels[3] = {NULL, ck_sgemm_512_4p_1, ck_sgemm_512_4p_2};

static CK_AVX512 void ck_sgemm_packed_avx512(const float* a, size_t lda, const float* packed, const float* bias, float* c,
                                             size_t ldc, size_t m, size_t k, size_t n0, size_t n1) {
    size_t p0 = n0 / CK_SGEMM_PANEL, p1 = (n1 + CK_SGEMM_PANEL - 1) / CK_SGEMM_PANEL;
    if (m <= 2) {
        for (size_t p = p0; p < p1; p += 4) {
            const float* bq[4];
            // Panels past the range reread the last one under an all-off mask instead of reading past the buffer.
            for (size_t q = 0; q < 4; q++) bq[q] = packed + (p + q < p1 ? p + q : p1 - 1) * k * CK_SGEMM_PANEL;
            size_t col = p * CK_SGEMM_PANEL;
            ck_sgemm_512_4p_kernels[m](a, lda, bq, k, bias ? bias + col : NULL, c + col, ldc, n1 - col);
        }
        return;
    }
    for (size_t p = p0; p < p1; p += 2) {
        size_t col = p * CK_SGEMM_PANEL;
        size_t valid = n1 - col;  // columns left from this panel on
        __mmask16 mask0 = valid >= 16 ? (__mmask16)0xFFFF : ck_avx512_tail_mask(valid);
        __mmask16 mask1 = valid >= 32 ? (__mmask16)0xFFFF : (valid > 16 ? ck_avx512_tail_mask(valid - 16) : (__mmask16)0);
        const float* b0 = packed + p * k * CK_SGEMM_PANEL;
        // A lone last panel reuses the two-panel kernel with an all-off second mask reading panel p again.
        const float* b1 = (p + 1 < p1) ? b0 + k * CK_SGEMM_PANEL : b0;
        const float* bcol = bias ? bias + col : NULL;
        // Split m into near-equal tiles of at most 12 rows (23 → 12 + 11, 30 → 10 + 10 + 10).
        size_t tiles = (m + 11) / 12;
        for (size_t t = 0, i = 0; t < tiles; t++) {
            size_t rows = (m - i) / (tiles - t);
            ck_sgemm_512_kernels[rows](a + i * lda, lda, b0, b1, k, bcol, c + i * ldc + col, ldc, mask0, mask1);
            i += rows;
        }
    }
}

// MARK: - AVX2: up to 6 rows × 16 columns (one panel, two ymm) per microkernel call

#define CK_SGEMM_256(MR)                                                                                       \
    static CK_AVX2 void ck_sgemm_256_##MR(const float* a, size_t lda, const float* b, size_t k, const float* bias, \
                                          float* c, size_t ldc, size_t valid) {                                \
        __m256 lo[MR], hi[MR];                                                                                 \
        for (int i = 0; i < MR; i++) { lo[i] = _mm256_setzero_ps(); hi[i] = _mm256_setzero_ps(); }            \
        for (size_t kk = 0; kk < k; kk++) {                                                                    \
            __m256 vlo = _mm256_loadu_ps(b + kk * CK_SGEMM_PANEL);                                             \
            __m256 vhi = _mm256_loadu_ps(b + kk * CK_SGEMM_PANEL + 8);                                         \
            for (int i = 0; i < MR; i++) {                                                                     \
                __m256 va = _mm256_broadcast_ss(a + i * lda + kk);                                             \
                lo[i] = _mm256_fmadd_ps(va, vlo, lo[i]);                                                       \
                hi[i] = _mm256_fmadd_ps(va, vhi, hi[i]);                                                       \
            }                                                                                                  \
        }                                                                                                      \
        for (int i = 0; i < MR; i++) {                                                                         \
            float row[16];                                                                                     \
            _mm256_storeu_ps(row, lo[i]);                                                                      \
            _mm256_storeu_ps(row + 8, hi[i]);                                                                  \
            for (size_t j = 0; j < valid; j++) c[i * ldc + j] = row[j] + (bias ? bias[j] : 0.0f);             \
        }                                                                                                      \
    }

// 6 rows × 2 ymm = 12 accumulators + 2 B vectors + 1 broadcast of AVX2's 16 registers.
CK_SGEMM_256(6)
CK_SGEMM_256(5)
CK_SGEMM_256(4)
CK_SGEMM_256(3)
CK_SGEMM_256(2)
CK_SGEMM_256(1)

typedef void (*ck_sgemm_256_fn)(const float*, size_t, const float*, size_t, const float*, float*, size_t, size_t);
static const ck_sgemm_256_fn ck_sgemm_256_kernels[7] = {
    NULL, ck_sgemm_256_1, ck_sgemm_256_2, ck_sgemm_256_3, ck_sgemm_256_4, ck_sgemm_256_5, ck_sgemm_256_6,
};

// One row: 2 panels (four ymm columns) per call with K unrolled by 2, 8 FMA chains instead of 2 (measured
// 1 x 384 x 384: 69 vs 39 GFLOP/s). Two rows would need 16 accumulators, all of AVX2's registers, and lose.
#define CK_SGEMM_256_2P(MR)                                                                                  \
    static CK_AVX2 void ck_sgemm_256_2p_##MR(const float* a, size_t lda, const float* b0, const float* b1,  \
                                              size_t k, const float* bias, float* c, size_t ldc,             \
                                              size_t valid) {                                                \
        const float* bq[2] = {b0, b1};                                                                       \
        __m256 acc[MR][4], acc2[MR][4];                                                                      \
        for (int i = 0; i < MR; i++)                                                                         \
            for (int q = 0; q < 4; q++) { acc[i][q] = _mm256_setzero_ps(); acc2[i][q] = _mm256_setzero_ps(); } \
        size_t kk = 0;                                                                                       \
        for (; kk + 2 <= k; kk += 2) {                                                                       \
            for (int q = 0; q < 4; q++) {                                                                    \
                const float* bp = bq[q / 2] + (q % 2) * 8;                                                   \
                __m256 vb = _mm256_loadu_ps(bp + kk * CK_SGEMM_PANEL);                                       \
                __m256 vb2 = _mm256_loadu_ps(bp + (kk + 1) * CK_SGEMM_PANEL);                                \
                for (int i = 0; i < MR; i++) {                                                               \
                    acc[i][q] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * lda + kk), vb, acc[i][q]);       \
                    acc2[i][q] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * lda + kk + 1), vb2, acc2[i][q]); \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
        for (; kk < k; kk++) {                                                                               \
            for (int q = 0; q < 4; q++) {                                                                    \
                __m256 vb = _mm256_loadu_ps(bq[q / 2] + (q % 2) * 8 + kk * CK_SGEMM_PANEL);                  \
                for (int i = 0; i < MR; i++)                                                                 \
                    acc[i][q] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * lda + kk), vb, acc[i][q]);       \
            }                                                                                                \
        }                                                                                                    \
        for (int i = 0; i < MR; i++) {                                                                       \
            float row[32];                                                                                   \
            for (int q = 0; q < 4; q++) _mm256_storeu_ps(row + q * 8, _mm256_add_ps(acc[i][q], acc2[i][q])); \
            for (size_t j = 0; j < valid; j++) c[i * ldc + j] = row[j] + (bias ? bias[j] : 0.0f);           \
        }                                                                                                    \
    }

CK_SGEMM_256_2P(1)

static CK_AVX2 void ck_sgemm_packed_avx2(const float* a, size_t lda, const float* packed, const float* bias, float* c,
                                         size_t ldc, size_t m, size_t k, size_t n0, size_t n1) {
    if (m == 1) {
        for (size_t col = n0; col < n1; col += 2 * CK_SGEMM_PANEL) {
            size_t valid = n1 - col < 2 * CK_SGEMM_PANEL ? n1 - col : 2 * CK_SGEMM_PANEL;
            const float* b0 = packed + (col / CK_SGEMM_PANEL) * k * CK_SGEMM_PANEL;
            const float* b1 = valid > CK_SGEMM_PANEL ? b0 + k * CK_SGEMM_PANEL : b0;  // a lone panel: computed twice, stored once
            const float* bcol = bias ? bias + col : NULL;
            ck_sgemm_256_2p_1(a, lda, b0, b1, k, bcol, c + col, ldc, valid);
        }
        return;
    }
    for (size_t col = n0; col < n1; col += CK_SGEMM_PANEL) {
        size_t valid = n1 - col < CK_SGEMM_PANEL ? n1 - col : CK_SGEMM_PANEL;
        const float* b = packed + (col / CK_SGEMM_PANEL) * k * CK_SGEMM_PANEL;
        const float* bcol = bias ? bias + col : NULL;
        size_t tiles = (m + 5) / 6;
        for (size_t t = 0, i = 0; t < tiles; t++) {
            size_t rows = (m - i) / (tiles - t);
            ck_sgemm_256_kernels[rows](a + i * lda, lda, b, k, bcol, c + i * ldc + col, ldc, valid);
            i += rows;
        }
    }
}

void ck_sgemm_packed(const float* a, size_t lda, const float* packed, const float* bias, float* c, size_t ldc,
                     size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    if (m == 0 || n0 >= n1) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_sgemm_packed_avx512(a, lda, packed, bias, c, ldc, m, k, n0, n1); return;
    case CK_ISA_AVX2: ck_sgemm_packed_avx2(a, lda, packed, bias, c, ldc, m, k, n0, n1); return;
    default: ck_sgemm_packed_ref(a, lda, packed, bias, c, ldc, m, n, k, n0, n1); return;
    }
}
