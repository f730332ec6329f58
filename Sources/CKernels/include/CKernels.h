// CKernels: hot loops for `compress`, each with a scalar reference twin (`*_ref`).
//
// Conventions
// - Every name is prefixed `ck_`. Matrices are row-major; shapes are stated as (rows, cols).
// - Each public kernel dispatches at run time to AVX-512, AVX2+FMA or scalar code (see ck_isa()).
//   The `*_ref` twin is the plain C version; tests compare the two (integer kernels bit-exactly).
// - No threads here: kernels take row counts (callers offset the pointers) or column ranges
//   [n0, n1) so Swift can split one call across threads. Calls on disjoint ranges never race.
// - Nullable pointers are marked /*nullable*/; everything else must be valid.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - ISA selection

/// Instruction-set levels, in increasing order.
enum {
    CK_ISA_SCALAR = 0,
    CK_ISA_AVX2 = 1,   // AVX2 + FMA
    CK_ISA_AVX512 = 2, // AVX-512 F/BW/VL/DQ + VNNI
};

/// The level kernels use now: min(hardware level, COMPRESS_ISA cap, ck_set_isa_cap cap). Cached.
/// COMPRESS_ISA accepts `scalar`, `avx2`, `avx512` (read once, at first use).
int ck_isa(void);
/// The widest level this CPU (and OS) supports, ignoring caps.
int ck_isa_detected(void);
/// Caps the level for the calling thread only (e.g. CK_ISA_SCALAR in tests); a negative value removes the
/// cap (the process-wide COMPRESS_ISA cap still applies). Returns the resulting ck_isa(). Kernels run by the
/// worker pool on other threads are not affected.
int ck_set_isa_cap(int level);
/// "scalar", "avx2" or "avx512".
const char* ck_isa_name(int level);

// MARK: - fp32 elementwise and row kernels (in place)

/// x = gelu(x + bias) with exact erf GELU, 0.5·v·(1 + erf(v/√2)).
/// x: (rows, cols); bias: (cols) /*nullable*/.
/// SIMD erf: ONNX Runtime MLAS / njuffa split polynomial (≈1 ulp); ref uses libm erff.
void ck_bias_gelu_f32(float* x, const float* bias, size_t rows, size_t cols);
void ck_bias_gelu_f32_ref(float* x, const float* bias, size_t rows, size_t cols);

/// x = max(x + bias, 0). x: (rows, cols); bias: (cols) /*nullable*/.
void ck_bias_relu_f32(float* x, const float* bias, size_t rows, size_t cols);
void ck_bias_relu_f32_ref(float* x, const float* bias, size_t rows, size_t cols);

/// x += bias. x: (rows, cols); bias: (cols) /*nullable: no-op*/.
void ck_bias_add_f32(float* x, const float* bias, size_t rows, size_t cols);
void ck_bias_add_f32_ref(float* x, const float* bias, size_t rows, size_t cols);

/// x = 1 / (1 + exp(-x)). x: (n). Outputs below ~1e-38 flush to 0.
void ck_sigmoid_f32(float* x, size_t n);
void ck_sigmoid_f32_ref(float* x, size_t n);

/// x = tanh(x). x: (n). Cephes polynomial for |x| < 0.625, 1 - 2/(e^{2|x|}+1) above.
void ck_tanh_f32(float* x, size_t n);
void ck_tanh_f32_ref(float* x, size_t n);

/// x = max(x, 0). x: (n).
void ck_relu_f32(float* x, size_t n);
void ck_relu_f32_ref(float* x, size_t n);

/// x = exp(x). x: (n). Cephes range reduction + degree-6 polynomial (≈1 ulp); results below
/// ~1e-38 (x < -87.3) flush to 0, x > 88 saturates to exp(88).
void ck_exp_f32(float* x, size_t n);
void ck_exp_f32_ref(float* x, size_t n);

/// Per row: v = x + bias + residual (in that order), x = (v - mean(v)) / sqrt(var(v) + eps) · gamma + beta.
/// Two-pass mean/variance (biased variance, like torch LayerNorm).
/// x: (rows, cols); residual: (rows, cols) /*nullable*/; bias, gamma, beta: (cols), bias /*nullable*/.
void ck_add_layernorm_f32(float* x, const float* residual, const float* bias, const float* gamma,
                          const float* beta, float eps, size_t rows, size_t cols);
void ck_add_layernorm_f32_ref(float* x, const float* residual, const float* bias, const float* gamma,
                              const float* beta, float eps, size_t rows, size_t cols);

