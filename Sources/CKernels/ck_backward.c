// Training kernels (see ck_backward.h): scalar twins first, then AVX2+FMA and AVX-512, then dispatch.
// The forward that saves mean/rstd and the backward that reads them sit next to each other, as in llm.c.
#include "ck_internal.h"
#include "ck_vmath.h"

#include <math.h>

#define CK_INV_SQRT_2PI 0.39894228040143267794f

// MARK: - Scalar twins

void ck_layernorm_forward_f32_ref(float* out, float* mean, float* rstd, const float* x, const float* w,
                                  const float* b, float eps, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * cols;
        float* o = out + r * cols;
        double s = 0;
        for (size_t c = 0; c < cols; c++) s += xr[c];
        double m = s / (double)cols, ss = 0;
        for (size_t c = 0; c < cols; c++) ss += ((double)xr[c] - m) * ((double)xr[c] - m);
        double rs = 1.0 / sqrt(ss / (double)cols + (double)eps);
        mean[r] = (float)m;
        rstd[r] = (float)rs;
        for (size_t c = 0; c < cols; c++) o[c] = (float)(((double)xr[c] - m) * rs * w[c] + b[c]);
    }
}

// Row means in double: this is the accuracy reference the SIMD float sums are held to.
void ck_layernorm_backward_f32_ref(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                                   const float* mean, const float* rstd, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float* dyr = dy + r * cols;
        const float* xr = x + r * cols;
        float* dxr = dx + r * cols;
        const float m = mean[r], rs = rstd[r];
        double g_mean = 0, gn_mean = 0;
        for (size_t c = 0; c < cols; c++) {
            float n = (xr[c] - m) * rs;
            float g = w[c] * dyr[c];
            g_mean += g;
            gn_mean += (double)g * n;
        }
        g_mean /= (double)cols;
        gn_mean /= (double)cols;
        for (size_t c = 0; c < cols; c++) {
            float n = (xr[c] - m) * rs;
            float g = w[c] * dyr[c];
            db[c] += dyr[c];
            dw[c] += dyr[c] * n;
            dxr[c] += (float)(((double)g - g_mean - (double)n * gn_mean) * rs);
        }
    }
}

void ck_gelu_backward_f32_ref(float* dx, const float* x, const float* dy, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * CK_INV_SQRT2));
        float pdf = expf(-0.5f * v * v) * CK_INV_SQRT_2PI;
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

void ck_softmax_backward_rows_f32_ref(float* ds, const float* p, const float* dp, size_t rows, size_t cols,
                                      float scale) {
    for (size_t r = 0; r < rows; r++) {
        const float* pr = p + r * cols;
        const float* dpr = dp + r * cols;
        float* dsr = ds + r * cols;
        double dot = 0;
        for (size_t c = 0; c < cols; c++) dot += (double)pr[c] * dpr[c];
        const float d = (float)dot;
        for (size_t c = 0; c < cols; c++) dsr[c] = scale * pr[c] * (dpr[c] - d);
    }
}

// MARK: - AVX2 + FMA

CK_INLINE CK_AVX2 __m256 ck_gelu_grad_avx2(__m256 v) {
    __m256 cdf = _mm256_mul_ps(_mm256_set1_ps(0.5f),
                               _mm256_add_ps(_mm256_set1_ps(1.0f), ck_erf_avx2(_mm256_mul_ps(v, _mm256_set1_ps(CK_INV_SQRT2)))));
    __m256 pdf = _mm256_mul_ps(ck_exp_avx2(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(v, v))),
                               _mm256_set1_ps(CK_INV_SQRT_2PI));
    return _mm256_fmadd_ps(v, pdf, cdf);
}

CK_AVX2 static void ck_gelu_backward_avx2(float* dx, const float* x, const float* dy, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        __m256i mk = ck_avx2_tail_mask(n - i < 8 ? n - i : 8);
        __m256 g = ck_gelu_grad_avx2(_mm256_maskload_ps(x + i, mk));
        _mm256_maskstore_ps(dx + i, mk, _mm256_mul_ps(g, _mm256_maskload_ps(dy + i, mk)));
    }
}

