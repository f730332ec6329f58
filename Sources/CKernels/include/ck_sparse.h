// Sparse (pruned) weights times dense activations: fp32 CSR by output row, int8 in blocks of 4 inputs. Included from CKernels.h.
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

/// Blocks of 4 consecutive inputs (groups) of the s8 weight w (n, k) that hold any nonzero: the length of
/// `groups` for ck_b4_pack_s8 (its `values` take 4 per block).
size_t ck_b4_count_blocks(const int8_t* w, size_t n, size_t k);
/// Packs w (n, k) s8 into the "b4" blocked-sparse layout: block_starts (n + 1), groups (blocks, input column / 4,
/// so k ≤ 262144), values (4·blocks, zeros where a block is partly pruned), colsum (n) = Σ of each output's weights.
void ck_b4_pack_s8(const int8_t* w, size_t n, size_t k, int32_t* block_starts, uint16_t* groups, int8_t* values,
                   int32_t* colsum);
/// The sparse twin of ck_gemm_u8s8_f32 on a b4-packed weight, bit for bit equal to it: for r < rows, o ∈ [o0, o1),
/// y[r·ldy + o] = ((float)(Σ a·w − a_zp[r]·colsum[o]) · (a_scale[r]·b_scale[o])) + bias[o].
/// a (rows, k) u8 codes (ck_quantize_rows_u8), a_zp (rows) /*nullable: 0*/, bias (n) /*nullable*/.
/// Callers split [0, n) across threads; `scratch` holds ck_spmm_b4_scratch_bytes(k) bytes per calling thread.
void ck_spmm_b4_u8s8_f32(const int32_t* block_starts, const uint16_t* groups, const int8_t* values,
                         const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k, size_t rows,
                         const float* a_scale, const int32_t* a_zp, const float* b_scale, const float* bias,
                         float* y, size_t ldy, void* scratch);
/// Scalar twin.
void ck_spmm_b4_u8s8_f32_ref(const int32_t* block_starts, const uint16_t* groups, const int8_t* values,
                             const int32_t* colsum, size_t o0, size_t o1, const uint8_t* a, size_t k, size_t rows,
                             const float* a_scale, const int32_t* a_zp, const float* b_scale, const float* bias,
                             float* y, size_t ldy, void* scratch);
/// Bytes of scratch one call needs.
size_t ck_spmm_b4_scratch_bytes(size_t k);

#ifdef __cplusplus
}
#endif
#endif
