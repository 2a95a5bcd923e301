/* Loading a llama / BitNet model: GGUF (llama.cpp names and metadata) or a
 * Hugging Face llama checkpoint (config.json + safetensors, Q/K rows
 * permuted into llama.cpp's RoPE order), every shape checked against the
 * hyperparameters before the forward pass may read a byte. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bnc_gguf.h"
#include "llm_internal.h"

int llm_own(bnc_llm_model *m, void *p, bnc_err *err)
{
    llm_owner *o = m->owner;
    if (o->n_bufs == o->cap_bufs) {
        size_t cap = o->cap_bufs ? 2 * o->cap_bufs : 64;
        void **nb = realloc(o->bufs, cap * sizeof *nb);
        if (!nb) {
            free(p);
            return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
        }
        o->bufs = nb;
        o->cap_bufs = cap;
    }
    o->bufs[o->n_bufs++] = p;
    return 0;
}

static bnc_llm_model *model_new(void)
{
    bnc_llm_model *m = calloc(1, sizeof *m);
    llm_owner *o = calloc(1, sizeof *o);
    if (!m || !o) {
        free(m);
        free(o);
        return NULL;
    }
    m->owner = o;
    return m;
}

void bnc_llm_free(bnc_llm_model *m)
{
    if (!m) return;
    llm_owner *o = m->owner;
    if (!o || !o->tok_borrowed) llm_tok_free(m->tok);
    if (o) {
        for (size_t i = 0; i < o->n_bufs; i++)
            free(o->bufs[i]);
        free(o->bufs);
        bnc_model_free(o->model);
        free(o);
    }
    free(m->w.layers);
    free(m->path);
    free(m);
}

/* ---- hyperparameters ------------------------------------------------------ */

static int gguf_int(const bnc_gguf *g, const char *fname, const char *key, int64_t def,
                    int64_t *out, bnc_err *err)
{
    const bnc_gguf_value *v = bnc_gguf_get(g, key);
    if (!v) {
        if (def < 0) return bnc_err_set(err, BNC_EFORMAT, "%s: %s: missing", fname, key);
        *out = def;
        return 0;
    }
    switch (v->type) {
    case BNC_GGUF_UINT8:
    case BNC_GGUF_UINT16:
    case BNC_GGUF_UINT32:
    case BNC_GGUF_UINT64:
        if (v->v.u > (uint64_t)1 << 40) break;
        *out = (int64_t)v->v.u;
        return 0;
    case BNC_GGUF_INT8:
    case BNC_GGUF_INT16:
    case BNC_GGUF_INT32:
    case BNC_GGUF_INT64:
        if (v->v.i < 0 || v->v.i > (int64_t)1 << 40) break;
        *out = v->v.i;
        return 0;
    default:
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: expected an integer, found %s", fname, key,
                           bnc_gguf_vtype_name(v->type));
    }
    return bnc_err_set(err, BNC_EFORMAT, "%s: %s: value out of range", fname, key);
}

static int gguf_float(const bnc_gguf *g, const char *fname, const char *key, float def, float *out,
                      bnc_err *err)
{
    const bnc_gguf_value *v = bnc_gguf_get(g, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (v->type == BNC_GGUF_FLOAT32)
        *out = v->v.f32;
    else if (v->type == BNC_GGUF_FLOAT64)
        *out = (float)v->v.f64;
    else
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: expected a float, found %s", fname, key,
                           bnc_gguf_vtype_name(v->type));
    if (!(*out > 0) || *out > 1e12f)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: value %g out of range", fname, key,
                           (double)*out);
    return 0;
}

static int arch_parse(const char *s, int *arch)
{
    if (strcmp(s, "llama") == 0)
        *arch = BNC_LLM_LLAMA;
    else if (strcmp(s, "bitnet") == 0 || strcmp(s, "bitnet-b1.58") == 0)
        *arch = BNC_LLM_BITNET;
    else
        return -1;
    return 0;
}

