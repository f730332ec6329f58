// Sparse (pruned) weights in CSR by output row, times dense activations. Included from CKernels.h.
#ifndef CK_SPARSE_H
#define CK_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y[r·ldy + o] = Σ_{i ∈ [rowptr[o], rowptr[o+1])} vals[i] · x[r·k + cols[i]] for r < rows and o ∈ [o0, o1):
/// x (rows, k) row-major, W (n, k) as CSR (rowptr (n + 1), cols/vals (nnz), k ≤ 65536). Callers split [0, n) into
/// ranges across threads; `scratch` holds ck_spmm_scratch_floats(k) floats per calling thread.
void ck_spmm_csr_f32(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0, size_t o1,
                     const float* x, size_t k, size_t rows, float* y, size_t ldy, float* scratch);
/// Scalar twin (the reference the SIMD paths are tested against).
void ck_spmm_csr_f32_ref(const int32_t* rowptr, const uint16_t* cols, const float* vals, size_t o0, size_t o1,
                         const float* x, size_t k, size_t rows, float* y, size_t ldy, float* scratch);
/// Floats of scratch one call needs.
size_t ck_spmm_scratch_floats(size_t k);

#ifdef __cplusplus
}
#endif
#endif
