// Allocator tuning for processes that reallocate the same large buffers every step (see ck_pool.h).
#include "ck_internal.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int ck_keep_freed_memory(void) {
#if defined(__GLIBC__)
    // 32 MB is the largest mmap threshold glibc accepts on 64-bit; a fixed value also stops its dynamic adjustment.
    return mallopt(M_MMAP_THRESHOLD, 32 << 20) && mallopt(M_TRIM_THRESHOLD, 512 << 20);
#else
    return 0;
#endif
}
