// Sparse int8 weights times u8 activations: the pruned twin of ck_gemm_u8s8_f32 (same activation codes, same
// per-row scale/zero point, same per-channel weight scale, same dequantization), bit for bit equal to it.
//
// Format "b4": W (n, k) s8 cut into blocks of 4 consecutive inputs (group g = columns 4g … 4g+3, as VNNI reads
// them); per output row only the groups holding a nonzero are kept: block_starts (n + 1), groups (nblocks, u16),
// values (4·nblocks, s8, zeros where the group is partly pruned), colsum (n) = Σ of the row's weights. A random
// mask at density d keeps 1 − (1 − d)⁴ of the groups (34 % at d = 0.1), each one instruction wide.
//
// acc = Σ a·w − zp·colsum is an integer sum, so any order gives the same value as the dense kernel; the float
// step is ck_dequant_one, shared with ck_int8.c.
//
// Work shapes (as in ck_sparse.c): ≤ 2 rows gather the activations of 16 (8) groups per instruction from the
// row; more rows transpose a tile of 16 (AVX-512) or 8 rows once per call so that every block is one broadcast
// weight × one contiguous load of the tile's activations.
#include "ck_internal.h"

#include <string.h>

#define CK_B4_GATHER_ROWS 2

static inline size_t ck_b4_groups(size_t k) { return (k + 3) / 4; }

size_t ck_b4_count_blocks(const int8_t* w, size_t n, size_t k) {
    size_t blocks = 0;
    for (size_t o = 0; o < n; o++)
        for (size_t c = 0; c < k; c += 4) {
            size_t e = c + 4 < k ? c + 4 : k;
            for (size_t j = c; j < e; j++)
                if (w[o * k + j]) { blocks++; break; }
        }
    return blocks;
}

void ck_b4_pack_s8(const int8_t* w, size_t n, size_t k, int32_t* block_starts, uint16_t* groups, int8_t* values,
                   int32_t* colsum) {
    size_t b = 0;
    block_starts[0] = 0;
    for (size_t o = 0; o < n; o++) {
        int32_t s = 0;
        for (size_t c = 0; c < k; c += 4) {
            size_t e = c + 4 < k ? c + 4 : k;
            int any = 0;
            for (size_t j = c; j < e; j++) any |= w[o * k + j] != 0;
            if (!any) continue;
            groups[b] = (uint16_t)(c / 4);
            for (size_t j = 0; j < 4; j++) {
                int8_t v = c + j < k ? w[o * k + c + j] : 0;
                values[4 * b + j] = v;
                s += v;
            }
            b++;
        }
        block_starts[o + 1] = (int32_t)b;
        colsum[o] = s;
    }
}

size_t ck_spmm_b4_scratch_bytes(size_t k) { return ck_b4_groups(k) * 64 + 64; }

void ck_spmm_b4_u8s8_f32_ref(const int32_t* block_starts, const uint16_t* groups, const int8_t* values,
                             const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k, size_t rows,
                             const float* a_scale, const int32_t* a_zp, const float* b_scale, const float* bias,
                             float* y, size_t ldy, void* scratch) {
    (void)scratch;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t* ar = a + r * k;
        for (size_t o = o0; o < o1; o++) {
            int32_t acc = 0;
            for (int32_t b = block_starts[o]; b < block_starts[o + 1]; b++) {
                size_t c = (size_t)groups[b] * 4;
                for (size_t j = 0; j < 4 && c + j < k; j++) acc += (int32_t)ar[c + j] * (int32_t)values[4 * b + j];
            }
            acc -= (a_zp ? a_zp[r] : 0) * colsum[o];
            y[r * ldy + o] = ck_dequant_one(acc, a_scale[r], b_scale[o], bias, o);
        }
    }
}

// Row r of a copied to p, zero-padded to 4·groups bytes, so 4-byte gathers never read past the row.
static inline void ck_b4_pad_row(const uint8_t* ar, size_t k, uint8_t* p) {
    memcpy(p, ar, k);
    memset(p + k, 0, ck_b4_groups(k) * 4 - k);
}

// Rows [r0, r0 + t) of a as (groups, T, 4) bytes: the 4 activations of group g for lane l at (g·T + l)·4; lanes
// ≥ t and columns ≥ k are 0.
static inline void ck_b4_transpose_u8(const uint8_t* a, size_t k, size_t r0, size_t t, size_t T, uint8_t* xt) {
    size_t G = ck_b4_groups(k);
    memset(xt, 0, G * T * 4);
    for (size_t l = 0; l < t; l++) {
        const uint8_t* ar = a + (r0 + l) * k;
        size_t g = 0;
        for (; 4 * g + 4 <= k; g++) memcpy(xt + (g * T + l) * 4, ar + 4 * g, 4);
        if (4 * g < k) memcpy(xt + (g * T + l) * 4, ar + 4 * g, k - 4 * g);
    }
}

