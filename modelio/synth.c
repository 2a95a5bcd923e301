/* Synthetic llama-like models (see bnc_synth.h). */
#include "bnc_model_synth.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_gguf.h"
#include "bnc_model.h"
#include "bnc_out.h"
#include "bnc_rng.h"
#include "bnc_safetensors.h"
#include "convert.h"

#define OUTLIER_FRACTION 0.004 /* of input channels */

static int64_t round_up(int64_t x, int64_t a)
{
    return (x + a - 1) / a * a;
}

static int64_t count_params(int64_t d, int64_t l, int64_t ff, int64_t v, int64_t kv)
{
    int64_t layer = 2 * d * d + 2 * kv * d + 3 * d * ff + 2 * d;
    return l * layer + 2 * v * d + d;
}

int bnc_synth_shape_for(const bnc_synth_opts *o, bnc_synth_shape *out, bnc_err *err)
{
    bnc_synth_shape best = {0};
    int64_t best_diff = -1;
    int64_t dmin = o->dim ? o->dim : 256, dmax = o->dim ? o->dim : 16384;
    for (int64_t d = dmin; d <= dmax; d += 256) {
        bnc_synth_shape s;
        s.dim = d;
        s.layers = o->layers ? o->layers : (d / 128 < 1 ? 1 : d / 128);
        s.ff = o->ff ? o->ff : round_up(8 * d / 3, 256);
        s.kv_dim = o->kv_dim ? o->kv_dim : (d >= 2048 ? round_up(d / 4, 256) : d);
        if (o->vocab) {
            s.vocab = o->vocab;
        } else {
            s.vocab = 32000;
            /* Small models: keep embeddings to about a third of the total. */
            int64_t cap = o->params / (6 * d) / 256 * 256;
            if (o->params && s.vocab > cap) s.vocab = cap < 256 ? 256 : cap;
        }
        if (!o->layers && o->params) {
            /* As many layers as fit the target, about dim/128 for llama shapes. */
            int64_t layer = count_params(d, 1, s.ff, 0, s.kv_dim) - d;
            int64_t rest = o->params - 2 * s.vocab * d - d;
            int64_t l = rest > 0 ? (rest + layer / 2) / layer : 1;
            s.layers = l < 1 ? 1 : l;
            /* llama proportions: depth between dim/192 and dim/96 */
            int64_t lo = d / 192 < 1 ? 1 : d / 192, hi = d / 96 < 2 ? 2 : d / 96;
            if (s.layers < lo || s.layers > hi) continue;
        }
        s.params = count_params(s.dim, s.layers, s.ff, s.vocab, s.kv_dim);
        s.n_tensors = 9 * s.layers + 3;
        if (o->arch == BNC_SYNTH_BITNET) {
            s.n_tensors += 2 * s.layers; /* the two sub-norms */
            s.params += s.layers * (s.dim + s.ff);
        }
        int64_t diff = o->dim ? 0 : llabs(s.params - o->params);
        if (best_diff < 0 || diff < best_diff) {
            best = s;
            best_diff = diff;
        }
    }
    if (best.dim % 256 || best.ff % 256 || best.layers < 1 || best.vocab < 1 || best.kv_dim < 1)
        return bnc_err_set(err, BNC_EINVAL,
                           "synth: dim and ff must be multiples of 256, layers/vocab/kv_dim >= 1");
    if (!o->dim && o->params <= 0)
        return bnc_err_set(err, BNC_EINVAL, "synth: give a parameter count or explicit sizes");
    *out = best;
    return 0;
}

/* ---- the tensor list -------------------------------------------------------- */

enum kind { K_EMBED, K_NORM, K_MATRIX, K_OUTPUT };

typedef struct stensor {
    char gguf_name[64], hf_name[96];
    int64_t rows, cols; /* a 1-D tensor has rows == 1 */
    int one_d;
    enum kind kind;
    int reads_residual; /* input channels are the residual stream's */
} stensor;

