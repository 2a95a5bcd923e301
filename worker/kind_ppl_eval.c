/* ppl_eval: a whole model quantized in the worker with one scheme (keep
 * policy and overrides as in bnc_llm_quantize), then measured the way
 * llama-perplexity measures quantized models: perplexity on a text with
 * llama-perplexity's protocol, KL divergence of the next-token distribution
 * from the unquantized (f32) model's on the same tokens, weight bytes per
 * token and the batch-1 generation rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_llm.h"
#include "bnc_model.h"
#include "bnc_time.h"
#include "kinds.h"
#include "model_src.h"

static const char *const keys[] = {"model",  "scheme",    "group",      "text",         "ctx",
                                   "chunks", "overrides", "gen_tokens", "weights_only", NULL};

#define MAX_OV 16

typedef struct pe_args {
    const json_t *model;
    const char *scheme; /* "f32": the unquantized model */
    long long group, ctx, chunks, gen, weights_only;
    char text[4096];
    char ovbuf[1024];
    const char *ov_pat[MAX_OV], *ov_scheme[MAX_OV];
    size_t n_ov;
} pe_args;

static int parse(const json_t *params, const bnc_task_ctx *ctx, pe_args *a, bnc_err *err)
{
    memset(a, 0, sizeof *a);
    const char *text, *ov = NULL;
    int rc = bnc_params_only(params, keys, err);
    if (!rc) rc = bnc_model_param(params, ctx, &a->model, err);
    if (!rc) rc = bnc_param_str(params, "scheme", &a->scheme, err);
    if (!rc) rc = bnc_param_str(params, "text", &text, err);
    if (!rc) rc = bnc_param_int(params, "group", 0, 0, 1 << 24, &a->group, err);
    if (!rc) rc = bnc_param_int(params, "ctx", 128, 4, 8192, &a->ctx, err);
    if (!rc) rc = bnc_param_int(params, "chunks", 4, 1, 1 << 20, &a->chunks, err);
    if (!rc) rc = bnc_param_int(params, "gen_tokens", 16, 0, 4096, &a->gen, err);
    if (!rc) rc = bnc_param_int(params, "weights_only", 0, 0, 1, &a->weights_only, err);
    if (!rc && json_object_get(params, "overrides"))
        rc = bnc_param_str(params, "overrides", &ov, err);
    if (rc) return rc;
    if (strcmp(a->scheme, "f32") != 0) {
        const bnc_scheme *s = bnc_scheme_find(a->scheme);
        if (!bnc_llm_scheme_has_gemv(s))
            return bnc_err_set(err, BNC_EINVAL,
                               "parameter 'scheme': '%s' %s (f32, or one with a GEMV: bitnet, "
                               "bitnet-row, bitnet-group, tq2_0, tq1_0, q8_0, q4_0)",
                               a->scheme, s ? "has no GEMV kernel" : "is unknown");
    }
    if (text[0] == '/' || !ctx || !ctx->spec_dir || !*ctx->spec_dir)
        snprintf(a->text, sizeof a->text, "%s", text);
    else
        snprintf(a->text, sizeof a->text, "%s/%s", ctx->spec_dir, text);
    if (ov) {
        /* "PATTERN=SCHEME,PATTERN=keep,..." */
        if (strlen(ov) >= sizeof a->ovbuf)
            return bnc_err_set(err, BNC_EINVAL, "parameter 'overrides' is too long");
        snprintf(a->ovbuf, sizeof a->ovbuf, "%s", ov);
        char *save = NULL;
        for (char *t = strtok_r(a->ovbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            if (!eq || eq == t || !eq[1])
                return bnc_err_set(err, BNC_EINVAL,
                                   "parameter 'overrides': '%s' is not PATTERN=SCHEME", t);
            if (a->n_ov == MAX_OV)
                return bnc_err_set(err, BNC_EINVAL, "parameter 'overrides': more than %d rules",
                                   MAX_OV);
            *eq = 0;
            const char *sc = eq + 1;
            if (strcmp(sc, "keep") != 0 && !bnc_llm_scheme_has_gemv(bnc_scheme_find(sc)))
                return bnc_err_set(err, BNC_EINVAL,
                                   "parameter 'overrides': '%s': scheme '%s' has no GEMV kernel", t,
                                   sc);
            a->ov_pat[a->n_ov] = t;
            a->ov_scheme[a->n_ov++] = sc;
        }
    }
    return 0;
}

static int validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    pe_args a;
    return parse(params, ctx, &a, err);
}

static double cost(const json_t *params, const bnc_task_ctx *ctx)
{
    pe_args a;
    bnc_err e;
    if (parse(params, ctx, &a, &e)) return 1.0;
    return bnc_model_entry_weights(a.model, ctx) * (double)(a.ctx * a.chunks) * 1e-6;
}

static int open_model(const pe_args *a, const bnc_task_ctx *ctx, bnc_llm_model **out, bnc_err *err)
{
    const char *p = json_string_value(json_object_get(a->model, "path"));
    if (p) {
        char full[4096];
        if (p[0] == '/' || !ctx || !ctx->spec_dir || !*ctx->spec_dir)
            snprintf(full, sizeof full, "%s", p);
        else
            snprintf(full, sizeof full, "%s/%s", ctx->spec_dir, p);
        return bnc_llm_load(full, ctx ? ctx->cache : NULL, out, err);
    }
    bnc_model *mo;
    int rc = bnc_model_entry_open(a->model, ctx, &mo, err);
    if (rc) return rc;
    return bnc_llm_from_model(mo, "synthetic model", NULL, out, err);
}