static inline int32_t ck_b4_load_w4(const int8_t* p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// Integer sum of one output's remaining blocks [b, end) for one padded row (the SIMD loops' tails).
static inline int32_t ck_b4_dot_tail(const uint8_t* ap, const uint16_t* groups, const int8_t* values, int32_t b,
                                     int32_t end) {
    int32_t s = 0;
    for (; b < end; b++) {
        const uint8_t* x = ap + (size_t)groups[b] * 4;
        const int8_t* w = values + 4 * (size_t)b;
        s += (int32_t)x[0] * w[0] + (int32_t)x[1] * w[1] + (int32_t)x[2] * w[2] + (int32_t)x[3] * w[3];
    }
    return s;
}

// MARK: - AVX2

// Few rows: 8 groups' activations per 32-bit gather; u8 and s8 widened to s16 and multiplied with madd (no
// saturation: |a·w| ≤ 255·128, a pair ≤ 65280 in int32).
CK_AVX2 static void ck_b4_gather_avx2(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                      const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                      size_t rows, const float* a_scale, const int32_t* a_zp, const float* b_scale,
                                      const float* bias, float* y, size_t ldy, uint8_t* pad) {
    for (size_t r = 0; r < rows; r++) {
        ck_b4_pad_row(a + r * k, k, pad);
        int32_t zp = a_zp ? a_zp[r] : 0;
        for (size_t o = o0; o < o1; o++) {
            int32_t b = bs[o], end = bs[o + 1];
            __m256i acc = _mm256_setzero_si256();
            for (; b + 8 <= end; b += 8) {
                __m256i idx = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(groups + b)));
                __m256i av = _mm256_i32gather_epi32((const int*)pad, idx, 4);
                __m256i wv = _mm256_loadu_si256((const __m256i*)(values + 4 * (size_t)b));
                __m256i a0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(av));
                __m256i a1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(av, 1));
                __m256i w0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(wv));
                __m256i w1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(wv, 1));
                acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(a0, w0), _mm256_madd_epi16(a1, w1)));
            }
            int32_t s = ck_avx2_hsum_epi32(acc) + ck_b4_dot_tail(pad, groups, values, b, end);
            y[r * ldy + o] = ck_dequant_one(s - zp * colsum[o], a_scale[r], b_scale[o], bias, o);
        }
    }
}

// Finishes 8 lanes (rows r0 … r0+t−1) of output o: subtract zp·colsum, dequantize, store the t valid lanes.
CK_INLINE CK_AVX2 void ck_b4_store8_avx2(__m256i acc, size_t o, size_t r0, size_t t, const int32_t* colsum,
                                         const float* a_scale, const int32_t* a_zp, const float* b_scale,
                                         const float* bias, float* y, size_t ldy) {
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i*)lanes, acc);
    for (size_t l = 0; l < t; l++) {
        int32_t zp = a_zp ? a_zp[r0 + l] : 0;
        y[(r0 + l) * ldy + o] = ck_dequant_one(lanes[l] - zp * colsum[o], a_scale[r0 + l], b_scale[o], bias, o);
    }
}

// Tiles of 8 rows: activations as s16, (groups, 8 rows, 4) = two ymm per group (rows 0–3, 4–7); one block is the
// 4 weights broadcast as s16 and two madds. hadd + permute put the 8 row sums in lane order.
CK_AVX2 static void ck_b4_tiles8_avx2(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                      const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                      size_t rows, const float* a_scale, const int32_t* a_zp, const float* b_scale,
                                      const float* bias, float* y, size_t ldy, uint8_t* scratch) {
    const size_t T = 8, G = ck_b4_groups(k);
    int16_t* xt = (int16_t*)scratch;  // G · 8 · 4 s16 = G · 64 bytes
    for (size_t r0 = 0; r0 < rows; r0 += T) {
        size_t t = rows - r0 < T ? rows - r0 : T;
        memset(xt, 0, G * T * 4 * sizeof(int16_t));
        for (size_t l = 0; l < t; l++) {
            const uint8_t* ar = a + (r0 + l) * k;
            for (size_t c = 0; c < k; c++) xt[((c / 4) * T + l) * 4 + c % 4] = ar[c];
        }
        for (size_t o = o0; o < o1; o++) {
            __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
            for (int32_t b = bs[o]; b < bs[o + 1]; b++) {
                __m256i w = _mm256_broadcastq_epi64(
                    _mm_cvtepi8_epi16(_mm_cvtsi32_si128(ck_b4_load_w4(values + 4 * (size_t)b))));
                const int16_t* x = xt + (size_t)groups[b] * 32;
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)x), w));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)(x + 16)), w));
            }
            // acc0 = [r0 r0 r1 r1 | r2 r2 r3 r3] pair sums, acc1 the same for r4–r7.
            __m256i h = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc0, acc1), 0xd8);
            ck_b4_store8_avx2(h, o, r0, t, colsum, a_scale, a_zp, b_scale, bias, y, ldy);
        }
    }
}

