// int4 weight-only GEMM: weights in 32-wide symmetric blocks (ck_block_q4), activations fp32,
// dequantized on the fly. Fast paths target small m (batch-1 inference), where the weights dominate traffic.
#include "ck_internal.h"

#include <math.h>
#include <string.h>

size_t ck_q4_blocks_per_row(size_t k) { return (k + CK_Q4_GROUP - 1) / CK_Q4_GROUP; }

void ck_quantize_q4_ref(const float* w, size_t rows, size_t k, ck_block_q4* out) {
    const size_t nb = ck_q4_blocks_per_row(k);
    for (size_t r = 0; r < rows; r++) {
        for (size_t b = 0; b < nb; b++) {
            float x[CK_Q4_GROUP];
            float amax = 0.0f, mx = 0.0f;
            for (size_t t = 0; t < CK_Q4_GROUP; t++) {
                size_t i = b * CK_Q4_GROUP + t;
                x[t] = i < k ? w[r * k + i] : 0.0f;
                if (fabsf(x[t]) > amax) amax = fabsf(x[t]), mx = x[t];
            }
            ck_block_q4* blk = &out[r * nb + b];
            const float d = mx / -8.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            blk->d = d;
            for (size_t t = 0; t < 16; t++) {
                int q0 = (int)nearbyintf(x[t] * id) + 8, q1 = (int)nearbyintf(x[t + 16] * id) + 8;
                q0 = q0 < 0 ? 0 : q0 > 15 ? 15 : q0;
                q1 = q1 < 0 ? 0 : q1 > 15 ? 15 : q1;
                blk->qs[t] = (uint8_t)(q0 | (q1 << 4));
            }
        }
    }
}

void ck_dequantize_q4(const ck_block_q4* blocks, size_t rows, size_t k, float* out) {
    const size_t nb = ck_q4_blocks_per_row(k);
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < k; i++) {
            const ck_block_q4* blk = &blocks[r * nb + i / CK_Q4_GROUP];
            size_t t = i % CK_Q4_GROUP;
            int q = t < 16 ? (blk->qs[t] & 0x0f) : (blk->qs[t - 16] >> 4);
            out[r * k + i] = blk->d * (float)(q - 8);
        }
}

void ck_gemm_q4_f32_ref(const float* a, size_t lda, const ck_block_q4* w, const float* bias, float* c,
                        size_t ldc, size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    const size_t nb = ck_q4_blocks_per_row(k);
    if (n1 > n) n1 = n;
    for (size_t i = 0; i < m; i++)
        for (size_t j = n0; j < n1; j++) {
            float acc = 0.0f;
            for (size_t b = 0; b < nb; b++) {
                const ck_block_q4* blk = &w[j * nb + b];
                const float* ar = a + i * lda + b * CK_Q4_GROUP;
                size_t len = k - b * CK_Q4_GROUP < CK_Q4_GROUP ? k - b * CK_Q4_GROUP : CK_Q4_GROUP;
                float s = 0.0f;
                for (size_t t = 0; t < len; t++) {
                    int q = t < 16 ? (blk->qs[t] & 0x0f) : (blk->qs[t - 16] >> 4);
                    s += ar[t] * (float)(q - 8);
                }
                acc += blk->d * s;
            }
            c[i * ldc + j] = bias ? acc + bias[j] : acc;
        }
}

// MARK: - AVX-512

// 32 weights of one block as two vectors (elements 0..15, 16..31), already multiplied by d.
CK_INLINE CK_AVX512 void ck_q4_dequant_avx512(const ck_block_q4* blk, __m512* lo, __m512* hi) {
    __m128i qs = _mm_loadu_si128((const __m128i*)blk->qs);
    __m512i ql = _mm512_cvtepu8_epi32(_mm_and_si128(qs, _mm_set1_epi8(0x0f)));
    __m512i qh = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(qs, 4), _mm_set1_epi8(0x0f)));
    __m512 d = _mm512_set1_ps(blk->d);
    __m512 eight = _mm512_set1_ps(8.0f);
    *lo = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(ql), eight), d);
    *hi = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(qh), eight), d);
}

// MR rows × NC columns; accumulators stay 16 wide until the end of K.
CK_INLINE CK_AVX512 void ck_q4_tile_avx512(const float* a, size_t lda, const ck_block_q4* w, size_t nb, size_t k,
                                           const float* bias, float* c, size_t ldc, size_t j0, int MR, int NC) {
    __m512 acc[4][4];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < NC; q++) acc[r][q] = _mm512_setzero_ps();
    const size_t full = k / CK_Q4_GROUP;
    for (size_t b = 0; b < nb; b++) {
        __m512 alo[4], ahi[4];
        if (b < full) {
            for (int r = 0; r < MR; r++) {
                alo[r] = _mm512_loadu_ps(a + r * lda + b * CK_Q4_GROUP);
                ahi[r] = _mm512_loadu_ps(a + r * lda + b * CK_Q4_GROUP + 16);
            }
        } else {  // last, partial block: the padded weights are zero, but a must not be read past k
            size_t len = k - b * CK_Q4_GROUP;
            __mmask16 m0 = ck_avx512_tail_mask(len < 16 ? len : 16);
            __mmask16 m1 = len > 16 ? ck_avx512_tail_mask(len - 16) : 0;
            for (int r = 0; r < MR; r++) {
                alo[r] = _mm512_maskz_loadu_ps(m0, a + r * lda + b * CK_Q4_GROUP);
                ahi[r] = _mm512_maskz_loadu_ps(m1, a + r * lda + b * CK_Q4_GROUP + 16);
            }
        }
        for (int q = 0; q < NC; q++) {
            __m512 wl, wh;
            ck_q4_dequant_avx512(&w[(j0 + q) * nb + b], &wl, &wh);
            for (int r = 0; r < MR; r++) {
                acc[r][q] = _mm512_fmadd_ps(alo[r], wl, acc[r][q]);
                acc[r][q] = _mm512_fmadd_ps(ahi[r], wh, acc[r][q]);
            }
        }
    }
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < NC; q++) {
            float s = _mm512_reduce_add_ps(acc[r][q]);
            c[r * ldc + j0 + q] = bias ? s + bias[j0 + q] : s;
        }
}

