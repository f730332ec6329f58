// Training kernels of the image layers (Conv2D's col2im, max pooling with its argmax), NHWC, TensorFlow padding.
// Included from CKernels.h. Every SIMD version runs over channels and adds/compares in the twin's order, so it
// matches the twin exactly. Callers thread them over images (disjoint outputs per image).
#ifndef CK_CONV_TRAIN_H
#define CK_CONV_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Geometry of a 2-D window op over NHWC images: input (n, h, w, c), output (n, oh, ow, c or patch columns),
/// kernel kh × kw, strides sh, sw, padding before pad_top, pad_left (cells outside the input are skipped).
typedef struct {
    int64_t n, h, w, c, oh, ow, kh, kw, sh, sw, pad_top, pad_left;
} ck_window2d;
_Static_assert(sizeof(ck_window2d) == 12 * 8, "ck_window2d is 12 int64 fields");

/// im2col for images [n0, n1): cols(n·oh·ow, kh·kw·c) = the window of each output cell, patch columns ordered
/// (ky, kx, channel), zero where the window hangs over the padding. Plain copies (memcpy per window cell), so one
/// version serves every ISA.
void ck_im2col_nhwc_f32(float* cols, const float* x, const ck_window2d* g, int64_t n0, int64_t n1);

/// The adjoint of im2col: for images [n0, n1), dx(n, h, w, c) += Σ over windows of the patch-row gradients
/// dcols(n·oh·ow, kh·kw·c) (patch columns ordered (ky, kx, channel)). Accumulates: zero dx first for dL/dx.
void ck_col2im_nhwc_f32(float* dx, const float* dcols, const ck_window2d* g, int64_t n0, int64_t n1);
void ck_col2im_nhwc_f32_ref(float* dx, const float* dcols, const ck_window2d* g, int64_t n0, int64_t n1);

/// Max pooling forward for images [n0, n1): y(n, oh, ow, c) = max over each window, argmax = flat NHWC index into
/// x of the first maximum in scan order (ky, then kx). A window with no value above −inf keeps y = −inf and
/// argmax = 0 (as the Swift reference did).
void ck_maxpool_forward_nhwc_f32(float* y, int32_t* argmax, const float* x, const ck_window2d* g, int64_t n0, int64_t n1);
void ck_maxpool_forward_nhwc_f32_ref(float* y, int32_t* argmax, const float* x, const ck_window2d* g, int64_t n0,
                                     int64_t n1);

/// Max pooling backward: dx[argmax[o]] += dy[o] for o in [o0, o1) (a scatter; outputs of different images never
/// share an input, so image ranges can run in parallel). Scalar only: a scatter with possible repeats.
void ck_maxpool_backward_f32(float* dx, const float* dy, const int32_t* argmax, int64_t o0, int64_t o1);

/// BatchNorm statistics over rows of x (rows, f), per feature in double, rows in order:
///   sum[j] += Σ_r x[r, j];  then, given mean[j], sq[j] += Σ_r (x[r, j] − mean[j])².
/// (Two passes, as the biased variance of the training forward needs.) SIMD runs over features with double lanes in
/// the same row order: bit-identical to the twin.
void ck_batchnorm_sums_f64(double* sum, const float* x, size_t rows, size_t f);
void ck_batchnorm_sums_f64_ref(double* sum, const float* x, size_t rows, size_t f);
void ck_batchnorm_sqdev_f64(double* sq, const double* mean, const float* x, size_t rows, size_t f);
void ck_batchnorm_sqdev_f64_ref(double* sq, const double* mean, const float* x, size_t rows, size_t f);
/// Backward sums: sum_dy[j] += Σ_r dy[r, j], sum_dyx[j] += Σ_r dy[r, j]·x̂[r, j] (double, rows in order).
void ck_batchnorm_backward_sums_f64(double* sum_dy, double* sum_dyx, const float* dy, const float* xhat, size_t rows,
                                    size_t f);
void ck_batchnorm_backward_sums_f64_ref(double* sum_dy, double* sum_dyx, const float* dy, const float* xhat, size_t rows,
                                        size_t f);
/// Normalize rows: x̂ = (x − mean)·rstd, y = x̂·gamma + beta (float, no FMA: bit-identical to the twin).
/// x, xhat, y: (rows, f); mean, rstd, gamma, beta: (f).
void ck_batchnorm_apply_f32(float* y, float* xhat, const float* x, const float* mean, const float* rstd,
                            const float* gamma, const float* beta, size_t rows, size_t f);
void ck_batchnorm_apply_f32_ref(float* y, float* xhat, const float* x, const float* mean, const float* rstd,
                                const float* gamma, const float* beta, size_t rows, size_t f);
/// dx = s·(dy − mean_dy − x̂·mean_dyx) with s = gamma·rstd (batch statistics), or dx = s·dy when mean_dy is NULL
/// (running statistics). dx, dy, xhat: (rows, f); the rest (f).
void ck_batchnorm_backward_dx_f32(float* dx, const float* dy, const float* xhat, const float* s, const float* mean_dy,
                                  const float* mean_dyx, size_t rows, size_t f);
void ck_batchnorm_backward_dx_f32_ref(float* dx, const float* dy, const float* xhat, const float* s,
                                      const float* mean_dy, const float* mean_dyx, size_t rows, size_t f);

#ifdef __cplusplus
}
#endif
#endif