static int config_gguf(const bnc_gguf *g, const char *fname, bnc_llm_config *c, bnc_err *err)
{
    const bnc_gguf_value *a = bnc_gguf_get(g, "general.architecture");
    if (!a) return bnc_err_set(err, BNC_EFORMAT, "%s: general.architecture: missing", fname);
    if (a->type != BNC_GGUF_STRING)
        return bnc_err_set(err, BNC_EFORMAT, "%s: general.architecture: not a string", fname);
    const char *an = a->v.str.s;
    if (arch_parse(an, &c->arch))
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: general.architecture: unknown architecture '%.64s' (known: "
                           "llama, bitnet, bitnet-b1.58)",
                           fname, an);
    char k[160];
    int rc;
#define KEY(suffix) (snprintf(k, sizeof k, "%.64s.%s", an, suffix), k)
    if ((rc = gguf_int(g, fname, KEY("block_count"), -1, &c->n_layers, err)) ||
        (rc = gguf_int(g, fname, KEY("embedding_length"), -1, &c->dim, err)) ||
        (rc = gguf_int(g, fname, KEY("feed_forward_length"), -1, &c->ff, err)) ||
        (rc = gguf_int(g, fname, KEY("attention.head_count"), -1, &c->n_heads, err)) ||
        (rc =
             gguf_int(g, fname, KEY("attention.head_count_kv"), c->n_heads, &c->n_kv_heads, err)) ||
        (rc = gguf_int(g, fname, KEY("context_length"), 2048, &c->ctx, err)) ||
        (rc = gguf_float(g, fname, KEY("rope.freq_base"), 10000.0f, &c->rope_base, err)) ||
        (rc = gguf_float(g, fname, KEY("attention.layer_norm_rms_epsilon"), 1e-5f, &c->norm_eps,
                         err)))
        return rc;
    if (c->n_layers < 1 || c->dim < 1 || c->ff < 1 || c->n_heads < 1 || c->n_kv_heads < 1 ||
        c->ctx < 1)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: %s: must be >= 1 (block_count, "
                           "embedding_length, feed_forward_length, head_count(_kv), "
                           "context_length)",
                           fname, an);
    if (c->dim % c->n_heads)
        return bnc_err_set(
            err, BNC_EFORMAT, "%s: %s: embedding_length %lld is not a multiple of head_count %lld",
            fname, KEY("attention.head_count"), (long long)c->dim, (long long)c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return bnc_err_set(
            err, BNC_EFORMAT, "%s: %s: head_count %lld is not a multiple of head_count_kv %lld",
            fname, KEY("attention.head_count_kv"), (long long)c->n_heads, (long long)c->n_kv_heads);
#undef KEY
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2)
        return bnc_err_set(err, BNC_EFORMAT, "%s: head dimension %lld is odd (RoPE needs pairs)",
                           fname, (long long)c->head_dim);
    return 0;
}

