// Private helpers shared by the CKernels translation units (not part of the public module).
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "CKernels.h"

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

// SIMD code lives in functions compiled for one ISA each; the target as a whole is built for the
// baseline CPU, and ck_isa() picks the widest level the machine (and COMPRESS_ISA) allows.
// The AVX-512 set names avx2/fma too so AVX2 helpers can inline into AVX-512 functions.
#define CK_AVX2 __attribute__((target("avx2,fma")))
#define CK_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define CK_INLINE static inline __attribute__((always_inline))

// Keeps the compiler from fusing a float multiply and a following add into an FMA (GCC contracts
// across intrinsics by default), which would make SIMD and twin round differently.
#if defined(__x86_64__) || defined(__i386__)
#define CK_NO_CONTRACT_F(v) __asm__("" : "+x"(v))
#define CK_NO_CONTRACT_V(v) __asm__("" : "+v"(v))
#else
#define CK_NO_CONTRACT_F(v) ((void)0)
#define CK_NO_CONTRACT_V(v) ((void)0)
#endif

// The int8 dequantization order every ISA and every int8 kernel (dense and sparse) reproduces:
// ((float)acc · (sa·sb)) + bias, no FMA.
static inline float ck_dequant_one(int32_t acc, float sa, float sb, const float* bias, size_t j) {
    float s = sa * sb;
    float y = (float)acc * s;
    CK_NO_CONTRACT_F(y);
    if (bias) y = y + bias[j];
    return y;
}

// Lane masks for AVX2 tails: ck_avx2_tail_mask_table + 8 - n gives n leading -1 lanes then zeros.
extern const int32_t ck_avx2_tail_mask_table[16];

CK_INLINE CK_AVX2 __m256i ck_avx2_tail_mask(size_t n) {
    return _mm256_loadu_si256((const __m256i*)(ck_avx2_tail_mask_table + 8 - n));
}

CK_INLINE CK_AVX512 __mmask16 ck_avx512_tail_mask(size_t n) {
    return (__mmask16)((1u << n) - 1u);
}

CK_INLINE CK_AVX2 float ck_avx2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

CK_INLINE CK_AVX2 float ck_avx2_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

CK_INLINE CK_AVX2 int32_t ck_avx2_hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

CK_INLINE CK_AVX2 double ck_avx2_hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#endif
