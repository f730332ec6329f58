// Persistent worker pools: a job is published by bumping the pool's generation counter; its workers spin on it
// (with pause) for a while, then sleep on a condition variable. Tasks are claimed with a compare-and-swap on a
// counter that carries the job's generation, so a worker that wakes late can never run (or count) a task of the
// next job. Pools share nothing, so two executors' jobs never wait for each other.
#include "ck_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define CK_POOL_MAX 64
#define CK_POOL_SPINS 200000

struct ck_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int started;  // workers created
    int threads;  // threads a job uses, caller included
    pthread_t workers[CK_POOL_MAX];
    _Atomic uint64_t generation;
    _Atomic uint64_t next;  // (job generation << 32) | next task index: a claim only succeeds for its own job
    _Atomic size_t done;
    _Atomic int busy;  // a job is running: other (or nested) callers run theirs serially
    // Guarded by lock: the current job, the stop flag and the number of sleeping workers. The caller takes the
    // lock once per job (~20 ns uncontended), which keeps a late worker from pairing one job's generation with
    // another job's task count.
    int sleepers;
    int stop;  // set by ck_pool_destroy
    ck_task_fn fn;
    void* context;
    size_t tasks;
};

// Claims and runs tasks of one job (fn, context, tasks: a consistent snapshot taken under the lock) until none are
// left. A worker that arrives late, after the caller moved on to another job, fails the generation check in the
// compare-and-swap and runs nothing: the caller only moves on once every task of its job was claimed.
static void ck_pool_work(ck_pool* p, uint64_t job, ck_task_fn fn, void* context, size_t tasks) {
    uint64_t cur = atomic_load_explicit(&p->next, memory_order_acquire);
    for (;;) {
        if ((cur >> 32) != (job & 0xFFFFFFFFu) || (cur & 0xFFFFFFFFu) >= tasks) return;
        if (!atomic_compare_exchange_weak_explicit(&p->next, &cur, cur + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        fn(context, (size_t)(cur & 0xFFFFFFFFu));
        atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
        cur = atomic_load_explicit(&p->next, memory_order_acquire);
    }
}

static void* ck_pool_worker(void* arg) {
    ck_pool* p = (ck_pool*)arg;
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            if (++spins < CK_POOL_SPINS) { _mm_pause(); continue; }
            pthread_mutex_lock(&p->lock);
            p->sleepers++;
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) pthread_cond_wait(&p->wake, &p->lock);
            p->sleepers--;
            pthread_mutex_unlock(&p->lock);
            spins = 0;
        }
        // The job's generation and parameters are published together under the lock: read them together.
        pthread_mutex_lock(&p->lock);
        uint64_t g = atomic_load_explicit(&p->generation, memory_order_relaxed);
        ck_task_fn fn = p->fn;
        void* context = p->context;
        size_t tasks = p->tasks;
        int stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop) return NULL;
        seen = g;
        ck_pool_work(p, g, fn, context, tasks);
    }
}

ck_pool* ck_pool_create(int threads) {
    if (threads < 1) threads = 1;
    if (threads > CK_POOL_MAX) threads = CK_POOL_MAX;
    ck_pool* p = calloc(1, sizeof(ck_pool));
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    while (p->started < threads - 1) {
        if (pthread_create(&p->workers[p->started], NULL, ck_pool_worker, p) != 0) break;
        p->started++;
    }
    p->threads = p->started + 1;
    return p;
}

void ck_pool_destroy(ck_pool* p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++) pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int ck_pool_threads(const ck_pool* p) { return p ? p->threads : 1; }

void ck_pool_run(ck_pool* p, size_t tasks, ck_task_fn fn, void* context) {
    if (tasks == 0) return;
    // One job at a time per pool: a second caller (a task calling back in, or two threads sharing an executor)
    // runs its own serially.
    if (!p || tasks == 1 || p->threads <= 1 || atomic_exchange_explicit(&p->busy, 1, memory_order_acquire)) {
        for (size_t i = 0; i < tasks; i++) fn(context, i);
        return;
    }
    pthread_mutex_lock(&p->lock);
    uint64_t job = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    p->fn = fn;
    p->context = context;
    p->tasks = tasks;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->next, (job & 0xFFFFFFFFu) << 32, memory_order_release);
    atomic_store_explicit(&p->generation, job, memory_order_release);
    if (p->sleepers > 0) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    ck_pool_work(p, job, fn, context, tasks);
    while (atomic_load_explicit(&p->done, memory_order_acquire) < tasks) _mm_pause();
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}