static void add(stensor *t, size_t *n, const char *g, const char *h, int64_t rows, int64_t cols,
                enum kind k, int residual)
{
    stensor *s = &t[(*n)++];
    snprintf(s->gguf_name, sizeof s->gguf_name, "%s", g);
    snprintf(s->hf_name, sizeof s->hf_name, "%s", h);
    s->rows = rows;
    s->cols = cols;
    s->one_d = k == K_NORM;
    s->kind = k;
    s->reads_residual = residual;
}

static stensor *tensor_list(const bnc_synth_shape *s, int arch, size_t *n)
{
    stensor *t = calloc((size_t)s->n_tensors, sizeof *t);
    if (!t) return NULL;
    *n = 0;
    add(t, n, "token_embd.weight", "model.embed_tokens.weight", s->vocab, s->dim, K_EMBED, 0);
    for (int64_t l = 0; l < s->layers; l++) {
        char g[64], h[96];
#define ADD(gs, hs, r, c, k, res)                                                                  \
    snprintf(g, sizeof g, "blk.%lld.%s.weight", (long long)l, gs);                                 \
    snprintf(h, sizeof h, "model.layers.%lld.%s.weight", (long long)l, hs);                        \
    add(t, n, g, h, r, c, k, res)
        ADD("attn_norm", "input_layernorm", 1, s->dim, K_NORM, 0);
        ADD("attn_q", "self_attn.q_proj", s->dim, s->dim, K_MATRIX, 1);
        ADD("attn_k", "self_attn.k_proj", s->kv_dim, s->dim, K_MATRIX, 1);
        ADD("attn_v", "self_attn.v_proj", s->kv_dim, s->dim, K_MATRIX, 1);
        ADD("attn_output", "self_attn.o_proj", s->dim, s->dim, K_MATRIX, 0);
        ADD("ffn_norm", "post_attention_layernorm", 1, s->dim, K_NORM, 0);
        ADD("ffn_gate", "mlp.gate_proj", s->ff, s->dim, K_MATRIX, 1);
        ADD("ffn_up", "mlp.up_proj", s->ff, s->dim, K_MATRIX, 1);
        ADD("ffn_down", "mlp.down_proj", s->dim, s->ff, K_MATRIX, 0);
        if (arch == BNC_SYNTH_BITNET) {
            ADD("attn_sub_norm", "self_attn.attn_sub_norm", 1, s->dim, K_NORM, 0);
            ADD("ffn_sub_norm", "mlp.ffn_sub_norm", 1, s->ff, K_NORM, 0);
        }
#undef ADD
    }
    add(t, n, "output_norm.weight", "model.norm.weight", 1, s->dim, K_NORM, 0);
    add(t, n, "output.weight", "lm_head.weight", s->vocab, s->dim, K_OUTPUT, 1);
    return t;
}

/* ---- values ------------------------------------------------------------------ */

/* Box-Muller on two 24-bit uniforms in (0, 1]: a pair of N(0,1) floats. */
static void normal_pair(bnc_rng *r, float *a, float *b)
{
    float u1 = bnc_rng_uniform_pos_f(r), u2 = bnc_rng_uniform_pos_f(r);
    float rad = sqrtf(-2.0f * logf(u1));
    float th = 6.28318530718f * u2;
    *a = rad * cosf(th);
    *b = rad * sinf(th);
}

/* Per-input-channel scales of a tensor: log-normal spread, times a large
 * factor on outlier channels (the same channels for every tensor reading
 * the residual stream, as in real LLMs). */
static void column_scales(uint64_t seed, size_t ti, const stensor *t, float *cs)
{
    bnc_rng r;
    bnc_rng_init(&r, bnc_mix64(seed, 0xC01u), ti);
    for (int64_t c = 0; c < t->cols; c += 2) {
        float a, b;
        normal_pair(&r, &a, &b);
        cs[c] = expf(0.35f * a);
        if (c + 1 < t->cols) cs[c + 1] = expf(0.35f * b);
    }
    bnc_rng o;
    bnc_rng_init(&o, bnc_mix64(seed, 0x071e5u), t->reads_residual ? 0 : 1 + ti);
    int64_t n_out = (int64_t)((double)t->cols * OUTLIER_FRACTION);
    if (n_out < 1) n_out = 1;
    for (int64_t k = 0; k < n_out; k++) {
        int64_t c = (int64_t)bnc_rng_below(&o, (uint64_t)t->cols);
        cs[c] *= 8.0f + 16.0f * (float)bnc_rng_uniform(&o);
    }
}

