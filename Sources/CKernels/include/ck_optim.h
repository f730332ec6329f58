// Optimizer updates over flat parameter buffers (llm.c's adamw kernel). Included from CKernels.h.
#ifndef CK_OPTIM_H
#define CK_OPTIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// AdamW (torch.optim.AdamW) in place over n floats, element by element:
///   m ← b1·m + (1 − b1)·g;  v ← b2·v + (1 − b2)·g²;  p ← p·decay − lr·(m / c1) / (sqrt(v / c2) + eps)
/// with decay = 1 − lr·weight_decay (1 for parameters without decay) and the bias corrections c1 = 1 − b1ᵗ,
/// c2 = 1 − b2ᵗ. p, m, v: (n) updated; g: (n). Separate multiplies and adds (no FMA) in every path, so the SIMD
/// versions match the scalar twin bit for bit.
void ck_adamw_f32(float* p, float* m, float* v, const float* g, size_t n, float lr, float b1, float b2, float eps,
                  float decay, float c1, float c2);
void ck_adamw_f32_ref(float* p, float* m, float* v, const float* g, size_t n, float lr, float b1, float b2, float eps,
                      float decay, float c1, float c2);

#ifdef __cplusplus
}
#endif
#endif
