/* The forward pass, readable top to bottom: embedding, then per layer
 * RMSNorm -> Q/K/V -> RoPE -> causal grouped-query attention over the KV
 * cache -> (BitNet: sub-norm) -> output projection -> residual, RMSNorm ->
 * gate/up -> SwiGLU (BitNet: squared ReLU, sub-norm) -> down -> residual;
 * final RMSNorm and the output head. Tokens are processed in slices of at
 * most 64 (the GEMV's batch); each token's arithmetic does not depend on
 * the slice it is in nor on the thread count, so the KV-cache path (one
 * token at a time) and the whole-chunk path give the same logits. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

#define SLICE 64

struct bnc_llm_state {
    const bnc_llm_model *m;
    bnc_pool *pool;
    int nthreads;
    int64_t n_ctx, pos;
    float *kc, *vc; /* n_layers x n_ctx x kv_dim */
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2, *xo;
    float *scores; /* nthreads x n_ctx */
    llm_scratch scr;
};

void bnc_llm_state_free(bnc_llm_state *s)
{
    if (!s) return;
    free(s->kc);
    free(s->vc);
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->hb);
    free(s->hb2);
    free(s->xo);
    free(s->scores);
    llm_scratch_free(&s->scr);
    free(s);
}

int bnc_llm_state_new(const bnc_llm_model *m, int64_t n_ctx, bnc_pool *pool, bnc_llm_state **out,
                      bnc_err *err)
{
    const bnc_llm_config *c = &m->cfg;
    if (n_ctx < 1 || n_ctx > ((int64_t)1 << 24))
        return bnc_err_set(err, BNC_EINVAL, "llm: context %lld out of range", (long long)n_ctx);
    /* One BLAS thread: llm_linear splits the rows over our own pool, so
     * results do not depend on OpenBLAS's threading. */
    openblas_set_num_threads(1);
    bnc_llm_state *s = calloc(1, sizeof *s);
    if (!s) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    s->m = m;
    s->pool = pool;
    s->nthreads = pool ? bnc_pool_threads(pool) : 1;
    s->n_ctx = n_ctx;
    const char *sg = getenv("BNC_LLM_SGEMM");
    s->scr.sgemm = sg && strcmp(sg, "1") == 0;
    size_t kv = (size_t)(c->n_kv_heads * c->head_dim);
    size_t cache = (size_t)c->n_layers * (size_t)n_ctx * kv;
    size_t B = SLICE, d = (size_t)c->dim, f = (size_t)c->ff;
    s->kc = malloc(cache * sizeof(float));
    s->vc = malloc(cache * sizeof(float));
    s->x = malloc(B * d * sizeof(float));
    s->xb = malloc(B * d * sizeof(float));
    s->xb2 = malloc(B * d * sizeof(float));
    s->q = malloc(B * d * sizeof(float));
    s->k = malloc(B * kv * sizeof(float));
    s->v = malloc(B * kv * sizeof(float));
    s->hb = malloc(B * f * sizeof(float));
    s->hb2 = malloc(B * f * sizeof(float));
    s->xo = malloc(B * (d > f ? d : f) * sizeof(float));
    s->scores = malloc((size_t)s->nthreads * (size_t)n_ctx * sizeof(float));
    if (!s->kc || !s->vc || !s->x || !s->xb || !s->xb2 || !s->q || !s->k || !s->v || !s->hb ||
        !s->hb2 || !s->xo || !s->scores) {
        bnc_llm_state_free(s);
        return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory for a %lld-token state",
                           (long long)n_ctx);
    }
    *out = s;
    return 0;
}

void bnc_llm_state_reset(bnc_llm_state *s)
{
    s->pos = 0;
}

int64_t bnc_llm_state_pos(const bnc_llm_state *s)
{
    return s->pos;
}

/* y = x / sqrt(mean(x^2) + eps) * w, the mean accumulated in double. */
static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * scale * w[i];
}

/* llama.cpp's "normal" RoPE: each head's adjacent pairs (x[2i], x[2i+1])
 * rotate by pos * base^(-2i/head_dim). */