CK_AVX512 static void ck_gemm_q4_avx512(const float* a, size_t lda, const ck_block_q4* w, const float* bias,
                                        float* c, size_t ldc, size_t m, size_t k, size_t n0, size_t n1) {
    const size_t nb = ck_q4_blocks_per_row(k);
    size_t i = 0;
    for (; i + 4 <= m; i += 4) {
        size_t j = n0;
        for (; j + 2 <= n1; j += 2) ck_q4_tile_avx512(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 4, 2);
        for (; j < n1; j++) ck_q4_tile_avx512(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 4, 1);
    }
    for (; i < m; i++) {
        size_t j = n0;
        for (; j + 4 <= n1; j += 4) ck_q4_tile_avx512(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 1, 4);
        for (; j < n1; j++) ck_q4_tile_avx512(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 1, 1);
    }
}

// MARK: - AVX2

CK_INLINE CK_AVX2 void ck_q4_dequant_avx2(const ck_block_q4* blk, __m256 wv[4]) {
    __m128i qs = _mm_loadu_si128((const __m128i*)blk->qs);
    __m128i ql = _mm_and_si128(qs, _mm_set1_epi8(0x0f));
    __m128i qh = _mm_and_si128(_mm_srli_epi16(qs, 4), _mm_set1_epi8(0x0f));
    __m256 d = _mm256_set1_ps(blk->d);
    __m256 eight = _mm256_set1_ps(8.0f);
    wv[0] = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(ql)), eight), d);
    wv[1] = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(ql, 8))), eight), d);
    wv[2] = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(qh)), eight), d);
    wv[3] = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(qh, 8))), eight), d);
}

CK_INLINE CK_AVX2 void ck_q4_tile_avx2(const float* a, size_t lda, const ck_block_q4* w, size_t nb, size_t k,
                                       const float* bias, float* c, size_t ldc, size_t j0, int MR, int NC) {
    __m256 acc[2][2];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < NC; q++) acc[r][q] = _mm256_setzero_ps();
    const size_t full = k / CK_Q4_GROUP;
    for (size_t b = 0; b < nb; b++) {
        __m256 av[2][4];
        for (int r = 0; r < MR; r++) {
            const float* p = a + r * lda + b * CK_Q4_GROUP;
            if (b < full) {
                for (int s = 0; s < 4; s++) av[r][s] = _mm256_loadu_ps(p + 8 * s);
            } else {
                size_t len = k - b * CK_Q4_GROUP;
                for (int s = 0; s < 4; s++) {
                    size_t lo = 8 * (size_t)s;
                    av[r][s] = len > lo ? _mm256_maskload_ps(p + lo, ck_avx2_tail_mask(len - lo < 8 ? len - lo : 8))
                                        : _mm256_setzero_ps();
                }
            }
        }
        for (int q = 0; q < NC; q++) {
            __m256 wv[4];
            ck_q4_dequant_avx2(&w[(j0 + q) * nb + b], wv);
            for (int r = 0; r < MR; r++)
                for (int s = 0; s < 4; s++) acc[r][q] = _mm256_fmadd_ps(av[r][s], wv[s], acc[r][q]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < NC; q++) {
            float s = ck_avx2_hsum(acc[r][q]);
            c[r * ldc + j0 + q] = bias ? s + bias[j0 + q] : s;
        }
}

CK_AVX2 static void ck_gemm_q4_avx2(const float* a, size_t lda, const ck_block_q4* w, const float* bias, float* c,
                                    size_t ldc, size_t m, size_t k, size_t n0, size_t n1) {
    const size_t nb = ck_q4_blocks_per_row(k);
    size_t i = 0;
    for (; i + 2 <= m; i += 2) {
        size_t j = n0;
        for (; j + 2 <= n1; j += 2) ck_q4_tile_avx2(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 2, 2);
        for (; j < n1; j++) ck_q4_tile_avx2(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 2, 1);
    }
    for (; i < m; i++) {
        size_t j = n0;
        for (; j + 2 <= n1; j += 2) ck_q4_tile_avx2(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 1, 2);
        for (; j < n1; j++) ck_q4_tile_avx2(a + i * lda, lda, w, nb, k, bias, c + i * ldc, ldc, j, 1, 1);
    }
}

void ck_gemm_q4_f32(const float* a, size_t lda, const ck_block_q4* w, const float* bias, float* c, size_t ldc,
                    size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    if (n1 > n) n1 = n;
    if (m == 0 || n0 >= n1) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_gemm_q4_avx512(a, lda, w, bias, c, ldc, m, k, n0, n1); return;
    case CK_ISA_AVX2: ck_gemm_q4_avx2(a, lda, w, bias, c, ldc, m, k, n0, n1); return;
    default: ck_gemm_q4_f32_ref(a, lda, w, bias, c, ldc, m, n, k, n0, n1); return;
    }
}
