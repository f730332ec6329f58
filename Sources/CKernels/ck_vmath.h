// Private vector math shared by the fp32 forward (ck_f32.c) and backward (ck_backward.c) kernels.
#ifndef CK_VMATH_H
#define CK_VMATH_H

#include "ck_internal.h"

#define CK_INV_SQRT2 0.70710678118654752440f

// MARK: - Vector math constants
//
// exp: Cephes expf — n = round(x·log2e), r = x − n·ln2 (two-part ln2), e^r by a degree-6 polynomial,
// times 2^n built in the exponent field. Max error ≈ 1 ulp over [-87.3, 88].
#define CK_EXP_HI 88.0f
#define CK_EXP_LO -87.33654475f  // ln(FLT_MIN): below this the result flushes to 0
#define CK_LOG2E 1.44269504088896341f
#define CK_LN2_HI 0.693359375f
#define CK_LN2_LO -2.12194440e-4f
#define CK_EXP_P0 1.9875691500e-4f
#define CK_EXP_P1 1.3981999507e-3f
#define CK_EXP_P2 8.3334519073e-3f
#define CK_EXP_P3 4.1665795894e-2f
#define CK_EXP_P4 1.6666665459e-1f
#define CK_EXP_P5 5.0000001201e-1f

// erf: the split-polynomial scheme of ONNX Runtime MLAS (after njuffa's faithfully rounded erff):
// |x| <= 0.921875: x + x·P(x²);  larger |x|: 1 − exp(−(|x| + |x|·Q(|x|))), |x| clamped at 3.925
// where erf rounds to 1. Measured max |GELU − libm GELU| is reported by the C test.
#define CK_ERF_CLAMP 3.925f
#define CK_ERF_SPLIT 0.921875f
#define CK_ERF_S0 -5.99104969e-4f
#define CK_ERF_S1 4.99339588e-3f
#define CK_ERF_S2 -2.67667342e-2f
#define CK_ERF_S3 1.12818025e-1f
#define CK_ERF_S4 -3.76124859e-1f
#define CK_ERF_S5 1.28379151e-1f
#define CK_ERF_B0 1.72948930e-5f
#define CK_ERF_B1 -3.83208680e-4f
#define CK_ERF_B2 3.88393435e-3f
#define CK_ERF_B3 -2.42545605e-2f
#define CK_ERF_B4 1.06777847e-1f
#define CK_ERF_B5 6.34846687e-1f
#define CK_ERF_B6 1.28717512e-1f

// MARK: - AVX2 + FMA

CK_INLINE CK_AVX2 __m256 ck_exp_avx2(__m256 x) {
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(CK_EXP_LO), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(CK_EXP_LO)), _mm256_set1_ps(CK_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(CK_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(CK_LN2_LO), r);
    __m256 p = _mm256_set1_ps(CK_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_EXP_P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, p);
}

