// Persistent worker pools for the fine-grained parallel loops of batch-1 inference. Included from CKernels.h.
// A pool belongs to one executor (Swift `Executor`): two executors own two pools and run side by side.
#ifndef CK_POOL_H
#define CK_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ck_task_fn)(void* context, size_t index);

/// An opaque pool of worker threads (the calling thread counts as one of its threads).
typedef struct ck_pool ck_pool;

/// Creates a pool that runs jobs on `threads` threads in all: the caller plus threads − 1 workers (clamped to
/// 1…64). Returns NULL only when memory runs out; a pool whose workers could not all be started runs with fewer.
ck_pool* ck_pool_create(int threads);
/// Stops and joins the workers, then frees the pool. No job may be running.
void ck_pool_destroy(ck_pool* pool);
/// Threads a job may use, the caller included.
int ck_pool_threads(const ck_pool* pool);
/// Runs fn(context, i) for i in [0, tasks) on the calling thread plus the pool's workers; returns when all are done.
/// Workers spin for a short while after each job before sleeping, so back-to-back parallel regions (about 50 per
/// MiniLM sentence) cost well under a microsecond to start instead of tens of microseconds.
/// Thread-safe: while one caller's job runs, another caller (or a task calling back in) runs its tasks serially.
void ck_pool_run(ck_pool* pool, size_t tasks, ck_task_fn fn, void* context);

/// Keeps freed blocks of up to 32 MB in the process heap for reuse instead of returning them to the OS (glibc:
/// mallopt M_MMAP_THRESHOLD = 32 MB, M_TRIM_THRESHOLD = 512 MB; elsewhere a no-op). For training, which frees and
/// reallocates the same activations every step. Process wide and one-way. Returns 1 when applied.
int ck_keep_freed_memory(void);

#ifdef __cplusplus
}
#endif
#endif
