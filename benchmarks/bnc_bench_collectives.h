/* bnc bench collectives: allreduce of f32 against compressed allreduce of
 * the same vector, in nccl-tests' columns (size count type redop root,
 * then time algbw busbw #wrong out of place and in place, and the average
 * bus bandwidth), plus one JSON line per size with the bytes on the wire
 * and the relative error of the compressed result against the f32 sum. */
#ifndef BNC_BENCH_COLLECTIVES_H
#define BNC_BENCH_COLLECTIVES_H

#include <stdint.h>
#include <stdio.h>

#include "bnc_ccomm.h"
#include "bnc_coll_store.h"
#include "bnc_comm.h"
#include "bnc_err.h"

typedef struct bnc_bench_coll_opts {
    uint64_t min_bytes, max_bytes; /* -b, -e (defaults 8 B, 1 GiB) */
    double factor;                 /* -f (default 2) */
    int iters, warmup;             /* -n, -w (defaults 20, 5) */
    int check;                     /* -c: count wrong elements (default 1) */
    uint64_t check_max_bytes;      /* sizes above are not checked (default 64 MiB) */
    int algos[BNC_CAR_COUNT];      /* algorithms to run, in this order */
    int nalgos;
    bnc_car_opts car; /* top-k fraction, error feedback */
    bnc_comm_backend backend;
} bnc_bench_coll_opts;

/* One measured size of one algorithm (what --db stores). */
typedef bnc_coll_result bnc_bench_coll_row;

/* Runs the benchmark on every rank of MPI_COMM_WORLD (collective; after
 * MPI_Init). Rank 0 prints the tables and JSON lines to out and, when rows
 * is not NULL, returns the measured rows in *rows (*nrows of them; free()
 * the array). Errors name the rank and the call. */
int bnc_bench_collectives(const bnc_bench_coll_opts *o, FILE *out, bnc_bench_coll_row **rows,
                          size_t *nrows, bnc_err *err);

#endif
