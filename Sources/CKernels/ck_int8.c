// int8: dynamic per-row activation quantization and the u8 × s8 → s32 GEMM on packed weights.
// Every SIMD path matches its scalar twin bit for bit (integer sums; identical float op order).
#include "ck_internal.h"

#include <math.h>
#include <string.h>

// MARK: - Quantization parameters (shared scalar code so every ISA derives identical scale/zp)

static inline void ck_u8_params(float lo, float hi, float* scale, int32_t* zp, float* inv) {
    if (lo > 0.0f) lo = 0.0f;
    if (hi < 0.0f) hi = 0.0f;
    float s = (hi - lo) / 255.0f;
    if (!(s > 0.0f)) s = 1.0f;
    float z = nearbyintf(-lo / s);
    if (z < 0.0f) z = 0.0f;
    if (z > 255.0f) z = 255.0f;
    *scale = s;
    *zp = (int32_t)z;
    *inv = 1.0f / s;
}

static inline void ck_s8_params(float amax, float* scale, float* inv) {
    float s = amax / 127.0f;
    if (!(s > 0.0f)) s = 1.0f;
    *scale = s;
    *inv = 1.0f / s;
}

void ck_quantize_rows_u8_ref(const float* x, size_t rows, size_t k, uint8_t* q, float* scale, int32_t* zero_point) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        float lo = 0.0f, hi = 0.0f;
        for (size_t i = 0; i < k; i++) {
            if (xr[i] < lo) lo = xr[i];
            if (xr[i] > hi) hi = xr[i];
        }
        float inv;
        ck_u8_params(lo, hi, &scale[r], &zero_point[r], &inv);
        for (size_t i = 0; i < k; i++) {
            int32_t v = (int32_t)nearbyintf(xr[i] * inv) + zero_point[r];
            q[r * k + i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

void ck_quantize_rows_s8_ref(const float* x, size_t rows, size_t k, int8_t* q, float* scale) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        float amax = 0.0f;
        for (size_t i = 0; i < k; i++) amax = fabsf(xr[i]) > amax ? fabsf(xr[i]) : amax;
        float inv;
        ck_s8_params(amax, &scale[r], &inv);
        for (size_t i = 0; i < k; i++) {
            int32_t v = (int32_t)nearbyintf(xr[i] * inv);
            q[r * k + i] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        }
    }
}

void ck_dequantize_rows_u8(const uint8_t* q, const float* scale, const int32_t* zero_point, size_t rows, size_t k,
                           float* out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < k; i++) out[r * k + i] = (float)((int32_t)q[r * k + i] - zero_point[r]) * scale[r];
}

void ck_dequantize_rows_s8(const int8_t* q, const float* scale, size_t rows, size_t k, float* out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < k; i++) out[r * k + i] = (float)q[r * k + i] * scale[r];
}

CK_AVX2 static void ck_quantize_rows_u8_avx2(const float* x, size_t rows, size_t k, uint8_t* q, float* scale,
                                             int32_t* zero_point) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
        for (size_t i = 0; i < k; i += 8) {
            __m256i mk = ck_avx2_tail_mask(k - i < 8 ? k - i : 8);
            __m256 v = _mm256_maskload_ps(xr + i, mk);  // masked lanes read 0, which min/max already include
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        float lo = -ck_avx2_hmax(_mm256_sub_ps(_mm256_setzero_ps(), vlo)), hi = ck_avx2_hmax(vhi);
        float inv;
        ck_u8_params(lo, hi, &scale[r], &zero_point[r], &inv);
        const __m256 vinv = _mm256_set1_ps(inv);
        const __m256i vzp = _mm256_set1_epi32(zero_point[r]);
        uint8_t* qr = q + r * k;
        size_t i = 0;
        for (; i + 8 <= k; i += 8) {
            __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv)), vzp);
            __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            p = _mm_packus_epi16(p, p);
            _mm_storel_epi64((__m128i*)(qr + i), p);
        }
        for (; i < k; i++) {
            int32_t v = (int32_t)nearbyintf(xr[i] * inv) + zero_point[r];
            qr[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

CK_AVX2 static void ck_quantize_rows_s8_avx2(const float* x, size_t rows, size_t k, int8_t* q, float* scale) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        __m256 vmax = _mm256_setzero_ps();
        for (size_t i = 0; i < k; i += 8) {
            __m256i mk = ck_avx2_tail_mask(k - i < 8 ? k - i : 8);
            vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_maskload_ps(xr + i, mk), abs_mask));
        }
        float inv;
        ck_s8_params(ck_avx2_hmax(vmax), &scale[r], &inv);
        const __m256 vinv = _mm256_set1_ps(inv);
        const __m256i lo = _mm256_set1_epi32(-127);
        int8_t* qr = q + r * k;
        size_t i = 0;
        for (; i + 8 <= k; i += 8) {
            __m256i v = _mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv)), lo);
            __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            p = _mm_packs_epi16(p, p);
            _mm_storel_epi64((__m128i*)(qr + i), p);
        }
        for (; i < k; i++) {
            int32_t v = (int32_t)nearbyintf(xr[i] * inv);
            qr[i] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        }
    }
}