/// Per row: x[r] = softmax(scale · x[r] + key_bias). x: (rows, cols); key_bias: (cols) /*nullable*/,
/// additive (0 for keep, a large negative number or -inf for padding). A row whose every entry is
/// -inf becomes all zeros.
void ck_softmax_rows_f32(float* x, size_t rows, size_t cols, float scale, const float* key_bias);
void ck_softmax_rows_f32_ref(float* x, size_t rows, size_t cols, float scale, const float* key_bias);

/// Per row: x[r] /= max(||x[r]||₂, eps) (torch.nn.functional.normalize). x: (rows, cols). Scalar.
void ck_l2_normalize_rows_f32(float* x, size_t rows, size_t cols, float eps);

/// out[c] = Σ_r mask[r]·x[r,c] / max(Σ_r mask[r], 1e-9) (sentence-transformers mean pooling; with a
/// 0/1 mask it is the mean over tokens whose mask is non-zero). x: (rows, cols); mask: (rows)
/// /*nullable: all ones*/; out: (cols). Scalar, double accumulation.
void ck_masked_mean_rows_f32(const float* x, const float* mask, size_t rows, size_t cols, float* out);

// MARK: - int8: dynamic activation quantization

/// Asymmetric per-row u8 quantization (ONNX DynamicQuantizeLinear per row):
///   lo = min(0, min x[r]), hi = max(0, max x[r]), scale = (hi - lo) / 255 (1 if hi == lo),
///   zero_point = clamp(nearbyintf(-lo / scale), 0, 255),
///   q = clamp(nearbyintf(x · (1/scale)) + zero_point, 0, 255).
/// Rounding is round-half-to-even (nearbyintf in the default FP mode); SIMD matches the twin exactly.
/// x: (rows, k); q: (rows, k); scale, zero_point: (rows).
void ck_quantize_rows_u8(const float* x, size_t rows, size_t k, uint8_t* q, float* scale, int32_t* zero_point);
void ck_quantize_rows_u8_ref(const float* x, size_t rows, size_t k, uint8_t* q, float* scale, int32_t* zero_point);

/// Static asymmetric u8 quantization with one calibrated scale and zero point for all n values:
///   q = clamp(nearbyintf(clamp(x · (1/scale), -512, 512)) + zero_point, 0, 255). SIMD matches the twin exactly.
void ck_quantize_u8_fixed(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q);
void ck_quantize_u8_fixed_ref(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q);
/// Symmetric per-row s8 quantization: scale = max|x[r]| / 127 (1 if 0),
/// q = clamp(nearbyintf(x · (1/scale)), -127, 127). Also the per-output-channel weight quantizer.
/// x: (rows, k); q: (rows, k); scale: (rows).
void ck_quantize_rows_s8(const float* x, size_t rows, size_t k, int8_t* q, float* scale);
void ck_quantize_rows_s8_ref(const float* x, size_t rows, size_t k, int8_t* q, float* scale);

/// out = (q - zero_point[r]) · scale[r]. q, out: (rows, k); scale, zero_point: (rows).
void ck_dequantize_rows_u8(const uint8_t* q, const float* scale, const int32_t* zero_point, size_t rows, size_t k,
                           float* out);
/// out = q · scale[r]. q, out: (rows, k); scale: (rows).
void ck_dequantize_rows_s8(const int8_t* q, const float* scale, size_t rows, size_t k, float* out);

// MARK: - int8: u8 × s8 GEMM with packed weights

/// Packed-weight layout (opaque to callers; described for debugging):
///   64-byte header {magic 'CKB8', n, k, flags} | colsum int32[n_pad] | data int8[n_pad/16][k_pad/4][16][4]
/// with n_pad = roundup(n, 16), k_pad = roundup(k, 4), zero padding; colsum[j] = Σ_k w[j,k].
/// data[nb][g][j][t] = w[nb·16 + j, 4g + t]: the order vpdpbusd consumes.
/// Bytes needed for the packed form of W (n, k). Allocate 64-byte aligned for best speed.
size_t ck_packed_b_size(size_t n, size_t k);
/// Packs W: (n, k) row-major int8 (torch Linear layout: out × in) into `packed` (ck_packed_b_size bytes).
/// Weights may use the full int8 range, but a −128 anywhere sends AVX2-only CPUs down the scalar path
/// (their sign trick cannot negate it); ck_quantize_rows_s8 never produces −128.
void ck_pack_b_s8(const int8_t* w, size_t n, size_t k, void* packed);

/// Raw integer GEMM over columns [n0, n1):
///   c[i, j] = Σ_k a[i, k]·w[j, k] − (a_zp ? a_zp[i]·colsum[j] : 0)
/// a: (m, k) u8, row stride lda; a_zp: (m) /*nullable*/; c: (m, ldc) int32, only columns [n0, n1)
/// are written. n, k must equal the values given to ck_pack_b_s8. Exact: every ISA matches the twin.
void ck_gemm_u8s8_s32(const uint8_t* a, size_t lda, const int32_t* a_zp, const void* packed_b, int32_t* c,
                      size_t ldc, size_t m, size_t n, size_t k, size_t n0, size_t n1);
