// fp32 elementwise and row kernels: scalar twins (libm) first, then AVX2+FMA and AVX-512 versions.
#include "ck_internal.h"
#include "ck_vmath.h"

#include <math.h>

// MARK: - Scalar twins (the reference and the CK_ISA_SCALAR path)

void ck_bias_gelu_f32_ref(float* x, const float* bias, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float v = bias ? row[c] + bias[c] : row[c];
            row[c] = 0.5f * v * (1.0f + erff(v * CK_INV_SQRT2));
        }
    }
}

void ck_bias_relu_f32_ref(float* x, const float* bias, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float v = bias ? row[c] + bias[c] : row[c];
            row[c] = v > 0.0f ? v : 0.0f;
        }
    }
}

void ck_bias_add_f32_ref(float* x, const float* bias, size_t rows, size_t cols) {
    if (!bias) return;
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        for (size_t c = 0; c < cols; c++) row[c] += bias[c];
    }
}

void ck_sigmoid_f32_ref(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
}

void ck_tanh_f32_ref(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

void ck_relu_f32_ref(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ck_exp_f32_ref(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = expf(x[i]);
}

// Double accumulation: this is the accuracy reference the SIMD float version is held to.
void ck_add_layernorm_f32_ref(float* x, const float* residual, const float* bias, const float* gamma,
                              const float* beta, float eps, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        const float* res = residual ? residual + r * cols : NULL;
        double sum = 0;
        for (size_t c = 0; c < cols; c++) {
            float v = row[c];
            if (bias) v += bias[c];
            if (res) v += res[c];
            row[c] = v;
            sum += v;
        }
        double mean = sum / (double)cols;
        double ss = 0;
        for (size_t c = 0; c < cols; c++) {
            double d = row[c] - mean;
            ss += d * d;
        }
        double rstd = 1.0 / sqrt(ss / (double)cols + (double)eps);
        for (size_t c = 0; c < cols; c++)
            row[c] = (float)((row[c] - mean) * rstd * gamma[c] + beta[c]);
    }
}

void ck_softmax_rows_f32_ref(float* x, size_t rows, size_t cols, float scale, const float* key_bias) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        float m = -INFINITY;
        for (size_t c = 0; c < cols; c++) {
            float v = scale * row[c];
            if (key_bias) v += key_bias[c];
            row[c] = v;
            if (v > m) m = v;
        }
        if (m == -INFINITY) {
            for (size_t c = 0; c < cols; c++) row[c] = 0.0f;
            continue;
        }
        double s = 0;
        for (size_t c = 0; c < cols; c++) {
            row[c] = expf(row[c] - m);
            s += row[c];
        }
        float inv = (float)(1.0 / s);
        for (size_t c = 0; c < cols; c++) row[c] *= inv;
    }
}

void ck_l2_normalize_rows_f32(float* x, size_t rows, size_t cols, float eps) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        double ss = 0;
        for (size_t c = 0; c < cols; c++) ss += (double)row[c] * row[c];
        double norm = sqrt(ss);
        if (norm < eps) norm = eps;
        float inv = (float)(1.0 / norm);
        for (size_t c = 0; c < cols; c++) row[c] *= inv;
    }
}

void ck_masked_mean_rows_f32(const float* x, const float* mask, size_t rows, size_t cols, float* out) {
    double weight = 0;
    for (size_t r = 0; r < rows; r++) weight += mask ? mask[r] : 1.0f;
    if (weight < 1e-9) weight = 1e-9;
    for (size_t c = 0; c < cols; c++) {
        double s = 0;
        for (size_t r = 0; r < rows; r++) {
            float w = mask ? mask[r] : 1.0f;
            if (w != 0.0f) s += (double)w * x[r * cols + c];
        }
        out[c] = (float)(s / weight);
    }
}

// Vector exp and erf (constants and AVX2/AVX-512 versions) live in ck_vmath.h, shared with ck_backward.c.

