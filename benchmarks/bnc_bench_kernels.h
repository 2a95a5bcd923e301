/* `bnc bench kernels`: quantize and GEMV throughput of the kernels against
 * the machine's streaming read bandwidth measured in the same run with the
 * same thread count. One JSON object per line; a short table at the end
 * (lines starting with '#'). */
#ifndef BNC_BENCH_KERNELS_H
#define BNC_BENCH_KERNELS_H

#include <stdio.h>

#include "bnc_err.h"

typedef struct bnc_bench_kernels_opts {
    int quick;           /* small shapes and footprint, a few seconds (CI) */
    int max_threads;     /* threads 1..max_threads (0: online CPUs) */
    const char *schemes; /* comma-separated GEMV schemes (NULL: all) */
    const char *isas;    /* comma-separated ISAs (NULL: bnc_isa_select's) */
    const char *shapes;  /* comma-separated RxC (NULL: the default set) */
    long footprint_mb;   /* bytes rotated over (0: 2 x LLC, at least 256 MiB, at most 1 GiB) */
    int batch;           /* activations per GEMV (1) */
    double min_seconds;  /* per timed repetition (0: 0.005, quick 0.002) */
    int reps;            /* timed repetitions, best kept (0: 20, quick 3) */
} bnc_bench_kernels_opts;

/* Runs the benchmark, printing JSON lines and then the table to out.
 * Fails with BNC_EINVAL for a bad option, BNC_ENOMEM, or a kernel's error. */
int bnc_bench_kernels(const bnc_bench_kernels_opts *o, FILE *out, bnc_err *err);

#endif
