/* The task runtime: runs one task of a kind, in this process or, with a time
 * limit, in a forked child that can be killed. Knows nothing of MPI or
 * protobuf: the coordinator turns a bnc_exec_result into its messages. */
#ifndef BNC_EXEC_H
#define BNC_EXEC_H

#include <stdint.h>

#include "bnc_task.h"

/* What running one task gave. */
typedef struct bnc_exec_result {
    int ok;
    char *error;       /* heap text when !ok (owned), NULL when ok */
    bnc_metrics m;     /* owned copies of the metrics (empty when !ok) */
    double started_at; /* wall-clock seconds */
    double finished_at;
} bnc_exec_result;

/* Runs task (kind, params_json, seed) with the kinds of the list and the
 * context ctx into *r (which must be zeroed or reset by bnc_exec_result_free).
 * timeout_s > 0 runs it in a child process killed past the limit; a crash
 * there fails the task, not the caller. Every failure (unknown kind,
 * malformed parameters, the kind's error, timeout, crash) is recorded in r as
 * a failed task; the function itself cannot fail. */
void bnc_exec_task(const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx, const char *kind,
                   const char *params_json, uint64_t seed, double timeout_s, bnc_exec_result *r);

/* Frees what r owns and zeroes it for reuse; r's buffers may be kept. */
void bnc_exec_result_reset(bnc_exec_result *r);
/* Frees everything r owns. */
void bnc_exec_result_free(bnc_exec_result *r);

#endif