// tanh: Cephes tanhf — odd polynomial below 0.625, 1 − 2/(e^{2|x|} + 1) above, 1 beyond 9.
#define CK_TANH_SPLIT 0.625f
#define CK_TANH_CLAMP 9.0f
#define CK_TANH_T0 -5.70498872745e-3f
#define CK_TANH_T1 2.06390887954e-2f
#define CK_TANH_T2 -5.37397155531e-2f
#define CK_TANH_T3 1.33314422036e-1f
#define CK_TANH_T4 -3.33332819422e-1f

// MARK: - AVX2 + FMA

CK_INLINE CK_AVX2 __m256 ck_gelu_avx2(__m256 v) {
    __m256 e = ck_erf_avx2(_mm256_mul_ps(v, _mm256_set1_ps(CK_INV_SQRT2)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

CK_INLINE CK_AVX2 __m256 ck_relu_avx2(__m256 v) { return _mm256_max_ps(v, _mm256_setzero_ps()); }
CK_INLINE CK_AVX2 __m256 ck_identity_avx2(__m256 v) { return v; }

CK_INLINE CK_AVX2 __m256 ck_sigmoid_avx2(__m256 v) {
    v = _mm256_max_ps(v, _mm256_set1_ps(-CK_EXP_HI));
    __m256 e = ck_exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

CK_INLINE CK_AVX2 __m256 ck_tanh_avx2(__m256 x) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 sign = _mm256_and_ps(x, sign_bit);
    __m256 ax = _mm256_andnot_ps(sign_bit, x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(CK_TANH_T0);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_TANH_T1));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_TANH_T2));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_TANH_T3));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_TANH_T4));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 e = ck_exp_avx2(_mm256_add_ps(ax, _mm256_min_ps(ax, _mm256_set1_ps(CK_TANH_CLAMP))));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    big = _mm256_or_ps(big, sign);
    __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(CK_TANH_SPLIT), _CMP_LT_OQ);
    return _mm256_blendv_ps(big, small, is_small);
}

// Row-wise "x = f(x + bias)" loops; the tail uses masked loads/stores so odd widths stay in SIMD.
#define CK_AVX2_ROWWISE(NAME, F)                                                                    \
    CK_AVX2 static void NAME(float* x, const float* bias, size_t rows, size_t cols) {              \
        for (size_t r = 0; r < rows; r++) {                                                         \
            float* row = x + r * cols;                                                              \
            size_t c = 0;                                                                           \
            for (; c + 8 <= cols; c += 8) {                                                         \
                __m256 v = _mm256_loadu_ps(row + c);                                                \
                if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + c));                          \
                _mm256_storeu_ps(row + c, F(v));                                                    \
            }                                                                                       \
            if (c < cols) {                                                                         \
                __m256i mk = ck_avx2_tail_mask(cols - c);                                           \
                __m256 v = _mm256_maskload_ps(row + c, mk);                                         \
                if (bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias + c, mk));                   \
                _mm256_maskstore_ps(row + c, mk, F(v));                                             \
            }                                                                                       \
        }                                                                                           \
    }

CK_AVX2_ROWWISE(ck_bias_gelu_avx2, ck_gelu_avx2)
CK_AVX2_ROWWISE(ck_bias_relu_avx2, ck_relu_avx2)
CK_AVX2_ROWWISE(ck_bias_add_avx2, ck_identity_avx2)
CK_AVX2_ROWWISE(ck_sigmoid_avx2_rows, ck_sigmoid_avx2)
CK_AVX2_ROWWISE(ck_tanh_avx2_rows, ck_tanh_avx2)
CK_AVX2_ROWWISE(ck_exp_avx2_rows, ck_exp_avx2)