CK_AVX2 static void ck_softmax_backward_avx2(float* ds, const float* p, const float* dp, size_t rows, size_t cols,
                                             float scale) {
    for (size_t r = 0; r < rows; r++) {
        const float* pr = p + r * cols;
        const float* dpr = dp + r * cols;
        float* dsr = ds + r * cols;
        __m256 acc = _mm256_setzero_ps();
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            acc = _mm256_fmadd_ps(_mm256_maskload_ps(pr + c, mk), _mm256_maskload_ps(dpr + c, mk), acc);
        }
        const __m256 d = _mm256_set1_ps(ck_avx2_hsum(acc)), vs = _mm256_set1_ps(scale);
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 v = _mm256_mul_ps(_mm256_mul_ps(vs, _mm256_maskload_ps(pr + c, mk)),
                                     _mm256_sub_ps(_mm256_maskload_ps(dpr + c, mk), d));
            _mm256_maskstore_ps(dsr + c, mk, v);
        }
    }
}

// Float sums for the two row means (llm.c does the same); the C test bounds the gap to the double twin.
CK_AVX2 static void ck_layernorm_backward_avx2(float* dx, float* dw, float* db, const float* dy, const float* x,
                                               const float* w, const float* mean, const float* rstd, size_t rows,
                                               size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float* dyr = dy + r * cols;
        const float* xr = x + r * cols;
        float* dxr = dx + r * cols;
        const __m256 vm = _mm256_set1_ps(mean[r]), vr = _mm256_set1_ps(rstd[r]);
        __m256 ga = _mm256_setzero_ps(), gna = _mm256_setzero_ps();
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + c, mk), vm), vr);
            __m256 g = _mm256_mul_ps(_mm256_maskload_ps(w + c, mk), _mm256_maskload_ps(dyr + c, mk));
            ga = _mm256_add_ps(ga, g);
            gna = _mm256_fmadd_ps(g, n, gna);
        }
        const __m256 gm = _mm256_set1_ps(ck_avx2_hsum(ga) / (float)cols);
        const __m256 gnm = _mm256_set1_ps(ck_avx2_hsum(gna) / (float)cols);
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 d = _mm256_maskload_ps(dyr + c, mk);
            __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + c, mk), vm), vr);
            __m256 g = _mm256_mul_ps(_mm256_maskload_ps(w + c, mk), d);
            _mm256_maskstore_ps(db + c, mk, _mm256_add_ps(_mm256_maskload_ps(db + c, mk), d));
            _mm256_maskstore_ps(dw + c, mk, _mm256_fmadd_ps(d, n, _mm256_maskload_ps(dw + c, mk)));
            __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(g, gm), _mm256_mul_ps(n, gnm)), vr);
            _mm256_maskstore_ps(dxr + c, mk, _mm256_add_ps(_mm256_maskload_ps(dxr + c, mk), v));
        }
    }
}

// Same numerics as the twin: double sums; the output step in float like ck_add_layernorm_avx2.
CK_AVX2 static void ck_layernorm_forward_avx2(float* out, float* mean, float* rstd, const float* x, const float* w,
                                              const float* b, float eps, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * cols;
        float* o = out + r * cols;
        __m256d acc = _mm256_setzero_pd();
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 v = _mm256_maskload_ps(xr + c, mk);
            acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
            acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        }
        const double m = ck_avx2_hsum_pd(acc) / (double)cols;
        const __m256d vmd = _mm256_set1_pd(m);
        acc = _mm256_setzero_pd();
        for (size_t c = 0; c < cols; c += 8) {
            size_t k = cols - c < 8 ? cols - c : 8;
            __m256i mk = ck_avx2_tail_mask(k);
            __m256 v = _mm256_maskload_ps(xr + c, mk);
            __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vmd);
            __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vmd);
            // Lanes past the tail hold −m after the subtraction: mask them out in double.
            __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(mk));
            __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(mk, 1));
            d0 = _mm256_and_pd(d0, _mm256_castsi256_pd(lo));
            d1 = _mm256_and_pd(d1, _mm256_castsi256_pd(hi));
            acc = _mm256_fmadd_pd(d0, d0, acc);
            acc = _mm256_fmadd_pd(d1, d1, acc);
        }
        const double rs = 1.0 / sqrt(ck_avx2_hsum_pd(acc) / (double)cols + (double)eps);
        mean[r] = (float)m;
        rstd[r] = (float)rs;
        const float mean_hi = (float)m, mean_lo = (float)(m - (double)mean_hi);
        const __m256 vhi = _mm256_set1_ps(mean_hi), vlo = _mm256_set1_ps(mean_lo), vr = _mm256_set1_ps((float)rs);
        for (size_t c = 0; c < cols; c += 8) {
            __m256i mk = ck_avx2_tail_mask(cols - c < 8 ? cols - c : 8);
            __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + c, mk), vhi), vlo), vr);
            __m256 y = _mm256_fmadd_ps(d, _mm256_maskload_ps(w + c, mk), _mm256_maskload_ps(b + c, mk));
            _mm256_maskstore_ps(o + c, mk, y);
        }
    }
}

