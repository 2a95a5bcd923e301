/* Multiple-choice knapsack: greedy and exact (bnc_mck.h). */
#include "bnc_mck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double bnc_mck_total_err(const bnc_mck *p, const int *choice)
{
    double e = 0.0;
    for (size_t g = 0; g < p->n_groups; g++)
        e += p->err[g * p->n_opts + (size_t)choice[g]];
    return e;
}

uint64_t bnc_mck_total_cost(const bnc_mck *p, const int *choice)
{
    uint64_t c = 0;
    for (size_t g = 0; g < p->n_groups; g++)
        c += p->cost[g * p->n_opts + (size_t)choice[g]];
    return c;
}

/* The cheapest option of group g (least error among equal costs), or -1. */
static int cheapest(const bnc_mck *p, size_t g)
{
    int best = -1;
    for (size_t o = 0; o < p->n_opts; o++) {
        uint64_t c = p->cost[g * p->n_opts + o];
        double e = p->err[g * p->n_opts + o];
        if (c == BNC_MCK_NONE) continue;
        if (best < 0 || c < p->cost[g * p->n_opts + (size_t)best] ||
            (c == p->cost[g * p->n_opts + (size_t)best] &&
             e < p->err[g * p->n_opts + (size_t)best]))
            best = (int)o;
    }
    return best;
}

/* Starts every group at its cheapest option; checks the problem. */
static int start(const bnc_mck *p, uint64_t cap, int *choice, uint64_t *used, bnc_err *err)
{
    uint64_t c = 0;
    for (size_t g = 0; g < p->n_groups; g++) {
        choice[g] = cheapest(p, g);
        if (choice[g] < 0)
            return bnc_err_set(err, BNC_EINVAL, "knapsack: group %zu has no option", g);
        for (size_t o = 0; o < p->n_opts; o++)
            if (p->cost[g * p->n_opts + o] != BNC_MCK_NONE && !isfinite(p->err[g * p->n_opts + o]))
                return bnc_err_set(err, BNC_ERANGE,
                                   "knapsack: group %zu option %zu: error is not finite", g, o);
        uint64_t cg = p->cost[g * p->n_opts + (size_t)choice[g]];
        if (cg > cap - c || c > cap)
            return bnc_err_set(err, BNC_ERANGE,
                               "knapsack: the cheapest assignment does not fit the budget");
        c += cg;
    }
    *used = c;
    return 0;
}

int bnc_mck_greedy(const bnc_mck *p, uint64_t cap, int *choice, bnc_err *err)
{
    uint64_t used;
    int rc = start(p, cap, choice, &used, err);
    if (rc) return rc;
    /* Each step strictly lowers the total error, so the loop ends. */
    for (;;) {
        size_t bg = 0;
        int bo = -1;
        double best = 0.0;
        for (size_t g = 0; g < p->n_groups; g++) {
            size_t cur = g * p->n_opts + (size_t)choice[g];
            for (size_t o = 0; o < p->n_opts; o++) {
                size_t i = g * p->n_opts + o;
                if (p->cost[i] == BNC_MCK_NONE || p->err[i] >= p->err[cur] ||
                    p->cost[i] < p->cost[cur])
                    continue; /* not an upgrade (a cheaper, better option is never left behind) */
                uint64_t extra = p->cost[i] - p->cost[cur];
                if (extra > cap - used) continue;
                double gain = p->err[cur] - p->err[i];
                double ratio = extra ? gain / (double)extra : INFINITY;
                if (bo < 0 || ratio > best) {
                    best = ratio;
                    bg = g;
                    bo = (int)o;
                }
            }
        }
        if (bo < 0) return 0;
        used += p->cost[bg * p->n_opts + (size_t)bo] - p->cost[bg * p->n_opts + (size_t)choice[bg]];
        choice[bg] = bo;
    }
}

typedef struct cand {
    uint64_t cost;
    double err;
    uint32_t parent;
    uint32_t opt;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    if (x->err != y->err) return x->err < y->err ? -1 : 1;
    return 0;
}

/* Why this is exact. A state after groups 0..g is a partial assignment with
 * its cost c (an integer: no rounding, no discretisation) and its error e
 * (summed in group order, exactly as bnc_mck_total_err sums it). A state
 * (c, e) is dropped only when another state (c', e') of the same stage has
 * c' <= c and e' <= e. Any completion of the dropped state (options for
 * groups g+1..n-1 with extra cost x and errors added in order) applied to
 * the kept one costs c' + x <= c + x, so it is feasible whenever the dropped
 * one's is, and since floating-point addition is monotonic (a <= b implies
 * fl(a + t) <= fl(b + t)) its total error is <= the dropped one's. So some
 * optimal assignment survives every stage, and the least-error state of the
 * last stage is optimal over ALL feasible assignments for the very totals
 * bnc_mck_total_err computes: never worse than greedy or any uniform choice.
 * A stage keeps at most one state per distinct cost <= cap, and in practice
 * far fewer (the frontier of a few schemes per tensor). */
