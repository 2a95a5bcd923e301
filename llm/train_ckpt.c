/* Checkpoints of `bnc train`: PATH is the model (a GGUF with llama.cpp names
 * and metadata, nothing else, so any llama-style loader reads it), PATH.train
 * the training state (a GGUF holding the f32 master weights, AdamW moments
 * and error-feedback residuals, with the same configuration keys and the
 * step). Both are written to .tmp files and renamed, the state first. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_ggml.h"
#include "bnc_gguf.h"
#include "bnc_kernels.h"
#include "bnc_train.h"

static int set_u32(bnc_gguf *g, const char *k, uint32_t v, bnc_err *err)
{
    bnc_gguf_value x = bnc_gguf_v_u32(v);
    return bnc_gguf_set(g, k, &x, err);
}
static int set_u64(bnc_gguf *g, const char *k, uint64_t v, bnc_err *err)
{
    bnc_gguf_value x = bnc_gguf_v_u64(v);
    return bnc_gguf_set(g, k, &x, err);
}
static int set_f32(bnc_gguf *g, const char *k, float v, bnc_err *err)
{
    bnc_gguf_value x = bnc_gguf_v_f32(v);
    return bnc_gguf_set(g, k, &x, err);
}
static int set_f64(bnc_gguf *g, const char *k, double v, bnc_err *err)
{
    bnc_gguf_value x = {.type = BNC_GGUF_FLOAT64};
    x.v.f64 = v;
    return bnc_gguf_set(g, k, &x, err);
}
static int set_str(bnc_gguf *g, const char *k, const char *v, bnc_err *err)
{
    bnc_gguf_value x = bnc_gguf_v_str(v);
    return bnc_gguf_set(g, k, &x, err);
}

static const char *arch_name(int arch)
{
    return arch == BNC_TR_BITNET ? "bitnet" : "llama";
}

static const char *gc_name(int gc)
{
    static const char *n[] = {"none", "int8", "ternary", "sign"};
    return gc >= 0 && gc <= 3 ? n[gc] : "?";
}

/* The configuration keys both files carry. */
static int put_config(bnc_gguf *g, const bnc_tr_config *c, bnc_err *err)
{
    const char *a = arch_name(c->arch);
    char k[96];
    int rc = set_str(g, "general.architecture", a, err);
    if (!rc) rc = set_str(g, "general.name", "bnc-train", err);
#define KEY(s) (snprintf(k, sizeof k, "%s." s, a), k)
    if (!rc) rc = set_u32(g, KEY("context_length"), (uint32_t)c->ctx, err);
    if (!rc) rc = set_u32(g, KEY("embedding_length"), (uint32_t)c->dim, err);
    if (!rc) rc = set_u32(g, KEY("block_count"), (uint32_t)c->n_layers, err);
    if (!rc) rc = set_u32(g, KEY("feed_forward_length"), (uint32_t)c->ff, err);
    if (!rc) rc = set_u32(g, KEY("attention.head_count"), (uint32_t)c->n_heads, err);
    if (!rc) rc = set_u32(g, KEY("attention.head_count_kv"), (uint32_t)c->n_heads, err);
    if (!rc) rc = set_u32(g, KEY("rope.dimension_count"), (uint32_t)(c->dim / c->n_heads), err);
    if (!rc) rc = set_f32(g, KEY("rope.freq_base"), c->rope_base, err);
    if (!rc) rc = set_f32(g, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps, err);
    if (!rc) rc = set_u32(g, KEY("vocab_size"), (uint32_t)c->vocab, err);
#undef KEY
    if (!rc) rc = set_str(g, "bnc.train.quant", c->quant ? "bitnet" : "none", err);
    if (!rc) rc = set_u32(g, "bnc.train.act_quant", (uint32_t)c->act_quant, err);
    if (!rc) rc = set_str(g, "bnc.train.vocabulary", "bytes+bos+eos", err);
    return rc;
}

