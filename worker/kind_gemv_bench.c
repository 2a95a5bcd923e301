/* gemv_bench: GEMV throughput of one scheme and shape on this worker, next to
 * the streaming read bandwidth measured in the same task with the same
 * thread count, and the ratio of the two. The weights rotate over enough
 * copies to exceed the last-level cache, so each call streams from memory.
 * Also the GEMV's relative error against an f64 reference (deterministic). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_gemv.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"
#include "bnc_stream.h"
#include "bnc_time.h"
#include "kinds.h"

static const char *const keys[] = {"scheme", "rows",         "cols",   "threads", "batch", "isa",
                                   "group",  "footprint_mb", "min_ms", "reps",    NULL};

typedef struct gb_args {
    const char *scheme;
    int64_t rows, cols, batch, threads, footprint_mb, min_ms, reps;
    bnc_isa isa;
    bnc_qparams qp;
} gb_args;

static int parse(const json_t *params, gb_args *a, bnc_err *err)
{
    memset(a, 0, sizeof *a);
    long long v;
    int rc = bnc_params_only(params, keys, err);
    if (!rc) rc = bnc_param_str(params, "scheme", &a->scheme, err);
    if (rc) return rc;
    if (!bnc_gemv_supported(bnc_scheme_find(a->scheme)))
        return bnc_err_set(err, BNC_EINVAL,
                           "parameter 'scheme': '%s' has no GEMV kernel (bitnet, bitnet-row, "
                           "bitnet-group, tq2_0, tq1_0, q8_0, q4_0 have)",
                           a->scheme);
#define INT(name, def, lo, hi, field)                                                              \
    if ((rc = bnc_param_int(params, name, def, lo, hi, &v, err))) return rc;                       \
    a->field = v;
    INT("rows", 4096, 1, 1 << 20, rows)
    INT("cols", 4096, 1, 1 << 20, cols)
    INT("batch", 1, 1, 64, batch)
    INT("threads", 1, 1, 1024, threads)
    INT("footprint_mb", 0, 0, 65536, footprint_mb)
    INT("min_ms", 50, 1, 60000, min_ms)
    INT("reps", 3, 1, 100, reps)
    INT("group", 0, 0, 1 << 20, qp.group)
#undef INT
    const char *isa = NULL;
    if (json_object_get(params, "isa")) {
        if ((rc = bnc_param_str(params, "isa", &isa, err))) return rc;
        if ((rc = bnc_isa_parse(isa, &a->isa, err)))
            return bnc_err_prefix(err, "parameter 'isa': ");
    } else if ((rc = bnc_isa_select(&a->isa, err))) {
        return rc;
    }
    if (bnc_gemv_weight_bytes(bnc_scheme_find(a->scheme), &a->qp, a->rows, a->cols) == 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "scheme '%s' cannot hold a %lldx%lld matrix (row length must be a "
                           "multiple of its block)",
                           a->scheme, (long long)a->rows, (long long)a->cols);
    return 0;
}

static int validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    (void)ctx;
    gb_args a;
    return parse(params, &a, err);
}

static double cost(const json_t *params, const bnc_task_ctx *ctx)
{
    (void)ctx;
    gb_args a;
    bnc_err e;
    /* Time-bound rather than size-bound: about (reps + 1) x 2 x min_ms. */
    return parse(params, &a, &e) ? 1.0 : 1e6 * (double)(a.reps + 1) * (double)a.min_ms;
}

static size_t default_footprint(void)
{
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    size_t f = llc > 0 ? 2 * (size_t)llc : 0;
    if (f < (256u << 20)) f = 256u << 20;
    if (f > (1024u << 20)) f = 1024u << 20;
    return f;
}

