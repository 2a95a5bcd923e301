/* A small fixed-size thread pool: bnc_pool_run runs one function on every
 * thread (the caller is thread 0) and waits for all. Work is partitioned by
 * the callers with fixed ranges, so results never depend on scheduling.
 *
 * A GEMV call on a layer-sized matrix lasts about 100 us, so waking a
 * sleeping thread (a futex round trip, 10-15 us here) is a visible share of
 * it. Threads therefore spin briefly on an atomic generation counter (and the
 * caller on the pending count) before they sleep on the condition variables;
 * the mutex and condition variables keep the sleeping path free of lost
 * wake-ups. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Polls before sleeping: about 20-50 us of spinning. */
#define POOL_SPIN 20000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#include "bnc_gemv.h"

struct bnc_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    _Atomic uint64_t gen;
    _Atomic int pending;
    int stop;
    bnc_pool_fn fn;
    void *arg;
};

typedef struct worker_arg {
    bnc_pool *p;
    int tid;
} worker_arg;

static worker_arg *worker_args(bnc_pool *p) { return (worker_arg *)(void *)(p->th + p->n); }

static void *worker(void *v)
{
    worker_arg *wa = v;
    bnc_pool *p = wa->p;
    uint64_t seen = 0;
    for (;;) {
        for (int i = 0; i < POOL_SPIN && atomic_load_explicit(&p->gen, memory_order_acquire) == seen;
             i++)
            cpu_relax();
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->gen) == seen && !p->stop)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load(&p->gen);
        bnc_pool_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, wa->tid, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int bnc_pool_new(int threads, bnc_pool **out, bnc_err *err)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads < 1 || threads > 1024)
        return bnc_err_set(err, BNC_EINVAL, "pool: bad thread count %d", threads);
    bnc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return bnc_err_set(err, BNC_ENOMEM, "pool: out of memory");
    p->n = threads;
    p->th = calloc((size_t)threads, sizeof(pthread_t) + sizeof(worker_arg));
    if (!p->th) {
        free(p);
        return bnc_err_set(err, BNC_ENOMEM, "pool: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    worker_arg *wa = worker_args(p);
    for (int t = 1; t < threads; t++) {
        wa[t].p = p;
        wa[t].tid = t;
        if (pthread_create(&p->th[t], NULL, worker, &wa[t]) != 0) {
            p->n = t; /* join the ones started */
            bnc_pool_free(p);
            return bnc_err_set(err, BNC_ENOMEM, "pool: cannot start thread %d", t);
        }
    }
    *out = p;
    return 0;
}

void bnc_pool_free(bnc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->n; t++)
        pthread_join(p->th[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
}

int bnc_pool_threads(const bnc_pool *p) { return p ? p->n : 1; }

void bnc_pool_run(bnc_pool *p, bnc_pool_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    for (int i = 0; i < POOL_SPIN && atomic_load_explicit(&p->pending, memory_order_acquire) > 0;
         i++)
        cpu_relax();
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
