/* layer_sensitivity: quantize and dequantize every weight matrix of a whole
 * model with one scheme; per-tensor errors and whole-model aggregates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_time.h"
#include "kinds.h"
#include "model_src.h"

static const char *const keys[] = {"model", "scheme", "group", NULL};

typedef struct ls_args {
    const json_t *model;
    const bnc_scheme *scheme;
    bnc_qparams qp;
} ls_args;

static int parse(const json_t *params, const bnc_task_ctx *ctx, ls_args *a, bnc_err *err)
{
    memset(a, 0, sizeof *a);
    const char *scheme;
    long long g;
    int rc = bnc_params_only(params, keys, err);
    if (!rc) rc = bnc_param_str(params, "scheme", &scheme, err);
    if (!rc) rc = bnc_param_scheme("scheme", scheme, &a->scheme, err);
    if (!rc) rc = bnc_param_int(params, "group", 0, 0, 1 << 24, &g, err);
    if (!rc) rc = bnc_model_param(params, ctx, &a->model, err);
    if (!rc) a->qp.group = g;
    return rc;
}

static int validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    ls_args a;
    return parse(params, ctx, &a, err);
}

static double cost(const json_t *params, const bnc_task_ctx *ctx)
{
    ls_args a;
    bnc_err e;
    return parse(params, ctx, &a, &e) ? 1.0 : bnc_model_entry_weights(a.model, ctx);
}

static int run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err)
{
    ls_args a;
    int rc = parse(params, ctx, &a, err);
    if (rc) return rc;
    double t0 = bnc_now();
    bnc_model *m = NULL;
    if ((rc = bnc_model_entry_open(a.model, ctx, &m, err))) return rc;
    float *x = NULL, *y = NULL;
    size_t have = 0;
    double sse_all = 0, norm_all = 0, bytes_all = 0, weights = 0;
    long tensors = 0, skipped = 0;
    for (size_t i = 0; i < m->n_tensors && !rc; i++) {
        const bnc_model_tensor *t = &m->tensors[i];
        if (!bnc_model_is_matrix(t)) continue;
        if (!bnc_scheme_fits(a.scheme, t->cols)) {
            skipped++;
            continue;
        }
        size_t n = (size_t)(t->rows * t->cols);
        if (n > have) {
            free(x);
            free(y);
            x = malloc(n * sizeof *x);
            y = malloc(n * sizeof *y);
            have = x && y ? n : 0;
            if (!have) {
                rc = bnc_err_set(err, BNC_ENOMEM, "out of memory for tensor '%s'", t->name);
                break;
            }
        }
        if ((rc = bnc_model_rows_f32(m, i, 0, t->rows, x, err))) break;
        a.qp.seed = seed;
        a.qp.stream = (uint64_t)i;
        double sse, norm2 = bnc_sumsq(x, (int64_t)n);
        size_t bytes;
        if ((rc = bnc_quant_sse(x, y, t->rows, t->cols, a.scheme, &a.qp, &sse, &bytes, err))) {
            bnc_err_prefix(err, "tensor '%s': ", t->name);
            break;
        }
        char name[64];
        bnc_metric_name_at(name, "rel_rmse", t->name);
        rc = bnc_metrics_add(out, name, norm2 > 0 ? sqrt(sse / norm2) : 0.0, "");
        bnc_metric_name_at(name, "sse", t->name);
        if (!rc) rc = bnc_metrics_add(out, name, sse, "");
        sse_all += sse;
        norm_all += norm2;
        bytes_all += (double)bytes;
        weights += (double)n;
        tensors++;
    }
    free(x);
    free(y);
    bnc_model_free(m);
    if (rc) return rc;
    if (tensors == 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "scheme '%s' fits none of the model's %ld weight matrices",
                           a.scheme->name, skipped);
    /* The norm-weighted aggregate: sum of squared error over sum of squared
     * weights, i.e. each tensor's relative MSE weighted by ||W||^2. */
    bnc_metrics_add(out, "rel_rmse", norm_all > 0 ? sqrt(sse_all / norm_all) : 0.0, "");
    bnc_metrics_add(out, "sse", sse_all, "");
    bnc_metrics_add(out, "bits_per_weight", 8.0 * bytes_all / weights, "bit");
    bnc_metrics_add(out, "bytes", bytes_all, "B");
    bnc_metrics_add(out, "tensors", (double)tensors, "");
    bnc_metrics_add(out, "skipped_tensors", (double)skipped, "");
    bnc_metrics_add(out, "params", weights, "");
    return bnc_metrics_add(out, "elapsed_s", bnc_now() - t0, "s");
}

const bnc_task_kind bnc_kind_layer_sensitivity = {"layer_sensitivity", validate, cost, run};
