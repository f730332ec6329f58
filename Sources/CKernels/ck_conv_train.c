// Image-layer training kernels (see ck_conv_train.h): scalar twins, then AVX2 and AVX-512 over channels, then
// dispatch. The SIMD loops visit windows in the twin's order, so sums and first-maximum choices are identical.
#include "ck_internal.h"

#include <string.h>

// MARK: - Scalar twins

void ck_im2col_nhwc_f32(float* cols, const float* x, const ck_window2d* g, int64_t n0, int64_t n1) {
    const int64_t c = g->c, patch = g->kh * g->kw * c;
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                float* row = cols + ((b * g->oh + oy) * g->ow + ox) * patch;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh + ky - g->pad_top;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw + kx - g->pad_left;
                        float* dst = row + (ky * g->kw + kx) * c;
                        // Only cells over the padding are zeroed, and one-channel cells (a first conv on grey images:
                        // 9-float rows) are stored directly: a memset plus a 4-byte memcpy per cell was 5 % of a
                        // Fashion-CNN step.
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
                            if (c == 1) dst[0] = 0.0f;
                            else memset(dst, 0, (size_t)c * sizeof(float));
                            continue;
                        }
                        const float* src = x + ((b * g->h + iy) * g->w + ix) * c;
                        if (c == 1) dst[0] = src[0];
                        else memcpy(dst, src, (size_t)c * sizeof(float));
                    }
                }
            }
}

void ck_col2im_nhwc_f32_ref(float* dx, const float* dcols, const ck_window2d* g, int64_t n0, int64_t n1) {
    const int64_t c = g->c, patch = g->kh * g->kw * c;
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const float* row = dcols + ((b * g->oh + oy) * g->ow + ox) * patch;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh + ky - g->pad_top;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw + kx - g->pad_left;
                        if (ix < 0 || ix >= g->w) continue;
                        float* dst = dx + ((b * g->h + iy) * g->w + ix) * c;
                        const float* src = row + (ky * g->kw + kx) * c;
                        for (int64_t ch = 0; ch < c; ch++) dst[ch] += src[ch];
                    }
                }
            }
}

void ck_maxpool_forward_nhwc_f32_ref(float* y, int32_t* argmax, const float* x, const ck_window2d* g, int64_t n0,
                                     int64_t n1) {
    const int64_t c = g->c;
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t o = ((b * g->oh + oy) * g->ow + ox) * c;
                for (int64_t ch = 0; ch < c; ch++) y[o + ch] = -__builtin_inff(), argmax[o + ch] = 0;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh + ky - g->pad_top;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw + kx - g->pad_left;
                        if (ix < 0 || ix >= g->w) continue;
                        const int64_t src = ((b * g->h + iy) * g->w + ix) * c;
                        for (int64_t ch = 0; ch < c; ch++)
                            if (x[src + ch] > y[o + ch]) y[o + ch] = x[src + ch], argmax[o + ch] = (int32_t)(src + ch);
                    }
                }
            }
}

void ck_maxpool_backward_f32(float* dx, const float* dy, const int32_t* argmax, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) dx[argmax[o]] += dy[o];
}

// MARK: - AVX2

CK_AVX2 static void ck_col2im_avx2(float* dx, const float* dcols, const ck_window2d* g, int64_t n0, int64_t n1) {
    const int64_t c = g->c, patch = g->kh * g->kw * c;
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const float* row = dcols + ((b * g->oh + oy) * g->ow + ox) * patch;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh + ky - g->pad_top;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw + kx - g->pad_left;
                        if (ix < 0 || ix >= g->w) continue;
                        float* dst = dx + ((b * g->h + iy) * g->w + ix) * c;
                        const float* src = row + (ky * g->kw + kx) * c;
                        int64_t ch = 0;
                        for (; ch + 8 <= c; ch += 8)
                            _mm256_storeu_ps(dst + ch, _mm256_add_ps(_mm256_loadu_ps(dst + ch), _mm256_loadu_ps(src + ch)));
                        for (; ch < c; ch++) dst[ch] += src[ch];
                    }
                }
            }
}