CK_AVX512 static void ck_quantize_rows_u8_avx512(const float* x, size_t rows, size_t k, uint8_t* q, float* scale,
                                                 int32_t* zero_point) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
        for (size_t i = 0; i < k; i += 16) {
            __mmask16 mk = ck_avx512_tail_mask(k - i < 16 ? k - i : 16);
            __m512 v = _mm512_maskz_loadu_ps(mk, xr + i);
            vlo = _mm512_min_ps(vlo, v);
            vhi = _mm512_max_ps(vhi, v);
        }
        float inv;
        ck_u8_params(_mm512_reduce_min_ps(vlo), _mm512_reduce_max_ps(vhi), &scale[r], &zero_point[r], &inv);
        const __m512 vinv = _mm512_set1_ps(inv);
        const __m512i vzp = _mm512_set1_epi32(zero_point[r]);
        for (size_t i = 0; i < k; i += 16) {
            __mmask16 mk = ck_avx512_tail_mask(k - i < 16 ? k - i : 16);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + i), vinv));
            v = _mm512_max_epi32(_mm512_add_epi32(v, vzp), _mm512_setzero_si512());
            _mm512_mask_cvtusepi32_storeu_epi8(q + r * k + i, mk, v);  // unsigned saturation clamps at 255
        }
    }
}

CK_AVX512 static void ck_quantize_rows_s8_avx512(const float* x, size_t rows, size_t k, int8_t* q, float* scale) {
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        __m512 vmax = _mm512_setzero_ps();
        for (size_t i = 0; i < k; i += 16) {
            __mmask16 mk = ck_avx512_tail_mask(k - i < 16 ? k - i : 16);
            vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(mk, xr + i)));
        }
        float inv;
        ck_s8_params(_mm512_reduce_max_ps(vmax), &scale[r], &inv);
        const __m512 vinv = _mm512_set1_ps(inv);
        for (size_t i = 0; i < k; i += 16) {
            __mmask16 mk = ck_avx512_tail_mask(k - i < 16 ? k - i : 16);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + i), vinv));
            v = _mm512_max_epi32(v, _mm512_set1_epi32(-127));
            _mm512_mask_cvtsepi32_storeu_epi8(q + r * k + i, mk, v);  // signed saturation clamps at 127
        }
    }
}

void ck_quantize_rows_u8(const float* x, size_t rows, size_t k, uint8_t* q, float* scale, int32_t* zero_point) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_quantize_rows_u8_avx512(x, rows, k, q, scale, zero_point); return;
    case CK_ISA_AVX2: ck_quantize_rows_u8_avx2(x, rows, k, q, scale, zero_point); return;
    default: ck_quantize_rows_u8_ref(x, rows, k, q, scale, zero_point); return;
    }
}

void ck_quantize_rows_s8(const float* x, size_t rows, size_t k, int8_t* q, float* scale) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_quantize_rows_s8_avx512(x, rows, k, q, scale); return;
    case CK_ISA_AVX2: ck_quantize_rows_s8_avx2(x, rows, k, q, scale); return;
    default: ck_quantize_rows_s8_ref(x, rows, k, q, scale); return;
    }
}

// MARK: - Packed weights

#define CK_PACK_MAGIC 0x38424b43u  // "CKB8"
#define CK_PACK_HAS_M128 1u        // some weight is -128 (the AVX2 sign trick cannot take it)

typedef struct {
    uint32_t magic, n, k, flags;
    uint8_t pad[48];
} ck_packed_header;
_Static_assert(sizeof(ck_packed_header) == 64, "packed header is one cache line");

static inline size_t ck_round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