static int json_int_key(json_t *o, const char *fname, const char *key, int64_t def, int64_t *out,
                        bnc_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (def < 0) return bnc_err_set(err, BNC_EFORMAT, "%s: %s: missing", fname, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > ((json_int_t)1 << 40))
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: expected a positive integer", fname, key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int config_hf(const char *cfg_path, bnc_llm_config *c, bnc_err *err)
{
    json_error_t je;
    json_t *o = json_load_file(cfg_path, 0, &je);
    if (!o) return bnc_err_set(err, BNC_EFORMAT, "%s: line %d: %s", cfg_path, je.line, je.text);
    int rc = 0;
    if (!json_is_object(o)) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: not a JSON object", cfg_path);
        goto done;
    }
    const char *mt = json_string_value(json_object_get(o, "model_type"));
    if (!mt) mt = "llama";
    if (arch_parse(mt, &c->arch)) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: model_type: unknown architecture '%.64s'", cfg_path,
                         mt);
        goto done;
    }
    if ((rc = json_int_key(o, cfg_path, "hidden_size", -1, &c->dim, err)) ||
        (rc = json_int_key(o, cfg_path, "num_hidden_layers", -1, &c->n_layers, err)) ||
        (rc = json_int_key(o, cfg_path, "intermediate_size", -1, &c->ff, err)) ||
        (rc = json_int_key(o, cfg_path, "num_attention_heads", -1, &c->n_heads, err)) ||
        (rc = json_int_key(o, cfg_path, "num_key_value_heads", c->n_heads, &c->n_kv_heads, err)) ||
        (rc = json_int_key(o, cfg_path, "max_position_embeddings", 2048, &c->ctx, err)))
        goto done;
    json_t *rt = json_object_get(o, "rope_theta"), *eps = json_object_get(o, "rms_norm_eps");
    c->rope_base = rt && json_is_number(rt) ? (float)json_number_value(rt) : 10000.0f;
    c->norm_eps = eps && json_is_number(eps) ? (float)json_number_value(eps) : 1e-6f;
    if (!(c->rope_base > 0) || !(c->norm_eps > 0)) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: rope_theta/rms_norm_eps: must be > 0", cfg_path);
        goto done;
    }
    if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads || (c->dim / c->n_heads) % 2) {
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: num_attention_heads/num_key_value_heads: do not divide "
                         "hidden_size into even heads",
                         cfg_path);
        goto done;
    }
    c->head_dim = c->dim / c->n_heads;
done:
    json_decref(o);
    return rc;
}

/* ---- tensors ----------------------------------------------------------------- */

typedef struct loader {
    bnc_llm_model *m;
    bnc_model *mo;
    const char *fname;
    int hf; /* Hugging Face names and Q/K order */
} loader;

/* The name of GGUF tensor `g` in a HF checkpoint. */
static void hf_name(const char *g, char *out, size_t n)
{
    static const char *const map[][2] = {
        {"attn_norm", "input_layernorm"},     {"attn_q", "self_attn.q_proj"},
        {"attn_k", "self_attn.k_proj"},       {"attn_v", "self_attn.v_proj"},
        {"attn_output", "self_attn.o_proj"},  {"ffn_norm", "post_attention_layernorm"},
        {"ffn_gate", "mlp.gate_proj"},        {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"},        {"attn_sub_norm", "self_attn.attn_sub_norm"},
        {"ffn_sub_norm", "mlp.ffn_sub_norm"},
    };
    if (strcmp(g, "token_embd.weight") == 0) {
        snprintf(out, n, "model.embed_tokens.weight");
        return;
    }
    if (strcmp(g, "output_norm.weight") == 0) {
        snprintf(out, n, "model.norm.weight");
        return;
    }
    if (strcmp(g, "output.weight") == 0) {
        snprintf(out, n, "lm_head.weight");
        return;
    }
    int layer = 0, off = 0;
    char part[64] = "";
    if (sscanf(g, "blk.%d.%n", &layer, &off) == 1 && off > 0) {
        snprintf(part, sizeof part, "%s", g + off);
        char *dot = strrchr(part, '.');
        if (dot) *dot = 0;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(part, map[i][0]) == 0) {
                snprintf(out, n, "model.layers.%d.%s.weight", layer, map[i][1]);
                return;
            }
    }
    snprintf(out, n, "%s", g);
}

static long find(const loader *L, const char *gname, char *shown, size_t n)
{
    char hn[160];
    if (L->hf)
        hf_name(gname, hn, sizeof hn);
    else
        snprintf(hn, sizeof hn, "%s", gname);
    snprintf(shown, n, "%s", hn);
    return bnc_model_find(L->mo, hn);
}

