/* The interface every task kind implements (one executor per file in
 * worker/, federated runs and training jobs plug in the same way). The
 * caller (cli/) assembles the list of kinds and passes it to the planner and
 * the scheduler, so there is no global registry. */
#ifndef BNC_TASK_H
#define BNC_TASK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

typedef struct bnc_metric {
    char name[64];
    char unit[16];
    double value;
} bnc_metric;

/* Metrics a task returns; bnc_metrics_add copies name and unit. */
typedef struct bnc_metrics {
    bnc_metric *v;
    size_t n, cap;
} bnc_metrics;
int bnc_metrics_add(bnc_metrics *m, const char *name, double value, const char *unit);
void bnc_metrics_reset(bnc_metrics *m);
void bnc_metrics_free(bnc_metrics *m);

/* Where a task runs. */
typedef struct bnc_task_ctx {
    int rank;
    int local_rank;
    int threads; /* threads the task may use */
    int gpu;     /* device index, -1 for CPU */
    const char *host;
    const char *spec_dir;  /* directory of the campaign spec, for relative paths */
    const json_t *tensors; /* the spec's `tensors:` map (synthetic tensors) */
    const json_t *models;  /* the spec's `models:` map */
    /* Per-process cache of open model files (a bnc_mcache *, owned by
     * whoever runs the tasks and used by one thread), or NULL: whole-model
     * kinds then open the file for every task. */
    void *cache;
} bnc_task_ctx;

typedef struct bnc_task_kind {
    const char *name;
    /* Checks one expanded parameter set at plan time; names the bad key.
     * ctx gives the spec's tensors/models so references can be checked. */
    int (*validate)(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err);
    /* Relative cost estimate used to order the queue (largest first). */
    double (*cost)(const json_t *params, const bnc_task_ctx *ctx);
    /* Runs the task; metrics go to out. Deterministic for (params, seed). */
    int (*run)(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err);
} bnc_task_kind;

/* Finds name in a NULL-terminated list of kinds. */
const bnc_task_kind *bnc_task_kind_find(const bnc_task_kind *const *kinds, const char *name);

#endif
