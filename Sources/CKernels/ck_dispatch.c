// Run-time ISA selection: cpuid once, then a cached level that COMPRESS_ISA and ck_set_isa_cap can lower.
#include "ck_internal.h"

#include <stdlib.h>
#include <string.h>

const int32_t ck_avx2_tail_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// -1 = not computed yet. Plain int with relaxed atomics: racing first calls compute the same value.
static int ck_detected = -1;
static int ck_env_cap = -1;
// The programmatic cap is per thread: tests compare SIMD paths with their twins by capping their own thread,
// while other tests (and the pool's workers) keep running at full width in the same process.
static _Thread_local int ck_user_cap = -1;  // < 0: none
static int ck_current = -1;                 // detected ∧ COMPRESS_ISA, shared by all threads

static int ck_detect(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    // __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CK_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CK_ISA_AVX2;
#endif
    return CK_ISA_SCALAR;
}

static int ck_parse_env(void) {
    const char* s = getenv("COMPRESS_ISA");
    if (!s || !*s) return CK_ISA_AVX512;
    if (!strcmp(s, "scalar")) return CK_ISA_SCALAR;
    if (!strcmp(s, "avx2")) return CK_ISA_AVX2;
    return CK_ISA_AVX512;  // "avx512" or anything unknown: no cap
}

static int ck_recompute(void) {
    int d = __atomic_load_n(&ck_detected, __ATOMIC_RELAXED);
    if (d < 0) {
        d = ck_detect();
        __atomic_store_n(&ck_detected, d, __ATOMIC_RELAXED);
    }
    int e = __atomic_load_n(&ck_env_cap, __ATOMIC_RELAXED);
    if (e < 0) {
        e = ck_parse_env();
        __atomic_store_n(&ck_env_cap, e, __ATOMIC_RELAXED);
    }
    int level = d < e ? d : e;
    __atomic_store_n(&ck_current, level, __ATOMIC_RELAXED);
    return level;
}

int ck_isa(void) {
    int level = __atomic_load_n(&ck_current, __ATOMIC_RELAXED);
    if (level < 0) level = ck_recompute();
    return ck_user_cap >= 0 && ck_user_cap < level ? ck_user_cap : level;
}

int ck_isa_detected(void) {
    ck_isa();
    return __atomic_load_n(&ck_detected, __ATOMIC_RELAXED);
}

int ck_set_isa_cap(int level) {
    ck_user_cap = level;
    return ck_isa();
}

const char* ck_isa_name(int level) {
    switch (level) {
    case CK_ISA_AVX512: return "avx512";
    case CK_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}