/* A 1-D f32 copy of a norm weight of length len. */
static int load_vec(loader *L, const char *gname, int64_t len, const float **out, bnc_err *err)
{
    char nm[160];
    long i = find(L, gname, nm, sizeof nm);
    if (i < 0) return bnc_err_set(err, BNC_EFORMAT, "%s: %s: tensor missing", L->fname, nm);
    const bnc_model_tensor *t = &L->mo->tensors[i];
    if (t->cols * t->rows != len || (t->rows != 1))
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: %s: shape %lldx%lld disagrees with the hyperparameters "
                           "(expects %lld)",
                           L->fname, nm, (long long)t->cols, (long long)t->rows, (long long)len);
    float *v = malloc((size_t)len * sizeof *v);
    if (!v) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    int rc = bnc_model_rows_f32(L->mo, (size_t)i, 0, 1, v, err);
    if (rc) {
        free(v);
        return rc;
    }
    if ((rc = llm_own(L->m, v, err))) return rc;
    if ((rc = bnc_check_finite(v, len, err))) return bnc_err_prefix(err, "%s: %s: ", L->fname, nm);
    *out = v;
    return 0;
}

/* f32 copy of tensor i, rows optionally permuted from HF's rotate-half order
 * into llama.cpp's adjacent-pair order (heads of head_dim rows). */
static int to_f32(loader *L, long i, int64_t heads, float **out, bnc_err *err)
{
    const bnc_model_tensor *t = &L->mo->tensors[i];
    float *w = malloc((size_t)(t->rows * t->cols) * sizeof *w);
    if (!w) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory for %s", t->name);
    int rc = 0;
    if (heads <= 0) {
        rc = bnc_model_rows_f32(L->mo, (size_t)i, 0, t->rows, w, err);
    } else {
        /* gguf row h*hd + 2j + k holds HF row h*hd + k*hd/2 + j (the
         * converter's reshape(heads, 2, hd/2).swapaxes(1, 2)). */
        int64_t hd = t->rows / heads;
        for (int64_t h = 0; h < heads && !rc; h++)
            for (int64_t j = 0; j < hd / 2 && !rc; j++)
                for (int64_t k = 0; k < 2 && !rc; k++)
                    rc = bnc_model_rows_f32(L->mo, (size_t)i, h * hd + k * (hd / 2) + j, 1,
                                            w + (h * hd + 2 * j + k) * t->cols, err);
    }
    if (!rc)
        rc = llm_own(L->m, w, err);
    else
        free(w);
    if (!rc) *out = w;
    return rc;
}

static int load_linear(loader *L, const char *gname, int64_t rows, int64_t cols, int64_t heads,
                       bnc_llm_linear *out, int optional, bnc_err *err)
{
    char nm[160];
    long i = find(L, gname, nm, sizeof nm);
    memset(out, 0, sizeof *out);
    if (i < 0) {
        if (optional) return 1;
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: tensor missing", L->fname, nm);
    }
    const bnc_model_tensor *t = &L->mo->tensors[i];
    if (t->n_dims != 2 || t->rows != rows || t->cols != cols)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: %s: shape %lldx%lld (cols x rows) disagrees with the "
                           "hyperparameters (expects %lldx%lld)",
                           L->fname, nm, (long long)t->cols, (long long)t->rows, (long long)cols,
                           (long long)rows);
    out->name = t->name;
    out->type = t->type;
    out->rows = rows;
    out->cols = cols;
    out->data = t->data;
    out->nbytes = (size_t)t->nbytes;
    out->stored_bytes = (size_t)t->nbytes;
    int permute = L->hf && heads > 0;
    int aligned = ((uintptr_t)t->data % sizeof(float)) == 0;
    if (t->type == 0 && !permute && aligned) return 0;
    if (t->type != 0 && !permute && t->type != 1 && t->type != 30 && t->type != BNC_TYPE_U8) {
        bnc_err e2;
        if (llm_linear_bind(out, &e2) == 0) return 0;
    }
    /* f16/bf16 (converted once per layer, at load), HF Q/K (permuted) and
     * types without a GEMV (dequantized): an owned f32 copy. */
    float *w = NULL;
    int rc = to_f32(L, i, permute ? heads : 0, &w, err);
    if (rc) return bnc_err_prefix(err, "%s: ", L->fname);
    if ((rc = bnc_check_finite(w, rows * cols, err)))
        return bnc_err_prefix(err, "%s: %s: ", L->fname, nm);
    out->f32 = w;
    out->type = 0;
    out->scheme = NULL;
    out->data = w;
    out->nbytes = (size_t)(rows * cols) * sizeof(float);
    return 0;
}