size_t ck_packed_b_size(size_t n, size_t k) {
    size_t np = ck_round_up(n, 16), kp = ck_round_up(k, 4);
    return sizeof(ck_packed_header) + np * sizeof(int32_t) + np * kp;
}

void ck_pack_b_s8(const int8_t* w, size_t n, size_t k, void* packed) {
    size_t np = ck_round_up(n, 16), kp = ck_round_up(k, 4);
    ck_packed_header* h = (ck_packed_header*)packed;
    memset(h, 0, sizeof *h);
    h->magic = CK_PACK_MAGIC;
    h->n = (uint32_t)n;
    h->k = (uint32_t)k;
    int32_t* colsum = (int32_t*)((uint8_t*)packed + sizeof *h);
    int8_t* data = (int8_t*)(colsum + np);
    memset(colsum, 0, np * sizeof(int32_t));
    memset(data, 0, np * kp);
    for (size_t j = 0; j < n; j++) {
        int32_t s = 0;
        for (size_t i = 0; i < k; i++) {
            int8_t v = w[j * k + i];
            s += v;
            if (v == -128) h->flags |= CK_PACK_HAS_M128;
            data[(j / 16) * kp * 16 + (i / 4) * 64 + (j % 16) * 4 + (i % 4)] = v;
        }
        colsum[j] = s;
    }
}

typedef struct {
    const int32_t* colsum;  // (n_pad)
    const int8_t* data;     // (n_pad/16, k_pad/4, 16, 4)
    size_t kp;              // k rounded up to 4
    size_t block_bytes;     // bytes per 16-column block = kp · 16
    uint32_t flags;
} ck_packed_view;

static inline ck_packed_view ck_view(const void* packed, size_t n, size_t k) {
    const ck_packed_header* h = (const ck_packed_header*)packed;
    ck_packed_view v;
    v.colsum = (const int32_t*)((const uint8_t*)packed + sizeof *h);
    v.data = (const int8_t*)(v.colsum + ck_round_up(n, 16));
    v.kp = ck_round_up(k, 4);
    v.block_bytes = v.kp * 16;
    v.flags = h->flags;
    return v;
}

// MARK: - Scalar twin

// Raw Σ a·w − zp·colsum for one output, read from the packed layout.
static inline int32_t ck_dot_ref(const uint8_t* arow, const ck_packed_view* v, size_t j, size_t k, int32_t zp) {
    const int8_t* col = v->data + (j / 16) * v->block_bytes + (j % 16) * 4;
    int32_t s = 0;
    for (size_t i = 0; i < k; i++) s += (int32_t)arow[i] * (int32_t)col[(i / 4) * 64 + (i % 4)];
    return s - zp * v->colsum[j];
}

void ck_gemm_u8s8_s32_ref(const uint8_t* a, size_t lda, const int32_t* a_zp, const void* packed_b, int32_t* c,
                          size_t ldc, size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    ck_packed_view v = ck_view(packed_b, n, k);
    for (size_t i = 0; i < m; i++)
        for (size_t j = n0; j < n1; j++) c[i * ldc + j] = ck_dot_ref(a + i * lda, &v, j, k, a_zp ? a_zp[i] : 0);
}

void ck_gemm_u8s8_f32_ref(const uint8_t* a, size_t lda, const float* a_scale, const int32_t* a_zp,
                          const void* packed_b, const float* b_scale, const float* bias, float* c, size_t ldc,
                          size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    ck_packed_view v = ck_view(packed_b, n, k);
    for (size_t i = 0; i < m; i++)
        for (size_t j = n0; j < n1; j++)
            c[i * ldc + j] = ck_dequant_one(ck_dot_ref(a + i * lda, &v, j, k, a_zp[i]), a_scale[i], b_scale[j], bias, j);
}

// MARK: - Shared SIMD plumbing

// Output description shared by the s32 and f32 variants.
typedef struct {
    const int32_t* a_zp;    // (m) or NULL
    const float* a_scale;   // (m); NULL selects int32 output
    const float* b_scale;   // (n)
    const float* bias;      // (n) or NULL
    int32_t* c32;           // (m, ldc)
    float* cf;              // (m, ldc)
    size_t ldc;
    int32_t col_offset;     // added per column times colsum: 128 on the AVX2 path (sign trick), else 0
} ck_out;

