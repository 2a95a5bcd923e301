/* mixed_precision: given a bits-per-weight budget and candidate schemes,
 * choose one scheme per weight matrix of a model to minimise the total
 * squared error with total bits <= budget x weights: a greedy heuristic and
 * the exact multiple-choice knapsack (bnc_mck.h), against every uniform
 * scheme that fits the same budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_mck.h"
#include "bnc_time.h"
#include "kinds.h"
#include "model_src.h"

static const char *const keys[] = {"model", "budget", "schemes", "group", NULL};

enum { MP_MAX_SCHEMES = 32 };

typedef struct mp_args {
    const json_t *model;
    double budget;
    size_t n_schemes;
    const bnc_scheme *schemes[MP_MAX_SCHEMES];
    bnc_qparams qp;
} mp_args;

/* Splits "a, b,c" into scheme rows; names the parameter in every message. */
static int parse_schemes(const char *list, mp_args *a, bnc_err *err)
{
    a->n_schemes = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        size_t len = strcspn(p, ", ");
        char name[64];
        if (len >= sizeof name)
            return bnc_err_set(err, BNC_EINVAL, "parameter 'schemes': name too long in '%s'", list);
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        const bnc_scheme *s;
        int rc = bnc_param_scheme("schemes", name, &s, err);
        if (rc) return rc;
        for (size_t i = 0; i < a->n_schemes; i++)
            if (a->schemes[i] == s)
                return bnc_err_set(err, BNC_EINVAL, "parameter 'schemes': '%s' is listed twice",
                                   name);
        if (a->n_schemes == MP_MAX_SCHEMES)
            return bnc_err_set(err, BNC_EINVAL, "parameter 'schemes': more than %d schemes",
                               MP_MAX_SCHEMES);
        a->schemes[a->n_schemes++] = s;
    }
    if (a->n_schemes == 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "parameter 'schemes': give comma-separated scheme names, e.g. "
                           "\"bitnet,q4_0,q8_0,f16\"");
    return 0;
}

static int parse(const json_t *params, const bnc_task_ctx *ctx, mp_args *a, bnc_err *err)
{
    memset(a, 0, sizeof *a);
    const char *schemes;
    long long g;
    int rc = bnc_params_only(params, keys, err);
    if (!rc) rc = bnc_param_str(params, "schemes", &schemes, err);
    if (!rc) rc = parse_schemes(schemes, a, err);
    if (rc) return rc;
    json_t *b = json_object_get(params, "budget");
    if (!b) return bnc_err_set(err, BNC_EINVAL, "missing parameter 'budget' (bits per weight)");
    if (!json_is_number(b) || !(json_number_value(b) > 0) || !(json_number_value(b) <= 64))
        return bnc_err_set(err, BNC_EINVAL,
                           "parameter 'budget' must be a number of bits per weight in (0, 64]");
    a->budget = json_number_value(b);
    double least = INFINITY;
    for (size_t i = 0; i < a->n_schemes; i++)
        least = fmin(least, a->schemes[i]->bpw);
    if (a->budget < least)
        return bnc_err_set(err, BNC_EINVAL,
                           "parameter 'budget' = %g bits per weight is below the smallest listed "
                           "scheme (%g)",
                           a->budget, least);
    if ((rc = bnc_param_int(params, "group", 0, 0, 1 << 24, &g, err))) return rc;
    a->qp.group = g;
    return bnc_model_param(params, ctx, &a->model, err);
}

static int validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    mp_args a;
    return parse(params, ctx, &a, err);
}

static double cost(const json_t *params, const bnc_task_ctx *ctx)
{
    mp_args a;
    bnc_err e;
    if (parse(params, ctx, &a, &e)) return 1.0;
    return bnc_model_entry_weights(a.model, ctx) * (double)a.n_schemes;
}

/* Per-tensor options of the model: cost in bits and squared error under
 * every scheme (BNC_MCK_NONE where a scheme cannot hold the row length). */
typedef struct mp_table {
    size_t n, cap;
    char (*names)[96];
    double *weights, *norm2;
    uint64_t *cost;
    double *err;
    long skipped;
} mp_table;

static void table_free(mp_table *t)
{
    free(t->names);
    free(t->weights);
    free(t->norm2);
    free(t->cost);
    free(t->err);
}