static int load_tensors(loader *L, bnc_err *err)
{
    bnc_llm_model *m = L->m;
    bnc_llm_config *c = &m->cfg;
    char nm[160];
    long ie = find(L, "token_embd.weight", nm, sizeof nm);
    if (ie < 0) return bnc_err_set(err, BNC_EFORMAT, "%s: %s: tensor missing", L->fname, nm);
    c->vocab = L->mo->tensors[ie].rows;
    if (c->vocab < 2)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: vocabulary of %lld tokens", L->fname, nm,
                           (long long)c->vocab);
    int rc = load_linear(L, "token_embd.weight", c->vocab, c->dim, 0, &m->w.tok_embd, 0, err);
    if (rc) return rc;
    /* Nine tensors per layer at least: a hostile block_count fails here,
     * before anything is allocated for it. */
    if (c->n_layers > (int64_t)(L->mo->n_tensors / 9))
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: block_count: %lld layers, but the file holds only %zu tensors",
                           L->fname, (long long)c->n_layers, L->mo->n_tensors);
    m->w.layers = calloc((size_t)c->n_layers, sizeof *m->w.layers);
    if (!m->w.layers) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    int64_t kv = c->n_kv_heads * c->head_dim;
    for (int64_t l = 0; l < c->n_layers; l++) {
        bnc_llm_layer *y = &m->w.layers[l];
        char g[96];
#define NAME(s) (snprintf(g, sizeof g, "blk.%lld.%s.weight", (long long)l, s), g)
        if ((rc = load_vec(L, NAME("attn_norm"), c->dim, &y->attn_norm, err)) ||
            (rc = load_linear(L, NAME("attn_q"), c->dim, c->dim, c->n_heads, &y->wq, 0, err)) ||
            (rc = load_linear(L, NAME("attn_k"), kv, c->dim, c->n_kv_heads, &y->wk, 0, err)) ||
            (rc = load_linear(L, NAME("attn_v"), kv, c->dim, 0, &y->wv, 0, err)) ||
            (rc = load_linear(L, NAME("attn_output"), c->dim, c->dim, 0, &y->wo, 0, err)) ||
            (rc = load_vec(L, NAME("ffn_norm"), c->dim, &y->ffn_norm, err)) ||
            (rc = load_linear(L, NAME("ffn_gate"), c->ff, c->dim, 0, &y->w_gate, 0, err)) ||
            (rc = load_linear(L, NAME("ffn_up"), c->ff, c->dim, 0, &y->w_up, 0, err)) ||
            (rc = load_linear(L, NAME("ffn_down"), c->dim, c->ff, 0, &y->w_down, 0, err)))
            return rc;
        if (c->arch == BNC_LLM_BITNET &&
            ((rc = load_vec(L, NAME("attn_sub_norm"), c->dim, &y->attn_sub_norm, err)) ||
             (rc = load_vec(L, NAME("ffn_sub_norm"), c->ff, &y->ffn_sub_norm, err))))
            return rc;
#undef NAME
    }
    if ((rc = load_vec(L, "output_norm.weight", c->dim, &m->w.output_norm, err))) return rc;
    rc = load_linear(L, "output.weight", c->vocab, c->dim, 0, &m->w.output, 1, err);
    if (rc < 0) return rc;
    if (rc == 1) {
        m->w.output = m->w.tok_embd;
        m->w.tied = 1;
    }
    /* The embedding table is read row by row: its type must decode rows. */
    if (m->w.tok_embd.scheme && m->w.tok_embd.scheme->ggml_type < 0)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: scheme %s cannot be an embedding table",
                           L->fname, nm, m->w.tok_embd.scheme->name);
    return 0;
}