// 4 activation bytes a[4g .. 4g+3] as one int32; `tail` bytes (1..3) are zero-extended when the group
// runs past k (reading them whole could leave the allocation on the last row).
static inline int32_t ck_load_a4(const uint8_t* p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline int32_t ck_load_a_tail(const uint8_t* p, size_t tail) {
    uint8_t b[4] = {0, 0, 0, 0};
    memcpy(b, p, tail);
    int32_t v;
    memcpy(&v, b, 4);
    return v;
}

// Columns of block nb that lie in [n0, n1), as a 16-bit lane mask.
static inline uint32_t ck_block_lanes(size_t nb, size_t n0, size_t n1) {
    size_t lo = nb * 16, hi = lo + 16;
    size_t a = n0 > lo ? n0 - lo : 0, b = n1 < hi ? n1 - lo : 16;
    if (b <= a) return 0;
    return ((1u << b) - 1u) & ~((1u << a) - 1u);
}

// MARK: - AVX-512 VNNI

// Finishes one (row, 16-column block) accumulator: subtract zp·colsum, then store int32 or dequantized fp32.
CK_INLINE CK_AVX512 void ck_store_avx512(__m512i acc, const ck_out* o, const ck_packed_view* v, size_t i, size_t nb,
                                         __mmask16 mk) {
    size_t j0 = nb * 16;
    __m512i cs = _mm512_loadu_si512(v->colsum + j0);
    if (o->a_zp) acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(o->a_zp[i]), cs));
    if (!o->a_scale) {
        _mm512_mask_storeu_epi32(o->c32 + i * o->ldc + j0, mk, acc);
        return;
    }
    __m512 s = _mm512_mul_ps(_mm512_set1_ps(o->a_scale[i]), _mm512_maskz_loadu_ps(mk, o->b_scale + j0));
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
    CK_NO_CONTRACT_V(y);
    if (o->bias) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mk, o->bias + j0));
    _mm512_mask_storeu_ps(o->cf + i * o->ldc + j0, mk, y);
}

// MR rows × NB 16-column blocks, full K. MR/NB are compile-time constants at every call site, so the
// accumulator array lives in registers. vpdpbusd takes the u8 operand first (activations, broadcast
// 4 bytes = one K group) and the s8 operand second (64 bytes of packed weights = 16 columns × 4 K).
CK_INLINE CK_AVX512 void ck_tile_vnni(const uint8_t* a, size_t lda, const ck_packed_view* v, size_t k, size_t nb,
                                      int MR, int NB, const ck_out* o, size_t i0, size_t n0, size_t n1) {
    __m512i acc[24][4];
    for (int r = 0; r < MR; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_si512();
    const int8_t* bp = v->data + nb * v->block_bytes;
    const size_t kf = k / 4, tail = k % 4;
    for (size_t g = 0; g < kf; g++) {
        __m512i w[4];
        for (int b = 0; b < NB; b++) w[b] = _mm512_loadu_si512(bp + b * v->block_bytes + g * 64);
        for (int r = 0; r < MR; r++) {
            __m512i av = _mm512_set1_epi32(ck_load_a4(a + r * lda + g * 4));
            for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], av, w[b]);
        }
    }
    if (tail) {
        __m512i w[4];
        for (int b = 0; b < NB; b++) w[b] = _mm512_loadu_si512(bp + b * v->block_bytes + kf * 64);
        for (int r = 0; r < MR; r++) {
            __m512i av = _mm512_set1_epi32(ck_load_a_tail(a + r * lda + kf * 4, tail));
            for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], av, w[b]);
        }
    }
    for (int b = 0; b < NB; b++) {
        __mmask16 mk = (__mmask16)ck_block_lanes(nb + b, n0, n1);
        for (int r = 0; r < MR; r++) ck_store_avx512(acc[r][b], o, v, i0 + r, nb + b, mk);
    }
}

// Tile for m > 2: 8 rows × 2 blocks = 16 accumulators. Measured single thread on this AMD EPYC (Zen 4),
// clang -O3 (as SwiftPM builds), GOPS for 512×384×1536 / 16×1536×384 / 256³:
// 8×2 1095/1007/938, 12×2 1089/975/903, 14×2 1090/899/885, 6×4 1070/982/855 (gcc -O3: 8×2 767/687/667,
// larger tiles spill under gcc and drop to ~400).
#ifndef CK_VNNI_MR
#define CK_VNNI_MR 8
#define CK_VNNI_NB 2
#endif

