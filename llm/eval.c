/* Evaluation with llama-perplexity's protocol: the text's tokens are cut
 * into non-overlapping chunks of ctx tokens, each chunk starts a fresh
 * context with its first token replaced by BOS, and only the second half
 * of each chunk is scored (every scored token has at least ctx/2 tokens of
 * context). PPL = exp(mean NLL); its +/- is llama.cpp's: the standard error
 * of the mean NLL, sqrt((E[nll^2] - E[nll]^2) / (N - 1)), times PPL (first
 * order error propagation through exp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_time.h"
#include "llm_internal.h"

double bnc_llm_bytes_per_token(const bnc_llm_model *m)
{
    const bnc_llm_weights *w = &m->w;
    double b = (double)llm_linear_bytes(&w->output);
    b += (double)llm_linear_bytes(&w->tok_embd) / (double)w->tok_embd.rows;
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        const bnc_llm_layer *y = &w->layers[l];
        b += (double)(llm_linear_bytes(&y->wq) + llm_linear_bytes(&y->wk) +
                      llm_linear_bytes(&y->wv) + llm_linear_bytes(&y->wo) +
                      llm_linear_bytes(&y->w_gate) + llm_linear_bytes(&y->w_up) +
                      llm_linear_bytes(&y->w_down));
    }
    return b;
}

/* log-softmax of one row (double accumulation) into lp (may be NULL);
 * returns log p[tok]; *argmax gets the top token. */
static double log_softmax(const float *l, int64_t v, int32_t tok, double *lp, int64_t *argmax)
{
    float mx = l[0];
    int64_t am = 0;
    for (int64_t i = 1; i < v; i++)
        if (l[i] > mx) {
            mx = l[i];
            am = i;
        }
    double sum = 0;
    for (int64_t i = 0; i < v; i++)
        sum += exp((double)l[i] - (double)mx);
    double lse = (double)mx + log(sum);
    if (lp)
        for (int64_t i = 0; i < v; i++)
            lp[i] = (double)l[i] - lse;
    if (argmax) *argmax = am;
    return (double)l[tok] - lse;
}

typedef struct runner {
    const bnc_llm_model *m;
    bnc_llm_state *s;
    float *logits; /* (ctx - first) x vocab */
    int64_t ctx, first, batch;
} runner;

static int runner_new(runner *r, const bnc_llm_model *m, int64_t ctx, int64_t batch, bnc_pool *pool,
                      bnc_err *err)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->ctx = ctx;
    r->first = ctx / 2;
    r->batch = batch > 0 ? batch : ctx;
    int rc = bnc_llm_state_new(m, ctx, pool, &r->s, err);
    if (rc) return rc;
    r->logits = malloc((size_t)(ctx - r->first) * (size_t)m->cfg.vocab * sizeof(float));
    if (!r->logits) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory for logits");
    return 0;
}

static void runner_free(runner *r)
{
    bnc_llm_state_free(r->s);
    free(r->logits);
}

/* Runs chunk toks[0..ctx) (toks[0] already BOS); logits of positions
 * first..ctx-1 land in r->logits. */
static int runner_chunk(runner *r, const int32_t *toks, bnc_err *err)
{
    bnc_llm_state_reset(r->s);
    int rc = 0;
    for (int64_t i = 0; i < r->first && !rc; i += r->batch) {
        int64_t k = r->first - i < r->batch ? r->first - i : r->batch;
        rc = bnc_llm_forward(r->s, toks + i, k, NULL, 0, err);
    }
    for (int64_t i = r->first; i < r->ctx && !rc; i += r->batch) {
        int64_t k = r->ctx - i < r->batch ? r->ctx - i : r->batch;
        rc = bnc_llm_forward(r->s, toks + i, k,
                             r->logits + (size_t)(i - r->first) * (size_t)r->m->cfg.vocab, 0, err);
    }
    return rc;
}