// Sums run in double and the centred value uses a two-float mean (hi + lo), because for rows with a
// large mean relative to their spread, rounding the mean to float alone costs ~ulp(mean)/std —
// up to 6e-6 absolute on random 2..1536-wide rows in the C test; this keeps it near 1 ulp.
CK_AVX2 static void ck_add_layernorm_avx2(float* x, const float* residual, const float* bias, const float* gamma,
                                          const float* beta, float eps, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        const float* res = residual ? residual + r * cols : NULL;
        __m256d acc = _mm256_setzero_pd();
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 v = _mm256_maskload_ps(row + c, mk);
            if (bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias + c, mk));
            if (res) v = _mm256_add_ps(v, _mm256_maskload_ps(res + c, mk));
            _mm256_maskstore_ps(row + c, mk, v);
            v = _mm256_and_ps(v, _mm256_castsi256_ps(mk));
            acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
            acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        }
        const double mean = ck_avx2_hsum_pd(acc) / (double)cols;
        const float mean_hi = (float)mean, mean_lo = (float)(mean - (double)mean_hi);
        const __m256 vhi = _mm256_set1_ps(mean_hi), vlo = _mm256_set1_ps(mean_lo);
        acc = _mm256_setzero_pd();
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(row + c, mk), vhi), vlo);
            d = _mm256_and_ps(d, _mm256_castsi256_ps(mk));
            __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
            acc = _mm256_fmadd_pd(d0, d0, acc);
            acc = _mm256_fmadd_pd(d1, d1, acc);
        }
        const float rstd = (float)(1.0 / sqrt(ck_avx2_hsum_pd(acc) / (double)cols + (double)eps));
        const __m256 vrstd = _mm256_set1_ps(rstd);
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(row + c, mk), vhi), vlo);
            d = _mm256_mul_ps(d, vrstd);
            __m256 y = _mm256_fmadd_ps(d, _mm256_maskload_ps(gamma + c, mk), _mm256_maskload_ps(beta + c, mk));
            _mm256_maskstore_ps(row + c, mk, y);
        }
    }
}

CK_AVX2 static void ck_softmax_rows_avx2(float* x, size_t rows, size_t cols, float scale, const float* key_bias) {
    const __m256 vscale = _mm256_set1_ps(scale);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        __m256 vmax = ninf;
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 v = _mm256_mul_ps(vscale, _mm256_maskload_ps(row + c, mk));
            if (key_bias) v = _mm256_add_ps(v, _mm256_maskload_ps(key_bias + c, mk));
            _mm256_maskstore_ps(row + c, mk, v);
            vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(mk)));
        }
        const float m = ck_avx2_hmax(vmax);
        if (m == -INFINITY) {
            for (size_t c = 0; c < cols; c++) row[c] = 0.0f;
            continue;
        }
        const __m256 vm = _mm256_set1_ps(m);
        __m256 acc = _mm256_setzero_ps();
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 e = ck_exp_avx2(_mm256_sub_ps(_mm256_maskload_ps(row + c, mk), vm));
            e = _mm256_and_ps(e, _mm256_castsi256_ps(mk));
            _mm256_maskstore_ps(row + c, mk, e);
            acc = _mm256_add_ps(acc, e);
        }
        const __m256 inv = _mm256_set1_ps(1.0f / ck_avx2_hsum(acc));
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            _mm256_maskstore_ps(row + c, mk, _mm256_mul_ps(_mm256_maskload_ps(row + c, mk), inv));
        }
    }
}

// MARK: - AVX-512

CK_INLINE CK_AVX512 __m512 ck_gelu_avx512(__m512 v) {
    __m512 e = ck_erf_avx512(_mm512_mul_ps(v, _mm512_set1_ps(CK_INV_SQRT2)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

CK_INLINE CK_AVX512 __m512 ck_relu_avx512(__m512 v) { return _mm512_max_ps(v, _mm512_setzero_ps()); }
CK_INLINE CK_AVX512 __m512 ck_identity_avx512(__m512 v) { return v; }

CK_INLINE CK_AVX512 __m512 ck_sigmoid_avx512(__m512 v) {
    v = _mm512_max_ps(v, _mm512_set1_ps(-CK_EXP_HI));
    __m512 e = ck_exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), v));
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

CK_INLINE CK_AVX512 __m512 ck_tanh_avx512(__m512 x) {
    const __m512i sign_bit = _mm512_set1_epi32((int32_t)0x80000000u);
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), sign_bit);
    __m512 ax = _mm512_abs_ps(x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(CK_TANH_T0);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_TANH_T1));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_TANH_T2));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_TANH_T3));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_TANH_T4));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 e = ck_exp_avx512(_mm512_add_ps(ax, _mm512_min_ps(ax, _mm512_set1_ps(CK_TANH_CLAMP))));
    __m512 big = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big), sign));
    __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(CK_TANH_SPLIT), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, big, small);
}

