// Packing and transposition for the training GEMMs (see ck_gemm_train.h). Plain copies: one version for every ISA.
#include "ck_internal.h"

#include <string.h>

void ck_sgemm_pack_b_kn(const float* b, size_t ldb, size_t k, size_t n, float* packed) {
    size_t panels = (n + CK_SGEMM_PANEL - 1) / CK_SGEMM_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float* dst = packed + p * k * CK_SGEMM_PANEL;
        size_t j0 = p * CK_SGEMM_PANEL, width = n - j0 < CK_SGEMM_PANEL ? n - j0 : CK_SGEMM_PANEL;
        for (size_t kk = 0; kk < k; kk++) {
            float* d = dst + kk * CK_SGEMM_PANEL;
            memcpy(d, b + kk * ldb + j0, width * sizeof(float));
            for (size_t j = width; j < CK_SGEMM_PANEL; j++) d[j] = 0.0f;
        }
    }
}

void ck_transpose_f32(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols) {
    for (size_t r0 = 0; r0 < rows; r0 += 16)
        for (size_t c0 = 0; c0 < cols; c0 += 16) {
            size_t r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
            for (size_t r = r0; r < r1; r++)
                for (size_t c = c0; c < c1; c++) dst[c * ldd + r] = src[r * lds + c];
        }
}