static int put_opts(bnc_gguf *g, const bnc_train_opts *o, int64_t step, const char *sha,
                    bnc_err *err)
{
    int rc = set_u64(g, "bnc.train.step", (uint64_t)step, err);
    if (!rc) rc = set_u64(g, "bnc.train.steps", (uint64_t)o->steps, err);
    if (!rc) rc = set_u64(g, "bnc.train.seed", o->seed, err);
    if (!rc) rc = set_u64(g, "bnc.train.batch", (uint64_t)o->batch, err);
    if (!rc) rc = set_u64(g, "bnc.train.warmup", (uint64_t)o->warmup, err);
    if (!rc) rc = set_f64(g, "bnc.train.lr", o->lr, err);
    if (!rc) rc = set_f64(g, "bnc.train.min_lr_frac", o->min_lr_frac, err);
    if (!rc) rc = set_f64(g, "bnc.train.weight_decay", o->weight_decay, err);
    if (!rc) rc = set_f64(g, "bnc.train.clip", o->clip, err);
    if (!rc) rc = set_str(g, "bnc.train.grad_compress", gc_name(o->grad_compress), err);
    if (!rc) rc = set_str(g, "bnc.train.corpus_sha256", sha ? sha : "", err);
    return rc;
}

/* The GGUF type id of a scheme, from the kernels' table (the one place the
 * ggml ids live). */
uint32_t bnc_train_ggml_id(const char *scheme)
{
    const bnc_scheme *k = bnc_scheme_find(scheme);
    return k ? (uint32_t)k->ggml_type : 0;
}

static int add2(bnc_gguf *g, const char *name, int64_t rows, int64_t cols, uint32_t type,
                bnc_err *err)
{
    int64_t ne[2] = {cols, rows};
    return bnc_gguf_add_tensor(g, name, rows == 1 ? 1u : 2u, ne, type, err);
}

static int write_renamed(bnc_gguf *g, const char *path, const void *const *data, bnc_err *err)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp", path);
    int rc = bnc_gguf_write_file(g, tmp, data, err);
    if (!rc && rename(tmp, path) != 0)
        rc = bnc_err_set(err, BNC_EIO, "%s: rename from %s: %s", path, tmp, strerror(errno));
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

int bnc_tr_save(const char *path, const bnc_tr_layout *L, const bnc_train_opts *o,
                const bnc_tr_state *s, const char *train_sha, bnc_err *err)
{
    const bnc_tr_config *c = &L->cfg;
    int rc = 0;
    int nt = L->n_tensors;
    /* ---- the state file ---- */
    size_t plen = strlen(path) + 8;
    char *spath = malloc(plen);
    bnc_gguf *g = bnc_gguf_new();
    const void **data = calloc((size_t)(3 * nt + 1), sizeof *data);
    float *wq = NULL;
    void **packed = calloc((size_t)nt, sizeof *packed);
    if (!spath || !g || !data || !packed) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(spath, plen, "%s.train", path);
    rc = put_config(g, c, err);
    if (!rc) rc = put_opts(g, o, s->step, train_sha, err);
    int k = 0;
    char nm[96];
    for (int i = 0; !rc && i < nt; i++) {
        const bnc_tr_tensor *t = &L->t[i];
        snprintf(nm, sizeof nm, "train.w.%s", t->name);
        rc = add2(g, nm, t->rows, t->cols, bnc_train_ggml_id("f32"), err);
        data[k++] = s->w + t->off;
        snprintf(nm, sizeof nm, "train.m.%s", t->name);
        if (!rc) rc = add2(g, nm, t->rows, t->cols, bnc_train_ggml_id("f32"), err);
        data[k++] = s->m + t->off;
        snprintf(nm, sizeof nm, "train.v.%s", t->name);
        if (!rc) rc = add2(g, nm, t->rows, t->cols, bnc_train_ggml_id("f32"), err);
        data[k++] = s->v + t->off;
    }
    if (!rc && s->ef && s->ef_ranks > 0) {
        int64_t ne[2] = {(int64_t)L->n_params, s->ef_ranks};
        rc = bnc_gguf_add_tensor(g, "train.ef", 2, ne, bnc_train_ggml_id("f32"), err);
        data[k++] = s->ef;
    }
    if (!rc) rc = write_renamed(g, spath, data, err);
    bnc_gguf_free(g);
    g = NULL;
    if (rc) goto done;

    /* ---- the model file ---- */
    g = bnc_gguf_new();
    if (!g) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto done;
    }
    rc = put_config(g, c, err);
    if (!rc) rc = put_opts(g, o, s->step, train_sha, err);
    const bnc_scheme *tq2 = bnc_scheme_find("tq2_0");
    if (c->quant) {
        wq = malloc(L->n_params * sizeof *wq);
        if (!wq)
            rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        else
            bnc_tr_quantize_weights(L, s->w, wq);
    }
    int all_packed = 1;
    for (int i = 0; !rc && i < nt; i++) {
        const bnc_tr_tensor *t = &L->t[i];
        if (c->quant && t->linear && tq2 && t->cols % 256 == 0) {
            /* ternary values gamma * {-1,0,1}: tq2_0 stores them exactly (d = gamma) */
            bnc_qparams qp = {0};
            size_t cap = tq2->qsize(t->rows, t->cols, &qp), wr = 0;
            packed[i] = malloc(cap);
            if (!packed[i]) {
                rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
                break;
            }
            rc = tq2->quantize(wq + t->off, t->rows, t->cols, &qp, packed[i], cap, &wr, err);
            if (!rc) rc = add2(g, t->name, t->rows, t->cols, bnc_train_ggml_id("tq2_0"), err);
            data[i] = packed[i];
        } else {
            if (c->quant && t->linear) all_packed = 0;
            rc = add2(g, t->name, t->rows, t->cols, bnc_train_ggml_id("f32"), err);
            data[i] = (c->quant ? wq : s->w) + t->off;
        }
    }
    if (!rc && c->quant)
        rc = set_str(g, "bnc.train.ternary_storage",
                     all_packed ? "tq2_0" : "f32 (rows not a multiple of 256)", err);
    if (!rc) rc = write_renamed(g, path, data, err);