// MARK: - AVX-512

CK_INLINE CK_AVX512 __m512 ck_gelu_grad_avx512(__m512 v) {
    __m512 cdf = _mm512_mul_ps(_mm512_set1_ps(0.5f),
                               _mm512_add_ps(_mm512_set1_ps(1.0f), ck_erf_avx512(_mm512_mul_ps(v, _mm512_set1_ps(CK_INV_SQRT2)))));
    __m512 pdf = _mm512_mul_ps(ck_exp_avx512(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(v, v))),
                               _mm512_set1_ps(CK_INV_SQRT_2PI));
    return _mm512_fmadd_ps(v, pdf, cdf);
}

CK_AVX512 static void ck_gelu_backward_avx512(float* dx, const float* x, const float* dy, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 mk = ck_avx512_tail_mask(n - i < 16 ? n - i : 16);
        __m512 g = ck_gelu_grad_avx512(_mm512_maskz_loadu_ps(mk, x + i));
        _mm512_mask_storeu_ps(dx + i, mk, _mm512_mul_ps(g, _mm512_maskz_loadu_ps(mk, dy + i)));
    }
}

CK_AVX512 static void ck_softmax_backward_avx512(float* ds, const float* p, const float* dp, size_t rows, size_t cols,
                                                 float scale) {
    for (size_t r = 0; r < rows; r++) {
        const float* pr = p + r * cols;
        const float* dpr = dp + r * cols;
        float* dsr = ds + r * cols;
        __m512 acc = _mm512_setzero_ps();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, pr + c), _mm512_maskz_loadu_ps(mk, dpr + c), acc);
        }
        const __m512 d = _mm512_set1_ps(_mm512_reduce_add_ps(acc)), vs = _mm512_set1_ps(scale);
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(vs, _mm512_maskz_loadu_ps(mk, pr + c)),
                                     _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, dpr + c), d));
            _mm512_mask_storeu_ps(dsr + c, mk, v);
        }
    }
}

CK_AVX512 static void ck_layernorm_backward_avx512(float* dx, float* dw, float* db, const float* dy, const float* x,
                                                   const float* w, const float* mean, const float* rstd, size_t rows,
                                                   size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float* dyr = dy + r * cols;
        const float* xr = x + r * cols;
        float* dxr = dx + r * cols;
        const __m512 vm = _mm512_set1_ps(mean[r]), vr = _mm512_set1_ps(rstd[r]);
        __m512 ga = _mm512_setzero_ps(), gna = _mm512_setzero_ps();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 n = _mm512_maskz_mul_ps(mk, _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, xr + c), vm), vr);
            __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, w + c), _mm512_maskz_loadu_ps(mk, dyr + c));
            ga = _mm512_add_ps(ga, g);
            gna = _mm512_fmadd_ps(g, n, gna);
        }
        const __m512 gm = _mm512_set1_ps(_mm512_reduce_add_ps(ga) / (float)cols);
        const __m512 gnm = _mm512_set1_ps(_mm512_reduce_add_ps(gna) / (float)cols);
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 d = _mm512_maskz_loadu_ps(mk, dyr + c);
            __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, xr + c), vm), vr);
            __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, w + c), d);
            _mm512_mask_storeu_ps(db + c, mk, _mm512_add_ps(_mm512_maskz_loadu_ps(mk, db + c), d));
            _mm512_mask_storeu_ps(dw + c, mk, _mm512_fmadd_ps(d, n, _mm512_maskz_loadu_ps(mk, dw + c)));
            __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(g, gm), _mm512_mul_ps(n, gnm)), vr);
            _mm512_mask_storeu_ps(dxr + c, mk, _mm512_add_ps(_mm512_maskz_loadu_ps(mk, dxr + c), v));
        }
    }
}