static void rope(float *x, int64_t heads, int64_t hd, int64_t pos, float base)
{
    for (int64_t i = 0; i < hd / 2; i++) {
        double th = (double)pos * pow((double)base, -2.0 * (double)i / (double)hd);
        float c = (float)cos(th), s = (float)sin(th);
        for (int64_t h = 0; h < heads; h++) {
            float *p = x + h * hd + 2 * i;
            float a = p[0], b = p[1];
            p[0] = a * c - b * s;
            p[1] = a * s + b * c;
        }
    }
}

typedef struct attn_job {
    bnc_llm_state *s;
    int64_t layer, n, pos0;
} attn_job;

/* Causal attention of the slice's n tokens (queries in s->q) over the
 * cache positions 0..pos0+t; output in s->xb2. (token, head) pairs are
 * split over the threads; each pair is computed alone. */
static void attn_part(void *arg, int tid, int nthreads)
{
    const attn_job *j = arg;
    bnc_llm_state *s = j->s;
    const bnc_llm_config *c = &s->m->cfg;
    int64_t hd = c->head_dim, kvd = c->n_kv_heads * hd, grp = c->n_heads / c->n_kv_heads;
    const float *kc = s->kc + (size_t)j->layer * (size_t)s->n_ctx * (size_t)kvd;
    const float *vc = s->vc + (size_t)j->layer * (size_t)s->n_ctx * (size_t)kvd;
    float *sc = s->scores + (size_t)tid * (size_t)s->n_ctx;
    float inv = 1.0f / sqrtf((float)hd);
    int64_t pairs = j->n * c->n_heads;
    for (int64_t p = pairs * tid / nthreads; p < pairs * (tid + 1) / nthreads; p++) {
        int64_t t = p / c->n_heads, h = p % c->n_heads, kvh = h / grp;
        int64_t last = j->pos0 + t;
        const float *q = s->q + t * c->dim + h * hd;
        float mx = -INFINITY;
        for (int64_t i = 0; i <= last; i++) {
            const float *k = kc + i * kvd + kvh * hd;
            sc[i] = cblas_sdot((int)hd, q, 1, k, 1) * inv;
            if (sc[i] > mx) mx = sc[i];
        }
        double sum = 0;
        for (int64_t i = 0; i <= last; i++) {
            sc[i] = expf(sc[i] - mx);
            sum += sc[i];
        }
        float rs = (float)(1.0 / sum);
        float *o = s->xb2 + t * c->dim + h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int64_t i = 0; i <= last; i++)
            cblas_saxpy((int)hd, sc[i] * rs, vc + i * kvd + kvh * hd, 1, o, 1);
    }
}