/* Row `row` of tensor ti (cols floats). */
static void gen_row(uint64_t seed, size_t ti, const stensor *t, const float *cs, int64_t row,
                    float *out)
{
    bnc_rng r;
    bnc_rng_init(&r, bnc_mix64(bnc_mix64(seed, 0x5eedu), ti), (uint64_t)row);
    if (t->kind == K_NORM) {
        for (int64_t c = 0; c < t->cols; c += 2) {
            float a, b;
            normal_pair(&r, &a, &b);
            out[c] = 1.0f + 0.1f * a;
            if (c + 1 < t->cols) out[c + 1] = 1.0f + 0.1f * b;
        }
        return;
    }
    float rs, dummy;
    normal_pair(&r, &rs, &dummy);
    float sigma = (t->kind == K_EMBED ? 1.0f : 1.0f / sqrtf((float)t->cols)) * expf(0.2f * rs);
    for (int64_t c = 0; c < t->cols; c += 2) {
        float a, b;
        normal_pair(&r, &a, &b);
        out[c] = a * sigma * cs[c];
        if (c + 1 < t->cols) out[c + 1] = b * sigma * cs[c + 1];
    }
}

/* Streams every tensor's bytes through emit(ctx, data, n). */
typedef int (*emit_fn)(void *ctx, size_t ti, const void *data, size_t n, bnc_err *err);

static int generate(uint64_t seed, const stensor *ts, size_t first, size_t n, const uint32_t *types,
                    emit_fn emit, void *ctx, bnc_err *err)
{
    int64_t maxc = 0;
    for (size_t i = first; i < n; i++)
        if (ts[i].cols > maxc) maxc = ts[i].cols;
    const int64_t chunk = 64;
    float *cs = malloc((size_t)maxc * sizeof *cs);
    float *rows = malloc((size_t)(maxc * chunk) * sizeof *rows);
    uint8_t *conv = malloc((size_t)(maxc * chunk) * 2);
    int rc = 0;
    if (!cs || !rows || !conv) {
        rc = bnc_err_set(err, BNC_ENOMEM, "synth: out of memory");
        goto done;
    }
    for (size_t i = first; i < n && !rc; i++) {
        const stensor *t = &ts[i];
        if (t->kind != K_NORM) column_scales(seed, i, t, cs);
        for (int64_t r0 = 0; r0 < t->rows && !rc; r0 += chunk) {
            int64_t nr = t->rows - r0 < chunk ? t->rows - r0 : chunk;
            for (int64_t k = 0; k < nr; k++)
                gen_row(seed, i, t, cs, r0 + k, rows + k * t->cols);
            size_t cnt = (size_t)(nr * t->cols);
            if (types[i] == 1) {
                bnc_mio_f32_to_f16(rows, conv, cnt);
                rc = emit(ctx, i, conv, cnt * 2, err);
            } else if (types[i] == 30) {
                bnc_mio_f32_to_bf16(rows, conv, cnt);
                rc = emit(ctx, i, conv, cnt * 2, err);
            } else {
                rc = emit(ctx, i, rows, cnt * 4, err);
            }
        }
    }
done:
    free(cs);
    free(rows);
    free(conv);
    return rc;
}

/* ---- writers ------------------------------------------------------------------- */

typedef struct gguf_sink {
    FILE *f;
    const char *path;
    const bnc_gguf *g;
    size_t cur;    /* tensor being written */
    uint64_t done; /* bytes of it written */
} gguf_sink;

static int pad_to(gguf_sink *s, uint64_t nbytes, bnc_err *err)
{
    static const uint8_t zeros[64];
    uint64_t pad = (nbytes + s->g->alignment - 1) / s->g->alignment * s->g->alignment - nbytes;
    if (pad && fwrite(zeros, 1, (size_t)pad, s->f) != pad)
        return bnc_err_set(err, BNC_EIO, "%s: write failed: %s", s->path, strerror(errno));
    return 0;
}

