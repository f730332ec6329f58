// ReLU backward (optionally fused with the bias gradient's column sums) and plain column sums (see ck_backward.h):
// scalar twins, AVX2, AVX-512, dispatch. Masks select dy exactly and the column sums add rows in order, so the
// SIMD paths equal the twins bit for bit.
#include "ck_internal.h"

// MARK: - Scalar twins

void ck_relu_backward_f32_ref(float* dx, const float* dy, const float* y, size_t rows, size_t cols, float* dbias) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) {
            const size_t o = r * cols + j;
            const float g = y[o] <= 0.0f ? 0.0f : dy[o];
            dx[o] = g;
            if (dbias) dbias[j] += g;
        }
}

void ck_colsum_f32_ref(float* sum, const float* x, size_t ld, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) sum[j] += x[r * ld + j];
}

// MARK: - AVX2

CK_AVX2 static void ck_relu_backward_avx2(float* dx, const float* dy, const float* y, size_t rows, size_t cols,
                                         float* dbias) {
    const __m256 zero = _mm256_setzero_ps();
    if (!dbias) {
        const size_t n = rows * cols;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_NLE_UQ);  // !(y <= 0)
            _mm256_storeu_ps(dx + i, _mm256_and_ps(keep, _mm256_loadu_ps(dy + i)));
        }
        for (; i < n; i++) dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
        return;
    }
    for (size_t j = 0; j < cols; j += 8) {
        const __m256i k = ck_avx2_tail_mask(cols - j < 8 ? cols - j : 8);
        __m256 acc = _mm256_maskload_ps(dbias + j, k);
        for (size_t r = 0; r < rows; r++) {
            const size_t o = r * cols + j;
            const __m256 keep = _mm256_cmp_ps(_mm256_maskload_ps(y + o, k), zero, _CMP_NLE_UQ);
            const __m256 g = _mm256_and_ps(keep, _mm256_maskload_ps(dy + o, k));
            _mm256_maskstore_ps(dx + o, k, g);
            acc = _mm256_add_ps(acc, g);
        }
        _mm256_maskstore_ps(dbias + j, k, acc);
    }
}

CK_AVX2 static void ck_colsum_avx2(float* sum, const float* x, size_t ld, size_t rows, size_t cols) {
    for (size_t j = 0; j < cols; j += 8) {
        const __m256i k = ck_avx2_tail_mask(cols - j < 8 ? cols - j : 8);
        __m256 acc = _mm256_maskload_ps(sum + j, k);
        for (size_t r = 0; r < rows; r++) acc = _mm256_add_ps(acc, _mm256_maskload_ps(x + r * ld + j, k));
        _mm256_maskstore_ps(sum + j, k, acc);
    }
}

// MARK: - AVX-512

CK_AVX512 static void ck_relu_backward_avx512(float* dx, const float* dy, const float* y, size_t rows, size_t cols,
                                             float* dbias) {
    const __m512 zero = _mm512_setzero_ps();
    if (!dbias) {
        const size_t n = rows * cols;
        for (size_t i = 0; i < n; i += 16) {
            const __mmask16 k = ck_avx512_tail_mask(n - i < 16 ? n - i : 16);
            const __mmask16 keep = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, y + i), zero, _CMP_NLE_UQ);
            _mm512_mask_storeu_ps(dx + i, k, _mm512_maskz_loadu_ps(keep, dy + i));
        }
        return;
    }
    // 64 columns (4 accumulators) per pass over the rows: independent add chains hide the add latency.
    for (size_t j = 0; j < cols; j += 64) {
        __mmask16 k[4];
        __m512 acc[4];
        for (int v = 0; v < 4; v++) {
            const size_t c0 = j + 16 * (size_t)v;
            k[v] = ck_avx512_tail_mask(c0 >= cols ? 0 : cols - c0 < 16 ? cols - c0 : 16);
            acc[v] = _mm512_maskz_loadu_ps(k[v], dbias + c0);
        }
        for (size_t r = 0; r < rows; r++)
            for (int v = 0; v < 4; v++) {
                const size_t o = r * cols + j + 16 * (size_t)v;
                const __mmask16 keep = _mm512_mask_cmp_ps_mask(k[v], _mm512_maskz_loadu_ps(k[v], y + o), zero, _CMP_NLE_UQ);
                const __m512 g = _mm512_maskz_loadu_ps(keep, dy + o);
                _mm512_mask_storeu_ps(dx + o, k[v], g);
                acc[v] = _mm512_add_ps(acc[v], g);
            }
        for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(dbias + j + 16 * (size_t)v, k[v], acc[v]);
    }
}

CK_AVX512 static void ck_colsum_avx512(float* sum, const float* x, size_t ld, size_t rows, size_t cols) {
    for (size_t j = 0; j < cols; j += 64) {
        __mmask16 k[4];
        __m512 acc[4];
        for (int v = 0; v < 4; v++) {
            const size_t c0 = j + 16 * (size_t)v;
            k[v] = ck_avx512_tail_mask(c0 >= cols ? 0 : cols - c0 < 16 ? cols - c0 : 16);
            acc[v] = _mm512_maskz_loadu_ps(k[v], sum + c0);
        }
        for (size_t r = 0; r < rows; r++)
            for (int v = 0; v < 4; v++)
                acc[v] = _mm512_add_ps(acc[v], _mm512_maskz_loadu_ps(k[v], x + r * ld + j + 16 * (size_t)v));
        for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(sum + j + 16 * (size_t)v, k[v], acc[v]);
    }
}

// MARK: - Dispatch

void ck_relu_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t cols, float* dbias) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_relu_backward_avx512(dx, dy, y, rows, cols, dbias); return;
    case CK_ISA_AVX2: ck_relu_backward_avx2(dx, dy, y, rows, cols, dbias); return;
    default: ck_relu_backward_f32_ref(dx, dy, y, rows, cols, dbias); return;
    }
}

void ck_colsum_f32(float* sum, const float* x, size_t ld, size_t rows, size_t cols) {
    switch (ck_isa()) {
    case CK_ISA_AVX512: ck_colsum_avx512(sum, x, ld, rows, cols); return;
    case CK_ISA_AVX2: ck_colsum_avx2(sum, x, ld, rows, cols); return;
    default: ck_colsum_f32_ref(sum, x, ld, rows, cols); return;
    }
}
