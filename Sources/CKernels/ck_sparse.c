// Sparse weights (CSR by output row) times dense activations: y(rows, n) = x(rows, k) · Wᵀ for pruned Linears.
//
// Two shapes of work. Few rows (≤ CK_SPMM_GATHER_ROWS): each output is a dot product of the row's nonzeros with
// x gathered at their columns (AVX-512/AVX2 gathers). More rows: a tile of T rows of x is transposed to (k, T)
// once per call, then every nonzero is one broadcast-FMA over the T rows, so the weight stream is read once per
// tile instead of once per row. Float sums run in a different order than the scalar twin and the dense GEMM:
// results agree to float rounding (the tests bound the difference), not bit for bit.
#include "ck_internal.h"

#include <string.h>

#define CK_SPMM_GATHER_ROWS 2

void ck_spmm_csr_f32_ref(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0, size_t o1,
                         const float* x, size_t k, size_t rows, float* y, size_t ldy, float* scratch) {
    (void)scratch;
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * k;
        for (size_t o = o0; o < o1; o++) {
            float s = 0.0f;
            for (int32_t i = rowptr[o]; i < rowptr[o + 1]; i++) s += vals[i] * xr[cols[i]];
            y[r * ldy + o] = s;
        }
    }
}

// x rows [r0, r0 + t) transposed into xt (k, T), zero-padded to T lanes.
static inline void ck_transpose_tile(const float* x, size_t k, size_t r0, size_t t, size_t T, float* xt) {
    for (size_t j = 0; j < k; j++) {
        float* dst = xt + j * T;
        size_t l = 0;
        for (; l < t; l++) dst[l] = x[(r0 + l) * k + j];
        for (; l < T; l++) dst[l] = 0.0f;
    }
}

// Rows [0, rows) of x in tiles of 8 (one ymm per nonzero); used by AVX2 and for AVX-512's short tails, where a
// 16-lane tile would leave half its lanes idle (measured: 8 rows ran 1.2× faster than dense with 16-lane tiles, 2.7×
// with 8-lane ones, at 10 % density).
CK_AVX2 static void ck_spmm_tiles8_avx2(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0,
                                        size_t o1, const float* x, size_t k, size_t rows, float* y, size_t ldy,
                                        float* scratch) {
    const size_t T = 8;
    float lanes[8];
    for (size_t r0 = 0; r0 < rows; r0 += T) {
        size_t t = rows - r0 < T ? rows - r0 : T;
        ck_transpose_tile(x, k, r0, t, T, scratch);
        for (size_t o = o0; o < o1; o++) {
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            int32_t i = rowptr[o], end = rowptr[o + 1];
            for (; i + 2 <= end; i += 2) {
                acc0 = _mm256_fmadd_ps(_mm256_set1_ps(vals[i]), _mm256_loadu_ps(scratch + (size_t)cols[i] * T), acc0);
                acc1 = _mm256_fmadd_ps(_mm256_set1_ps(vals[i + 1]), _mm256_loadu_ps(scratch + (size_t)cols[i + 1] * T), acc1);
            }
            if (i < end) acc0 = _mm256_fmadd_ps(_mm256_set1_ps(vals[i]), _mm256_loadu_ps(scratch + (size_t)cols[i] * T), acc0);
            _mm256_storeu_ps(lanes, _mm256_add_ps(acc0, acc1));
            for (size_t l = 0; l < t; l++) y[(r0 + l) * ldy + o] = lanes[l];
        }
    }
}

CK_AVX2 static void ck_spmm_csr_f32_avx2(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0,
                                         size_t o1, const float* x, size_t k, size_t rows, float* y, size_t ldy,
                                         float* scratch) {
    if (rows <= CK_SPMM_GATHER_ROWS) {
        for (size_t r = 0; r < rows; r++) {
            const float* xr = x + r * k;
            for (size_t o = o0; o < o1; o++) {
                int32_t i = rowptr[o], end = rowptr[o + 1];
                __m256 acc = _mm256_setzero_ps();
                for (; i + 8 <= end; i += 8) {
                    __m256i idx = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(cols + i)));
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(vals + i), _mm256_i32gather_ps(xr, idx, 4), acc);
                }
                float s = ck_avx2_hsum(acc);
                for (; i < end; i++) s += vals[i] * xr[cols[i]];
                y[r * ldy + o] = s;
            }
        }
        return;
    }
    ck_spmm_tiles8_avx2(rowptr, cols, vals, o0, o1, x, k, rows, y, ldy, scratch);
}