static int gguf_emit(void *ctx, size_t ti, const void *data, size_t n, bnc_err *err)
{
    gguf_sink *s = ctx;
    if (ti != s->cur) {
        int rc = pad_to(s, s->g->tensors[s->cur].nbytes, err);
        if (rc) return rc;
        s->cur = ti;
        s->done = 0;
    }
    if (fwrite(data, 1, n, s->f) != n)
        return bnc_err_set(err, BNC_EIO, "%s: write failed: %s", s->path, strerror(errno));
    s->done += n;
    return 0;
}

static int set_kv(bnc_gguf *g, const char *key, bnc_gguf_value v, bnc_err *err)
{
    return bnc_gguf_set(g, key, &v, err);
}

/* A SentencePiece vocabulary that tokenizes any text: <0xNN> byte tokens
 * (type 6), then "▁" and printable ASCII characters, then frequent English
 * bigrams and short words (with and without "▁"), scored so that longer,
 * earlier pieces win; the rest keep their placeholders. Pieces are written
 * into text (16 bytes each). */
static void byte_vocab(char *text, float *sc, int32_t *ty, size_t nv)
{
    static const char *const extra[] = {
        "th",      "he",   "in",    "er",   "an",    "re",    "on",   "at",       "en",
        "nd",      "ti",   "es",    "or",   "te",    "of",    "ed",   "is",       "it",
        "al",      "ar",   "st",    "to",   "nt",    "ng",    "se",   "ha",       "as",
        "ou",      "io",   "le",    "ve",   "co",    "me",    "de",   "hi",       "ri",
        "ro",      "ic",   "ne",    "ea",   "ra",    "ce",    "the",  "and",      "ing",
        "ion",     "tion", "ent",   "for",  "that",  "with",  "this", "you",      "not",
        "are",     "any",  "or",    "of",   "to",    "in",    "is",   "it",       "be",
        "by",      "on",   "as",    "an",   "at",    "the",   "and",  "that",     "this",
        "for",     "with", "you",   "not",  "are",   "any",   "all",  "may",      "shall",
        "License", "work", "which", "such", "under", "other", "from", "software", "program"};
    size_t id = 3;
    for (int b = 0; b < 256 && id < nv; b++, id++) {
        snprintf(text + 16 * id, 16, "<0x%02X>", b);
        ty[id] = 6;
        sc[id] = 0;
    }
    float score = -1000.0f;
    for (int c = 32; c < 127 && id < nv; c++, id++) {
        char *p = text + 16 * id;
        if (c == ' ')
            snprintf(p, 16, "\xE2\x96\x81");
        else
            snprintf(p, 16, "%c", c);
        ty[id] = 1;
        sc[id] = score--;
    }
    size_t ne = sizeof extra / sizeof extra[0];
    for (size_t k = 0; k < 2 * ne && id < nv; k++) {
        const char *w = extra[k % ne];
        char *p = text + 16 * id;
        if (k < ne)
            snprintf(p, 16, "%s", w);
        else
            snprintf(p, 16, "\xE2\x96\x81%.12s", w);
        /* a repeated piece keeps its first id (llama.cpp maps text to the first) */
        ty[id] = 1;
        sc[id] = (float)strlen(w) - 0.001f * (float)k;
        id++;
    }
}

