/* Expanding a spec into tasks with stable ids. A task's id is the hash of
 * (campaign, kind, canonical parameters, seed), so rerunning a campaign
 * finds the tasks it already stored. */
#ifndef BNC_PLAN_H
#define BNC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_spec.h"
#include "bnc_task.h"

typedef struct bnc_plan_task {
    char id[33];
    const char *kind;  /* points into the spec */
    char *params_json; /* canonical JSON: sorted keys, compact */
    uint64_t seed;
    double cost; /* the kind's estimate, for ordering */
    double timeout_s;
    int group; /* index of the spec group */
} bnc_plan_task;

typedef struct bnc_plan {
    bnc_plan_task *tasks;
    size_t n;
} bnc_plan;

/* Canonical form of params: compact JSON with sorted keys (caller frees). */
char *bnc_params_canonical(const json_t *params);
/* The task id for (campaign, kind, params_json, seed) into id[33]. */
void bnc_task_id(const char *campaign, const char *kind, const char *params_json, uint64_t seed,
                 char id[33]);

/* Default for bnc_plan_check_size (bnc campaign run --max-tasks raises it). */
#define BNC_PLAN_MAX_TASKS 10000000ULL

/* Counts the tasks spec would expand to without expanding it (grid product
 * plus include, times repetitions and seeds; exclude is not subtracted, so
 * this is an upper bound) into *count (may be NULL). BNC_EINVAL naming file,
 * line and the keys that multiply when the count exceeds max_tasks (0: the
 * default). Takes microseconds, whatever the count. */
int bnc_plan_check_size(const bnc_spec *spec, uint64_t max_tasks, uint64_t *count, bnc_err *err);

/* Expands every group of spec (grid product, minus exclude, plus include)
 * times seeds and repetitions, validates each parameter set with its kind
 * (from kinds; unknown kind is an error naming file and line) and sorts by
 * cost, largest first (ties by id, so the order is reproducible). */
int bnc_plan_build(const bnc_spec *spec, const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx,
                   bnc_plan *out, bnc_err *err);
void bnc_plan_free(bnc_plan *p);

#endif
