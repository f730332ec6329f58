// A persistent worker pool for the fine-grained parallel loops of batch-1 inference. Included from CKernels.h.
#ifndef CK_POOL_H
#define CK_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ck_task_fn)(void* context, size_t index);

/// Runs fn(context, i) for i in [0, tasks) on the calling thread plus the pool's workers; returns when all are done.
/// Workers spin for a short while after each job before sleeping, so back-to-back parallel regions (about 50 per
/// MiniLM sentence) cost well under a microsecond to start instead of tens of microseconds.
/// Not reentrant: a task must not call ck_pool_run.
void ck_pool_run(size_t tasks, ck_task_fn fn, void* context);
/// Sets the number of threads used (the caller counts as one); 1 runs everything on the caller.
void ck_pool_set_threads(int threads);

#ifdef __cplusplus
}
#endif
#endif
