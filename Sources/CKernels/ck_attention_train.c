// Training attention for one (sequence, head) (see ck_backward.h). The loops are written so the innermost one runs
// over a contiguous output row (keys after a transpose of k or v, or head dimensions): the compiler vectorizes them
// inside the AVX2/AVX-512 wrappers below, while the scalar twin is the very same code compiled for the baseline.
// Each output element's sum runs in the same order in every path.
#include "ck_internal.h"

#define CK_ALWAYS_INLINE static inline __attribute__((always_inline))

CK_ALWAYS_INLINE void ck_att_forward_body(const float* q, const float* k, const float* v, size_t ld, size_t len,
                                          size_t dh, float scale, float* p, float* ctx, size_t ldc, float* kt, int ref) {
    for (size_t j = 0; j < len; j++)
        for (size_t d = 0; d < dh; d++) kt[d * len + j] = k[j * ld + d];  // kᵀ (dh, len)
    for (size_t i = 0; i < len; i++) {
        float* pi = p + i * len;
        for (size_t j = 0; j < len; j++) pi[j] = 0;
        for (size_t d = 0; d < dh; d++) {
            const float a = q[i * ld + d];
            const float* kd = kt + d * len;
            for (size_t j = 0; j < len; j++) pi[j] += a * kd[j];
        }
    }
    if (ref)
        ck_softmax_rows_f32_ref(p, len, len, scale, NULL);
    else
        ck_softmax_rows_f32(p, len, len, scale, NULL);
    for (size_t i = 0; i < len; i++) {
        float* c = ctx + i * ldc;
        for (size_t d = 0; d < dh; d++) c[d] = 0;
        for (size_t j = 0; j < len; j++) {
            const float pij = p[i * len + j];
            const float* vj = v + j * ld;
            for (size_t d = 0; d < dh; d++) c[d] += pij * vj[d];
        }
    }
}

CK_ALWAYS_INLINE void ck_att_backward_body(const float* q, const float* k, const float* v, size_t ld, const float* p,
                                           const float* dctx, size_t ldc, const float* dz, float* dq, float* dk, float* dv,
                                           size_t len, size_t dh, float scale, float* scratch, int ref) {
    float* vt = scratch;             // (dh, len)
    float* ds = scratch + dh * len;  // (len, len): dP, then dS in place
    for (size_t j = 0; j < len; j++)
        for (size_t d = 0; d < dh; d++) vt[d * len + j] = v[j * ld + d];
    for (size_t i = 0; i < len; i++) {
        float* r = ds + i * len;
        for (size_t j = 0; j < len; j++) r[j] = 0;
        for (size_t d = 0; d < dh; d++) {
            const float a = dctx[i * ldc + d];
            const float* vd = vt + d * len;
            for (size_t j = 0; j < len; j++) r[j] += a * vd[j];
        }
    }
    for (size_t j = 0; j < len; j++) {  // dv[j] = Σ_i p[i][j] · dctx[i]
        float* o = dv + j * ld;
        for (size_t d = 0; d < dh; d++) o[d] = 0;
        for (size_t i = 0; i < len; i++) {
            const float a = p[i * len + j];
            const float* g = dctx + i * ldc;
            for (size_t d = 0; d < dh; d++) o[d] += a * g[d];
        }
    }
    if (ref)
        ck_softmax_backward_rows_f32_ref(ds, p, ds, len, len, scale);
    else
        ck_softmax_backward_rows_f32(ds, p, ds, len, len, scale);
    if (dz)  // a loss on the probabilities (attention KL) gives dL/dz for z = scale·q·kᵀ directly: d(q·kᵀ) = scale·dz
        for (size_t i = 0; i < len * len; i++) ds[i] += scale * dz[i];
    for (size_t i = 0; i < len; i++) {  // dq[i] = Σ_j dS[i][j] · k[j]
        float* o = dq + i * ld;
        for (size_t d = 0; d < dh; d++) o[d] = 0;
        for (size_t j = 0; j < len; j++) {
            const float a = ds[i * len + j];
            const float* kj = k + j * ld;
            for (size_t d = 0; d < dh; d++) o[d] += a * kj[d];
        }
    }
    for (size_t j = 0; j < len; j++) {  // dk[j] = Σ_i dS[i][j] · q[i]
        float* o = dk + j * ld;
        for (size_t d = 0; d < dh; d++) o[d] = 0;
        for (size_t i = 0; i < len; i++) {
            const float a = ds[i * len + j];
            const float* qi = q + i * ld;
            for (size_t d = 0; d < dh; d++) o[d] += a * qi[d];
        }
    }
}

