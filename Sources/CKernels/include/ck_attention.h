// Fused self-attention for one (sequence, head), for short sequences where BLAS call overhead dominates.
// Included from CKernels.h.
#ifndef CK_ATTENTION_H
#define CK_ATTENTION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// ctx = softmax(q · kᵀ · scale) · v for one head over one sequence of `len` tokens.
/// q, k, v: (len, dh) with row strides ld_qkv (e.g. the q/k/v column block of a (len, 3H) QKV matrix);
/// ctx: (len, dh) with row stride ld_ctx (only those dh columns are written); scratch: ck_attention_scratch_size(len, dh)
/// floats, (dh + 6) · roundup(len, 16): a transposed copy of k and one block of score rows.
/// SIMD paths take blocks of up to 6 queries, scoring 16 (AVX-512) or 8 (AVX2) keys per vector. Score and
/// context sums run in the twin's order; the softmax differs slightly (polynomial exp, float lane sums, 1/Σ applied to
/// the context instead of the probabilities): ~2e-7 relative to the twin for ordinary logits.
/// Any len ≥ 1 and dh ≥ 1.
size_t ck_attention_scratch_size(size_t len, size_t dh);
void ck_attention_head_f32(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len, size_t dh, float scale,
                           float* ctx, size_t ld_ctx, float* scratch);
/// Scalar twin (libm expf).
void ck_attention_head_f32_ref(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len, size_t dh,
                               float scale, float* ctx, size_t ld_ctx, float* scratch);

#ifdef __cplusplus
}
#endif
#endif
