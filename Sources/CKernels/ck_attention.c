// Fused attention for one (sequence, head). At MiniLM's batch-1 sizes (len ≈ 20, dh = 32) two BLAS calls per
// head cost more in call overhead than in arithmetic; this does scores, softmax and context in one pass.
#include "ck_internal.h"

#include <math.h>
#include <string.h>

static size_t ck_round16(size_t n) { return (n + 15) / 16 * 16; }

size_t ck_attention_scratch_size(size_t len, size_t dh) { return (dh + 1) * ck_round16(len); }

// k (len, dh) → scratch as (dh, round16(len)), zero past len, so the SIMD paths score 8 or 16 keys per vector.
static float* ck_transpose_keys(const float* k, size_t ld_qkv, size_t len, size_t dh, float* scratch) {
    size_t lp = ck_round16(len);
    for (size_t d = 0; d < dh; d++) {
        for (size_t j = 0; j < len; j++) scratch[d * lp + j] = k[j * ld_qkv + d];
        for (size_t j = len; j < lp; j++) scratch[d * lp + j] = 0.0f;
    }
    return scratch;
}

void ck_attention_head_f32_ref(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len, size_t dh,
                               float scale, float* ctx, size_t ld_ctx, float* scratch) {
    for (size_t i = 0; i < len; i++) {
        for (size_t j = 0; j < len; j++) {
            float acc = 0.0f;
            for (size_t d = 0; d < dh; d++) acc += q[i * ld_qkv + d] * k[j * ld_qkv + d];
            scratch[j] = acc;
        }
        ck_softmax_rows_f32_ref(scratch, 1, len, scale, NULL);
        for (size_t d = 0; d < dh; d++) {
            float acc = 0.0f;
            for (size_t j = 0; j < len; j++) acc += scratch[j] * v[j * ld_qkv + d];
            ctx[i * ld_ctx + d] = acc;
        }
    }
}

static CK_AVX512 void ck_attention_head_avx512(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len,
                                               size_t dh, float scale, float* ctx, size_t ld_ctx, float* scratch) {
    size_t lp = ck_round16(len);
    float* kt = ck_transpose_keys(k, ld_qkv, len, dh, scratch);  // (dh, lp)
    float* row = scratch + dh * lp;                               // (lp): one query's scores
    for (size_t i = 0; i < len; i++) {
        const float* qi = q + i * ld_qkv;
        for (size_t j = 0; j < lp; j += 16) {
            __m512 acc = _mm512_setzero_ps();
            for (size_t d = 0; d < dh; d++) acc = _mm512_fmadd_ps(_mm512_set1_ps(qi[d]), _mm512_loadu_ps(kt + d * lp + j), acc);
            _mm512_storeu_ps(row + j, acc);
        }
        ck_softmax_rows_f32(row, 1, len, scale, NULL);
        float* out = ctx + i * ld_ctx;
        for (size_t d = 0; d < dh; d += 16) {
            __mmask16 mask = dh - d >= 16 ? (__mmask16)0xFFFF : ck_avx512_tail_mask(dh - d);
            __m512 acc = _mm512_setzero_ps();
            for (size_t j = 0; j < len; j++) acc = _mm512_fmadd_ps(_mm512_set1_ps(row[j]), _mm512_maskz_loadu_ps(mask, v + j * ld_qkv + d), acc);
            _mm512_mask_storeu_ps(out + d, mask, acc);
        }
    }
}

static CK_AVX2 void ck_attention_head_avx2(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len,
                                           size_t dh, float scale, float* ctx, size_t ld_ctx, float* scratch) {
    size_t lp = ck_round16(len);
    float* kt = ck_transpose_keys(k, ld_qkv, len, dh, scratch);  // (dh, lp)
    float* row = scratch + dh * lp;                               // (lp): one query's scores
    for (size_t i = 0; i < len; i++) {
        const float* qi = q + i * ld_qkv;
        for (size_t j = 0; j < lp; j += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (size_t d = 0; d < dh; d++) acc = _mm256_fmadd_ps(_mm256_set1_ps(qi[d]), _mm256_loadu_ps(kt + d * lp + j), acc);
            _mm256_storeu_ps(row + j, acc);
        }
        ck_softmax_rows_f32(row, 1, len, scale, NULL);
        float* out = ctx + i * ld_ctx;
        size_t d = 0;
        for (; d + 8 <= dh; d += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (size_t j = 0; j < len; j++) acc = _mm256_fmadd_ps(_mm256_set1_ps(row[j]), _mm256_loadu_ps(v + j * ld_qkv + d), acc);
            _mm256_storeu_ps(out + d, acc);
        }
        for (; d < dh; d++) {
            float acc = 0.0f;
            for (size_t j = 0; j < len; j++) acc += row[j] * v[j * ld_qkv + d];
            out[d] = acc;
        }
    }
}

void ck_attention_head_f32(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len, size_t dh, float scale,
                           float* ctx, size_t ld_ctx, float* scratch) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_attention_head_avx512(q, k, v, ld_qkv, len, dh, scale, ctx, ld_ctx, scratch); return;
    case CK_ISA_AVX2: ck_attention_head_avx2(q, k, v, ld_qkv, len, dh, scale, ctx, ld_ctx, scratch); return;
    default: ck_attention_head_f32_ref(q, k, v, ld_qkv, len, dh, scale, ctx, ld_ctx, scratch); return;
    }
}
