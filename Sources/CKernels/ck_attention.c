// Fused attention for one (sequence, head). At MiniLM's batch-1 sizes (len ≈ 20, dh = 32) two BLAS calls per
// head cost more in call overhead than in arithmetic; this does scores, softmax and context in one pass.
//
// The SIMD paths work on blocks of up to 6 queries: each key vector loaded for the scores, and each value row loaded
// for the context, feeds 6 independent FMA chains instead of one, and the softmax of the block's rows runs as one
// unit (see ck_att_softmax_512). Measured one thread, AVX-512, 12 heads, dh 32 (bench_sgemm): len 23 22.4 → 8.3 µs,
// len 512 10.5 → 2.3 ms against the previous one-query-at-a-time version; 2-3x the OpenBLAS two-sgemm route.
//
// Score and context sums run in the twin's order (over d, over keys, one FMA per term); the softmax differs from
// the twin by its exp polynomial, float sums and normalizing the context rather than the probabilities.
#include "ck_internal.h"

#include <math.h>
#include <string.h>

// Queries per block in the SIMD paths; the scratch holds this many score rows.
#define CK_ATT_QB 6

static size_t ck_round16(size_t n) { return (n + 15) / 16 * 16; }

size_t ck_attention_scratch_size(size_t len, size_t dh) { return (dh + CK_ATT_QB) * ck_round16(len); }

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

// MARK: - AVX-512

// s[i, 16t + lane] = scale · Σ_d q[i, d] · kt[d, 16t + lane] for R queries × NV key vectors. kt: (dh, lp); s: (R, lp).
#define CK_ATT_SCORES_512(R, NV)                                                                               \
    static CK_AVX512 void ck_att_scores_512_##R##_##NV(const float* q, size_t ld, const float* kt, size_t lp, \
                                                       size_t dh, float scale, float* s) {                    \
        __m512 acc[R][NV];                                                                                     \
        for (int i = 0; i < R; i++)                                                                            \
            for (int t = 0; t < NV; t++) acc[i][t] = _mm512_setzero_ps();                                      \
        for (size_t d = 0; d < dh; d++) {                                                                      \
            __m512 kv[NV];                                                                                     \
            for (int t = 0; t < NV; t++) kv[t] = _mm512_loadu_ps(kt + d * lp + 16 * t);                        \
            for (int i = 0; i < R; i++) {                                                                      \
                __m512 qb = _mm512_set1_ps(q[i * ld + d]);                                                     \
                for (int t = 0; t < NV; t++) acc[i][t] = _mm512_fmadd_ps(qb, kv[t], acc[i][t]);                \
            }                                                                                                  \
        }                                                                                                      \
        for (int i = 0; i < R; i++)                                                                            \
            for (int t = 0; t < NV; t++)                                                                       \
                _mm512_storeu_ps(s + i * lp + 16 * t, _mm512_mul_ps(_mm512_set1_ps(scale), acc[i][t]));        \
    }

// ctx[i, d0 + 16t] for R queries × NV value vectors: Σ_j p[i, j] · v[j, d]. p: (R, lp); mask: last vector's lanes.
#define CK_ATT_CONTEXT_512(R, NV)                                                                               \
    static CK_AVX512 void ck_att_context_512_##R##_##NV(const float* p, size_t lp, const float* v, size_t ld,  \
                                                        size_t len, const float* inv, float* out, size_t ld_out, \
                                                        __mmask16 mask) {                                       \
        __m512 acc[R][NV];                                                                                      \
        for (int i = 0; i < R; i++)                                                                             \
            for (int t = 0; t < NV; t++) acc[i][t] = _mm512_setzero_ps();                                       \
        for (size_t j = 0; j < len; j++) {                                                                      \
            __m512 vv[NV];                                                                                      \
            for (int t = 0; t < NV; t++)                                                                        \
                vv[t] = _mm512_maskz_loadu_ps(t == NV - 1 ? mask : (__mmask16)0xFFFF, v + j * ld + 16 * t);     \
            for (int i = 0; i < R; i++) {                                                                       \
                __m512 pb = _mm512_set1_ps(p[i * lp + j]);                                                      \
                for (int t = 0; t < NV; t++) acc[i][t] = _mm512_fmadd_ps(pb, vv[t], acc[i][t]);                 \
            }                                                                                                   \
        }                                                                                                       \
        for (int i = 0; i < R; i++)                                                                             \
            for (int t = 0; t < NV; t++)                                                                        \
                _mm512_mask_storeu_ps(out + i * ld_out + 16 * t, t == NV - 1 ? mask : (__mmask16)0xFFFF,       \
                                      _mm512_mul_ps(acc[i][t], _mm512_set1_ps(inv[i])));                        \
    }

