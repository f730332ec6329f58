// Training kernels: forwards that keep what their backward needs, and the backwards, llm.c style
// (layernorm_forward saves mean/rstd; layernorm_backward reads them). Included from CKernels.h.
// Backward kernels ACCUMULATE into parameter gradients (dw, db) so one buffer can collect several calls;
// whether an input gradient is accumulated or overwritten is stated per kernel.
#ifndef CK_BACKWARD_H
#define CK_BACKWARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Per row: out = (x − mean) · rstd · w + b with mean, rstd = 1/sqrt(var + eps) kept for the backward
/// (biased variance, like torch LayerNorm). x, out: (rows, cols), may alias; w, b: (cols); mean, rstd: (rows).
/// Double sums in every path; SIMD matches the twin to ~1 ulp of the output.
void ck_layernorm_forward_f32(float* out, float* mean, float* rstd, const float* x, const float* w, const float* b,
                              float eps, size_t rows, size_t cols);
void ck_layernorm_forward_f32_ref(float* out, float* mean, float* rstd, const float* x, const float* w,
                                  const float* b, float eps, size_t rows, size_t cols);

/// LayerNorm backward (llm.c layernorm_backward): with n = (x − mean)·rstd,
///   dx += rstd · (w·dy − mean_c(w·dy) − n · mean_c(w·dy·n)),  dw += Σ_rows dy·n,  db += Σ_rows dy.
/// dx, dy, x: (rows, cols); dw, db, w: (cols); mean, rstd: (rows). dx must not alias dy.
void ck_layernorm_backward_f32(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                               const float* mean, const float* rstd, size_t rows, size_t cols);
void ck_layernorm_backward_f32_ref(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                                   const float* mean, const float* rstd, size_t rows, size_t cols);

/// dx = dy · gelu'(x) for the exact (erf) GELU: gelu'(x) = Φ(x) + x·φ(x). x: the GELU input. dx, x, dy: (n);
/// dx may alias dy (overwritten, not accumulated). SIMD erf/exp as in ck_bias_gelu_f32; ref uses libm.
void ck_gelu_backward_f32(float* dx, const float* x, const float* dy, size_t n);
void ck_gelu_backward_f32_ref(float* dx, const float* x, const float* dy, size_t n);

/// Softmax backward per row, given the probabilities p = softmax(scale · s):
///   ds = scale · p ⊙ (dp − Σ_c p·dp).
/// ds, p, dp: (rows, cols); ds may alias dp (overwritten, not accumulated). The attention backward's core.
void ck_softmax_backward_rows_f32(float* ds, const float* p, const float* dp, size_t rows, size_t cols, float scale);
void ck_softmax_backward_rows_f32_ref(float* ds, const float* p, const float* dp, size_t rows, size_t cols,
                                      float scale);

/// Training self-attention for one (sequence, head), keeping the probabilities for the backward:
///   p(len, len) = softmax(scale · q·kᵀ),  ctx(len, dh) = p·v.
/// q, k, v: (len, dh) with row stride ld_qkv; ctx: row stride ld_ctx (only dh columns written); p contiguous;
/// scratch: dh·len floats (kᵀ). Replaces two small GEMMs and a softmax per head (BLAS call overhead dominated at
/// MiniLM's 24 tokens × 32 dims). The SIMD paths are the twin's loops compiled for AVX2/AVX-512: the same sums in the
/// same order, except FMA contraction and the SIMD softmax (≈1e-6 relative).
void ck_attention_train_forward_f32(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len, size_t dh,
                                    float scale, float* p, float* ctx, size_t ld_ctx, float* scratch);
void ck_attention_train_forward_f32_ref(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len,
                                        size_t dh, float scale, float* p, float* ctx, size_t ld_ctx, float* scratch);

/// Its backward: from dctx (row stride ld_ctx) and p, with dP = dctx·vᵀ and dS = scale · (p ⊙ (dP − Σ p·dP) + dz):
///   dv = pᵀ·dctx,  dq = dS·k,  dk = dSᵀ·q,
/// written (not accumulated) with row stride ld_qkv. dz (len, len), NULL for none: an extra gradient on the softmax
/// input z = scale·q·kᵀ from a loss on the probabilities themselves (attention-distribution KL gives dz = (p − t)/n,
/// which a dP would have to express as −t/p). scratch: dh·len + len·len floats (vᵀ, then dP/dS).
void ck_attention_train_backward_f32(const float* q, const float* k, const float* v, size_t ld_qkv, const float* p,
                                     const float* dctx, size_t ld_ctx, const float* dz, float* dq, float* dk, float* dv,
                                     size_t len, size_t dh, float scale, float* scratch);
void ck_attention_train_backward_f32_ref(const float* q, const float* k, const float* v, size_t ld_qkv, const float* p,
                                         const float* dctx, size_t ld_ctx, const float* dz, float* dq, float* dk, float* dv,
                                         size_t len, size_t dh, float scale, float* scratch);

/// ReLU backward from the ReLU's output y: dx = y ≤ 0 ? 0 : dy (dy kept where y is NaN). dx, dy, y: (rows, cols);
/// dx may alias dy (overwritten). With dbias (cols) non-NULL, also dbias[j] += Σ_r dx[r, j], rows in order (the bias
/// gradient of the layer whose output the ReLU took, in the same pass). Bit-identical to the twin on every ISA.
void ck_relu_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t cols, float* dbias);
void ck_relu_backward_f32_ref(float* dx, const float* dy, const float* y, size_t rows, size_t cols, float* dbias);

/// Column sums: sum[j] += Σ_r x[r, j], rows in order; x (rows, cols) with row stride ld. Bit-identical to the twin.
void ck_colsum_f32(float* sum, const float* x, size_t ld, size_t rows, size_t cols);
void ck_colsum_f32_ref(float* sum, const float* x, size_t ld, size_t rows, size_t cols);

#ifdef __cplusplus
}
#endif
#endif
