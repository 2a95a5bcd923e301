/* Multiple-choice knapsack for mixed-precision quantization: every group (a
 * tensor) takes exactly one of its options (a scheme), each with an integer
 * cost (bits) and an error (sum of squared error); minimise the total error
 * subject to total cost <= cap. A greedy heuristic and an exact solver. */
#ifndef BNC_MCK_H
#define BNC_MCK_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

/* Cost of an option a group cannot take (a scheme that cannot hold the
 * tensor's shape). */
#define BNC_MCK_NONE UINT64_MAX

/* n_groups x n_opts options, row-major by group: cost[g * n_opts + o] and
 * err[g * n_opts + o]. Every group needs at least one available option. */
typedef struct bnc_mck {
    size_t n_groups, n_opts;
    const uint64_t *cost;
    const double *err;
} bnc_mck;

/* Totals of an assignment (choice[g] is group g's option). The error is
 * summed in group order: both solvers and every comparison use this order. */
double bnc_mck_total_err(const bnc_mck *p, const int *choice);
uint64_t bnc_mck_total_cost(const bnc_mck *p, const int *choice);

/* Greedy: every group starts at its cheapest option (least error among equal
 * costs), then the upgrade with the largest error reduction per extra unit of
 * cost that still fits is taken, until none fits. Writes choice[n_groups].
 * BNC_ERANGE when even the cheapest assignment exceeds cap, BNC_EINVAL when a
 * group has no option. */
int bnc_mck_greedy(const bnc_mck *p, uint64_t cap, int *choice, bnc_err *err);

/* Exact: dynamic programming over Pareto frontiers of (cost, error) partial
 * assignments (see mck.c for why it is exact). Writes choice[n_groups];
 * *states (may be NULL) gets the number of frontier states kept in all.
 * Errors as bnc_mck_greedy, plus BNC_ENOMEM. */
int bnc_mck_exact(const bnc_mck *p, uint64_t cap, int *choice, size_t *states, bnc_err *err);

#endif