// Rows in groups of MR_MAX for a run of NB blocks starting at nb; the remainder in tiles of 8/4/2/1 rows
// (only those smaller than MR_MAX are instantiated).
#define CK_VNNI_ROWS(MR_MAX, NB)                                                                   \
    do {                                                                                           \
        size_t i = 0;                                                                              \
        for (; i + MR_MAX <= m; i += MR_MAX)                                                       \
            ck_tile_vnni(a + i * lda, lda, &v, k, nb, MR_MAX, NB, o, i, n0, n1);                   \
        if (MR_MAX > 8 && m - i >= 8) {                                                            \
            ck_tile_vnni(a + i * lda, lda, &v, k, nb, 8, NB, o, i, n0, n1);                        \
            i += 8;                                                                                \
        }                                                                                          \
        if (MR_MAX > 4 && m - i >= 4) {                                                            \
            ck_tile_vnni(a + i * lda, lda, &v, k, nb, 4, NB, o, i, n0, n1);                        \
            i += 4;                                                                                \
        }                                                                                          \
        if (MR_MAX > 2 && m - i >= 2) {                                                            \
            ck_tile_vnni(a + i * lda, lda, &v, k, nb, 2, NB, o, i, n0, n1);                        \
            i += 2;                                                                                \
        }                                                                                          \
        if (MR_MAX > 1 && m - i >= 1) ck_tile_vnni(a + i * lda, lda, &v, k, nb, 1, NB, o, i, n0, n1); \
    } while (0)

CK_AVX512 static void ck_gemm_vnni(const uint8_t* a, size_t lda, const void* packed_b, const ck_out* o, size_t m,
                                   size_t n, size_t k, size_t n0, size_t n1) {
    ck_packed_view v = ck_view(packed_b, n, k);
    size_t nb = n0 / 16, nb_end = (n1 + 15) / 16;
    if (m <= 2) {
        // GEMV-like: weight-bandwidth bound; 4 blocks in flight hide the vpdpbusd latency.
        for (; nb + 4 <= nb_end; nb += 4) CK_VNNI_ROWS(2, 4);
    } else {
        // Each 32-column weight panel (32·k bytes) stays in L1/L2 while all rows stream past it.
        for (; nb + CK_VNNI_NB <= nb_end; nb += CK_VNNI_NB) CK_VNNI_ROWS(CK_VNNI_MR, CK_VNNI_NB);
    }
    for (; nb < nb_end; nb++) CK_VNNI_ROWS(8, 1);
}

// MARK: - AVX2

// _mm256_maddubs_epi16 saturates when two u8·s8 products exceed 32767, which real u8 activations do.
// Sign trick (as in ggml): with a' = a − 128 ∈ [−128, 127], maddubs(|a'|, sign(w, a')) sums
// a'·w pairs of magnitude ≤ 2·128·127 = 32512, so nothing saturates; then Σ a·w = Σ a'·w + 128·colsum.
// A weight of −128 would break sign(); packs containing one take the scalar path (CK_PACK_HAS_M128).
CK_INLINE CK_AVX2 void ck_store_avx2(__m256i acc, const ck_out* o, const ck_packed_view* v, size_t i, size_t j0,
                                     uint32_t lanes) {
    __m256i cs = _mm256_loadu_si256((const __m256i*)(v->colsum + j0));
    int32_t corr = o->col_offset - (o->a_zp ? o->a_zp[i] : 0);
    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(corr), cs));
    __m256i mk = _mm256_cmpeq_epi32(
        _mm256_and_si256(_mm256_set1_epi32((int32_t)lanes), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)),
        _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128));
    if (!o->a_scale) {
        _mm256_maskstore_epi32(o->c32 + i * o->ldc + j0, mk, acc);
        return;
    }
    __m256 s = _mm256_mul_ps(_mm256_set1_ps(o->a_scale[i]), _mm256_maskload_ps(o->b_scale + j0, mk));
    __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), s);
    CK_NO_CONTRACT_V(y);
    if (o->bias) y = _mm256_add_ps(y, _mm256_maskload_ps(o->bias + j0, mk));
    _mm256_maskstore_ps(o->cf + i * o->ldc + j0, mk, y);
}