int llm_load_opened(bnc_model *mo, const char *path, const char *cfg_json, bnc_llm_model **out,
                    bnc_err *err)
{
    bnc_llm_model *m = model_new();
    if (!m) {
        bnc_model_free(mo);
        return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    }
    ((llm_owner *)m->owner)->model = mo;
    m->path = strdup(path);
    loader L = {m, mo, path, mo->format != BNC_MODEL_GGUF};
    int rc = 0;
    if (!m->path)
        rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    else if (!L.hf)
        rc = config_gguf(mo->gguf, path, &m->cfg, err);
    else if (cfg_json)
        rc = config_hf(cfg_json, &m->cfg, err);
    else {
        /* A checkpoint without config.json (bnc model synth's safetensors):
         * sizes from the shapes, 64-dimensional heads as synth writes. */
        long iq = bnc_model_find(mo, "model.layers.0.self_attn.q_proj.weight");
        long ik = bnc_model_find(mo, "model.layers.0.self_attn.k_proj.weight");
        long ig = bnc_model_find(mo, "model.layers.0.mlp.gate_proj.weight");
        if (iq < 0 || ik < 0 || ig < 0)
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "%s: config.json: missing beside the checkpoint, and layer 0's "
                             "q_proj/k_proj/gate_proj are not there to infer the sizes",
                             path);
        else {
            bnc_llm_config *c = &m->cfg;
            c->arch = bnc_model_find(mo, "model.layers.0.mlp.ffn_sub_norm.weight") >= 0
                          ? BNC_LLM_BITNET
                          : BNC_LLM_LLAMA;
            c->dim = mo->tensors[iq].cols;
            c->ff = mo->tensors[ig].rows;
            c->head_dim = 64;
            c->n_heads = c->dim / 64;
            c->n_kv_heads = mo->tensors[ik].rows / 64;
            c->ctx = 2048;
            c->rope_base = 10000.0f;
            c->norm_eps = 1e-5f;
            for (c->n_layers = 0;; c->n_layers++) {
                char g[96];
                snprintf(g, sizeof g, "model.layers.%lld.self_attn.q_proj.weight",
                         (long long)c->n_layers);
                if (bnc_model_find(mo, g) < 0) break;
            }
            if (c->dim % 64 || c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads)
                rc = bnc_err_set(err, BNC_EFORMAT,
                                 "%s: config.json: missing, and the shapes do not fit 64-wide "
                                 "heads",
                                 path);
        }
    }
    if (!rc) rc = load_tensors(&L, err);
    if (!rc && !L.hf) rc = llm_tok_from_gguf(mo->gguf, path, &m->tok, err);
    if (!rc && m->tok && bnc_llm_tok_vocab(m->tok) > m->cfg.vocab)
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: tokenizer.ggml.tokens: %lld tokens but token_embd has %lld rows",
                         path, (long long)bnc_llm_tok_vocab(m->tok), (long long)m->cfg.vocab);
    if (!rc && !m->tok && m->cfg.vocab < 258)
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: tokenizer: none in the file and the vocabulary (%lld) is too "
                         "small for the byte-level one (258)",
                         path, (long long)m->cfg.vocab);
    if (rc) {
        bnc_llm_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int bnc_llm_load(const char *path, void *cache, bnc_llm_model **out, bnc_err *err)
{
    struct stat st;
    char mp[4200], cfg[4200];
    const char *cfgp = NULL;
    const char *open_path = path;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        snprintf(mp, sizeof mp, "%s/model.safetensors.index.json", path);
        if (stat(mp, &st) != 0) snprintf(mp, sizeof mp, "%s/model.safetensors", path);
        open_path = mp;
        cfgp = cfg;
    } else {
        /* A .safetensors file (or index) with a config.json beside it. */
        const char *slash = strrchr(path, '/');
        size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
        snprintf(cfg, sizeof cfg, "%.*sconfig.json", (int)dl, path);
        if (stat(cfg, &st) == 0) cfgp = cfg;
    }
    bnc_model *mo;
    int rc = bnc_model_open(open_path, cache, &mo, err);
    if (rc) return rc;
    if (mo->format == BNC_MODEL_GGUF)
        cfgp = NULL;
    else if (cfgp && stat(cfgp, &st) != 0) {
        if (open_path == mp) {
            bnc_model_free(mo);
            return bnc_err_set(err, BNC_EFORMAT, "%s: missing", cfgp);
        }
        cfgp = NULL;
    }
    return llm_load_opened(mo, path, cfgp, out, err);
}