int bnc_mck_exact(const bnc_mck *p, uint64_t cap, int *choice, size_t *states, bnc_err *err)
{
    uint64_t used;
    int rc = start(p, cap, choice, &used, err); /* checks feasibility and options */
    if (rc) return rc;
    size_t n = p->n_groups, k = p->n_opts;
    size_t *off = malloc((n + 1) * sizeof *off);
    uint64_t *pc = malloc(sizeof *pc);
    double *pe = malloc(sizeof *pe);
    uint32_t *bt_parent = NULL, *bt_opt = NULL;
    cand *cs = NULL;
    uint64_t *rest = NULL;
    size_t m = 1, total = 0, bt_cap = 0, cs_cap = 0;
    if (!off || !pc || !pe) {
        rc = bnc_err_set(err, BNC_ENOMEM, "knapsack: out of memory");
        goto done;
    }
    /* rest[g]: the cheapest cost of groups g+1..n-1. A state that cannot
     * afford it has no feasible completion: dropping it is exact too. */
    rest = malloc((n + 1) * sizeof *rest);
    if (!rest) {
        rc = bnc_err_set(err, BNC_ENOMEM, "knapsack: out of memory");
        goto done;
    }
    rest[n ? n - 1 : 0] = 0;
    for (size_t g = n; g-- > 1;)
        rest[g - 1] = rest[g] + p->cost[g * k + (size_t)choice[g]]; /* start() chose the cheapest */
    pc[0] = 0;
    pe[0] = 0.0;
    for (size_t g = 0; g < n; g++) {
        uint64_t room = cap - rest[g]; /* >= 0: the cheapest assignment fits */
        if (m > SIZE_MAX / k / sizeof(cand)) {
            rc = bnc_err_set(err, BNC_ENOMEM, "knapsack: too many states");
            goto done;
        }
        if (m * k > cs_cap) {
            cand *t = realloc(cs, m * k * sizeof *t);
            if (!t) {
                rc = bnc_err_set(err, BNC_ENOMEM, "knapsack: out of memory for %zu states", m * k);
                goto done;
            }
            cs = t;
            cs_cap = m * k;
        }
        size_t nc = 0;
        for (size_t s = 0; s < m; s++)
            for (size_t o = 0; o < k; o++) {
                uint64_t c = p->cost[g * k + o];
                if (c == BNC_MCK_NONE || c > room - pc[s]) continue;
                cs[nc++] = (cand){pc[s] + c, pe[s] + p->err[g * k + o], (uint32_t)s, (uint32_t)o};
            }
        qsort(cs, nc, sizeof *cs, cand_cmp);
        /* Keep the Pareto frontier: strictly increasing cost, strictly
         * decreasing error. */
        size_t kept = 0;
        double best = INFINITY;
        for (size_t i = 0; i < nc; i++)
            if (cs[i].err < best) {
                best = cs[i].err;
                cs[kept++] = cs[i];
            }
        if (total + kept > bt_cap) {
            size_t nb = (total + kept) * 2;
            uint32_t *a = realloc(bt_parent, nb * sizeof *a);
            if (a) bt_parent = a;
            uint32_t *b = a ? realloc(bt_opt, nb * sizeof *b) : NULL;
            if (b) bt_opt = b;
            if (!a || !b) {
                rc = bnc_err_set(err, BNC_ENOMEM, "knapsack: out of memory for %zu states",
                                 total + kept);
                goto done;
            }
            bt_cap = nb;
        }
        uint64_t *npc = realloc(pc, (kept ? kept : 1) * sizeof *npc);
        if (npc) pc = npc;
        double *npe = npc ? realloc(pe, (kept ? kept : 1) * sizeof *npe) : NULL;
        if (npe) pe = npe;
        if (!npc || !npe) {
            rc = bnc_err_set(err, BNC_ENOMEM, "knapsack: out of memory");
            goto done;
        }
        off[g] = total;
        for (size_t i = 0; i < kept; i++) {
            pc[i] = cs[i].cost;
            pe[i] = cs[i].err;
            bt_parent[total + i] = cs[i].parent;
            bt_opt[total + i] = cs[i].opt;
        }
        total += kept;
        m = kept; /* >= 1: the cheapest assignment fits (checked by start) */
    }
    /* The last state has the least error. */
    size_t idx = m - 1;
    for (size_t g = n; g-- > 0;) {
        choice[g] = (int)bt_opt[off[g] + idx];
        idx = bt_parent[off[g] + idx];
    }
    if (states) *states = total;
done:
    free(rest);
    free(off);
    free(pc);
    free(pe);
    free(cs);
    free(bt_parent);
    free(bt_opt);
    return rc;
}