#define CK_AVX512_ROWWISE(NAME, F)                                                                  \
    CK_AVX512 static void NAME(float* x, const float* bias, size_t rows, size_t cols) {            \
        for (size_t r = 0; r < rows; r++) {                                                         \
            float* row = x + r * cols;                                                              \
            size_t c = 0;                                                                           \
            for (; c + 16 <= cols; c += 16) {                                                       \
                __m512 v = _mm512_loadu_ps(row + c);                                                \
                if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + c));                          \
                _mm512_storeu_ps(row + c, F(v));                                                    \
            }                                                                                       \
            if (c < cols) {                                                                         \
                __mmask16 mk = ck_avx512_tail_mask(cols - c);                                       \
                __m512 v = _mm512_maskz_loadu_ps(mk, row + c);                                      \
                if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, bias + c));                \
                _mm512_mask_storeu_ps(row + c, mk, F(v));                                           \
            }                                                                                       \
        }                                                                                           \
    }

CK_AVX512_ROWWISE(ck_bias_gelu_avx512, ck_gelu_avx512)
CK_AVX512_ROWWISE(ck_bias_relu_avx512, ck_relu_avx512)
CK_AVX512_ROWWISE(ck_bias_add_avx512, ck_identity_avx512)
CK_AVX512_ROWWISE(ck_sigmoid_avx512_rows, ck_sigmoid_avx512)
CK_AVX512_ROWWISE(ck_tanh_avx512_rows, ck_tanh_avx512)
CK_AVX512_ROWWISE(ck_exp_avx512_rows, ck_exp_avx512)

// Same numerics as the AVX2 version: double sums, two-float mean.
CK_AVX512 static void ck_add_layernorm_avx512(float* x, const float* residual, const float* bias,
                                              const float* gamma, const float* beta, float eps, size_t rows,
                                              size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        const float* res = residual ? residual + r * cols : NULL;
        __m512d acc = _mm512_setzero_pd();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 v = _mm512_maskz_loadu_ps(mk, row + c);
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, bias + c));
            if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, res + c));
            _mm512_mask_storeu_ps(row + c, mk, v);
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
        }
        const double mean = _mm512_reduce_add_pd(acc) / (double)cols;
        const float mean_hi = (float)mean, mean_lo = (float)(mean - (double)mean_hi);
        const __m512 vhi = _mm512_set1_ps(mean_hi), vlo = _mm512_set1_ps(mean_lo);
        acc = _mm512_setzero_pd();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 d = _mm512_maskz_sub_ps(mk, _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + c), vhi), vlo);
            __m512d d0 = _mm512_cvtps_pd(_mm512_castps512_ps256(d));
            __m512d d1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1)));
            acc = _mm512_fmadd_pd(d0, d0, acc);
            acc = _mm512_fmadd_pd(d1, d1, acc);
        }
        const float rstd = (float)(1.0 / sqrt(_mm512_reduce_add_pd(acc) / (double)cols + (double)eps));
        const __m512 vrstd = _mm512_set1_ps(rstd);
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + c), vhi), vlo);
            d = _mm512_mul_ps(d, vrstd);
            __m512 y = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(mk, gamma + c), _mm512_maskz_loadu_ps(mk, beta + c));
            _mm512_mask_storeu_ps(row + c, mk, y);
        }
    }
}