CK_INLINE CK_AVX2 void ck_tile_avx2(const uint8_t* a, size_t lda, const ck_packed_view* v, size_t k, size_t nb,
                                    int MR, const ck_out* o, size_t i0, size_t n0, size_t n1) {
    __m256i acc[4][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int8_t* bp = v->data + nb * v->block_bytes;
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const size_t kg = (k + 3) / 4, kf = k / 4;
    for (size_t g = 0; g < kg; g++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i*)(bp + g * 64));
        __m256i w1 = _mm256_loadu_si256((const __m256i*)(bp + g * 64 + 32));
        for (int r = 0; r < MR; r++) {
            int32_t a4 = g < kf ? ck_load_a4(a + r * lda + g * 4) : ck_load_a_tail(a + r * lda + g * 4, k % 4);
            __m256i as = _mm256_xor_si256(_mm256_set1_epi32(a4), flip);  // a − 128 as s8
            __m256i aa = _mm256_abs_epi8(as);                              // |a − 128| ≤ 128, read as u8
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, as)), ones);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, as)), ones);
            acc[r][0] = _mm256_add_epi32(acc[r][0], p0);
            acc[r][1] = _mm256_add_epi32(acc[r][1], p1);
        }
    }
    uint32_t lanes = ck_block_lanes(nb, n0, n1);
    for (int r = 0; r < MR; r++) {
        if (lanes & 0xffu) ck_store_avx2(acc[r][0], o, v, i0 + r, nb * 16, lanes & 0xffu);
        if (lanes >> 8) ck_store_avx2(acc[r][1], o, v, i0 + r, nb * 16 + 8, lanes >> 8);
    }
}

CK_AVX2 static void ck_gemm_avx2(const uint8_t* a, size_t lda, const void* packed_b, const ck_out* o, size_t m,
                                 size_t n, size_t k, size_t n0, size_t n1) {
    ck_packed_view v = ck_view(packed_b, n, k);
    size_t nb_end = (n1 + 15) / 16;
    for (size_t nb = n0 / 16; nb < nb_end; nb++) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4) ck_tile_avx2(a + i * lda, lda, &v, k, nb, 4, o, i, n0, n1);
        switch (m - i) {
        case 3: ck_tile_avx2(a + i * lda, lda, &v, k, nb, 3, o, i, n0, n1); break;
        case 2: ck_tile_avx2(a + i * lda, lda, &v, k, nb, 2, o, i, n0, n1); break;
        case 1: ck_tile_avx2(a + i * lda, lda, &v, k, nb, 1, o, i, n0, n1); break;
        default: break;
        }
    }
}

// MARK: - Dispatch

void ck_gemm_u8s8_s32(const uint8_t* a, size_t lda, const int32_t* a_zp, const void* packed_b, int32_t* c,
                      size_t ldc, size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    if (n1 > n) n1 = n;
    if (m == 0 || n0 >= n1) return;
    ck_out o = {a_zp, NULL, NULL, NULL, c, NULL, ldc, 0};
    int isa = ck_isa();
    if (isa == CK_ISA_AVX2 && (ck_view(packed_b, n, k).flags & CK_PACK_HAS_M128)) isa = CK_ISA_SCALAR;
    switch (isa) {
    case CK_ISA_AVX512: ck_gemm_vnni(a, lda, packed_b, &o, m, n, k, n0, n1); return;
    case CK_ISA_AVX2: o.col_offset = 128; ck_gemm_avx2(a, lda, packed_b, &o, m, n, k, n0, n1); return;
    default: ck_gemm_u8s8_s32_ref(a, lda, a_zp, packed_b, c, ldc, m, n, k, n0, n1); return;
    }
}

void ck_gemm_u8s8_f32(const uint8_t* a, size_t lda, const float* a_scale, const int32_t* a_zp,
                      const void* packed_b, const float* b_scale, const float* bias, float* c, size_t ldc,
                      size_t m, size_t n, size_t k, size_t n0, size_t n1) {
    if (n1 > n) n1 = n;
    if (m == 0 || n0 >= n1) return;
    ck_out o = {a_zp, a_scale, b_scale, bias, NULL, c, ldc, 0};
    int isa = ck_isa();
    if (isa == CK_ISA_AVX2 && (ck_view(packed_b, n, k).flags & CK_PACK_HAS_M128)) isa = CK_ISA_SCALAR;
    switch (isa) {
    case CK_ISA_AVX512: ck_gemm_vnni(a, lda, packed_b, &o, m, n, k, n0, n1); return;
    case CK_ISA_AVX2: o.col_offset = 128; ck_gemm_avx2(a, lda, packed_b, &o, m, n, k, n0, n1); return;
    default:
        ck_gemm_u8s8_f32_ref(a, lda, a_scale, a_zp, packed_b, b_scale, bias, c, ldc, m, n, k, n0, n1);
        return;
    }
}