static int check_opts(const bnc_llm_model *m, int64_t n, const bnc_llm_ppl_opts *o, int64_t *ctx,
                      int64_t *chunks, bnc_err *err)
{
    *ctx = o && o->ctx > 0 ? o->ctx : 512;
    if (*ctx < 4)
        return bnc_err_set(err, BNC_EINVAL, "ctx: %lld is too small (at least 4)", (long long)*ctx);
    if (*ctx > m->cfg.ctx)
        return bnc_err_set(err, BNC_EINVAL, "ctx: %lld exceeds the model's context_length %lld",
                           (long long)*ctx, (long long)m->cfg.ctx);
    if (n < 2 * *ctx)
        return bnc_err_set(err, BNC_EINVAL,
                           "text: %lld tokens, too short: at least %lld (2 x ctx) are needed for "
                           "a context of %lld",
                           (long long)n, (long long)(2 * *ctx), (long long)*ctx);
    *chunks = n / *ctx;
    if (o && o->chunks > 0 && o->chunks < *chunks) *chunks = o->chunks;
    return 0;
}

static void ppl_finish(double nll, double nll2, int64_t count, bnc_llm_ppl_result *r)
{
    double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    r->nll = mean;
    r->nll_err = var > 0 && count > 1 ? sqrt(var / (double)(count - 1)) : 0;
    r->ppl = exp(mean);
    r->ppl_err = r->nll_err * r->ppl;
    r->scored = count;
}