const bnc_llm_tok *bnc_llm_tokenizer(const bnc_llm_model *m)
{
    return m->tok ? m->tok : llm_tok_bytes();
}

int bnc_llm_from_f32(const bnc_llm_config *cfg, const bnc_llm_f32 *w, bnc_llm_model **out,
                     bnc_err *err)
{
    const bnc_llm_config *c = cfg;
    if (c->dim < 1 || c->n_layers < 1 || c->ff < 1 || c->n_heads < 1 || c->n_kv_heads < 1 ||
        c->vocab < 2 || c->ctx < 1 || c->dim % c->n_heads || c->n_heads % c->n_kv_heads ||
        c->head_dim != c->dim / c->n_heads || c->head_dim % 2 ||
        (c->arch != BNC_LLM_LLAMA && c->arch != BNC_LLM_BITNET))
        return bnc_err_set(err, BNC_EINVAL, "llm: inconsistent configuration");
    bnc_llm_model *m = model_new();
    if (!m) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    m->cfg = *c;
    m->path = strdup("(memory)");
    m->w.layers = calloc((size_t)c->n_layers, sizeof *m->w.layers);
    if (!m->path || !m->w.layers) {
        bnc_llm_free(m);
        return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    }
    int64_t kv = c->n_kv_heads * c->head_dim;
#define LIN(dst, nm, ptr, r, cl)                                                                   \
    do {                                                                                           \
        (dst).name = nm;                                                                           \
        (dst).type = 0;                                                                            \
        (dst).rows = r;                                                                            \
        (dst).cols = cl;                                                                           \
        (dst).data = ptr;                                                                          \
        (dst).nbytes = (size_t)((r) * (cl)) * sizeof(float);                                       \
    } while (0)
    LIN(m->w.tok_embd, "token_embd.weight", w->tok_embd, c->vocab, c->dim);
    m->w.output_norm = w->output_norm;
    if (w->output)
        LIN(m->w.output, "output.weight", w->output, c->vocab, c->dim);
    else {
        m->w.output = m->w.tok_embd;
        m->w.tied = 1;
    }
    for (int64_t l = 0; l < c->n_layers; l++) {
        const bnc_llm_f32_layer *s = &w->layers[l];
        bnc_llm_layer *y = &m->w.layers[l];
        y->attn_norm = s->attn_norm;
        y->ffn_norm = s->ffn_norm;
        y->attn_sub_norm = s->attn_sub_norm;
        y->ffn_sub_norm = s->ffn_sub_norm;
        if (c->arch == BNC_LLM_BITNET && (!s->attn_sub_norm || !s->ffn_sub_norm)) {
            bnc_llm_free(m);
            return bnc_err_set(err, BNC_EINVAL, "llm: layer %lld: BitNet needs sub-norms",
                               (long long)l);
        }
        LIN(y->wq, "attn_q", s->wq, c->dim, c->dim);
        LIN(y->wk, "attn_k", s->wk, kv, c->dim);
        LIN(y->wv, "attn_v", s->wv, kv, c->dim);
        LIN(y->wo, "attn_output", s->wo, c->dim, c->dim);
        LIN(y->w_gate, "ffn_gate", s->w_gate, c->ff, c->dim);
        LIN(y->w_up, "ffn_up", s->w_up, c->ff, c->dim);
        LIN(y->w_down, "ffn_down", s->w_down, c->dim, c->ff);
    }
#undef LIN
    *out = m;
    return 0;
}

int bnc_llm_from_model(void *model, const char *name, const char *config_json, bnc_llm_model **out,
                       bnc_err *err)
{
    return llm_load_opened(model, name, config_json, out, err);
}