static int gguf_metadata(bnc_gguf *g, const bnc_synth_opts *o, const bnc_synth_shape *s,
                         bnc_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "bnc-synth-%lldM", (long long)(s->params / 1000000));
    int rc = 0;
    int ft = o->type == 1 ? 1 : (o->type == 30 ? 32 : 0); /* llama_ftype */
    const char *an = o->arch == BNC_SYNTH_BITNET ? "bitnet" : "llama";
    char k[12][64];
    static const char *const sfx[] = {"context_length",
                                      "embedding_length",
                                      "block_count",
                                      "feed_forward_length",
                                      "attention.head_count",
                                      "attention.head_count_kv",
                                      "rope.freq_base",
                                      "attention.layer_norm_rms_epsilon",
                                      "vocab_size"};
    for (int i = 0; i < 9; i++)
        snprintf(k[i], sizeof k[i], "%s.%s", an, sfx[i]);
    if ((rc = set_kv(g, "general.architecture", bnc_gguf_v_str(an), err)) ||
        (rc = set_kv(g, "general.name", bnc_gguf_v_str(name), err)) ||
        (rc = set_kv(g, "general.file_type", bnc_gguf_v_u32((uint32_t)ft), err)) ||
        (rc = set_kv(g, k[0], bnc_gguf_v_u32(2048), err)) ||
        (rc = set_kv(g, k[1], bnc_gguf_v_u32((uint32_t)s->dim), err)) ||
        (rc = set_kv(g, k[2], bnc_gguf_v_u32((uint32_t)s->layers), err)) ||
        (rc = set_kv(g, k[3], bnc_gguf_v_u32((uint32_t)s->ff), err)) ||
        (rc = set_kv(g, k[4], bnc_gguf_v_u32((uint32_t)(s->dim / 64)), err)) ||
        (rc = set_kv(g, k[5], bnc_gguf_v_u32((uint32_t)(s->kv_dim / 64 ? s->kv_dim / 64 : 1)),
                     err)) ||
        (rc = set_kv(g, k[6], bnc_gguf_v_f32(10000.0f), err)) ||
        (rc = set_kv(g, k[7], bnc_gguf_v_f32(1e-5f), err)) ||
        (rc = set_kv(g, k[8], bnc_gguf_v_u32((uint32_t)s->vocab), err)) ||
        (rc = set_kv(g, "bnc.synth.seed", bnc_gguf_v_u64(o->seed), err)) ||
        (rc = set_kv(g, "bnc.synth.params", bnc_gguf_v_u64((uint64_t)s->params), err)) ||
        (rc = set_kv(g, "tokenizer.ggml.model", bnc_gguf_v_str("llama"), err)))
        return rc;
    /* A placeholder vocabulary: strings, float scores and int32 token types. */
    size_t nv = (size_t)s->vocab;
    bnc_gguf_value toks = {.type = BNC_GGUF_ARRAY}, scores = toks, tt = toks;
    toks.v.arr.type = BNC_GGUF_STRING;
    scores.v.arr.type = BNC_GGUF_FLOAT32;
    tt.v.arr.type = BNC_GGUF_INT32;
    bnc_gguf_value *items = calloc(nv, sizeof *items);
    char *text = malloc(nv * 16);
    float *sc = malloc(nv * sizeof *sc);
    int32_t *ty = malloc(nv * sizeof *ty);
    if (!items || !text || !sc || !ty) {
        rc = bnc_err_set(err, BNC_ENOMEM, "synth: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nv; i++) {
        char *p = text + 16 * i;
        if (i < 3)
            snprintf(p, 16, "%s", i == 0 ? "<unk>" : (i == 1 ? "<s>" : "</s>"));
        else
            snprintf(p, 16, "<t%zu>", i);
        sc[i] = -(float)i;
        ty[i] = i < 3 ? 3 : 1;
    }
    if (o->byte_vocab) byte_vocab(text, sc, ty, nv);
    for (size_t i = 0; i < nv; i++)
        items[i] = bnc_gguf_v_str(text + 16 * i);
    toks.v.arr.n = scores.v.arr.n = tt.v.arr.n = nv;
    toks.v.arr.data = items;
    scores.v.arr.data = sc;
    tt.v.arr.data = ty;
    if ((rc = bnc_gguf_set(g, "tokenizer.ggml.tokens", &toks, err)) ||
        (rc = bnc_gguf_set(g, "tokenizer.ggml.scores", &scores, err)) ||
        (rc = bnc_gguf_set(g, "tokenizer.ggml.token_type", &tt, err)) ||
        (rc = set_kv(g, "tokenizer.ggml.bos_token_id", bnc_gguf_v_u32(1), err)) ||
        (rc = set_kv(g, "tokenizer.ggml.eos_token_id", bnc_gguf_v_u32(2), err)))
        goto done;
done:
    free(items);
    free(text);
    free(sc);
    free(ty);
    return rc;
}