static int run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err)
{
    (void)ctx;
    gb_args a;
    int rc = parse(params, &a, err);
    if (rc) return rc;
    const bnc_scheme *s = bnc_scheme_find(a.scheme);
    int64_t n = a.rows * a.cols;
    float *w = malloc((size_t)n * sizeof *w);
    float *x = malloc((size_t)(a.batch * a.cols) * sizeof *x);
    float *y = malloc((size_t)(a.batch * a.rows) * sizeof *y);
    double *y64 = malloc((size_t)(a.batch * a.rows) * sizeof *y64);
    size_t cap = s->qsize(a.rows, a.cols, &a.qp), wbytes = 0;
    uint8_t *q = malloc(cap), *arena = NULL;
    bnc_act *act = NULL;
    bnc_pool *pool = NULL;
    if (!w || !x || !y || !y64 || !q) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory for a %lldx%lld matrix", (long long)a.rows,
                         (long long)a.cols);
        goto done;
    }
    bnc_rng r;
    bnc_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)bnc_rng_normal(&r);
    for (int64_t i = 0; i < a.batch * a.cols; i++)
        x[i] = (float)bnc_rng_normal(&r);
    if ((rc = s->quantize(w, a.rows, a.cols, &a.qp, q, cap, &wbytes, err)) ||
        (rc = bnc_act_new(a.batch, a.cols, &act, err)) || (rc = bnc_act_quantize(act, x, err)) ||
        (rc = bnc_pool_new((int)a.threads, &pool, err)))
        goto done;
    /* Accuracy: one call against the f64 reference. */
    if ((rc = bnc_gemv(s, &a.qp, q, wbytes, a.rows, act, y, a.isa, pool, err)) ||
        (rc = bnc_gemv_ref_f64(s, &a.qp, q, wbytes, a.rows, a.cols, x, a.batch, y64, err)))
        goto done;
    double num = 0, den = 0;
    for (int64_t i = 0; i < a.batch * a.rows; i++) {
        num += (y[i] - y64[i]) * (y[i] - y64[i]);
        den += y64[i] * y64[i];
    }
    /* Copies of the packed weights, rotated so each call streams from memory. */
    size_t footprint = a.footprint_mb > 0 ? (size_t)a.footprint_mb << 20 : default_footprint();
    size_t stride = (wbytes + 63) / 64 * 64;
    size_t copies = footprint / stride < 2 ? 2 : footprint / stride;
    arena = aligned_alloc(64, copies * stride);
    if (!arena) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory for %zu copies of the weights", copies);
        goto done;
    }
    for (size_t c = 0; c < copies; c++)
        memcpy(arena + c * stride, q, wbytes);
    double min_s = (double)a.min_ms * 1e-3, best = 1e30;
    size_t pos = 0;
    for (int64_t rep = 0; rep <= a.reps && !rc; rep++) {
        double t0 = bnc_now(), t;
        long calls = 0;
        do {
            rc = bnc_gemv(s, &a.qp, arena + (pos++ % copies) * stride, wbytes, a.rows, act, y,
                          a.isa, pool, err);
            calls++;
            t = bnc_now() - t0;
        } while (!rc && t < min_s);
        if (rep > 0 && t / (double)calls < best) /* rep 0 warms up */
            best = t / (double)calls;
    }
    if (rc) goto done;
    double bw = bnc_stream_read_gbps(pool, arena, copies * stride / 64 * 64, min_s, (int)a.reps);
    double gbps = (double)wbytes / best / 1e9;
    bnc_metrics_add(out, "gbps", gbps, "GB/s");
    bnc_metrics_add(out, "bw_gbps", bw, "GB/s");
    bnc_metrics_add(out, "ratio", bw > 0 ? gbps / bw : 0.0, "x");
    bnc_metrics_add(out, "gweights_per_s", (double)n * (double)a.batch / best / 1e9, "Gw/s");
    bnc_metrics_add(out, "gemv_us", best * 1e6, "us");
    bnc_metrics_add(out, "gemv_rel_err", den > 0 ? sqrt(num / den) : 0.0, "");
    bnc_metrics_add(out, "weight_bytes", (double)wbytes, "B");
    bnc_metrics_add(out, "bits_per_weight", 8.0 * (double)wbytes / (double)n, "bit");
    bnc_metrics_add(out, "footprint_mb", (double)(copies * stride) / 1048576.0, "MiB");
done:
    bnc_pool_free(pool);
    bnc_act_free(act);
    free(arena);
    free(w);
    free(x);
    free(y);
    free(y64);
    free(q);
    return rc;
}

const bnc_task_kind bnc_kind_gemv_bench = {"gemv_bench", validate, cost, run};