static int table_grow(mp_table *t, size_t k)
{
    size_t nc = t->cap ? 2 * t->cap : 64;
    void *a = realloc(t->names, nc * sizeof *t->names);
    if (a) t->names = a;
    void *b = a ? realloc(t->weights, nc * sizeof *t->weights) : NULL;
    if (b) t->weights = b;
    void *c = b ? realloc(t->norm2, nc * sizeof *t->norm2) : NULL;
    if (c) t->norm2 = c;
    void *d = c ? realloc(t->cost, nc * k * sizeof *t->cost) : NULL;
    if (d) t->cost = d;
    void *e = d ? realloc(t->err, nc * k * sizeof *t->err) : NULL;
    if (e) t->err = e;
    if (!e) return -1;
    t->cap = nc;
    return 0;
}

static int measure(const mp_args *a, const bnc_model *m, uint64_t seed, mp_table *t, bnc_err *err)
{
    size_t k = a->n_schemes, have = 0;
    float *x = NULL, *y = NULL;
    int rc = 0;
    for (size_t i = 0; i < m->n_tensors && !rc; i++) {
        const bnc_model_tensor *mt = &m->tensors[i];
        if (!bnc_model_is_matrix(mt)) continue;
        int any = 0;
        for (size_t s = 0; s < k; s++)
            any |= bnc_scheme_fits(a->schemes[s], mt->cols);
        if (!any) {
            t->skipped++;
            continue;
        }
        size_t n = (size_t)(mt->rows * mt->cols);
        if (n > have) {
            free(x);
            free(y);
            x = malloc(n * sizeof *x);
            y = malloc(n * sizeof *y);
            have = x && y ? n : 0;
        }
        if (!have || (t->n == t->cap && table_grow(t, k))) {
            rc = bnc_err_set(err, BNC_ENOMEM, "out of memory at tensor '%s'", mt->name);
            break;
        }
        if ((rc = bnc_model_rows_f32(m, i, 0, mt->rows, x, err))) break;
        snprintf(t->names[t->n], sizeof t->names[t->n], "%s", mt->name);
        t->weights[t->n] = (double)n;
        t->norm2[t->n] = bnc_sumsq(x, (int64_t)n);
        for (size_t s = 0; s < k && !rc; s++) {
            size_t j = t->n * k + s;
            t->cost[j] = BNC_MCK_NONE;
            t->err[j] = INFINITY;
            if (!bnc_scheme_fits(a->schemes[s], mt->cols)) continue;
            bnc_qparams qp = a->qp;
            qp.seed = seed;
            qp.stream = (uint64_t)i;
            size_t bytes;
            rc = bnc_quant_sse(x, y, mt->rows, mt->cols, a->schemes[s], &qp, &t->err[j], &bytes,
                               err);
            if (rc)
                bnc_err_prefix(err, "tensor '%s', scheme '%s': ", mt->name, a->schemes[s]->name);
            t->cost[j] = 8 * (uint64_t)bytes;
        }
        t->n++;
    }
    free(x);
    free(y);
    return rc;
}

