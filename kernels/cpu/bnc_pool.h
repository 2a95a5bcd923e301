/* A small thread pool for the kernels (included by bnc_gemv.h), and the
 * thread count a process should use. */
#ifndef BNC_POOL_H
#define BNC_POOL_H

#include <stddef.h>

#include "bnc_err.h"

typedef struct bnc_pool bnc_pool;
/* Work item: called once on each of nthreads threads with tid 0..n-1
 * (tid 0 is the calling thread). */
typedef void (*bnc_pool_fn)(void *arg, int tid, int nthreads);

/* Starts threads-1 workers (threads >= 1; 0 means bnc_pool_default_threads()).
 * Free with bnc_pool_free. BNC_EINVAL, BNC_ENOMEM. */
int bnc_pool_new(int threads, bnc_pool **out, bnc_err *err);
/* Stops and joins the workers; NULL is a no-op. */
void bnc_pool_free(bnc_pool *p);
int bnc_pool_threads(const bnc_pool *p);
/* Runs fn on every thread and returns when all have finished. A NULL pool
 * runs fn(arg, 0, 1) on the caller. */
void bnc_pool_run(bnc_pool *p, bnc_pool_fn fn, void *arg);

/* Work that reads fewer bytes than this runs on the calling thread alone:
 * below it a second thread does not pay for itself. Measured on the 2-vCPU
 * Sapphire Rapids VM (load average 8-15 from other jobs), bitnet and q8_0
 * GEMV with 2048 columns, 1 vs 2 threads, median of 41 interleaved pairs
 * (table in docs/kernels.md, "Thread pool"): below 4 MiB two threads were
 * 1.05-1.20x faster with the second core free and 0.77-1.18x with it kept
 * busy (q8_0 2.2 MB: 0.77); from 4 MiB on, 1.00-1.14x free and 0.94-1.22x
 * busy. */
#ifndef BNC_POOL_MIN_BYTES /* -D only to measure the crossover again */
#define BNC_POOL_MIN_BYTES ((size_t)4 << 20)
#endif

/* Runs fn(arg, t, ntasks) once for each task t in 0..ntasks-1 (ntasks >= 1)
 * and returns when all have finished. The caller runs tasks too and takes
 * every task no worker has claimed, so a worker that is slow to wake (its
 * core busy) costs at most the task it holds. fn must give the same
 * results whichever thread runs a task (a fixed partition by t). With a NULL
 * pool, one thread, or work_bytes below BNC_POOL_MIN_BYTES, runs
 * fn(arg, 0, 1) on the caller. */
void bnc_pool_run_tasks(bnc_pool *p, bnc_pool_fn fn, void *arg, int ntasks, size_t work_bytes);

/* The thread count for this process: BNC_THREADS when set (1..1024), else
 * the online CPUs divided among the MPI ranks on this node
 * (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS), at least one: when ranks
 * share cores each rank uses one thread. A bad BNC_THREADS is BNC_EINVAL. */
int bnc_threads_default(int *out, bnc_err *err);

#endif