CK_INLINE CK_AVX2 __m256 ck_erf_avx2(__m256 x) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 sign = _mm256_and_ps(x, sign_bit);
    __m256 ax = _mm256_min_ps(_mm256_andnot_ps(sign_bit, x), _mm256_set1_ps(CK_ERF_CLAMP));
    __m256 s = _mm256_mul_ps(ax, ax);
    __m256 ps = _mm256_set1_ps(CK_ERF_S0);
    ps = _mm256_fmadd_ps(ps, s, _mm256_set1_ps(CK_ERF_S1));
    ps = _mm256_fmadd_ps(ps, s, _mm256_set1_ps(CK_ERF_S2));
    ps = _mm256_fmadd_ps(ps, s, _mm256_set1_ps(CK_ERF_S3));
    ps = _mm256_fmadd_ps(ps, s, _mm256_set1_ps(CK_ERF_S4));
    ps = _mm256_fmadd_ps(ps, s, _mm256_set1_ps(CK_ERF_S5));
    ps = _mm256_fmadd_ps(ps, ax, ax);
    __m256 pb = _mm256_set1_ps(CK_ERF_B0);
    pb = _mm256_fmadd_ps(pb, ax, _mm256_set1_ps(CK_ERF_B1));
    pb = _mm256_fmadd_ps(pb, ax, _mm256_set1_ps(CK_ERF_B2));
    pb = _mm256_fmadd_ps(pb, ax, _mm256_set1_ps(CK_ERF_B3));
    pb = _mm256_fmadd_ps(pb, ax, _mm256_set1_ps(CK_ERF_B4));
    pb = _mm256_fmadd_ps(pb, ax, _mm256_set1_ps(CK_ERF_B5));
    pb = _mm256_fmadd_ps(pb, ax, _mm256_set1_ps(CK_ERF_B6));
    pb = _mm256_fmadd_ps(pb, ax, ax);
    pb = _mm256_sub_ps(_mm256_set1_ps(1.0f), ck_exp_avx2(_mm256_xor_ps(pb, sign_bit)));
    __m256 big = _mm256_cmp_ps(ax, _mm256_set1_ps(CK_ERF_SPLIT), _CMP_GT_OQ);
    return _mm256_or_ps(_mm256_blendv_ps(ps, pb, big), sign);
}

// MARK: - AVX-512

CK_INLINE CK_AVX512 __m512 ck_exp_avx512(__m512 x) {
    __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(CK_EXP_LO), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(CK_EXP_LO)), _mm512_set1_ps(CK_EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(CK_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(CK_LN2_LO), r);
    __m512 p = _mm512_set1_ps(CK_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_EXP_P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    p = _mm512_scalef_ps(p, n);
    return _mm512_maskz_mov_ps((__mmask16)~under, p);
}

CK_INLINE CK_AVX512 __m512 ck_erf_avx512(__m512 x) {
    const __m512i sign_bit = _mm512_set1_epi32((int32_t)0x80000000u);
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), sign_bit);
    __m512 ax = _mm512_min_ps(_mm512_abs_ps(x), _mm512_set1_ps(CK_ERF_CLAMP));
    __m512 s = _mm512_mul_ps(ax, ax);
    __m512 ps = _mm512_set1_ps(CK_ERF_S0);
    ps = _mm512_fmadd_ps(ps, s, _mm512_set1_ps(CK_ERF_S1));
    ps = _mm512_fmadd_ps(ps, s, _mm512_set1_ps(CK_ERF_S2));
    ps = _mm512_fmadd_ps(ps, s, _mm512_set1_ps(CK_ERF_S3));
    ps = _mm512_fmadd_ps(ps, s, _mm512_set1_ps(CK_ERF_S4));
    ps = _mm512_fmadd_ps(ps, s, _mm512_set1_ps(CK_ERF_S5));
    ps = _mm512_fmadd_ps(ps, ax, ax);
    __m512 pb = _mm512_set1_ps(CK_ERF_B0);
    pb = _mm512_fmadd_ps(pb, ax, _mm512_set1_ps(CK_ERF_B1));
    pb = _mm512_fmadd_ps(pb, ax, _mm512_set1_ps(CK_ERF_B2));
    pb = _mm512_fmadd_ps(pb, ax, _mm512_set1_ps(CK_ERF_B3));
    pb = _mm512_fmadd_ps(pb, ax, _mm512_set1_ps(CK_ERF_B4));
    pb = _mm512_fmadd_ps(pb, ax, _mm512_set1_ps(CK_ERF_B5));
    pb = _mm512_fmadd_ps(pb, ax, _mm512_set1_ps(CK_ERF_B6));
    pb = _mm512_fmadd_ps(pb, ax, ax);
    pb = _mm512_sub_ps(_mm512_set1_ps(1.0f), ck_exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), pb)));
    __mmask16 big = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(CK_ERF_SPLIT), _CMP_GT_OQ);
    __m512 e = _mm512_mask_blend_ps(big, ps, pb);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(e), sign));
}

#endif
