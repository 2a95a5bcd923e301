/* A small fixed-size thread pool (see bnc_pool.h).
 *
 * A job is a set of tasks claimed one at a time from an atomic counter; the
 * caller claims too and takes every task left, so results never depend on
 * scheduling (callers partition by task number) and a worker that does not
 * run soon (its core busy with another process) delays the job by at most
 * the one task it claimed. After a job a worker spins briefly, since layer
 * GEMVs come back to back, yielding the core between polls so a process
 * sharing the core is not starved; then it sleeps on a condition variable.
 * The caller signals only when a worker sleeps. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "bnc_pool.h"

/* Polls before a worker sleeps (each a pause, every 64th a sched_yield):
 * about 20-50 us of spinning when the core is free. */
#define POOL_SPIN 20000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct bnc_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start;
    /* The job: number << 32 | task count << 16 | next task to claim. One
     * word, so a worker that saw an old job can never claim in a new one
     * by an old count. */
    _Atomic uint64_t job;
    _Atomic int left;     /* tasks of the job not finished */
    _Atomic int sleepers; /* workers waiting on start */
    _Atomic int stop;
    bnc_pool_fn fn;
    void *arg;
};

/* Claims and runs tasks of the current job until none is left. */
static void run_claimed(bnc_pool *p)
{
    uint64_t v = atomic_load_explicit(&p->job, memory_order_acquire);
    for (;;) {
        int nt = (int)(v >> 16 & 0xffff), t = (int)(v & 0xffff);
        if (t >= nt) return;
        if (!atomic_compare_exchange_weak_explicit(&p->job, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        /* fn and arg stay until this task is done: the caller waits for it */
        p->fn(p->arg, t, nt);
        atomic_fetch_sub_explicit(&p->left, 1, memory_order_release);
        v = atomic_load_explicit(&p->job, memory_order_acquire);
    }
}

static uint64_t job_gen(bnc_pool *p)
{
    /* seq_cst, as the store that publishes a job: with the sleepers count
     * this is a store-load handshake, so a wake-up is never lost */
    return atomic_load(&p->job) >> 32;
}

static void *worker(void *v)
{
    bnc_pool *p = v;
    uint64_t seen = 0;
    for (;;) {
        int i = 0;
        for (; i < POOL_SPIN && job_gen(p) == seen; i++) {
            cpu_relax();
            if ((i & 63) == 63) sched_yield();
        }
        if (i == POOL_SPIN) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (job_gen(p) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->start, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = job_gen(p);
        run_claimed(p);
    }
}

int bnc_pool_new(int threads, bnc_pool **out, bnc_err *err)
{
    if (threads == 0) {
        int rc = bnc_threads_default(&threads, err);
        if (rc) return rc;
    }
    if (threads < 1 || threads > 1024)
        return bnc_err_set(err, BNC_EINVAL, "pool: bad thread count %d", threads);
    bnc_pool *p = calloc(1, sizeof *p);
    if (!p) return bnc_err_set(err, BNC_ENOMEM, "pool: out of memory");
    p->n = threads;
    p->th = calloc((size_t)threads, sizeof(pthread_t));
    if (!p->th) {
        free(p);
        return bnc_err_set(err, BNC_ENOMEM, "pool: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    for (int t = 1; t < threads; t++)
        if (pthread_create(&p->th[t], NULL, worker, p) != 0) {
            p->n = t; /* join the ones started */
            bnc_pool_free(p);
            return bnc_err_set(err, BNC_ENOMEM, "pool: cannot start thread %d", t);
        }
    *out = p;
    return 0;
}

void bnc_pool_free(bnc_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->job, (uint64_t)1 << 32);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->n; t++)
        pthread_join(p->th[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    free(p->th);
    free(p);
}

int bnc_pool_threads(const bnc_pool *p)
{
    return p ? p->n : 1;
}

static void run_job(bnc_pool *p, bnc_pool_fn fn, void *arg, int ntasks)
{
    /* No task of the previous job is running: its caller waited for all. */
    p->fn = fn;
    p->arg = arg;
    if (ntasks > 0xffff) ntasks = 0xffff;
    atomic_store_explicit(&p->left, ntasks, memory_order_relaxed);
    uint64_t gen = (atomic_load(&p->job) >> 32) + 1;
    atomic_store(&p->job, gen << 32 | (uint64_t)ntasks << 16);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->mu);
    }
    run_claimed(p);
    /* Only tasks a worker claimed are left; each is running now. */
    for (unsigned i = 1; atomic_load_explicit(&p->left, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if ((i & 255) == 0) sched_yield();
    }
}

void bnc_pool_run(bnc_pool *p, bnc_pool_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    run_job(p, fn, arg, p->n);
}

void bnc_pool_run_tasks(bnc_pool *p, bnc_pool_fn fn, void *arg, int ntasks, size_t work_bytes)
{
    if (!p || p->n == 1 || ntasks <= 1 || work_bytes < BNC_POOL_MIN_BYTES) {
        fn(arg, 0, 1);
        return;
    }
    run_job(p, fn, arg, ntasks);
}

static long env_long(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end ? -1 : v;
}

int bnc_threads_default(int *out, bnc_err *err)
{
    const char *t = getenv("BNC_THREADS");
    if (t && *t) {
        long v = env_long("BNC_THREADS");
        if (v < 1 || v > 1024)
            return bnc_err_set(err, BNC_EINVAL, "BNC_THREADS=%s: not a thread count (1..1024)", t);
        *out = (int)v;
        return 0;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    long ranks = env_long("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (ranks < 1) ranks = env_long("MPI_LOCALNRANKS");
    if (ranks < 1) ranks = 1;
    long n = cpus / ranks;
    *out = n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
    return 0;
}