CK_AVX2 static void ck_maxpool_forward_avx2(float* y, int32_t* argmax, const float* x, const ck_window2d* g, int64_t n0,
                                           int64_t n1) {
    const int64_t c = g->c;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t o = ((b * g->oh + oy) * g->ow + ox) * c;
                for (int64_t ch = 0; ch < c; ch += 8) {
                    const int64_t left = c - ch < 8 ? c - ch : 8;
                    const __m256i k = ck_avx2_tail_mask((size_t)left);
                    __m256 best = _mm256_set1_ps(-__builtin_inff());
                    __m256i arg = _mm256_setzero_si256();
                    for (int64_t ky = 0; ky < g->kh; ky++) {
                        int64_t iy = oy * g->sh + ky - g->pad_top;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            int64_t ix = ox * g->sw + kx - g->pad_left;
                            if (ix < 0 || ix >= g->w) continue;
                            const int64_t src = ((b * g->h + iy) * g->w + ix) * c + ch;
                            __m256 v = _mm256_maskload_ps(x + src, k);
                            __m256 gt = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
                            best = _mm256_blendv_ps(best, v, gt);
                            __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int32_t)src), lane);
                            arg = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(arg), _mm256_castsi256_ps(idx), gt));
                        }
                    }
                    _mm256_maskstore_ps(y + o + ch, k, best);
                    _mm256_maskstore_epi32(argmax + o + ch, k, arg);
                }
            }
}

// MARK: - AVX-512

CK_AVX512 static void ck_col2im_avx512(float* dx, const float* dcols, const ck_window2d* g, int64_t n0, int64_t n1) {
    const int64_t c = g->c, patch = g->kh * g->kw * c;
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const float* row = dcols + ((b * g->oh + oy) * g->ow + ox) * patch;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh + ky - g->pad_top;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw + kx - g->pad_left;
                        if (ix < 0 || ix >= g->w) continue;
                        float* dst = dx + ((b * g->h + iy) * g->w + ix) * c;
                        const float* src = row + (ky * g->kw + kx) * c;
                        for (int64_t ch = 0; ch < c; ch += 16) {
                            __mmask16 k = ck_avx512_tail_mask((size_t)(c - ch < 16 ? c - ch : 16));
                            _mm512_mask_storeu_ps(dst + ch, k,
                                                  _mm512_add_ps(_mm512_maskz_loadu_ps(k, dst + ch), _mm512_maskz_loadu_ps(k, src + ch)));
                        }
                    }
                }
            }
}

CK_AVX512 static void ck_maxpool_forward_avx512(float* y, int32_t* argmax, const float* x, const ck_window2d* g,
                                               int64_t n0, int64_t n1) {
    const int64_t c = g->c;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t b = n0; b < n1; b++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t o = ((b * g->oh + oy) * g->ow + ox) * c;
                for (int64_t ch = 0; ch < c; ch += 16) {
                    __mmask16 k = ck_avx512_tail_mask((size_t)(c - ch < 16 ? c - ch : 16));
                    __m512 best = _mm512_set1_ps(-__builtin_inff());
                    __m512i arg = _mm512_setzero_si512();
                    for (int64_t ky = 0; ky < g->kh; ky++) {
                        int64_t iy = oy * g->sh + ky - g->pad_top;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            int64_t ix = ox * g->sw + kx - g->pad_left;
                            if (ix < 0 || ix >= g->w) continue;
                            const int64_t src = ((b * g->h + iy) * g->w + ix) * c + ch;
                            __m512 v = _mm512_maskz_loadu_ps(k, x + src);
                            __mmask16 gt = _mm512_mask_cmp_ps_mask(k, v, best, _CMP_GT_OQ);
                            best = _mm512_mask_mov_ps(best, gt, v);
                            arg = _mm512_mask_mov_epi32(arg, gt, _mm512_add_epi32(_mm512_set1_epi32((int32_t)src), lane));
                        }
                    }
                    _mm512_mask_storeu_ps(y + o + ch, k, best);
                    _mm512_mask_storeu_epi32(argmax + o + ch, k, arg);
                }
            }
}

// MARK: - Dispatch

void ck_col2im_nhwc_f32(float* dx, const float* dcols, const ck_window2d* g, int64_t n0, int64_t n1) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_col2im_avx512(dx, dcols, g, n0, n1); return;
    case CK_ISA_AVX2: ck_col2im_avx2(dx, dcols, g, n0, n1); return;
    default: ck_col2im_nhwc_f32_ref(dx, dcols, g, n0, n1); return;
    }
}

void ck_maxpool_forward_nhwc_f32(float* y, int32_t* argmax, const float* x, const ck_window2d* g, int64_t n0, int64_t n1) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_maxpool_forward_avx512(y, argmax, x, g, n0, n1); return;
    case CK_ISA_AVX2: ck_maxpool_forward_avx2(y, argmax, x, g, n0, n1); return;
    default: ck_maxpool_forward_nhwc_f32_ref(y, argmax, x, g, n0, n1); return;
    }
}