CK_AVX512 static void ck_softmax_rows_avx512(float* x, size_t rows, size_t cols, float scale,
                                             const float* key_bias) {
    const __m512 vscale = _mm512_set1_ps(scale);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (size_t r = 0; r < rows; r++) {
        float* row = x + r * cols;
        __m512 vmax = ninf;
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 v = _mm512_mul_ps(vscale, _mm512_maskz_loadu_ps(mk, row + c));
            if (key_bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, key_bias + c));
            _mm512_mask_storeu_ps(row + c, mk, v);
            vmax = _mm512_mask_max_ps(vmax, mk, vmax, v);
        }
        const float m = _mm512_reduce_max_ps(vmax);
        if (m == -INFINITY) {
            for (size_t c = 0; c < cols; c++) row[c] = 0.0f;
            continue;
        }
        const __m512 vm = _mm512_set1_ps(m);
        __m512 acc = _mm512_setzero_ps();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 e = _mm512_maskz_mov_ps(mk, ck_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + c), vm)));
            _mm512_mask_storeu_ps(row + c, mk, e);
            acc = _mm512_add_ps(acc, e);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            _mm512_mask_storeu_ps(row + c, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, row + c), inv));
        }
    }
}

// MARK: - Dispatch

#define CK_DISPATCH_ROWWISE(PUBLIC, A512, A2)                                                       \
    void PUBLIC(float* x, const float* bias, size_t rows, size_t cols) {                           \
        switch (ck_isa()) {                                                                         \
        case CK_ISA_AVX512: A512(x, bias, rows, cols); return;                                      \
        case CK_ISA_AVX2: A2(x, bias, rows, cols); return;                                          \
        default: PUBLIC##_ref(x, bias, rows, cols); return;                                         \
        }                                                                                           \
    }

CK_DISPATCH_ROWWISE(ck_bias_gelu_f32, ck_bias_gelu_avx512, ck_bias_gelu_avx2)
CK_DISPATCH_ROWWISE(ck_bias_relu_f32, ck_bias_relu_avx512, ck_bias_relu_avx2)

void ck_bias_add_f32(float* x, const float* bias, size_t rows, size_t cols) {
    if (!bias) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_bias_add_avx512(x, bias, rows, cols); return;
    case CK_ISA_AVX2: ck_bias_add_avx2(x, bias, rows, cols); return;
    default: ck_bias_add_f32_ref(x, bias, rows, cols); return;
    }
}

#define CK_DISPATCH_UNARY(PUBLIC, A512, A2)                                                         \
    void PUBLIC(float* x, size_t n) {                                                               \
        switch (ck_isa()) {                                                                         \
        case CK_ISA_AVX512: A512(x, NULL, 1, n); return;                                            \
        case CK_ISA_AVX2: A2(x, NULL, 1, n); return;                                                \
        default: PUBLIC##_ref(x, n); return;                                                        \
        }                                                                                           \
    }

CK_DISPATCH_UNARY(ck_sigmoid_f32, ck_sigmoid_avx512_rows, ck_sigmoid_avx2_rows)
CK_DISPATCH_UNARY(ck_tanh_f32, ck_tanh_avx512_rows, ck_tanh_avx2_rows)
CK_DISPATCH_UNARY(ck_relu_f32, ck_bias_relu_avx512, ck_bias_relu_avx2)
CK_DISPATCH_UNARY(ck_exp_f32, ck_exp_avx512_rows, ck_exp_avx2_rows)

void ck_add_layernorm_f32(float* x, const float* residual, const float* bias, const float* gamma,
                          const float* beta, float eps, size_t rows, size_t cols) {
    if (cols == 0) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_add_layernorm_avx512(x, residual, bias, gamma, beta, eps, rows, cols); return;
    case CK_ISA_AVX2: ck_add_layernorm_avx2(x, residual, bias, gamma, beta, eps, rows, cols); return;
    default: ck_add_layernorm_f32_ref(x, residual, bias, gamma, beta, eps, rows, cols); return;
    }
}

void ck_softmax_rows_f32(float* x, size_t rows, size_t cols, float scale, const float* key_bias) {
    if (cols == 0) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_softmax_rows_avx512(x, rows, cols, scale, key_bias); return;
    case CK_ISA_AVX2: ck_softmax_rows_avx2(x, rows, cols, scale, key_bias); return;
    default: ck_softmax_rows_f32_ref(x, rows, cols, scale, key_bias); return;
    }
}