int bnc_llm_ppl(const bnc_llm_model *m, const int32_t *tokens, int64_t n, const bnc_llm_ppl_opts *o,
                bnc_pool *pool, bnc_llm_ppl_result *res, bnc_err *err)
{
    memset(res, 0, sizeof *res);
    int64_t ctx, chunks;
    int rc = check_opts(m, n, o, &ctx, &chunks, err);
    if (rc) return rc;
    double t0 = bnc_now();
    runner r;
    int32_t *toks = malloc((size_t)ctx * sizeof *toks);
    if (!toks) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    if ((rc = runner_new(&r, m, ctx, o ? o->batch : 0, pool, err))) goto done;
    int32_t bos = bnc_llm_tok_bos(bnc_llm_tokenizer(m));
    double nll = 0, nll2 = 0;
    int64_t count = 0, V = m->cfg.vocab;
    for (int64_t c = 0; c < chunks && !rc; c++) {
        memcpy(toks, tokens + c * ctx, (size_t)ctx * sizeof *toks);
        if (bos >= 0 && bos < V) toks[0] = bos;
        if ((rc = runner_chunk(&r, toks, err))) break;
        for (int64_t j = 0; j + 1 < ctx - r.first; j++) {
            double lp =
                log_softmax(r.logits + (size_t)j * (size_t)V, V, toks[r.first + j + 1], NULL, NULL);
            nll -= lp;
            nll2 += lp * lp;
            count++;
        }
        res->chunks = c + 1;
        if (o && o->progress) o->progress(o->progress_arg, c, exp(nll / (double)count));
    }
    if (!rc) {
        ppl_finish(nll, nll2, count, res);
        res->seconds = bnc_now() - t0;
    }
done:
    runner_free(&r);
    free(toks);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between the order statistics of sorted v[0..n). */
static double percentile(const double *v, int64_t n, double q)
{
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    if (i >= n - 1) return v[n - 1];
    double f = pos - (double)i;
    return v[i] * (1 - f) + v[i + 1] * f;
}

int bnc_llm_kld(const bnc_llm_model *base, const bnc_llm_model *quant, const int32_t *tokens,
                int64_t n, const bnc_llm_ppl_opts *o, bnc_pool *pool, bnc_llm_kld_result *res,
                bnc_err *err)
{
    memset(res, 0, sizeof *res);
    if (base->cfg.vocab != quant->cfg.vocab)
        return bnc_err_set(err, BNC_EINVAL, "kld: vocabularies differ (%lld and %lld tokens)",
                           (long long)base->cfg.vocab, (long long)quant->cfg.vocab);
    int64_t ctx, chunks;
    int rc = check_opts(base, n, o, &ctx, &chunks, err);
    if (!rc) rc = check_opts(quant, n, o, &ctx, &chunks, err);
    if (rc) return rc;
    double t0 = bnc_now();
    int64_t V = base->cfg.vocab, per = ctx - ctx / 2 - 1;
    runner rb, rq;
    memset(&rq, 0, sizeof rq);
    int32_t *toks = malloc((size_t)ctx * sizeof *toks);
    double *lpb = malloc((size_t)V * sizeof *lpb), *lpq = malloc((size_t)V * sizeof *lpq);
    double *kl = malloc((size_t)(chunks * per) * sizeof *kl);
    if (!toks || !lpb || !lpq || !kl) {
        rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
        memset(&rb, 0, sizeof rb);
        goto done;
    }
    if ((rc = runner_new(&rb, base, ctx, o ? o->batch : 0, pool, err)) ||
        (rc = runner_new(&rq, quant, ctx, o ? o->batch : 0, pool, err)))
        goto done;
    int32_t bos = bnc_llm_tok_bos(bnc_llm_tokenizer(base));
    double nb = 0, nb2 = 0, nq = 0, nq2 = 0, sk = 0, sk2 = 0, sd = 0, sd2 = 0, sp2 = 0, sp4 = 0;
    int64_t count = 0, same = 0;
    for (int64_t c = 0; c < chunks && !rc; c++) {
        memcpy(toks, tokens + c * ctx, (size_t)ctx * sizeof *toks);
        if (bos >= 0 && bos < V) toks[0] = bos;
        if ((rc = runner_chunk(&rb, toks, err)) || (rc = runner_chunk(&rq, toks, err))) break;
        for (int64_t j = 0; j < per; j++) {
            int32_t tok = toks[rb.first + j + 1];
            int64_t ab, aq;
            double b = log_softmax(rb.logits + (size_t)j * (size_t)V, V, tok, lpb, &ab);
            double q = log_softmax(rq.logits + (size_t)j * (size_t)V, V, tok, lpq, &aq);
            double k = 0;
            for (int64_t i = 0; i < V; i++)
                k += exp(lpb[i]) * (lpb[i] - lpq[i]);
            kl[count] = k;
            nb -= b;
            nb2 += b * b;
            nq -= q;
            nq2 += q * q;
            sk += k;
            sk2 += k * k;
            double d = b - q; /* nll_q - nll_base */
            sd += d;
            sd2 += d * d;
            double dp = exp(q) - exp(b);
            sp2 += dp * dp;
            sp4 += dp * dp * dp * dp;
            same += ab == aq;
            count++;
        }
        if (o && o->progress) o->progress(o->progress_arg, c, sk / (double)count);
    }
    if (rc) goto done;
    double N = (double)count;
    ppl_finish(nb, nb2, count, &res->base);
    ppl_finish(nq, nq2, count, &res->quant);
    res->base.chunks = res->quant.chunks = chunks;
    res->scored = count;
    res->kld = sk / N;
    double vk = sk2 / N - res->kld * res->kld;
    res->kld_err = vk > 0 && count > 1 ? sqrt(vk / (N - 1)) : 0;
    res->ln_ratio = sd / N;
    double vd = sd2 / N - res->ln_ratio * res->ln_ratio;
    res->ln_ratio_err = vd > 0 && count > 1 ? sqrt(vd / (N - 1)) : 0;
    double ms = sp2 / N, vms = sp4 / N - ms * ms;
    res->rms_dp = sqrt(ms);
    res->rms_dp_err =
        res->rms_dp > 0 && vms > 0 && count > 1 ? sqrt(vms / (N - 1)) / (2 * res->rms_dp) : 0;
    res->same_top = (double)same / N;
    res->same_top_err = count > 1 ? sqrt(res->same_top * (1 - res->same_top) / (N - 1)) : 0;
    qsort(kl, (size_t)count, sizeof *kl, cmp_double);
    static const double qs[8] = {0.999, 0.99, 0.95, 0.90, 0.50, 0.10, 0.05, 0.01};
    for (int i = 0; i < 8; i++)
        res->kld_pct[i] = percentile(kl, count, qs[i]);
    res->kld_max = kl[count - 1];
    res->base.seconds = res->quant.seconds = bnc_now() - t0;
done:
    runner_free(&rb);
    runner_free(&rq);
    free(toks);
    free(lpb);
    free(lpq);
    free(kl);
    return rc;
}
