/* Rows of `bnc bench collectives --db`: the one place that names the
 * columns of collective_runs and collective_results. */
#ifndef BNC_COLL_STORE_H
#define BNC_COLL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_db.h"
#include "bnc_err.h"

/* One measured size of one algorithm. */
typedef struct bnc_coll_result {
    const char *algo;
    uint64_t bytes, count;
    double time_us[2], algbw[2], busbw[2]; /* [0] out of place, [1] in place */
    int64_t wrong[2];                      /* -1: not checked */
    uint64_t wire_bytes, f32_wire_bytes;
    double rel_error; /* NaN when not checked */
} bnc_coll_result;

/* Stores one run (backend name, rank count, environment JSON) and its n
 * rows with COPY in one transaction; sets *run_id (may be NULL). BNC_EDB
 * naming the statement, with nothing stored. */
int bnc_coll_store(PGconn *c, const char *backend, int ranks, const char *environment_json,
                   const bnc_coll_result *rows, size_t n, long long *run_id, bnc_err *err);

#endif