/* Every file goes to a temporary file beside its path, renamed when whole;
 * a path that is a device, FIFO or directory is refused (common/bnc_out.h). */
static int begin_out(const char *path, char *tmp, size_t n, bnc_err *err)
{
    int rc = bnc_out_check(path, NULL, err);
    return rc ? rc : bnc_out_temp(path, tmp, n, err);
}

static int end_out(int rc, const char *tmp, const char *path, bnc_err *err)
{
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return bnc_out_rename(tmp, path, err);
}

static int write_gguf_to(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                         const stensor *ts, size_t n, const uint32_t *types, bnc_err *err)
{
    bnc_gguf *g = bnc_gguf_new();
    if (!g) return bnc_err_set(err, BNC_ENOMEM, "synth: out of memory");
    int rc = gguf_metadata(g, o, s, err);
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t ne[2] = {ts[i].cols, ts[i].rows};
        rc = bnc_gguf_add_tensor(g, ts[i].gguf_name, ts[i].one_d ? 1 : 2, ne, types[i], err);
    }
    uint8_t *hdr = NULL;
    size_t hn = 0;
    if (!rc) rc = bnc_gguf_plan(g, err);
    if (!rc) rc = bnc_gguf_header_bytes(g, &hdr, &hn, err);
    FILE *f = NULL;
    if (!rc && !(f = fopen(path, "wb")))
        rc = bnc_err_set(err, BNC_EIO, "%s: %s", path, strerror(errno));
    if (!rc && fwrite(hdr, 1, hn, f) != hn)
        rc = bnc_err_set(err, BNC_EIO, "%s: write failed: %s", path, strerror(errno));
    free(hdr);
    if (!rc) {
        gguf_sink sink = {f, path, g, 0, 0};
        rc = generate(o->seed, ts, 0, n, types, gguf_emit, &sink, err);
        if (!rc) rc = pad_to(&sink, g->tensors[sink.cur].nbytes, err);
    }
    if (f && fclose(f) != 0 && !rc)
        rc = bnc_err_set(err, BNC_EIO, "%s: close failed: %s", path, strerror(errno));
    bnc_gguf_free(g);
    return rc;
}

static int write_gguf(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                      const stensor *ts, size_t n, const uint32_t *types, bnc_err *err)
{
    char tmp[4200];
    int rc = begin_out(path, tmp, sizeof tmp, err);
    if (rc) return rc;
    return end_out(write_gguf_to(tmp, o, s, ts, n, types, err), tmp, path, err);
}

static int st_emit(void *ctx, size_t ti, const void *data, size_t n, bnc_err *err)
{
    (void)ti;
    return bnc_st_writer_write(ctx, data, n, err);
}

static int write_st_range(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                          const stensor *all, size_t first, size_t last, const uint32_t *types,
                          bnc_err *err);

static int write_st(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                    const stensor *ts, size_t n, const uint32_t *types, bnc_err *err)
{
    return write_st_range(path, o, s, ts, 0, n, types, err);
}

