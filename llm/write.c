/* Writing a model as GGUF with llama.cpp's names and metadata (a converted
 * HF checkpoint, a model trained by `bnc train`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"
#include "llm_internal.h"

typedef struct wlist {
    bnc_gguf *g;
    const void **data;
    size_t n, cap;
} wlist;

static int add(wlist *w, const char *name, int64_t rows, int64_t cols, uint32_t type,
               const void *data, bnc_err *err)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        const void **nd = realloc(w->data, cap * sizeof *nd);
        if (!nd) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
        w->data = nd;
        w->cap = cap;
    }
    int64_t ne[2] = {cols, rows};
    int rc = bnc_gguf_add_tensor(w->g, name, rows == 1 ? 1 : 2, ne, type, err);
    if (!rc) w->data[w->n++] = data;
    return rc;
}

static int add_linear(wlist *w, const char *name, const bnc_llm_linear *L, bnc_err *err)
{
    if (L->scheme && L->scheme->ggml_type < 0)
        return bnc_err_set(err, BNC_ENOTSUP,
                           "%s: scheme %s has no GGUF type (store bitnet as "
                           "tq2_0)",
                           name, L->scheme->name);
    uint32_t type = L->scheme ? (uint32_t)L->scheme->ggml_type : 0;
    const void *data = L->scheme ? L->data : (L->f32 ? (const void *)L->f32 : L->data);
    return add(w, name, L->rows, L->cols, type, data, err);
}

static int set(bnc_gguf *g, const char *key, bnc_gguf_value v, bnc_err *err)
{
    return bnc_gguf_set(g, key, &v, err);
}

int bnc_llm_write_gguf(const bnc_llm_model *m, const char *path, bnc_err *err)
{
    const bnc_llm_config *c = &m->cfg;
    const char *an = c->arch == BNC_LLM_BITNET ? "bitnet" : "llama";
    wlist w = {bnc_gguf_new(), NULL, 0, 0};
    if (!w.g) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    char k[128];
    int rc;
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", an, s), k)
    if ((rc = set(w.g, "general.architecture", bnc_gguf_v_str(an), err)) ||
        (rc = set(w.g, KEY("block_count"), bnc_gguf_v_u32((uint32_t)c->n_layers), err)) ||
        (rc = set(w.g, KEY("context_length"), bnc_gguf_v_u32((uint32_t)c->ctx), err)) ||
        (rc = set(w.g, KEY("embedding_length"), bnc_gguf_v_u32((uint32_t)c->dim), err)) ||
        (rc = set(w.g, KEY("feed_forward_length"), bnc_gguf_v_u32((uint32_t)c->ff), err)) ||
        (rc = set(w.g, KEY("attention.head_count"), bnc_gguf_v_u32((uint32_t)c->n_heads), err)) ||
        (rc = set(w.g, KEY("attention.head_count_kv"), bnc_gguf_v_u32((uint32_t)c->n_kv_heads),
                  err)) ||
        (rc = set(w.g, KEY("rope.freq_base"), bnc_gguf_v_f32(c->rope_base), err)) ||
        (rc =
             set(w.g, KEY("attention.layer_norm_rms_epsilon"), bnc_gguf_v_f32(c->norm_eps), err)) ||
        (rc = set(w.g, KEY("vocab_size"), bnc_gguf_v_u32((uint32_t)c->vocab), err)))
        goto done;
#undef KEY
    if (m->tok && (rc = llm_tok_to_gguf(m->tok, w.g, err))) goto done;
    const bnc_llm_weights *ws = &m->w;
    if ((rc = add_linear(&w, "token_embd.weight", &ws->tok_embd, err))) goto done;
    for (int64_t l = 0; l < c->n_layers && !rc; l++) {
        const bnc_llm_layer *y = &ws->layers[l];
        char nm[96];
#define NM(s) (snprintf(nm, sizeof nm, "blk.%lld.%s.weight", (long long)l, s), nm)
        if ((rc = add(&w, NM("attn_norm"), 1, c->dim, 0, y->attn_norm, err)) ||
            (rc = add_linear(&w, NM("attn_q"), &y->wq, err)) ||
            (rc = add_linear(&w, NM("attn_k"), &y->wk, err)) ||
            (rc = add_linear(&w, NM("attn_v"), &y->wv, err)) ||
            (rc = add_linear(&w, NM("attn_output"), &y->wo, err)) ||
            (rc = add(&w, NM("ffn_norm"), 1, c->dim, 0, y->ffn_norm, err)) ||
            (rc = add_linear(&w, NM("ffn_gate"), &y->w_gate, err)) ||
            (rc = add_linear(&w, NM("ffn_up"), &y->w_up, err)) ||
            (rc = add_linear(&w, NM("ffn_down"), &y->w_down, err)))
            break;
        if (c->arch == BNC_LLM_BITNET &&
            ((rc = add(&w, NM("attn_sub_norm"), 1, c->dim, 0, y->attn_sub_norm, err)) ||
             (rc = add(&w, NM("ffn_sub_norm"), 1, c->ff, 0, y->ffn_sub_norm, err))))
            break;
#undef NM
    }
    if (!rc) rc = add(&w, "output_norm.weight", 1, c->dim, 0, ws->output_norm, err);
    if (!rc && !ws->tied) rc = add_linear(&w, "output.weight", &ws->output, err);
    if (!rc) rc = bnc_gguf_write_file(w.g, path, w.data, err);
done:
    bnc_gguf_free(w.g);
    free(w.data);
    return rc;
}