done:
    bnc_gguf_free(g);
    if (packed)
        for (int i = 0; i < nt; i++)
            free(packed[i]);
    free(packed);
    free(wq);
    free(data);
    free(spath);
    return rc;
}

void bnc_tr_state_free(bnc_tr_state *s)
{
    if (!s) return;
    free(s->w);
    free(s->m);
    free(s->v);
    free(s->ef);
    memset(s, 0, sizeof *s);
}

static int read_file(const char *path, uint8_t **buf, size_t *n, bnc_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bnc_err_set(err, errno == ENOENT || errno == ENOTDIR ? BNC_EINVAL : BNC_EIO,
                           "%s: cannot open checkpoint: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return bnc_err_set(err, BNC_EIO, "%s: seek failed", path);
    }
    long sz = ftell(f);
    rewind(f);
    if (sz < 0) {
        fclose(f);
        return bnc_err_set(err, BNC_EIO, "%s: cannot size", path);
    }
    *buf = malloc((size_t)sz + 1);
    if (!*buf) {
        fclose(f);
        return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
    }
    size_t got = fread(*buf, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) {
        free(*buf);
        return bnc_err_set(err, BNC_EIO, "%s: short read", path);
    }
    *n = got;
    return 0;
}

static int want_u32(const bnc_gguf *g, const char *path, const char *key, int64_t want,
                    bnc_err *err)
{
    const bnc_gguf_value *v = bnc_gguf_get(g, key);
    if (!v || v->type != BNC_GGUF_UINT32)
        return bnc_err_set(err, BNC_EFORMAT, "%s: key %s missing", path, key);
    if ((int64_t)v->v.u != want)
        return bnc_err_set(err, BNC_EINVAL,
                           "%s: checkpoint of another configuration: %s is %llu, this run has %lld",
                           path, key, (unsigned long long)v->v.u, (long long)want);
    return 0;
}