CK_AVX512 static void ck_spmm_csr_f32_avx512(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0,
                                             size_t o1, const float* x, size_t k, size_t rows, float* y, size_t ldy,
                                             float* scratch) {
    if (rows <= CK_SPMM_GATHER_ROWS) {
        for (size_t r = 0; r < rows; r++) {
            const float* xr = x + r * k;
            for (size_t o = o0; o < o1; o++) {
                int32_t i = rowptr[o], end = rowptr[o + 1];
                __m512 acc = _mm512_setzero_ps();
                for (; i + 16 <= end; i += 16) {
                    __m512i idx = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(cols + i)));
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(vals + i), _mm512_i32gather_ps(idx, xr, 4), acc);
                }
                if (i < end) {
                    __mmask16 m = ck_avx512_tail_mask((size_t)(end - i));
                    __m512i idx = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, cols + i));
                    __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, xr, 4);
                    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, vals + i), xv, acc);
                }
                y[r * ldy + o] = _mm512_reduce_add_ps(acc);
            }
        }
        return;
    }
    const size_t T = 16;
    // Full 16-row tiles in zmm; a tail of at most 8 rows goes to the 8-lane tiles.
    size_t wide = rows % T != 0 && rows % T <= 8 ? rows - rows % T : rows;
    if (wide < rows) ck_spmm_tiles8_avx2(rowptr, cols, vals, o0, o1, x + wide * k, k, rows - wide, y + wide * ldy, ldy, scratch);
    rows = wide;
    const __m512i offs = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)ldy));
    for (size_t r0 = 0; r0 < rows; r0 += T) {
        size_t t = rows - r0 < T ? rows - r0 : T;
        ck_transpose_tile(x, k, r0, t, T, scratch);
        __mmask16 m = ck_avx512_tail_mask(t);
        for (size_t o = o0; o < o1; o++) {
            __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
            int32_t i = rowptr[o], end = rowptr[o + 1];
            for (; i + 2 <= end; i += 2) {
                acc0 = _mm512_fmadd_ps(_mm512_set1_ps(vals[i]), _mm512_loadu_ps(scratch + (size_t)cols[i] * T), acc0);
                acc1 = _mm512_fmadd_ps(_mm512_set1_ps(vals[i + 1]), _mm512_loadu_ps(scratch + (size_t)cols[i + 1] * T), acc1);
            }
            if (i < end) acc0 = _mm512_fmadd_ps(_mm512_set1_ps(vals[i]), _mm512_loadu_ps(scratch + (size_t)cols[i] * T), acc0);
            // Scatter the t valid lanes to column o of rows r0 … r0 + t − 1.
            _mm512_mask_i32scatter_ps(y + r0 * ldy + o, m, offs, _mm512_add_ps(acc0, acc1), 4);
        }
    }
}

size_t ck_spmm_scratch_floats(size_t k) { return k * 16; }

void ck_spmm_csr_f32(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0, size_t o1,
                     const float* x, size_t k, size_t rows, float* y, size_t ldy, float* scratch) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_spmm_csr_f32_avx512(rowptr, cols, vals, o0, o1, x, k, rows, y, ldy, scratch); return;
    case CK_ISA_AVX2: ck_spmm_csr_f32_avx2(rowptr, cols, vals, o0, o1, x, k, rows, y, ldy, scratch); return;
    default: ck_spmm_csr_f32_ref(rowptr, cols, vals, o0, o1, x, k, rows, y, ldy, scratch); return;
    }
}