CK_AVX2 static void ck_spmm_b4_avx2(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                    const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                    size_t rows, const float* a_scale, const int32_t* a_zp, const float* b_scale,
                                    const float* bias, float* y, size_t ldy, uint8_t* scratch) {
    if (rows <= CK_B4_GATHER_ROWS)
        ck_b4_gather_avx2(bs, groups, values, colsum, o0, o1, a, k, rows, a_scale, a_zp, b_scale, bias, y, ldy, scratch);
    else
        ck_b4_tiles8_avx2(bs, groups, values, colsum, o0, o1, a, k, rows, a_scale, a_zp, b_scale, bias, y, ldy, scratch);
}

// MARK: - AVX-512 VNNI

// Few rows: 16 groups' activations per gather, one vpdpbusd (u8 activations × s8 weights, 4 per lane).
CK_AVX512 static void ck_b4_gather_avx512(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                          const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                          size_t rows, const float* a_scale, const int32_t* a_zp,
                                          const float* b_scale, const float* bias, float* y, size_t ldy,
                                          uint8_t* pad) {
    for (size_t r = 0; r < rows; r++) {
        ck_b4_pad_row(a + r * k, k, pad);
        int32_t zp = a_zp ? a_zp[r] : 0;
        for (size_t o = o0; o < o1; o++) {
            int32_t b = bs[o], end = bs[o + 1];
            __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
            for (; b + 32 <= end; b += 32) {
                __m512i i0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(groups + b)));
                __m512i i1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(groups + b + 16)));
                acc0 = _mm512_dpbusd_epi32(acc0, _mm512_i32gather_epi32(i0, pad, 4),
                                           _mm512_loadu_si512(values + 4 * (size_t)b));
                acc1 = _mm512_dpbusd_epi32(acc1, _mm512_i32gather_epi32(i1, pad, 4),
                                           _mm512_loadu_si512(values + 4 * (size_t)b + 64));
            }
            if (b < end) {
                size_t left = (size_t)(end - b) < 16 ? (size_t)(end - b) : 16;
                __mmask16 m = ck_avx512_tail_mask(left);
                __m512i idx = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, groups + b));
                __m512i av = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, pad, 4);
                acc0 = _mm512_dpbusd_epi32(acc0, av, _mm512_maskz_loadu_epi32(m, values + 4 * (size_t)b));
                b += (int32_t)left;
            }
            int32_t s = _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) + ck_b4_dot_tail(pad, groups, values, b, end);
            y[r * ldy + o] = ck_dequant_one(s - zp * colsum[o], a_scale[r], b_scale[o], bias, o);
        }
    }
}

// Tiles of 16 rows: (groups, 16, 4) u8, so a block is one 64-byte load × the block's 4 weights broadcast. The 16
// row results are dequantized in a vector (same op order as ck_dequant_one) and scattered to column o.
CK_AVX512 static void ck_b4_tiles16_avx512(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                           const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                           size_t rows, const float* a_scale, const int32_t* a_zp,
                                           const float* b_scale, const float* bias, float* y, size_t ldy,
                                           uint8_t* xt) {
    const size_t T = 16;
    const __m512i offs = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)ldy));
    for (size_t r0 = 0; r0 < rows; r0 += T) {
        size_t t = rows - r0 < T ? rows - r0 : T;
        __mmask16 m = ck_avx512_tail_mask(t);
        ck_b4_transpose_u8(a, k, r0, t, T, xt);
        __m512i zp = a_zp ? _mm512_maskz_loadu_epi32(m, a_zp + r0) : _mm512_setzero_si512();
        __m512 sa = _mm512_maskz_loadu_ps(m, a_scale + r0);
        for (size_t o = o0; o < o1; o++) {
            __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
            int32_t b = bs[o], end = bs[o + 1];
            for (; b + 2 <= end; b += 2) {
                acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(xt + (size_t)groups[b] * 64),
                                           _mm512_set1_epi32(ck_b4_load_w4(values + 4 * (size_t)b)));
                acc1 = _mm512_dpbusd_epi32(acc1, _mm512_loadu_si512(xt + (size_t)groups[b + 1] * 64),
                                           _mm512_set1_epi32(ck_b4_load_w4(values + 4 * (size_t)b + 4)));
            }
            if (b < end)
                acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(xt + (size_t)groups[b] * 64),
                                           _mm512_set1_epi32(ck_b4_load_w4(values + 4 * (size_t)b)));
            __m512i acc = _mm512_sub_epi32(_mm512_add_epi32(acc0, acc1), _mm512_mullo_epi32(zp, _mm512_set1_epi32(colsum[o])));
            __m512 s = _mm512_mul_ps(sa, _mm512_set1_ps(b_scale[o]));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
            CK_NO_CONTRACT_V(v);
            if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bias[o]));
            _mm512_mask_i32scatter_ps(y + r0 * ldy + o, m, offs, v, 4);
        }
    }
}