// R ≤ 6 queries × NV ≤ 4 vectors: 24 accumulators + 4 loaded vectors + 1 broadcast of the 32 zmm registers.
#define CK_ATT_512_ROW(R)                                                                                      \
    CK_ATT_SCORES_512(R, 1) CK_ATT_SCORES_512(R, 2) CK_ATT_SCORES_512(R, 3) CK_ATT_SCORES_512(R, 4)           \
    CK_ATT_CONTEXT_512(R, 1) CK_ATT_CONTEXT_512(R, 2) CK_ATT_CONTEXT_512(R, 3) CK_ATT_CONTEXT_512(R, 4)
CK_ATT_512_ROW(1)
CK_ATT_512_ROW(2)
CK_ATT_512_ROW(3)
CK_ATT_512_ROW(4)
CK_ATT_512_ROW(5)
CK_ATT_512_ROW(6)

typedef void (*ck_att_scores_fn)(const float*, size_t, const float*, size_t, size_t, float, float*);
typedef void (*ck_att_context_512_fn)(const float*, size_t, const float*, size_t, size_t, const float*, float*, size_t,
                                      __mmask16);
#define CK_ATT_TABLE_ROW(kind, R) {kind##_##R##_1, kind##_##R##_2, kind##_##R##_3, kind##_##R##_4}
static const ck_att_scores_fn ck_att_scores_512[CK_ATT_QB][4] = {
    CK_ATT_TABLE_ROW(ck_att_scores_512, 1), CK_ATT_TABLE_ROW(ck_att_scores_512, 2), CK_ATT_TABLE_ROW(ck_att_scores_512, 3),
    CK_ATT_TABLE_ROW(ck_att_scores_512, 4), CK_ATT_TABLE_ROW(ck_att_scores_512, 5), CK_ATT_TABLE_ROW(ck_att_scores_512, 6),
};
static const ck_att_context_512_fn ck_att_context_512[CK_ATT_QB][4] = {
    CK_ATT_TABLE_ROW(ck_att_context_512, 1), CK_ATT_TABLE_ROW(ck_att_context_512, 2),
    CK_ATT_TABLE_ROW(ck_att_context_512, 3), CK_ATT_TABLE_ROW(ck_att_context_512, 4),
    CK_ATT_TABLE_ROW(ck_att_context_512, 5), CK_ATT_TABLE_ROW(ck_att_context_512, 6),
};

// Softmax numerators for a block of score rows p (rows, lp) already scaled: p = exp(p − rowmax) over whole rows
// (one ck_exp_f32 call for the block, padding included), inv[r] = 1 / Σ_{j<len} p[r, j]. Normalizing the context
// by inv at the end instead of p up front saves a pass; per-row max/sum reductions of the block are independent,
// so they overlap instead of serializing row after row (row-at-a-time ck_softmax_rows_f32 was 57 % of the time
// at len 23).
static CK_AVX512 void ck_att_softmax_512(float* p, size_t rows, size_t len, size_t lp, float* inv) {
    __mmask16 last = ck_avx512_tail_mask(len % 16 ? len % 16 : 16);
    for (size_t r = 0; r < rows; r++) {
        float* row = p + r * lp;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (size_t j = 0; j < lp; j += 16)
            vmax = _mm512_mask_max_ps(vmax, j + 16 < lp ? (__mmask16)0xFFFF : last, vmax, _mm512_loadu_ps(row + j));
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        for (size_t j = 0; j < lp; j += 16) _mm512_storeu_ps(row + j, _mm512_sub_ps(_mm512_loadu_ps(row + j), m));
    }
    ck_exp_f32(p, rows * lp);
    for (size_t r = 0; r < rows; r++) {
        const float* row = p + r * lp;
        __m512 sum = _mm512_setzero_ps();
        for (size_t j = 0; j < lp; j += 16)
            sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(j + 16 < lp ? (__mmask16)0xFFFF : last, row + j));
        inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
    }
}