static int run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err)
{
    mp_args a;
    int rc = parse(params, ctx, &a, err);
    if (rc) return rc;
    double t0 = bnc_now();
    bnc_model *m = NULL;
    if ((rc = bnc_model_entry_open(a.model, ctx, &m, err))) return rc;
    mp_table t = {0};
    rc = measure(&a, m, seed, &t, err);
    bnc_model_free(m);
    size_t k = a.n_schemes;
    int *greedy = NULL, *exact = NULL, *uni = NULL;
    if (rc) goto done;
    if (t.n == 0) {
        rc = bnc_err_set(err, BNC_EINVAL, "no weight matrix fits any of the listed schemes");
        goto done;
    }
    double weights = 0, norm2 = 0;
    for (size_t i = 0; i < t.n; i++) {
        weights += t.weights[i];
        norm2 += t.norm2[i];
    }
    if (!(norm2 > 0)) norm2 = 1; /* an all-zero model: every error is 0 */
    uint64_t cap = (uint64_t)floor(a.budget * weights);
    bnc_mck p = {t.n, k, t.cost, t.err};
    greedy = malloc(t.n * sizeof *greedy);
    exact = malloc(t.n * sizeof *exact);
    uni = malloc(t.n * sizeof *uni);
    if (!greedy || !exact || !uni) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto done;
    }
    double tm = bnc_now();
    size_t states = 0;
    rc = bnc_mck_greedy(&p, cap, greedy, err);
    double tg = bnc_now();
    if (!rc) rc = bnc_mck_exact(&p, cap, exact, &states, err);
    double te = bnc_now();
    if (rc == BNC_ERANGE) {
        /* Infeasible: say how far off the budget is. */
        uint64_t least = 0;
        for (size_t i = 0; i < t.n; i++) {
            uint64_t c = BNC_MCK_NONE;
            for (size_t s = 0; s < k; s++)
                if (t.cost[i * k + s] < c) c = t.cost[i * k + s];
            least += c;
        }
        rc = bnc_err_set(err, BNC_EINVAL,
                         "parameter 'budget' = %g bits per weight is below the smallest "
                         "assignment of these schemes (%.4f bits per weight)",
                         a.budget, (double)least / weights);
    }
    if (rc) goto done;
    bnc_metrics_add(out, "greedy_rel_err", sqrt(bnc_mck_total_err(&p, greedy) / norm2), "");
    bnc_metrics_add(out, "greedy_bits_per_weight", (double)bnc_mck_total_cost(&p, greedy) / weights,
                    "bit");
    bnc_metrics_add(out, "exact_rel_err", sqrt(bnc_mck_total_err(&p, exact) / norm2), "");
    bnc_metrics_add(out, "exact_bits_per_weight", (double)bnc_mck_total_cost(&p, exact) / weights,
                    "bit");
    double best = INFINITY, best_bpw = 0;
    for (size_t s = 0; s < k; s++) {
        int ok = 1;
        for (size_t i = 0; i < t.n; i++) {
            uni[i] = (int)s;
            ok &= t.cost[i * k + s] != BNC_MCK_NONE;
        }
        if (!ok || bnc_mck_total_cost(&p, uni) > cap) continue;
        double e = sqrt(bnc_mck_total_err(&p, uni) / norm2);
        double bpw = (double)bnc_mck_total_cost(&p, uni) / weights;
        char name[64];
        bnc_metric_name_at(name, "uniform_rel_err", a.schemes[s]->name);
        bnc_metrics_add(out, name, e, "");
        bnc_metric_name_at(name, "uniform_bits_per_weight", a.schemes[s]->name);
        bnc_metrics_add(out, name, bpw, "bit");
        if (e < best) {
            best = e;
            best_bpw = bpw;
        }
    }
    if (isfinite(best)) {
        bnc_metrics_add(out, "best_uniform_rel_err", best, "");
        bnc_metrics_add(out, "best_uniform_bits_per_weight", best_bpw, "bit");
    }
    /* What the exact solution chose: tensors per scheme, bits per tensor. */
    for (size_t s = 0; s < k; s++) {
        double c = 0;
        for (size_t i = 0; i < t.n; i++)
            c += exact[i] == (int)s;
        char name[64];
        bnc_metric_name_at(name, "exact_tensors", a.schemes[s]->name);
        bnc_metrics_add(out, name, c, "");
    }
    for (size_t i = 0; i < t.n; i++) {
        char name[64];
        bnc_metric_name_at(name, "exact_bpw", t.names[i]);
        bnc_metrics_add(out, name, (double)t.cost[i * k + (size_t)exact[i]] / t.weights[i], "bit");
    }
    bnc_metrics_add(out, "budget_bits", (double)cap, "bit");
    bnc_metrics_add(out, "tensors", (double)t.n, "");
    bnc_metrics_add(out, "skipped_tensors", (double)t.skipped, "");
    bnc_metrics_add(out, "params", weights, "");
    bnc_metrics_add(out, "exact_states", (double)states, "");
    bnc_metrics_add(out, "measure_s", tm - t0, "s");
    bnc_metrics_add(out, "greedy_s", tg - tm, "s");
    bnc_metrics_add(out, "exact_s", te - tg, "s");
    rc = bnc_metrics_add(out, "elapsed_s", bnc_now() - t0, "s");
done:
    free(greedy);
    free(exact);
    free(uni);
    table_free(&t);
    return rc;
}

const bnc_task_kind bnc_kind_mixed_precision = {"mixed_precision", validate, cost, run};