// MARK: - Scalar twins

void ck_attention_train_forward_f32_ref(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len,
                                        size_t dh, float scale, float* p, float* ctx, size_t ld_ctx, float* scratch) {
    ck_att_forward_body(q, k, v, ld_qkv, len, dh, scale, p, ctx, ld_ctx, scratch, 1);
}

void ck_attention_train_backward_f32_ref(const float* q, const float* k, const float* v, size_t ld_qkv, const float* p,
                                         const float* dctx, size_t ld_ctx, const float* dz, float* dq, float* dk, float* dv, size_t len,
                                         size_t dh, float scale, float* scratch) {
    ck_att_backward_body(q, k, v, ld_qkv, p, dctx, ld_ctx, dz, dq, dk, dv, len, dh, scale, scratch, 1);
}

// MARK: - SIMD (the same loops, vectorized by the compiler for each ISA)

CK_AVX2 static void ck_att_forward_avx2(const float* q, const float* k, const float* v, size_t ld, size_t len, size_t dh,
                                        float scale, float* p, float* ctx, size_t ldc, float* scratch) {
    ck_att_forward_body(q, k, v, ld, len, dh, scale, p, ctx, ldc, scratch, 0);
}

CK_AVX512 static void ck_att_forward_avx512(const float* q, const float* k, const float* v, size_t ld, size_t len,
                                            size_t dh, float scale, float* p, float* ctx, size_t ldc, float* scratch) {
    ck_att_forward_body(q, k, v, ld, len, dh, scale, p, ctx, ldc, scratch, 0);
}

CK_AVX2 static void ck_att_backward_avx2(const float* q, const float* k, const float* v, size_t ld, const float* p,
                                         const float* dctx, size_t ldc, const float* dz, float* dq, float* dk, float* dv, size_t len,
                                         size_t dh, float scale, float* scratch) {
    ck_att_backward_body(q, k, v, ld, p, dctx, ldc, dz, dq, dk, dv, len, dh, scale, scratch, 0);
}

CK_AVX512 static void ck_att_backward_avx512(const float* q, const float* k, const float* v, size_t ld, const float* p,
                                             const float* dctx, size_t ldc, const float* dz, float* dq, float* dk, float* dv, size_t len,
                                             size_t dh, float scale, float* scratch) {
    ck_att_backward_body(q, k, v, ld, p, dctx, ldc, dz, dq, dk, dv, len, dh, scale, scratch, 0);
}

// MARK: - Dispatch

void ck_attention_train_forward_f32(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len, size_t dh,
                                    float scale, float* p, float* ctx, size_t ld_ctx, float* scratch) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_att_forward_avx512(q, k, v, ld_qkv, len, dh, scale, p, ctx, ld_ctx, scratch); return;
    case CK_ISA_AVX2: ck_att_forward_avx2(q, k, v, ld_qkv, len, dh, scale, p, ctx, ld_ctx, scratch); return;
    default: ck_attention_train_forward_f32_ref(q, k, v, ld_qkv, len, dh, scale, p, ctx, ld_ctx, scratch); return;
    }
}

void ck_attention_train_backward_f32(const float* q, const float* k, const float* v, size_t ld_qkv, const float* p,
                                     const float* dctx, size_t ld_ctx, const float* dz, float* dq, float* dk, float* dv, size_t len,
                                     size_t dh, float scale, float* scratch) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_att_backward_avx512(q, k, v, ld_qkv, p, dctx, ld_ctx, dz, dq, dk, dv, len, dh, scale, scratch); return;
    case CK_ISA_AVX2: ck_att_backward_avx2(q, k, v, ld_qkv, p, dctx, ld_ctx, dz, dq, dk, dv, len, dh, scale, scratch); return;
    default: ck_attention_train_backward_f32_ref(q, k, v, ld_qkv, p, dctx, ld_ctx, dz, dq, dk, dv, len, dh, scale, scratch); return;
    }
}