void ck_gemm_u8s8_s32_ref(const uint8_t* a, size_t lda, const int32_t* a_zp, const void* packed_b, int32_t* c,
                          size_t ldc, size_t m, size_t n, size_t k, size_t n0, size_t n1);

/// GEMM with fused dequantization over columns [n0, n1):
///   c[i, j] = ((float)(Σ_k a[i,k]·w[j,k] − a_zp[i]·colsum[j]) · (a_scale[i]·b_scale[j])) + bias[j]
/// evaluated in exactly that order (no FMA), so every ISA matches the twin bit for bit.
/// a: (m, k) u8, stride lda; a_scale, a_zp: (m); b_scale: (n); bias: (n) /*nullable*/;
/// c: (m, ldc) fp32. Typical call: ck_quantize_rows_u8 → ck_gemm_u8s8_f32.
void ck_gemm_u8s8_f32(const uint8_t* a, size_t lda, const float* a_scale, const int32_t* a_zp,
                      const void* packed_b, const float* b_scale, const float* bias, float* c, size_t ldc,
                      size_t m, size_t n, size_t k, size_t n0, size_t n1);
void ck_gemm_u8s8_f32_ref(const uint8_t* a, size_t lda, const float* a_scale, const int32_t* a_zp,
                          const void* packed_b, const float* b_scale, const float* bias, float* c, size_t ldc,
                          size_t m, size_t n, size_t k, size_t n0, size_t n1);

// MARK: - int4 weight-only (group size 32, symmetric)

#define CK_Q4_GROUP 32

/// 32 weights along K sharing one scale: w = d · (q − 8), q ∈ [0, 15].
/// qs[j] holds element j in its low nibble and element j + 16 in its high nibble (ggml q4_0 order).
/// Larger group sizes are not expressed; 32 is the accuracy/speed point ggml and llama.cpp use.
typedef struct {
    float d;         // scale
    uint8_t qs[16];  // 32 × 4-bit codes
} ck_block_q4;
#ifdef __cplusplus
static_assert(sizeof(ck_block_q4) == 20, "ck_block_q4 must be 20 bytes");
#else
_Static_assert(sizeof(ck_block_q4) == 20, "ck_block_q4 must be 20 bytes");
#endif

/// Blocks per row of K elements: ceil(k / 32). Rows are padded with zeros to a whole block.
size_t ck_q4_blocks_per_row(size_t k);

/// Quantizes W: (rows, k) fp32 into blocks: (rows, ck_q4_blocks_per_row(k)).
/// Per block: m = the element of largest magnitude, d = m / −8, q = clamp(nearbyintf(x/d) + 8, 0, 15)
/// (so m maps to code 0 exactly and the full 16-level range is used, as in ggml q4_0).
void ck_quantize_q4_ref(const float* w, size_t rows, size_t k, ck_block_q4* out);

/// out: (rows, k) = dequantized blocks (rows, ck_q4_blocks_per_row(k)).
void ck_dequantize_q4(const ck_block_q4* blocks, size_t rows, size_t k, float* out);

/// c[i, j] = Σ_k a[i, k] · dequant(w)[j, k] + bias[j] over columns [n0, n1), dequantizing on the fly.
/// a: (m, k) fp32, stride lda; w: (n, ck_q4_blocks_per_row(k)) blocks; bias: (n) /*nullable*/;
/// c: (m, ldc). Fast for small m (token-by-token decoding, batch-1 encoders); for large m prefer
/// ck_dequantize_q4 once and a BLAS sgemm. Float sums: SIMD matches the twin to ~1e-6 relative.
void ck_gemm_q4_f32(const float* a, size_t lda, const ck_block_q4* w, const float* bias, float* c, size_t ldc,
                    size_t m, size_t n, size_t k, size_t n0, size_t n1);
void ck_gemm_q4_f32_ref(const float* a, size_t lda, const ck_block_q4* w, const float* bias, float* c,
                        size_t ldc, size_t m, size_t n, size_t k, size_t n0, size_t n1);

#include "ck_sgemm.h"
#include "ck_attention.h"
#include "ck_backward.h"
#include "ck_pool.h"
#include "ck_optim.h"
#include "ck_conv_train.h"
#include "ck_gemm_train.h"
#include "ck_sparse.h"

#ifdef __cplusplus
}
#endif

#endif  // CKERNELS_H