static int slice(bnc_llm_state *s, const int32_t *tok, int64_t n, float *logits, int64_t lfirst,
                 bnc_err *err)
{
    const bnc_llm_model *m = s->m;
    const bnc_llm_config *c = &m->cfg;
    const bnc_llm_weights *w = &m->w;
    int64_t d = c->dim, f = c->ff, hd = c->head_dim, kvd = c->n_kv_heads * hd;
    float eps = c->norm_eps;
    int rc = 0;
    for (int64_t t = 0; t < n; t++)
        if ((rc = llm_linear_row(&w->tok_embd, tok[t], s->x + t * d, err))) return rc;
    for (int64_t l = 0; l < c->n_layers; l++) {
        const bnc_llm_layer *y = &w->layers[l];
        /* attention */
        for (int64_t t = 0; t < n; t++)
            rmsnorm(s->xb + t * d, s->x + t * d, y->attn_norm, d, eps);
        if ((rc = llm_linear(&y->wq, s->xb, n, s->q, &s->scr, s->pool, err)) ||
            (rc = llm_linear(&y->wk, s->xb, n, s->k, &s->scr, s->pool, err)) ||
            (rc = llm_linear(&y->wv, s->xb, n, s->v, &s->scr, s->pool, err)))
            return rc;
        size_t base = (size_t)l * (size_t)s->n_ctx * (size_t)kvd;
        for (int64_t t = 0; t < n; t++) {
            rope(s->q + t * d, c->n_heads, hd, s->pos + t, c->rope_base);
            rope(s->k + t * kvd, c->n_kv_heads, hd, s->pos + t, c->rope_base);
            memcpy(s->kc + base + (size_t)(s->pos + t) * (size_t)kvd, s->k + t * kvd,
                   (size_t)kvd * sizeof(float));
            memcpy(s->vc + base + (size_t)(s->pos + t) * (size_t)kvd, s->v + t * kvd,
                   (size_t)kvd * sizeof(float));
        }
        attn_job aj = {s, l, n, s->pos};
        bnc_pool_run(s->pool, attn_part, &aj);
        if (c->arch == BNC_LLM_BITNET)
            for (int64_t t = 0; t < n; t++)
                rmsnorm(s->xb2 + t * d, s->xb2 + t * d, y->attn_sub_norm, d, eps);
        if ((rc = llm_linear(&y->wo, s->xb2, n, s->xo, &s->scr, s->pool, err))) return rc;
        for (int64_t i = 0; i < n * d; i++)
            s->x[i] += s->xo[i];
        /* feed-forward */
        for (int64_t t = 0; t < n; t++)
            rmsnorm(s->xb + t * d, s->x + t * d, y->ffn_norm, d, eps);
        if ((rc = llm_linear(&y->w_gate, s->xb, n, s->hb, &s->scr, s->pool, err)) ||
            (rc = llm_linear(&y->w_up, s->xb, n, s->hb2, &s->scr, s->pool, err)))
            return rc;
        if (c->arch == BNC_LLM_BITNET) {
            for (int64_t i = 0; i < n * f; i++) {
                float g = s->hb[i] > 0 ? s->hb[i] : 0.0f;
                s->hb[i] = g * g * s->hb2[i];
            }
            for (int64_t t = 0; t < n; t++)
                rmsnorm(s->hb + t * f, s->hb + t * f, y->ffn_sub_norm, f, eps);
        } else {
            for (int64_t i = 0; i < n * f; i++) {
                float g = s->hb[i];
                s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
            }
        }
        if ((rc = llm_linear(&y->w_down, s->hb, n, s->xo, &s->scr, s->pool, err))) return rc;
        for (int64_t i = 0; i < n * d; i++)
            s->x[i] += s->xo[i];
    }
    s->pos += n;
    if (!logits || lfirst >= n) return 0;
    int64_t nl = n - lfirst;
    for (int64_t t = 0; t < nl; t++)
        rmsnorm(s->xb + t * d, s->x + (lfirst + t) * d, w->output_norm, d, eps);
    return llm_linear(&w->output, s->xb, nl, logits, &s->scr, s->pool, err);
}

int bnc_llm_forward(bnc_llm_state *s, const int32_t *tokens, int64_t n, float *logits,
                    int last_only, bnc_err *err)
{
    const bnc_llm_config *c = &s->m->cfg;
    if (n < 1) return 0;
    if (s->pos + n > s->n_ctx)
        return bnc_err_set(err, BNC_ERANGE, "llm: context full (%lld + %lld > %lld positions)",
                           (long long)s->pos, (long long)n, (long long)s->n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return bnc_err_set(err, BNC_ERANGE, "llm: token %d out of the vocabulary (%lld)",
                               tokens[i], (long long)c->vocab);
    for (int64_t i0 = 0; i0 < n; i0 += SLICE) {
        int64_t k = n - i0 < SLICE ? n - i0 : SLICE;
        float *lg = NULL;
        int64_t lfirst = 0;
        if (logits && !last_only)
            lg = logits + i0 * c->vocab;
        else if (logits && i0 + k == n) {
            lg = logits;
            lfirst = k - 1;
        }
        int rc = slice(s, tokens + i0, k, lg, lfirst, err);
        if (rc) return rc;
    }
    return 0;
}