int bnc_tr_load(const char *path, const bnc_tr_layout *L, bnc_tr_state *s, bnc_err *err)
{
    memset(s, 0, sizeof *s);
    const bnc_tr_config *c = &L->cfg;
    size_t plen = strlen(path) + 8;
    char *spath = malloc(plen);
    if (!spath) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    snprintf(spath, plen, "%s.train", path);
    uint8_t *buf = NULL;
    size_t n = 0;
    bnc_gguf *g = NULL;
    int rc = read_file(spath, &buf, &n, err);
    if (!rc) rc = bnc_gguf_parse(buf, n, spath, &g, err);
    if (rc) goto done;
    const bnc_gguf_value *a = bnc_gguf_get(g, "general.architecture");
    if (!a || a->type != BNC_GGUF_STRING) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: general.architecture missing", spath);
        goto done;
    }
    if (strcmp(a->v.str.s, arch_name(c->arch)) != 0) {
        rc = bnc_err_set(err, BNC_EINVAL,
                         "%s: checkpoint of another configuration: general.architecture is %s, "
                         "this run has %s",
                         spath, a->v.str.s, arch_name(c->arch));
        goto done;
    }
    const bnc_gguf_value *q = bnc_gguf_get(g, "bnc.train.quant");
    const char *qwant = c->quant ? "bitnet" : "none";
    if (!q || q->type != BNC_GGUF_STRING || strcmp(q->v.str.s, qwant) != 0) {
        rc = bnc_err_set(err, BNC_EINVAL,
                         "%s: checkpoint of another configuration: bnc.train.quant is %s, this "
                         "run has %s",
                         spath, q && q->type == BNC_GGUF_STRING ? q->v.str.s : "(missing)", qwant);
        goto done;
    }
    char k[96];
    const char *an = arch_name(c->arch);
    struct {
        const char *key;
        int64_t v;
    } keys[] = {{"context_length", c->ctx},           {"embedding_length", c->dim},
                {"block_count", c->n_layers},         {"feed_forward_length", c->ff},
                {"attention.head_count", c->n_heads}, {"vocab_size", c->vocab}};
    for (size_t i = 0; !rc && i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(k, sizeof k, "%s.%s", an, keys[i].key);
        rc = want_u32(g, spath, k, keys[i].v, err);
    }
    if (!rc) rc = want_u32(g, spath, "bnc.train.act_quant", c->act_quant, err);
    if (rc) goto done;
    const bnc_gguf_value *st = bnc_gguf_get(g, "bnc.train.step");
    if (!st || st->type != BNC_GGUF_UINT64) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: bnc.train.step missing", spath);
        goto done;
    }
    s->step = (int64_t)st->v.u;
    s->w = malloc(L->n_params * sizeof(float));
    s->m = malloc(L->n_params * sizeof(float));
    s->v = malloc(L->n_params * sizeof(float));
    if (!s->w || !s->m || !s->v) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto done;
    }
    char nm[96];
    const char *pre[3] = {"train.w.", "train.m.", "train.v."};
    float *dst[3] = {s->w, s->m, s->v};
    for (int i = 0; !rc && i < L->n_tensors; i++) {
        const bnc_tr_tensor *t = &L->t[i];
        for (int j = 0; j < 3; j++) {
            snprintf(nm, sizeof nm, "%s%s", pre[j], t->name);
            long ti = bnc_gguf_find_tensor(g, nm);
            if (ti < 0) {
                rc = bnc_err_set(err, BNC_EFORMAT, "%s: tensor %s missing", spath, nm);
                break;
            }
            const bnc_gguf_tensor *gt = &g->tensors[ti];
            if (gt->type != bnc_train_ggml_id("f32") || gt->ne[0] != t->cols ||
                (gt->n_dims > 1 ? gt->ne[1] : 1) != t->rows) {
                rc = bnc_err_set(err, BNC_EINVAL,
                                 "%s: tensor %s has another shape or type than this run's", spath,
                                 nm);
                break;
            }
            memcpy(dst[j] + t->off, buf + g->data_offset + gt->offset,
                   (size_t)(t->rows * t->cols) * sizeof(float));
        }
    }
    long ei = rc ? -1 : bnc_gguf_find_tensor(g, "train.ef");
    if (ei >= 0) {
        const bnc_gguf_tensor *gt = &g->tensors[ei];
        if (gt->type != bnc_train_ggml_id("f32") || gt->ne[0] != (int64_t)L->n_params ||
            gt->n_dims != 2) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: train.ef has the wrong shape", spath);
        } else {
            s->ef_ranks = (int)gt->ne[1];
            s->ef = malloc((size_t)gt->nbytes);
            if (!s->ef)
                rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
            else
                memcpy(s->ef, buf + g->data_offset + gt->offset, (size_t)gt->nbytes);
        }
    }
done:
    if (rc) bnc_tr_state_free(s);
    bnc_gguf_free(g);
    free(buf);
    free(spath);
    return rc;
}