// Tiles of 8 rows with 256-bit vpdpbusd (AVX-512 VL + VNNI): the short tails (≤ 8 rows), where a 16-lane tile
// would leave half its lanes idle.
CK_AVX512 static void ck_b4_tiles8_avx512(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                          const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                          size_t rows, const float* a_scale, const int32_t* a_zp,
                                          const float* b_scale, const float* bias, float* y, size_t ldy,
                                          uint8_t* xt) {
    const size_t T = 8;
    for (size_t r0 = 0; r0 < rows; r0 += T) {
        size_t t = rows - r0 < T ? rows - r0 : T;
        ck_b4_transpose_u8(a, k, r0, t, T, xt);
        for (size_t o = o0; o < o1; o++) {
            __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
            int32_t b = bs[o], end = bs[o + 1];
            for (; b + 2 <= end; b += 2) {
                acc0 = _mm256_dpbusd_epi32(acc0, _mm256_loadu_si256((const __m256i*)(xt + (size_t)groups[b] * 32)),
                                           _mm256_set1_epi32(ck_b4_load_w4(values + 4 * (size_t)b)));
                acc1 = _mm256_dpbusd_epi32(acc1, _mm256_loadu_si256((const __m256i*)(xt + (size_t)groups[b + 1] * 32)),
                                           _mm256_set1_epi32(ck_b4_load_w4(values + 4 * (size_t)b + 4)));
            }
            if (b < end)
                acc0 = _mm256_dpbusd_epi32(acc0, _mm256_loadu_si256((const __m256i*)(xt + (size_t)groups[b] * 32)),
                                           _mm256_set1_epi32(ck_b4_load_w4(values + 4 * (size_t)b)));
            ck_b4_store8_avx2(_mm256_add_epi32(acc0, acc1), o, r0, t, colsum, a_scale, a_zp, b_scale, bias, y, ldy);
        }
    }
}

CK_AVX512 static void ck_spmm_b4_avx512(const int32_t* bs, const uint16_t* groups, const int8_t* values,
                                        const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k,
                                        size_t rows, const float* a_scale, const int32_t* a_zp, const float* b_scale,
                                        const float* bias, float* y, size_t ldy, uint8_t* scratch) {
    if (rows <= CK_B4_GATHER_ROWS) {
        ck_b4_gather_avx512(bs, groups, values, colsum, o0, o1, a, k, rows, a_scale, a_zp, b_scale, bias, y, ldy, scratch);
        return;
    }
    // Full 16-row tiles in zmm; a tail of at most 8 rows goes to the 8-lane tiles.
    size_t wide = rows % 16 != 0 && rows % 16 <= 8 ? rows - rows % 16 : rows;
    if (wide < rows)
        ck_b4_tiles8_avx512(bs, groups, values, colsum, o0, o1, a + wide * k, k, rows - wide, a_scale + wide,
                            a_zp ? a_zp + wide : NULL, b_scale, bias, y + wide * ldy, ldy, scratch);
    if (wide)
        ck_b4_tiles16_avx512(bs, groups, values, colsum, o0, o1, a, k, wide, a_scale, a_zp, b_scale, bias, y, ldy, scratch);
}

// MARK: - Dispatch

void ck_spmm_b4_u8s8_f32(const int32_t* block_starts, const uint16_t* groups, const int8_t* values,
                         const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k, size_t rows,
                         const float* a_scale, const int32_t* a_zp, const float* b_scale, const float* bias,
                         float* y, size_t ldy, void* scratch) {
    if (rows == 0 || o0 >= o1) return;
    switch (ck_isa()) {
    case CK_ISA_AVX512:
        ck_spmm_b4_avx512(block_starts, groups, values, colsum, o0, o1, a, k, rows, a_scale, a_zp, b_scale, bias, y,
                          ldy, (uint8_t*)scratch);
        return;
    case CK_ISA_AVX2:
        ck_spmm_b4_avx2(block_starts, groups, values, colsum, o0, o1, a, k, rows, a_scale, a_zp, b_scale, bias, y, ldy,
                        (uint8_t*)scratch);
        return;
    default:
        ck_spmm_b4_u8s8_f32_ref(block_starts, groups, values, colsum, o0, o1, a, k, rows, a_scale, a_zp, b_scale,
                                bias, y, ldy, scratch);
        return;
    }
}
