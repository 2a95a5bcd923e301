/* Tiny GGUF models for the bad-input test and the fuzz seeds: a valid model
 * (dim 8, 2 heads, 1 KV head, ff 8, 1 layer) in llama or BitNet layout with
 * a SentencePiece or BPE vocabulary, and variants that break one thing each. */
#include "tiny.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"

static int kv(bnc_gguf *g, const char *k, bnc_gguf_value v, bnc_err *e)
{
    return bnc_gguf_set(g, k, &v, e);
}

/* variant starts with name ("bad-arch-small" is a "bad-arch") */
static int is(const char *variant, const char *name)
{
    return strncmp(variant, name, strlen(name)) == 0;
}

int tiny_write(const char *path, const char *variant, bnc_err *err)
{
    int bitnet = strstr(variant, "bitnet") != NULL, bpe = strstr(variant, "bpe") != NULL;
    const char *arch = bitnet ? "bitnet" : "llama";
    if (is(variant, "bad-arch")) arch = "gptj";
    const int64_t dim = 8, ff = 8, nh = 2, nkv = 1, hd = dim / nh;
    /* "-small" variants (fuzz seeds under 8 KiB): 24 tokens, no byte tokens */
    const int64_t V = strstr(variant, "small") ? 24 : 300, nb = V >= 259 ? 259 : 3;
    bnc_gguf *g = bnc_gguf_new();
    char k[96];
    int rc = kv(g, "general.architecture", bnc_gguf_v_str(arch), err);
#define K(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    if (!rc && !is(variant, "no-block-count")) rc = kv(g, K("block_count"), bnc_gguf_v_u32(1), err);
    if (!rc) rc = kv(g, K("embedding_length"), bnc_gguf_v_u32((uint32_t)dim), err);
    if (!rc) rc = kv(g, K("feed_forward_length"), bnc_gguf_v_u32((uint32_t)ff), err);
    if (!rc) rc = kv(g, K("attention.head_count"), bnc_gguf_v_u32((uint32_t)nh), err);
    if (!rc) rc = kv(g, K("attention.head_count_kv"), bnc_gguf_v_u32((uint32_t)nkv), err);
    if (!rc) rc = kv(g, K("context_length"), bnc_gguf_v_u32(64), err);
    if (!rc && is(variant, "bad-eps"))
        rc = kv(g, K("attention.layer_norm_rms_epsilon"), bnc_gguf_v_str("tiny"), err);
#undef K
    /* vocabulary: specials, byte tokens, a few pieces */
    bnc_gguf_value toks = {.type = BNC_GGUF_ARRAY}, sc = toks, ty = toks, mg = toks;
    bnc_gguf_value *items = calloc((size_t)V, sizeof *items);
    char(*text)[16] = calloc((size_t)V, 16);
    float *s = calloc((size_t)V, sizeof *s);
    int32_t *t = calloc((size_t)V, sizeof *t);
    bnc_gguf_value merges[4];
    for (int64_t i = 0; i < V; i++) {
        if (i < 3)
            snprintf(text[i], 16, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i < nb && !bpe)
            snprintf(text[i], 16, "<0x%02X>", (unsigned)(i - 3));
        else if (i < nb)
            snprintf(text[i], 16, "%c", (char)(33 + (i - 3) % 94));
        else if (bpe && i >= V - 2)
            snprintf(text[i], 16, "%s", i == V - 2 ? "ab" : "abc");
        else
            snprintf(text[i], 16, "%s%c", bpe ? "" : "\xE2\x96\x81", (char)('a' + (i - nb) % 26));
        items[i] = bnc_gguf_v_str(text[i]);
        s[i] = -(float)i;
        t[i] = i < 3 ? 3 : (i < nb && !bpe ? 6 : 1);
    }
    toks.v.arr.type = BNC_GGUF_STRING;
    toks.v.arr.n = (uint64_t)V;
    toks.v.arr.data = items;
    sc.v.arr.type = BNC_GGUF_FLOAT32;
    sc.v.arr.n = (uint64_t)V;
    sc.v.arr.data = s;
    ty.v.arr.type = BNC_GGUF_INT32;
    ty.v.arr.n = (uint64_t)V;
    ty.v.arr.data = t;
    merges[0] = bnc_gguf_v_str("a b");
    merges[1] = bnc_gguf_v_str("ab c");
    mg.v.arr.type = BNC_GGUF_STRING;
    mg.v.arr.n = 2;
    mg.v.arr.data = merges;
    const char *model = is(variant, "bad-tokenizer") ? "bert" : (bpe ? "gpt2" : "llama");
    if (!rc) rc = kv(g, "tokenizer.ggml.model", bnc_gguf_v_str(model), err);
    if (!rc && !is(variant, "no-tokens")) rc = bnc_gguf_set(g, "tokenizer.ggml.tokens", &toks, err);
    if (!rc) rc = bnc_gguf_set(g, "tokenizer.ggml.scores", &sc, err);
    if (!rc) rc = bnc_gguf_set(g, "tokenizer.ggml.token_type", &ty, err);
    if (!rc && bpe) rc = bnc_gguf_set(g, "tokenizer.ggml.merges", &mg, err);
    if (!rc) rc = kv(g, "tokenizer.ggml.bos_token_id", bnc_gguf_v_u32(1), err);
    if (!rc) rc = kv(g, "tokenizer.ggml.eos_token_id", bnc_gguf_v_u32(2), err);
    /* tensors */
    struct {
        const char *name;
        int64_t rows, cols;
    } ts[16];
    int n = 0;
#define T(nm, r, c) (ts[n].name = nm, ts[n].rows = r, ts[n].cols = c, n++)
    T("token_embd.weight", V, dim);
    T("blk.0.attn_norm.weight", 1, dim);
    T("blk.0.attn_q.weight", dim, dim);
    T("blk.0.attn_k.weight", is(variant, "bad-shape") ? dim : nkv * hd, dim);
    T("blk.0.attn_v.weight", nkv * hd, dim);
    T("blk.0.attn_output.weight", dim, dim);
    T("blk.0.ffn_norm.weight", 1, dim);
    T("blk.0.ffn_gate.weight", ff, dim);
    T("blk.0.ffn_up.weight", ff, dim);
    T("blk.0.ffn_down.weight", dim, ff);
    if (bitnet) {
        T("blk.0.attn_sub_norm.weight", 1, dim);
        if (!is(variant, "bitnet-no-subnorm")) T("blk.0.ffn_sub_norm.weight", 1, ff);
    }
    T("output_norm.weight", 1, dim);
#undef T
    const void *data[16];
    float *buf[16] = {0};
    for (int i = 0; i < n && !rc; i++) {
        int64_t ne[2] = {ts[i].cols, ts[i].rows};
        rc = bnc_gguf_add_tensor(g, ts[i].name, ts[i].rows == 1 ? 1 : 2, ne, 0, err);
        size_t cnt = (size_t)(ts[i].rows * ts[i].cols);
        buf[i] = malloc(cnt * sizeof(float));
        for (size_t j = 0; j < cnt; j++)
            buf[i][j] = ts[i].rows == 1 ? 1.0f : (float)((int)((j * 37 + (size_t)i) % 17) - 8) / 16;
        data[i] = buf[i];
    }
    if (!rc) rc = bnc_gguf_write_file(g, path, data, err);
    for (int i = 0; i < n; i++)
        free(buf[i]);
    free(items);
    free(text);
    free(s);
    free(t);
    bnc_gguf_free(g);
    return rc;
}
