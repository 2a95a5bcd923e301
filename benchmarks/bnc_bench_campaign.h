/* Benchmarks of the campaign machinery: the scheduler's task throughput
 * (no-op tasks through MPI) and the results path's ingest rate (metric rows
 * per second into PostgreSQL), each printed as JSON lines. */
#ifndef BNC_BENCH_CAMPAIGN_H
#define BNC_BENCH_CAMPAIGN_H

#include <stdio.h>

#include "bnc_err.h"
#include "bnc_task.h"

/* Runs `tasks` no-op tasks under the current MPI job (call after MPI_Init
 * on every rank), with and without a database when db_url is not NULL.
 * Rank 0 prints {"bench":"scheduler",...} lines to out. */
int bnc_bench_scheduler(long tasks, const char *db_url, const char *workdir,
                        const bnc_task_kind *const *kinds, FILE *out, bnc_err *err);

/* Loads `tasks` task rows with `metrics` metric rows each through the
 * results sink (COPY into staging, INSERT ... ON CONFLICT) and, in the same
 * run, plain COPY of the same metric rows into an unindexed table, the
 * database's own ceiling. Prints {"bench":"ingest",...} lines to out. */
int bnc_bench_ingest(long tasks, int metrics, const char *db_url, FILE *out, bnc_err *err);

#endif