static CK_AVX512 void ck_attention_head_avx512(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len,
                                               size_t dh, float scale, float* ctx, size_t ld_ctx, float* scratch) {
    size_t lp = ck_round16(len);
    float* kt = ck_transpose_keys(k, ld_qkv, len, dh, scratch);  // (dh, lp)
    float* p = scratch + dh * lp;                                 // (CK_ATT_QB, lp): scores, then exp
    float inv[CK_ATT_QB];
    size_t blocks = (len + CK_ATT_QB - 1) / CK_ATT_QB;
    for (size_t b = 0, i0 = 0; b < blocks; b++) {
        size_t rows = (len - i0) / (blocks - b);  // near-equal blocks: 23 → 5, 6, 6, 6
        const float* qi = q + i0 * ld_qkv;
        for (size_t j = 0; j < lp; j += 64) {
            size_t nv = (lp - j) / 16 < 4 ? (lp - j) / 16 : 4;
            ck_att_scores_512[rows - 1][nv - 1](qi, ld_qkv, kt + j, lp, dh, scale, p + j);
        }
        ck_att_softmax_512(p, rows, len, lp, inv);
        for (size_t d = 0; d < dh; d += 64) {
            size_t left = dh - d < 64 ? dh - d : 64, nv = (left + 15) / 16;
            __mmask16 mask = left % 16 ? ck_avx512_tail_mask(left % 16) : (__mmask16)0xFFFF;
            ck_att_context_512[rows - 1][nv - 1](p, lp, v + d, ld_qkv, len, inv, ctx + i0 * ld_ctx + d, ld_ctx, mask);
        }
        i0 += rows;
    }
}

// MARK: - AVX2

// AVX2 has 16 ymm registers: R ≤ 6 queries × NV ≤ 2 vectors of 8 = 12 accumulators + 2 loads + 1 broadcast
// (measured len 512, dh 64: 84 GFLOP/s with 4-query blocks, 102 with 6).
#define CK_ATT_QB_AVX2 6
_Static_assert(CK_ATT_QB_AVX2 <= CK_ATT_QB, "the scratch holds CK_ATT_QB score rows");

#define CK_ATT_SCORES_256(R, NV)                                                                               \
    static CK_AVX2 void ck_att_scores_256_##R##_##NV(const float* q, size_t ld, const float* kt, size_t lp,   \
                                                     size_t dh, float scale, float* s) {                      \
        __m256 acc[R][NV];                                                                                     \
        for (int i = 0; i < R; i++)                                                                            \
            for (int t = 0; t < NV; t++) acc[i][t] = _mm256_setzero_ps();                                      \
        for (size_t d = 0; d < dh; d++) {                                                                      \
            __m256 kv[NV];                                                                                     \
            for (int t = 0; t < NV; t++) kv[t] = _mm256_loadu_ps(kt + d * lp + 8 * t);                         \
            for (int i = 0; i < R; i++) {                                                                      \
                __m256 qb = _mm256_broadcast_ss(q + i * ld + d);                                               \
                for (int t = 0; t < NV; t++) acc[i][t] = _mm256_fmadd_ps(qb, kv[t], acc[i][t]);                \
            }                                                                                                  \
        }                                                                                                      \
        for (int i = 0; i < R; i++)                                                                            \
            for (int t = 0; t < NV; t++)                                                                       \
                _mm256_storeu_ps(s + i * lp + 8 * t, _mm256_mul_ps(_mm256_set1_ps(scale), acc[i][t]));         \
    }

// Full vectors only (NV × 8 columns of v); the AVX2 driver finishes a head size that is not a multiple of 8 in C.
#define CK_ATT_CONTEXT_256(R, NV)                                                                              \
    static CK_AVX2 void ck_att_context_256_##R##_##NV(const float* p, size_t lp, const float* v, size_t ld,   \
                                                      size_t len, const float* inv, float* out, size_t ld_out) { \
        __m256 acc[R][NV];                                                                                     \
        for (int i = 0; i < R; i++)                                                                            \
            for (int t = 0; t < NV; t++) acc[i][t] = _mm256_setzero_ps();                                      \
        for (size_t j = 0; j < len; j++) {                                                                     \
            __m256 vv[NV];                                                                                     \
            for (int t = 0; t < NV; t++) vv[t] = _mm256_loadu_ps(v + j * ld + 8 * t);                          \
            for (int i = 0; i < R; i++) {                                                                      \
                __m256 pb = _mm256_broadcast_ss(p + i * lp + j);                                               \
                for (int t = 0; t < NV; t++) acc[i][t] = _mm256_fmadd_ps(pb, vv[t], acc[i][t]);                \
            }                                                                                                  \
        }                                                                                                      \
        for (int i = 0; i < R; i++)                                                                            \
            for (int t = 0; t < NV; t++)                                                                       \
                _mm256_storeu_ps(out + i * ld_out + 8 * t, _mm256_mul_ps(acc[i][t], _mm256_set1_ps(inv[i])));  \
    }

#define CK_ATT_256_ROW(R) \
    CK_ATT_SCORES_256(R, 1) CK_ATT_SCORES_256(R, 2) CK_ATT_CONTEXT_256(R, 1) CK_ATT_CONTEXT_256(R, 2)
CK_ATT_256_ROW(1)
CK_ATT_256_ROW(2)
CK_ATT_256_ROW(3)
CK_ATT_256_ROW(4)
CK_ATT_256_ROW(5)
CK_ATT_256_ROW(6)

