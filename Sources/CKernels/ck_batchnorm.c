// BatchNorm training kernels (see ck_conv_train.h). Every kernel runs over rows in order and over features
// within a row; the SIMD versions are the twins' loops compiled for AVX2/AVX-512 (the loops over features carry no
// reduction, so the compiler vectorizes them without reordering any sum). FP contraction is off in this file, so the
// vectorized code is bit-identical to the twin.
#include "ck_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define CK_ALWAYS_INLINE static inline __attribute__((always_inline))

CK_ALWAYS_INLINE void bn_sums(double* restrict sum, const float* restrict x, size_t rows, size_t f) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * f;
        for (size_t j = 0; j < f; j++) sum[j] += (double)xr[j];
    }
}

CK_ALWAYS_INLINE void bn_sqdev(double* restrict sq, const double* restrict mean, const float* restrict x, size_t rows,
                               size_t f) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * f;
        for (size_t j = 0; j < f; j++) {
            double d = (double)xr[j] - mean[j];
            sq[j] += d * d;
        }
    }
}

CK_ALWAYS_INLINE void bn_backward_sums(double* restrict sdy, double* restrict sdyx, const float* restrict dy,
                                       const float* restrict xhat, size_t rows, size_t f) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * f, *h = xhat + r * f;
        for (size_t j = 0; j < f; j++) {
            sdy[j] += (double)d[j];
            sdyx[j] += (double)d[j] * (double)h[j];
        }
    }
}

CK_ALWAYS_INLINE void bn_apply(float* restrict y, float* restrict xhat, const float* restrict x,
                               const float* restrict mean, const float* restrict rstd, const float* restrict gamma,
                               const float* restrict beta, size_t rows, size_t f) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * f;
        float *hr = xhat + r * f, *yr = y + r * f;
        for (size_t j = 0; j < f; j++) {
            float h = (xr[j] - mean[j]) * rstd[j];
            hr[j] = h;
            yr[j] = h * gamma[j] + beta[j];
        }
    }
}

CK_ALWAYS_INLINE void bn_backward_dx(float* restrict dx, const float* restrict dy, const float* restrict xhat,
                                     const float* restrict s, const float* restrict mdy, const float* restrict mdyx,
                                     size_t rows, size_t f) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * f, *h = xhat + r * f;
        float* o = dx + r * f;
        if (mdy)
            for (size_t j = 0; j < f; j++) o[j] = s[j] * (d[j] - mdy[j] - h[j] * mdyx[j]);
        else
            for (size_t j = 0; j < f; j++) o[j] = s[j] * d[j];
    }
}

// MARK: - Scalar twins (the loops above, for the baseline target)

void ck_batchnorm_sums_f64_ref(double* sum, const float* x, size_t rows, size_t f) { bn_sums(sum, x, rows, f); }
void ck_batchnorm_sqdev_f64_ref(double* sq, const double* mean, const float* x, size_t rows, size_t f) {
    bn_sqdev(sq, mean, x, rows, f);
}
void ck_batchnorm_backward_sums_f64_ref(double* sum_dy, double* sum_dyx, const float* dy, const float* xhat, size_t rows,
                                        size_t f) {
    bn_backward_sums(sum_dy, sum_dyx, dy, xhat, rows, f);
}
void ck_batchnorm_apply_f32_ref(float* y, float* xhat, const float* x, const float* mean, const float* rstd,
                                const float* gamma, const float* beta, size_t rows, size_t f) {
    bn_apply(y, xhat, x, mean, rstd, gamma, beta, rows, f);
}
void ck_batchnorm_backward_dx_f32_ref(float* dx, const float* dy, const float* xhat, const float* s,
                                      const float* mean_dy, const float* mean_dyx, size_t rows, size_t f) {
    bn_backward_dx(dx, dy, xhat, s, mean_dy, mean_dyx, rows, f);
}

// MARK: - SIMD and dispatch

#define CK_BN_VARIANTS(NAME, PARAMS, ARGS)                                       \
    CK_AVX2 static void NAME##_avx2 PARAMS { NAME ARGS; }                        \
    CK_AVX512 static void NAME##_avx512 PARAMS { NAME ARGS; }

CK_BN_VARIANTS(bn_sums, (double* sum, const float* x, size_t rows, size_t f), (sum, x, rows, f))
CK_BN_VARIANTS(bn_sqdev, (double* sq, const double* mean, const float* x, size_t rows, size_t f), (sq, mean, x, rows, f))
CK_BN_VARIANTS(bn_backward_sums, (double* a, double* b, const float* dy, const float* xhat, size_t rows, size_t f),
               (a, b, dy, xhat, rows, f))
CK_BN_VARIANTS(bn_apply,
               (float* y, float* xhat, const float* x, const float* mean, const float* rstd, const float* gamma,
                const float* beta, size_t rows, size_t f),
               (y, xhat, x, mean, rstd, gamma, beta, rows, f))
CK_BN_VARIANTS(bn_backward_dx,
               (float* dx, const float* dy, const float* xhat, const float* s, const float* mdy, const float* mdyx,
                size_t rows, size_t f),
               (dx, dy, xhat, s, mdy, mdyx, rows, f))

#define CK_BN_DISPATCH(NAME, ARGS)                  \
    switch (ck_isa()) {                             \
    case CK_ISA_AVX512: NAME##_avx512 ARGS; return; \
    case CK_ISA_AVX2: NAME##_avx2 ARGS; return;     \
    default: NAME ARGS; return;                     \
    }

void ck_batchnorm_sums_f64(double* sum, const float* x, size_t rows, size_t f) { CK_BN_DISPATCH(bn_sums, (sum, x, rows, f)) }
void ck_batchnorm_sqdev_f64(double* sq, const double* mean, const float* x, size_t rows, size_t f) {
    CK_BN_DISPATCH(bn_sqdev, (sq, mean, x, rows, f))
}
void ck_batchnorm_backward_sums_f64(double* sum_dy, double* sum_dyx, const float* dy, const float* xhat, size_t rows,
                                    size_t f) {
    CK_BN_DISPATCH(bn_backward_sums, (sum_dy, sum_dyx, dy, xhat, rows, f))
}
void ck_batchnorm_apply_f32(float* y, float* xhat, const float* x, const float* mean, const float* rstd,
                            const float* gamma, const float* beta, size_t rows, size_t f) {
    CK_BN_DISPATCH(bn_apply, (y, xhat, x, mean, rstd, gamma, beta, rows, f))
}
void ck_batchnorm_backward_dx_f32(float* dx, const float* dy, const float* xhat, const float* s, const float* mean_dy,
                                  const float* mean_dyx, size_t rows, size_t f) {
    CK_BN_DISPATCH(bn_backward_dx, (dx, dy, xhat, s, mean_dy, mean_dyx, rows, f))
}