static int read_text(const char *path, char **out, size_t *n, bnc_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bnc_err_set(err, BNC_EINVAL, "parameter 'text': cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return bnc_err_set(err, BNC_ENOMEM, "out of memory reading %s", path);
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

static double matrix_bits(const bnc_llm_model *m, double *weights)
{
    double bits = 0, w = 0;
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        const bnc_llm_layer *y = &m->w.layers[l];
        const bnc_llm_linear *mats[7] = {&y->wq,     &y->wk,   &y->wv,    &y->wo,
                                         &y->w_gate, &y->w_up, &y->w_down};
        for (int k = 0; k < 7; k++) {
            const bnc_llm_linear *L = mats[k];
            /* the bytes stored (f16: 2 a weight), not the f32 copy computed on */
            size_t b = L->stored_bytes ? L->stored_bytes : bnc_llm_linear_bytes(L);
            bits += 8.0 * (double)b;
            w += (double)(L->rows * L->cols);
        }
    }
    *weights = w;
    return bits;
}

static int run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err)
{
    pe_args a;
    int rc = parse(params, ctx, &a, err);
    if (rc) return rc;
    double t0 = bnc_now();
    bnc_llm_model *base = NULL, *q = NULL;
    bnc_pool *pool = NULL;
    bnc_llm_state *st = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    size_t len = 0, n = 0;
    int64_t nq = 0;
    if ((rc = open_model(&a, ctx, &base, err))) goto done;
    if (strcmp(a.scheme, "f32") == 0) {
        q = base;
    } else {
        bnc_llm_quant_opts qo = {0};
        qo.scheme = a.scheme;
        qo.qp.group = a.group;
        qo.qp.seed = seed;
        qo.n_overrides = a.n_ov;
        qo.ov_pattern = a.ov_pat;
        qo.ov_scheme = a.ov_scheme;
        qo.weights_only = (int)a.weights_only;
        if ((rc = bnc_llm_quantize(base, &qo, &q, &nq, err))) goto done;
    }
    if ((rc = read_text(a.text, &text, &len, err))) goto done;
    if ((rc = bnc_llm_tokenize(bnc_llm_tokenizer(base), text, len, 1, &ids, &n, err))) goto done;
    if ((rc = bnc_pool_new(ctx && ctx->threads > 0 ? ctx->threads : 1, &pool, err))) goto done;
    bnc_llm_ppl_opts po = {a.ctx, a.chunks, 0, NULL, NULL};
    bnc_llm_kld_result r;
    if ((rc = bnc_llm_kld(base, q, ids, (int64_t)n, &po, pool, &r, err))) {
        if (rc == BNC_EINVAL) bnc_err_prefix(err, "parameter 'text': %s: ", a.text);
        goto done;
    }
    /* batch-1 generation rate of the quantized model (greedy continuation) */
    double tg = 0;
    if (a.gen > 0) {
        int64_t V = q->cfg.vocab;
        if ((rc = bnc_llm_state_new(q, a.gen + 1, pool, &st, err))) goto done;
        logits = malloc((size_t)V * sizeof *logits);
        if (!logits) {
            rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
            goto done;
        }
        int32_t tok = ids[0];
        double g0 = bnc_now();
        for (long long i = 0; i < a.gen && !rc; i++) {
            rc = bnc_llm_forward(st, &tok, 1, logits, 1, err);
            int64_t am = 0;
            for (int64_t v = 1; v < V; v++)
                if (logits[v] > logits[am]) am = v;
            tok = (int32_t)am;
        }
        double g1 = bnc_now();
        if (rc) goto done;
        tg = g1 > g0 ? (double)a.gen / (g1 - g0) : 0;
    }
    double weights, bits = matrix_bits(q, &weights);
    bnc_metrics_add(out, "ppl", r.quant.ppl, "");
    bnc_metrics_add(out, "ppl_err", r.quant.ppl_err, "");
    bnc_metrics_add(out, "nll", r.quant.nll, "nat");
    bnc_metrics_add(out, "ppl_base", r.base.ppl, "");
    bnc_metrics_add(out, "kld", r.kld, "nat");
    bnc_metrics_add(out, "kld_err", r.kld_err, "nat");
    bnc_metrics_add(out, "kld_max", r.kld_max, "nat");
    bnc_metrics_add(out, "kld_p99", r.kld_pct[1], "nat");
    bnc_metrics_add(out, "kld_median", r.kld_pct[4], "nat");
    bnc_metrics_add(out, "ln_ppl_ratio", r.ln_ratio, "");
    bnc_metrics_add(out, "ln_ppl_ratio_err", r.ln_ratio_err, "");
    bnc_metrics_add(out, "rms_dp", r.rms_dp, "");
    bnc_metrics_add(out, "same_top", r.same_top, "");
    bnc_metrics_add(out, "tokens_scored", (double)r.scored, "");
    bnc_metrics_add(out, "bits_per_weight", weights > 0 ? bits / weights : 0, "bit");
    bnc_metrics_add(out, "bytes_per_token", bnc_llm_bytes_per_token(q), "B");
    bnc_metrics_add(out, "quantized_tensors", (double)nq, "");
    if (a.gen > 0) bnc_metrics_add(out, "tg_tokens_per_s", tg, "tok/s");
    rc = bnc_metrics_add(out, "elapsed_s", bnc_now() - t0, "s");
done:
    free(text);
    free(ids);
    free(logits);
    bnc_llm_state_free(st);
    bnc_pool_free(pool);
    if (q != base) bnc_llm_free(q);
    bnc_llm_free(base);
    return rc;
}

const bnc_task_kind bnc_kind_ppl_eval = {"ppl_eval", validate, cost, run};