static int write_st_range_to(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                             const stensor *all, size_t first, size_t last, const uint32_t *types,
                             bnc_err *err)
{
    const stensor *ts = all + first;
    size_t n = last - first;
    bnc_st_spec *specs = calloc(n, sizeof *specs);
    int64_t *shapes = calloc(2 * n, sizeof *shapes);
    if (!specs || !shapes) {
        free(specs);
        free(shapes);
        return bnc_err_set(err, BNC_ENOMEM, "synth: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        specs[i].name = ts[i].hf_name;
        specs[i].type = types[first + i];
        if (ts[i].one_d) {
            shapes[2 * i] = ts[i].cols;
            specs[i].n_dims = 1;
        } else {
            shapes[2 * i] = ts[i].rows;
            shapes[2 * i + 1] = ts[i].cols;
            specs[i].n_dims = 2;
        }
        specs[i].shape = &shapes[2 * i];
    }
    char seed[32], params[32], dims[96];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(params, sizeof params, "%lld", (long long)s->params);
    snprintf(dims, sizeof dims, "dim=%lld layers=%lld ff=%lld vocab=%lld kv_dim=%lld",
             (long long)s->dim, (long long)s->layers, (long long)s->ff, (long long)s->vocab,
             (long long)s->kv_dim);
    const char *mk[] = {"format", "bnc.synth.seed", "bnc.synth.params", "bnc.synth.shape"};
    const char *mv[] = {"pt", seed, params, dims};
    bnc_st_writer *w;
    int rc = bnc_st_writer_open(path, specs, n, mk, mv, 4, &w, err);
    free(specs);
    free(shapes);
    if (rc) return rc;
    rc = generate(o->seed, all, first, last, types, st_emit, w, err);
    int rc2 = bnc_st_writer_close(w, rc ? NULL : err);
    return rc ? rc : rc2;
}

static int write_st_range(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                          const stensor *all, size_t first, size_t last, const uint32_t *types,
                          bnc_err *err)
{
    char tmp[4200];
    int rc = begin_out(path, tmp, sizeof tmp, err);
    if (rc) return rc;
    return end_out(write_st_range_to(tmp, o, s, all, first, last, types, err), tmp, path, err);
}

/* Shards of about equal bytes, each a contiguous run of the tensor list;
 * every shard is generated with the tensor indices of the whole model so the
 * values match the unsharded file. */
static int write_sharded(const char *path, const bnc_synth_opts *o, const bnc_synth_shape *s,
                         const stensor *ts, size_t n, const uint32_t *types, bnc_err *err)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (uint64_t)(ts[i].rows * ts[i].cols) * bnc_gguf_type(types[i])->bytes;
    json_t *root = json_object(), *wm = json_object(), *meta = json_object();
    json_object_set_new(meta, "total_size", json_integer((json_int_t)total));
    json_object_set_new(root, "metadata", meta);
    json_object_set_new(root, "weight_map", wm);
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    int rc = 0;
    size_t first = 0;
    uint64_t acc = 0;
    for (int k = 0; k < o->shards && !rc; k++) {
        size_t last = first;
        uint64_t goal = total / (uint64_t)o->shards * (uint64_t)(k + 1);
        while (last < n && (acc < goal || k == o->shards - 1)) {
            acc += (uint64_t)(ts[last].rows * ts[last].cols) * bnc_gguf_type(types[last])->bytes;
            last++;
        }
        char name[96], full[4200];
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, o->shards);
        snprintf(full, sizeof full, "%.*s%s", (int)dl, path, name);
        for (size_t i = first; i < last; i++)
            json_object_set_new(wm, ts[i].hf_name, json_string(name));
        rc = write_st_range(full, o, s, ts, first, last, types, err);
        first = last;
    }
    char tmp[4200];
    if (!rc && !(rc = begin_out(path, tmp, sizeof tmp, err))) {
        if (json_dump_file(root, tmp, JSON_INDENT(2)) != 0)
            rc = bnc_err_set(err, BNC_EIO, "%s: cannot write the index", path);
        rc = end_out(rc, tmp, path, err);
    }
    json_decref(root);
    return rc;
}

int bnc_synth_write(const char *path, const bnc_synth_opts *o, bnc_err *err)
{
    if (o->type != 0 && o->type != 1 && o->type != 30)
        return bnc_err_set(err, BNC_EINVAL, "synth: storage type must be f32, f16 or bf16");
    bnc_synth_shape s;
    int rc = bnc_synth_shape_for(o, &s, err);
    if (rc) return rc;
    size_t n = 0;
    stensor *ts = tensor_list(&s, o->arch, &n);
    uint32_t *types = calloc(n ? n : 1, sizeof *types);
    if (!ts || !types) {
        free(ts);
        free(types);
        return bnc_err_set(err, BNC_ENOMEM, "synth: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        types[i] = ts[i].one_d ? 0 : o->type;
    if (o->format == BNC_MODEL_GGUF)
        rc = write_gguf(path, o, &s, ts, n, types, err);
    else if (o->shards > 1)
        rc = write_sharded(path, o, &s, ts, n, types, err);
    else
        rc = write_st(path, o, &s, ts, n, types, err);
    free(ts);
    free(types);
    return rc;
}
