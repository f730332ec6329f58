// Static (calibrated) activation quantization: one scale and zero point for a whole tensor.
// q = clamp(nearbyintf(clamp(x · (1/scale), -512, 512)) + zero_point, 0, 255). The inner float clamp keeps huge
// inputs from overflowing the int32 conversion (every path saturates the same way); it never changes an in-range code.
#include "ck_internal.h"

#include <math.h>

void ck_quantize_u8_fixed_ref(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q) {
    const float inv = 1.0f / scale;
    for (size_t i = 0; i < n; i++) {
        float v = x[i] * inv;
        v = v < -512.0f ? -512.0f : v > 512.0f ? 512.0f : v;
        int32_t c = (int32_t)nearbyintf(v) + zero_point;
        q[i] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
    }
}

CK_AVX2 static void ck_quantize_u8_fixed_avx2(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q) {
    const float inv = 1.0f / scale;
    const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-512.0f), hi = _mm256_set1_ps(512.0f);
    const __m256i vzp = _mm256_set1_epi32(zero_point);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), lo), hi);
        __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp);
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i*)(q + i), _mm_packus_epi16(p, p));
    }
    if (i < n) ck_quantize_u8_fixed_ref(x + i, n - i, scale, zero_point, q + i);
}

CK_AVX512 static void ck_quantize_u8_fixed_avx512(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q) {
    const float inv = 1.0f / scale;
    const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-512.0f), hi = _mm512_set1_ps(512.0f);
    const __m512i vzp = _mm512_set1_epi32(zero_point);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 mk = ck_avx512_tail_mask(n - i < 16 ? n - i : 16);
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), vinv), lo), hi);
        __m512i c = _mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(v), vzp), _mm512_setzero_si512());
        _mm512_mask_cvtusepi32_storeu_epi8(q + i, mk, c);  // unsigned saturation clamps at 255
    }
}

void ck_quantize_u8_fixed(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_quantize_u8_fixed_avx512(x, n, scale, zero_point, q); return;
    case CK_ISA_AVX2: ck_quantize_u8_fixed_avx2(x, n, scale, zero_point, q); return;
    default: ck_quantize_u8_fixed_ref(x, n, scale, zero_point, q); return;
    }
}
