// Optimizer kernels (see ck_optim.h): the scalar twin, AVX2 and AVX-512 versions, then dispatch.
// AdamW is memory-bound (four streams in, three out); the SIMD versions exist because the scalar loop with its
// division and square root per element is not vectorized by the compiler for the baseline target.
#include "ck_internal.h"

#include <math.h>

// No fused multiply-adds anywhere in this file: clang honours the standard pragma, GCC (the C checks) needs its own.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// The expression order below is the contract every path follows exactly (see the header).
void ck_adamw_f32_ref(float* p, float* m, float* v, const float* g, size_t n, float lr, float b1, float b2, float eps,
                      float decay, float c1, float c2) {
    const float a1 = 1.0f - b1, a2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + a1 * gi;
        float vi = b2 * v[i] + a2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / c1, vhat = vi / c2;
        p[i] = p[i] * decay - lr * mhat / (sqrtf(vhat) + eps);
    }
}

CK_AVX2 static void ck_adamw_avx2(float* p, float* m, float* v, const float* g, size_t n, float lr, float b1, float b2,
                                  float eps, float decay, float c1, float c2) {
    const __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), va1 = _mm256_set1_ps(1.0f - b1),
                 va2 = _mm256_set1_ps(1.0f - b2), vlr = _mm256_set1_ps(lr), veps = _mm256_set1_ps(eps),
                 vdec = _mm256_set1_ps(decay), vc1 = _mm256_set1_ps(c1), vc2 = _mm256_set1_ps(c2);
    for (size_t i = 0; i < n; i += 8) {
        const __m256i k = ck_avx2_tail_mask(n - i < 8 ? n - i : 8);
        __m256 gi = _mm256_maskload_ps(g + i, k);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_maskload_ps(m + i, k)), _mm256_mul_ps(va1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_maskload_ps(v + i, k)), _mm256_mul_ps(va2, _mm256_mul_ps(gi, gi)));
        _mm256_maskstore_ps(m + i, k, mi);
        _mm256_maskstore_ps(v + i, k, vi);
        __m256 mhat = _mm256_div_ps(mi, vc1), vhat = _mm256_div_ps(vi, vc2);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, mhat), _mm256_add_ps(_mm256_sqrt_ps(vhat), veps));
        _mm256_maskstore_ps(p + i, k, _mm256_sub_ps(_mm256_mul_ps(_mm256_maskload_ps(p + i, k), vdec), step));
    }
}

CK_AVX512 static void ck_adamw_avx512(float* p, float* m, float* v, const float* g, size_t n, float lr, float b1,
                                      float b2, float eps, float decay, float c1, float c2) {
    const __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2), va1 = _mm512_set1_ps(1.0f - b1),
                 va2 = _mm512_set1_ps(1.0f - b2), vlr = _mm512_set1_ps(lr), veps = _mm512_set1_ps(eps),
                 vdec = _mm512_set1_ps(decay), vc1 = _mm512_set1_ps(c1), vc2 = _mm512_set1_ps(c2);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = ck_avx512_tail_mask(n - i < 16 ? n - i : 16);
        __m512 gi = _mm512_maskz_loadu_ps(k, g + i);
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(vb1, _mm512_maskz_loadu_ps(k, m + i)), _mm512_mul_ps(va1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(vb2, _mm512_maskz_loadu_ps(k, v + i)), _mm512_mul_ps(va2, _mm512_mul_ps(gi, gi)));
        _mm512_mask_storeu_ps(m + i, k, mi);
        _mm512_mask_storeu_ps(v + i, k, vi);
        __m512 mhat = _mm512_div_ps(mi, vc1), vhat = _mm512_div_ps(vi, vc2);
        __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, mhat), _mm512_add_ps(_mm512_sqrt_ps(vhat), veps));
        _mm512_mask_storeu_ps(p + i, k, _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + i), vdec), step));
    }
}

void ck_adamw_f32(float* p, float* m, float* v, const float* g, size_t n, float lr, float b1, float b2, float eps,
                  float decay, float c1, float c2) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_adamw_avx512(p, m, v, g, n, lr, b1, b2, eps, decay, c1, c2); return;
    case CK_ISA_AVX2: ck_adamw_avx2(p, m, v, g, n, lr, b1, b2, eps, decay, c1, c2); return;
    default: ck_adamw_f32_ref(p, m, v, g, n, lr, b1, b2, eps, decay, c1, c2); return;
    }
}
