/* quant_error: quantize one synthetic tensor (or a row range of it) with a
 * scheme, dequantize it, and report every error metric, the bits per weight
 * and the time taken. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gpu_quant.h"
#include "bnc_kernels.h"
#include "bnc_metrics.h"
#include "bnc_synth.h"
#include "bnc_time.h"
#include "kinds.h"

static const char *const keys[] = {"tensor",    "scheme",  "group", "threshold",
                                   "row_begin", "row_end", NULL};

typedef struct qe_args {
    const bnc_scheme *scheme;
    bnc_synth_tensor tensor;
    bnc_qparams qp;
    int64_t row_begin, row_end;
} qe_args;

static int parse(const json_t *params, const bnc_task_ctx *ctx, qe_args *a, bnc_err *err)
{
    int rc = bnc_params_only(params, keys, err);
    const char *scheme = NULL, *tensor = NULL;
    if (!rc) rc = bnc_param_str(params, "scheme", &scheme, err);
    if (!rc) rc = bnc_param_str(params, "tensor", &tensor, err);
    if (rc) return rc;
    a->scheme = bnc_scheme_find(scheme);
    if (!a->scheme) {
        char list[600] = "";
        for (size_t i = 0; i < bnc_scheme_count(); i++) {
            strncat(list, bnc_scheme_at(i)->name, sizeof list - strlen(list) - 1);
            if (i + 1 < bnc_scheme_count()) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return bnc_err_set(err, BNC_EINVAL, "parameter 'scheme': unknown scheme '%s' (known: %s)",
                           scheme, list);
    }
    rc = bnc_synth_from_json(json_object_get(ctx->tensors, tensor), tensor, &a->tensor, err);
    if (rc) return bnc_err_prefix(err, "parameter 'tensor': ");
    memset(&a->qp, 0, sizeof a->qp);
    long long g, rb, re;
    if ((rc = bnc_param_int(params, "group", 0, 0, 1 << 24, &g, err))) return rc;
    a->qp.group = g;
    json_t *th = json_object_get(params, "threshold");
    if (th && !json_is_number(th))
        return bnc_err_set(err, BNC_EINVAL, "parameter 'threshold' must be a number");
    a->qp.threshold = th ? json_number_value(th) : 0.0;
    if ((rc = bnc_param_int(params, "row_begin", 0, 0, a->tensor.rows - 1, &rb, err)) ||
        (rc = bnc_param_int(params, "row_end", a->tensor.rows, rb + 1, a->tensor.rows, &re, err)))
        return rc;
    a->row_begin = rb;
    a->row_end = re;
    if (a->scheme->block > 1 && a->tensor.cols % a->scheme->block != 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "scheme '%s' needs rows whose length is a multiple of %lld; tensor "
                           "'%s' has %lld columns",
                           a->scheme->name, (long long)a->scheme->block, tensor,
                           (long long)a->tensor.cols);
    return 0;
}

static int validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    qe_args a;
    return parse(params, ctx, &a, err);
}

static double cost(const json_t *params, const bnc_task_ctx *ctx)
{
    qe_args a;
    bnc_err e;
    if (parse(params, ctx, &a, &e)) return 1.0;
    return (double)(a.row_end - a.row_begin) * (double)a.tensor.cols;
}

/* GPU lane: quantize on the task's GPU, compare with the CPU bytes, report
 * its throughput; a scheme without a GPU quantizer reports nothing more. */
static int gpu_compare(const bnc_task_ctx *ctx, const qe_args *a, const float *x, int64_t rows,
                       int64_t cols, const void *cpu, size_t written, bnc_metrics *out,
                       bnc_err *err)
{
    void *g = malloc(written ? written : 1);
    if (!g) return bnc_err_set(err, BNC_ENOMEM, "out of memory for the GPU copy");
    size_t gw = 0;
    double sec = 0;
    int rc =
        bnc_gpu_quantize_on(ctx->gpu, a->scheme, &a->qp, x, rows, cols, g, written, &gw, &sec, err);
    if (rc == BNC_ENOTSUP) {
        bnc_err_clear(err);
        free(g);
        return 0;
    }
    if (!rc) {
        bnc_metrics_add(out, "gpu_identical_bytes", gw == written && !memcmp(g, cpu, written), "");
        bnc_metrics_add(out, "gpu_quantize_s", sec, "s");
        bnc_metrics_add(out, "gpu_quantize_gbps", (double)(rows * cols) * 4.0 / (sec * 1e9 + 1e-30),
                        "GB/s");
    }
    free(g);
    return rc;
}

static int run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err)
{
    qe_args a;
    int rc = parse(params, ctx, &a, err);
    if (rc) return rc;
    double t0 = bnc_now();
    int64_t rows = a.row_end - a.row_begin, cols = a.tensor.cols, n = rows * cols;
    a.qp.seed = seed;
    a.qp.stream = (uint64_t)a.row_begin;
    size_t cap = a.scheme->qsize(rows, cols, &a.qp);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    void *q = malloc(cap ? cap : 1);
    if (!x || !y || !q) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory for a %lldx%lld tensor", (long long)rows,
                         (long long)cols);
        goto done;
    }
    if ((rc = bnc_synth_fill(&a.tensor, seed, a.row_begin, a.row_end, x, err))) goto done;
    size_t written = 0;
    double tq = bnc_now();
    if ((rc = a.scheme->quantize(x, rows, cols, &a.qp, q, cap, &written, err))) goto done;
    double td = bnc_now();
    /* On a GPU lane: the GPU quantizes too, and must give the same bytes. */
    if (ctx->gpu >= 0 && (rc = gpu_compare(ctx, &a, x, rows, cols, q, written, out, err)))
        goto done;
    if ((rc = a.scheme->dequantize(q, written, rows, cols, &a.qp, y, err))) goto done;
    double tend = bnc_now();
    bnc_qerr e;
    bnc_qerr_compute(x, y, n, &e);
    double bpw = 8.0 * (double)written / (double)n;
    bnc_metrics_add(out, "rel_rmse", e.rel_rmse, "");
    bnc_metrics_add(out, "mse", e.mse, "");
    if (isfinite(e.sqnr_db)) bnc_metrics_add(out, "sqnr_db", e.sqnr_db, "dB");
    bnc_metrics_add(out, "cosine", e.cosine, "");
    bnc_metrics_add(out, "max_abs_err", e.max_abs, "");
    bnc_metrics_add(out, "nonzero_fraction", 1.0 - e.sparsity, "");
    bnc_metrics_add(out, "bits_per_weight", bpw, "bit");
    bnc_metrics_add(out, "compression_ratio", 32.0 / bpw, "x");
    bnc_metrics_add(out, "bytes", (double)written, "B");
    bnc_metrics_add(out, "quantize_s", td - tq, "s");
    bnc_metrics_add(out, "dequantize_s", tend - td, "s");
    bnc_metrics_add(out, "quantize_gbps", (double)n * 4.0 / ((td - tq) * 1e9 + 1e-30), "GB/s");
    bnc_metrics_add(out, "elapsed_s", bnc_now() - t0, "s");
done:
    free(x);
    free(y);
    free(q);
    return rc;
}

const bnc_task_kind bnc_kind_quant_error = {"quant_error", validate, cost, run};
