/* In-memory weight quantization of a loaded model with the kernels' scheme
 * table (the ppl_eval kind's "quantize the model in the worker"). */
#include <fnmatch.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

/* f32 copy of L (dequantized when it is quantized), malloc'd. */
static int linear_f32(const bnc_llm_linear *L, float **out, bnc_err *err)
{
    size_t n = (size_t)(L->rows * L->cols);
    float *w = malloc(n * sizeof *w);
    if (!w) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory for %s", L->name);
    int rc = 0;
    if (!L->scheme)
        memcpy(w, L->f32 ? L->f32 : L->data, n * sizeof *w);
    else
        rc = L->scheme->dequantize(L->data, L->nbytes, L->rows, L->cols, &L->qp, w, err);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int fits(const bnc_scheme *s, int64_t cols)
{
    return s->block <= 1 || cols % s->block == 0;
}

static int requant(bnc_llm_model *m, bnc_llm_linear *L, const bnc_scheme *s, const bnc_qparams *qp,
                   int weights_only, bnc_err *err)
{
    float *w = NULL;
    int rc = linear_f32(L, &w, err);
    if (rc) return rc;
    size_t cap = s->qsize(L->rows, L->cols, qp), written = 0;
    /* Large weights on 2 MiB pages where the kernel allows (fewer TLB misses
     * while the GEMV streams them). */
    void *dst = NULL;
    if (cap >= ((size_t)2 << 20)) {
        if (posix_memalign(&dst, (size_t)2 << 20, cap) != 0)
            dst = NULL;
        else
            madvise(dst, cap, MADV_HUGEPAGE);
    } else {
        dst = malloc(cap ? cap : 1);
    }
    if (!dst) {
        free(w);
        return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory for %s", L->name);
    }
    rc = s->quantize(w, L->rows, L->cols, qp, dst, cap, &written, err);
    free(w);
    if (rc) {
        free(dst);
        return bnc_err_prefix(err, "%s: ", L->name);
    }
    if (weights_only) {
        /* the same quantized weights, decoded once: f32 activations */
        float *y = malloc((size_t)(L->rows * L->cols) * sizeof *y);
        if (!y) {
            free(dst);
            return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory for %s", L->name);
        }
        rc = s->dequantize(dst, written, L->rows, L->cols, qp, y, err);
        free(dst);
        if (rc) {
            free(y);
            return rc;
        }
        if ((rc = llm_own(m, y, err))) return rc;
        L->scheme = NULL;
        L->type = 0;
        L->f32 = y;
        L->data = y;
        L->nbytes = (size_t)(L->rows * L->cols) * sizeof *y;
        L->stored_bytes = written; /* what the scheme stores, decoded for the run */
        return 0;
    }
    if ((rc = llm_own(m, dst, err))) return rc;
    L->scheme = s;
    L->qp = *qp;
    L->type = s->ggml_type >= 0 ? (uint32_t)s->ggml_type : 0;
    L->data = dst;
    L->nbytes = written;
    L->stored_bytes = written;
    L->f32 = NULL;
    return 0;
}

static int pick(const bnc_llm_quant_opts *o, const bnc_llm_linear *L, int head,
                const bnc_scheme **out, bnc_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < o->n_overrides; i++) {
        if (fnmatch(o->ov_pattern[i], L->name, 0) != 0) continue;
        if (strcmp(o->ov_scheme[i], "keep") == 0) return 0;
        const bnc_scheme *s = bnc_scheme_find(o->ov_scheme[i]);
        if (!bnc_llm_scheme_has_gemv(s))
            return bnc_err_set(err, BNC_EINVAL, "overrides: '%s': scheme '%s' %s", o->ov_pattern[i],
                               o->ov_scheme[i], s ? "has no GEMV kernel" : "is unknown");
        if (!fits(s, L->cols))
            return bnc_err_set(err, BNC_EINVAL,
                               "overrides: '%s': %s rows of %lld do not fit "
                               "scheme %s's blocks",
                               o->ov_pattern[i], L->name, (long long)L->cols, s->name);
        *out = s;
        return 0;
    }
    if (head) return 0; /* keep-policy: embedding table and output head */
    const bnc_scheme *s = bnc_scheme_find(o->scheme);
    if (s && fits(s, L->cols)) *out = s;
    return 0;
}

int bnc_llm_quantize(const bnc_llm_model *src, const bnc_llm_quant_opts *o, bnc_llm_model **out,
                     int64_t *n_quant, bnc_err *err)
{
    const bnc_scheme *def = o->scheme ? bnc_scheme_find(o->scheme) : NULL;
    if (!bnc_llm_scheme_has_gemv(def))
        return bnc_err_set(err, BNC_EINVAL, "scheme: '%s' %s", o->scheme ? o->scheme : "(none)",
                           def ? "has no GEMV kernel (bitnet, bitnet-row, bitnet-group, tq2_0, "
                                 "tq1_0, q8_0, q4_0 have)"
                               : "is unknown");
    bnc_llm_model *m = calloc(1, sizeof *m);
    llm_owner *ow = calloc(1, sizeof *ow);
    if (!m || !ow) {
        free(m);
        free(ow);
        return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    }
    m->owner = ow;
    ow->tok_borrowed = 1;
    m->cfg = src->cfg;
    m->w = src->w;
    m->tok = src->tok;
    m->path = strdup(src->path ? src->path : "(memory)");
    m->w.layers = malloc((size_t)src->cfg.n_layers * sizeof *m->w.layers);
    int rc = 0;
    if (!m->path || !m->w.layers) {
        rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
        goto fail;
    }
    memcpy(m->w.layers, src->w.layers, (size_t)src->cfg.n_layers * sizeof *m->w.layers);
    int64_t nq = 0;
    const bnc_scheme *s;
    /* Head tensors: only an override quantizes them. The embedding table
     * must stay row-decodable (a ggml block type). */
    if ((rc = pick(o, &m->w.tok_embd, 1, &s, err))) goto fail;
    if (s) {
        if (s->ggml_type < 0) {
            rc = bnc_err_set(err, BNC_EINVAL,
                             "overrides: token_embd.weight: scheme %s cannot "
                             "hold an embedding table (rows are looked up)",
                             s->name);
            goto fail;
        }
        if ((rc = requant(m, &m->w.tok_embd, s, &o->qp, o->weights_only, err))) goto fail;
        nq++;
    }
    if (src->w.tied)
        m->w.output = m->w.tok_embd;
    else {
        if ((rc = pick(o, &m->w.output, 1, &s, err))) goto fail;
        if (s) {
            if ((rc = requant(m, &m->w.output, s, &o->qp, o->weights_only, err))) goto fail;
            nq++;
        }
    }
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        bnc_llm_layer *y = &m->w.layers[l];
        bnc_llm_linear *mats[7] = {&y->wq,     &y->wk,   &y->wv,    &y->wo,
                                   &y->w_gate, &y->w_up, &y->w_down};
        for (int k = 0; k < 7; k++) {
            if ((rc = pick(o, mats[k], 0, &s, err))) goto fail;
            if (!s) continue;
            bnc_qparams qp = o->qp;
            qp.stream = (uint64_t)(l * 7 + k);
            if ((rc = requant(m, mats[k], s, &qp, o->weights_only, err))) goto fail;
            nq++;
        }
    }
    if (n_quant) *n_quant = nq;
    *out = m;
    return 0;
fail:
    bnc_llm_free(m);
    return rc;
}