typedef void (*ck_att_context_256_fn)(const float*, size_t, const float*, size_t, size_t, const float*, float*, size_t);
static const ck_att_scores_fn ck_att_scores_256[CK_ATT_QB_AVX2][2] = {
    {ck_att_scores_256_1_1, ck_att_scores_256_1_2}, {ck_att_scores_256_2_1, ck_att_scores_256_2_2},
    {ck_att_scores_256_3_1, ck_att_scores_256_3_2}, {ck_att_scores_256_4_1, ck_att_scores_256_4_2},
    {ck_att_scores_256_5_1, ck_att_scores_256_5_2}, {ck_att_scores_256_6_1, ck_att_scores_256_6_2},
};
static const ck_att_context_256_fn ck_att_context_256[CK_ATT_QB_AVX2][2] = {
    {ck_att_context_256_1_1, ck_att_context_256_1_2}, {ck_att_context_256_2_1, ck_att_context_256_2_2},
    {ck_att_context_256_3_1, ck_att_context_256_3_2}, {ck_att_context_256_4_1, ck_att_context_256_4_2},
    {ck_att_context_256_5_1, ck_att_context_256_5_2}, {ck_att_context_256_6_1, ck_att_context_256_6_2},
};

// As ck_att_softmax_512, 8 lanes at a time.
static CK_AVX2 void ck_att_softmax_256(float* p, size_t rows, size_t len, size_t lp, float* inv) {
    __m256 last = _mm256_castsi256_ps(ck_avx2_tail_mask(len % 8 ? len % 8 : 8));
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    size_t lp8 = (len + 7) / 8 * 8;  // past lp8 the row is padding only
    for (size_t r = 0; r < rows; r++) {
        float* row = p + r * lp;
        __m256 vmax = ninf;
        for (size_t j = 0; j < lp8; j += 8) {
            __m256 x = _mm256_loadu_ps(row + j);
            if (j + 8 >= lp8) x = _mm256_blendv_ps(ninf, x, last);
            vmax = _mm256_max_ps(vmax, x);
        }
        __m256 m = _mm256_set1_ps(ck_avx2_hmax(vmax));
        for (size_t j = 0; j < lp; j += 8) _mm256_storeu_ps(row + j, _mm256_sub_ps(_mm256_loadu_ps(row + j), m));
    }
    ck_exp_f32(p, rows * lp);
    for (size_t r = 0; r < rows; r++) {
        const float* row = p + r * lp;
        __m256 sum = _mm256_setzero_ps();
        for (size_t j = 0; j < lp8; j += 8) {
            __m256 x = _mm256_loadu_ps(row + j);
            if (j + 8 >= lp8) x = _mm256_and_ps(x, last);
            sum = _mm256_add_ps(sum, x);
        }
        inv[r] = 1.0f / ck_avx2_hsum(sum);
    }
}

static CK_AVX2 void ck_attention_head_avx2(const float* q, const float* k, const float* v, size_t ld_qkv, size_t len,
                                           size_t dh, float scale, float* ctx, size_t ld_ctx, float* scratch) {
    size_t lp = ck_round16(len);
    float* kt = ck_transpose_keys(k, ld_qkv, len, dh, scratch);  // (dh, lp)
    float* p = scratch + dh * lp;                                 // (CK_ATT_QB_AVX2, lp)
    float inv[CK_ATT_QB_AVX2];
    size_t blocks = (len + CK_ATT_QB_AVX2 - 1) / CK_ATT_QB_AVX2;
    for (size_t b = 0, i0 = 0; b < blocks; b++) {
        size_t rows = (len - i0) / (blocks - b);
        const float* qi = q + i0 * ld_qkv;
        for (size_t j = 0; j < lp; j += 16) ck_att_scores_256[rows - 1][1](qi, ld_qkv, kt + j, lp, dh, scale, p + j);
        ck_att_softmax_256(p, rows, len, lp, inv);
        float* out = ctx + i0 * ld_ctx;
        size_t d = 0;
        for (; d + 16 <= dh; d += 16) ck_att_context_256[rows - 1][1](p, lp, v + d, ld_qkv, len, inv, out + d, ld_ctx);
        if (d + 8 <= dh) {
            ck_att_context_256[rows - 1][0](p, lp, v + d, ld_qkv, len, inv, out + d, ld_ctx);
            d += 8;
        }
        for (; d < dh; d++) {  // head sizes that are not a multiple of 8: same sum order, scalar
            for (size_t r = 0; r < rows; r++) {
                float acc = 0.0f;
                for (size_t j = 0; j < len; j++) acc += p[r * lp + j] * v[j * ld_qkv + d];
                out[r * ld_ctx + d] = acc * inv[r];
            }
        }
        i0 += rows;
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