CK_AVX512 static void ck_layernorm_forward_avx512(float* out, float* mean, float* rstd, const float* x,
                                                  const float* w, const float* b, float eps, size_t rows,
                                                  size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * cols;
        float* o = out + r * cols;
        __m512d acc = _mm512_setzero_pd();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 v = _mm512_maskz_loadu_ps(mk, xr + c);
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
        }
        const double m = _mm512_reduce_add_pd(acc) / (double)cols;
        const __m512d vmd = _mm512_set1_pd(m);
        acc = _mm512_setzero_pd();
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 v = _mm512_maskz_loadu_ps(mk, xr + c);
            __m512d d0 = _mm512_maskz_sub_pd((__mmask8)(mk & 0xff), _mm512_cvtps_pd(_mm512_castps512_ps256(v)), vmd);
            __m512d d1 = _mm512_maskz_sub_pd(
                (__mmask8)(mk >> 8), _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), vmd);
            acc = _mm512_fmadd_pd(d0, d0, acc);
            acc = _mm512_fmadd_pd(d1, d1, acc);
        }
        const double rs = 1.0 / sqrt(_mm512_reduce_add_pd(acc) / (double)cols + (double)eps);
        mean[r] = (float)m;
        rstd[r] = (float)rs;
        const float mean_hi = (float)m, mean_lo = (float)(m - (double)mean_hi);
        const __m512 vhi = _mm512_set1_ps(mean_hi), vlo = _mm512_set1_ps(mean_lo), vr = _mm512_set1_ps((float)rs);
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 mk = ck_avx512_tail_mask(cols - c < 16 ? cols - c : 16);
            __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, xr + c), vhi), vlo), vr);
            __m512 y = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(mk, w + c), _mm512_maskz_loadu_ps(mk, b + c));
            _mm512_mask_storeu_ps(o + c, mk, y);
        }
    }
}

// MARK: - Dispatch

void ck_layernorm_forward_f32(float* out, float* mean, float* rstd, const float* x, const float* w, const float* b,
                              float eps, size_t rows, size_t cols) {
    if (cols == 0) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_layernorm_forward_avx512(out, mean, rstd, x, w, b, eps, rows, cols); return;
    case CK_ISA_AVX2: ck_layernorm_forward_avx2(out, mean, rstd, x, w, b, eps, rows, cols); return;
    default: ck_layernorm_forward_f32_ref(out, mean, rstd, x, w, b, eps, rows, cols); return;
    }
}

void ck_layernorm_backward_f32(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                               const float* mean, const float* rstd, size_t rows, size_t cols) {
    if (cols == 0) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_layernorm_backward_avx512(dx, dw, db, dy, x, w, mean, rstd, rows, cols); return;
    case CK_ISA_AVX2: ck_layernorm_backward_avx2(dx, dw, db, dy, x, w, mean, rstd, rows, cols); return;
    default: ck_layernorm_backward_f32_ref(dx, dw, db, dy, x, w, mean, rstd, rows, cols); return;
    }
}

void ck_gelu_backward_f32(float* dx, const float* x, const float* dy, size_t n) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_gelu_backward_avx512(dx, x, dy, n); return;
    case CK_ISA_AVX2: ck_gelu_backward_avx2(dx, x, dy, n); return;
    default: ck_gelu_backward_f32_ref(dx, x, dy, n); return;
    }
}

void ck_softmax_backward_rows_f32(float* ds, const float* p, const float* dp, size_t rows, size_t cols, float scale) {
    if (cols == 0) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_softmax_backward_avx512(ds, p, dp, rows, cols, scale); return;
    case CK_ISA_AVX2: ck_softmax_backward_avx2(ds, p, dp, rows, cols, scale); return;
    default: ck_softmax_backward_rows_f32_ref(ds, p, dp, rows, cols, scale); return;
    }
}
