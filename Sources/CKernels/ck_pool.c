// Persistent worker pool: a job is published by bumping a generation counter; workers spin on it (with pause)
// for a while, then sleep on a condition variable. Tasks are claimed with a compare-and-swap on a counter that
// carries the job's generation, so a worker that wakes late can never run (or count) a task of the next job.
#include "ck_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CK_POOL_MAX 64
#define CK_POOL_SPINS 200000

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int started;           // workers created
    int wanted;            // threads the next jobs may use, caller included
    _Atomic uint64_t generation;
    _Atomic int sleepers;
    ck_task_fn fn;
    void* context;
    size_t tasks;
    _Atomic uint64_t next;  // (job generation << 32) | next task index: a claim only succeeds for its own job
    _Atomic size_t done;
    _Atomic int active;    // workers allowed to join the current job
    _Atomic int busy;      // a job is running: other (or nested) callers run theirs serially
} ck_pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .started = 0, .wanted = 1};

// Claims and runs tasks of job `job` until none are left. A worker that wakes late, after the caller moved on to
// another job, fails the generation check in the compare-and-swap and runs nothing.
static void ck_pool_work(uint64_t job) {
    ck_task_fn fn = ck_pool.fn;
    void* context = ck_pool.context;
    size_t tasks = ck_pool.tasks;
    uint64_t cur = atomic_load_explicit(&ck_pool.next, memory_order_acquire);
    for (;;) {
        if ((cur >> 32) != (job & 0xFFFFFFFFu) || (cur & 0xFFFFFFFFu) >= tasks) return;
        if (!atomic_compare_exchange_weak_explicit(&ck_pool.next, &cur, cur + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        fn(context, (size_t)(cur & 0xFFFFFFFFu));
        atomic_fetch_add_explicit(&ck_pool.done, 1, memory_order_acq_rel);
        cur = atomic_load_explicit(&ck_pool.next, memory_order_acquire);
    }
}

static void* ck_pool_worker(void* arg) {
    int id = (int)(intptr_t)arg;  // 1-based; the caller is 0
    uint64_t seen = atomic_load_explicit(&ck_pool.generation, memory_order_acquire);
    for (;;) {
        uint64_t g;
        int spins = 0;
        while ((g = atomic_load_explicit(&ck_pool.generation, memory_order_acquire)) == seen) {
            if (++spins < CK_POOL_SPINS) { _mm_pause(); continue; }
            pthread_mutex_lock(&ck_pool.lock);
            atomic_fetch_add(&ck_pool.sleepers, 1);
            while (atomic_load_explicit(&ck_pool.generation, memory_order_acquire) == seen) pthread_cond_wait(&ck_pool.wake, &ck_pool.lock);
            atomic_fetch_sub(&ck_pool.sleepers, 1);
            pthread_mutex_unlock(&ck_pool.lock);
            spins = 0;
        }
        seen = g;
        if (id < atomic_load_explicit(&ck_pool.active, memory_order_acquire)) ck_pool_work(g);
    }
    return NULL;
}

void ck_pool_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > CK_POOL_MAX) threads = CK_POOL_MAX;
    pthread_mutex_lock(&ck_pool.lock);
    while (ck_pool.started < threads - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, ck_pool_worker, (void*)(intptr_t)(ck_pool.started + 1)) != 0) break;
        ck_pool.started++;
    }
    ck_pool.wanted = threads < ck_pool.started + 1 ? threads : ck_pool.started + 1;
    pthread_mutex_unlock(&ck_pool.lock);
}

void ck_pool_run(size_t tasks, ck_task_fn fn, void* context) {
    if (tasks == 0) return;
    // One job at a time: a second caller (tests run concurrently; a task calling back in) runs its own serially.
    if (tasks == 1 || ck_pool.wanted <= 1 || atomic_exchange_explicit(&ck_pool.busy, 1, memory_order_acquire)) {
        for (size_t i = 0; i < tasks; i++) fn(context, i);
        return;
    }
    uint64_t job = atomic_load_explicit(&ck_pool.generation, memory_order_relaxed) + 1;
    ck_pool.fn = fn;
    ck_pool.context = context;
    ck_pool.tasks = tasks;
    atomic_store_explicit(&ck_pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&ck_pool.active, ck_pool.wanted, memory_order_relaxed);
    // Release: a worker that sees this generation also sees fn, context, tasks and the reset counters.
    atomic_store_explicit(&ck_pool.next, (job & 0xFFFFFFFFu) << 32, memory_order_release);
    atomic_store_explicit(&ck_pool.generation, job, memory_order_release);
    if (atomic_load_explicit(&ck_pool.sleepers, memory_order_acquire) > 0) {
        pthread_mutex_lock(&ck_pool.lock);
        pthread_cond_broadcast(&ck_pool.wake);
        pthread_mutex_unlock(&ck_pool.lock);
    }
    ck_pool_work(job);
    while (atomic_load_explicit(&ck_pool.done, memory_order_acquire) < tasks) _mm_pause();
    atomic_store_explicit(&ck_pool.busy, 0, memory_order_release);
}
