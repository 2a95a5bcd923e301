/* Tokenizers: byte-level (256 bytes + BOS/EOS), and the GGUF vocabularies
 * llama.cpp writes: "llama" (SentencePiece: "▁" for spaces, a space
 * prefix, greedy highest-score pair merges, <0xNN> byte fallback) and
 * "gpt2" (byte-level BPE: GPT-2's pre-tokenizer, bytes mapped to printable
 * code points, lowest-rank merges first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"
#include "llm_internal.h"

enum { TOK_BYTES = 0, TOK_SPM = 1, TOK_BPE = 2 };

typedef struct strmap {
    uint32_t cap;  /* power of two */
    int32_t *slot; /* index or -1 */
} strmap;

struct bnc_llm_tok {
    int kind;
    int64_t n;
    char **piece;
    uint32_t *len;
    float *score;
    int32_t *type;
    strmap map; /* piece -> id */
    int32_t bos, eos, unk;
    int32_t byte_id[256];
    /* BPE merges: "left right" -> rank */
    int64_t n_merges;
    char **merge;
    uint32_t *merge_len;
    strmap mmap;
    int add_space_prefix;
    int add_bos; /* tokenizer.ggml.add_bos_token (llama: 1, gpt2: 0 by default) */
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static int map_init(strmap *m, int64_t n)
{
    uint32_t cap = 16;
    while ((int64_t)cap < 2 * n + 16)
        cap *= 2;
    m->cap = cap;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot) return -1;
    for (uint32_t i = 0; i < cap; i++)
        m->slot[i] = -1;
    return 0;
}

/* Inserts idx under key keys[idx] unless the key is already there (the
 * first id wins, as llama.cpp's token_to_id map). */
static void map_put(strmap *m, char **keys, const uint32_t *lens, int32_t idx)
{
    uint32_t h = hash_bytes(keys[idx], lens[idx]) & (m->cap - 1);
    while (m->slot[h] >= 0) {
        int32_t o = m->slot[h];
        if (lens[o] == lens[idx] && memcmp(keys[o], keys[idx], lens[idx]) == 0) return;
        h = (h + 1) & (m->cap - 1);
    }
    m->slot[h] = idx;
}

static int32_t map_get(const strmap *m, char *const *keys, const uint32_t *lens, const char *s,
                       size_t n)
{
    if (!m->slot) return -1;
    uint32_t h = hash_bytes(s, n) & (m->cap - 1);
    while (m->slot[h] >= 0) {
        int32_t o = m->slot[h];
        if (lens[o] == n && memcmp(keys[o], s, n) == 0) return o;
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

void llm_tok_free(bnc_llm_tok *t)
{
    if (!t || t->kind == TOK_BYTES) return;
    for (int64_t i = 0; i < t->n; i++)
        free(t->piece[i]);
    for (int64_t i = 0; i < t->n_merges; i++)
        free(t->merge[i]);
    free(t->piece);
    free(t->len);
    free(t->score);
    free(t->type);
    free(t->map.slot);
    free(t->merge);
    free(t->merge_len);
    free(t->mmap.slot);
    free(t);
}

static const bnc_llm_tok byte_tok = {
    .kind = TOK_BYTES, .n = 258, .bos = 256, .eos = 257, .unk = -1, .add_bos = 1};

const bnc_llm_tok *llm_tok_bytes(void)
{
    return &byte_tok;
}

int32_t bnc_llm_tok_bos(const bnc_llm_tok *t)
{
    return t->add_bos ? t->bos : -1;
}
int32_t bnc_llm_tok_eos(const bnc_llm_tok *t)
{
    return t->eos;
}
int64_t bnc_llm_tok_vocab(const bnc_llm_tok *t)
{
    return t->n;
}

/* ---- loading ----------------------------------------------------------------- */

static int get_id(const bnc_gguf *g, const char *fname, const char *key, int64_t n, int32_t def,
                  int32_t *out, bnc_err *err)
{
    const bnc_gguf_value *v = bnc_gguf_get(g, key);
    *out = def;
    if (!v) return 0;
    int64_t x;
    if (v->type == BNC_GGUF_UINT32 || v->type == BNC_GGUF_UINT64 || v->type == BNC_GGUF_UINT16 ||
        v->type == BNC_GGUF_UINT8)
        x = v->v.u > (uint64_t)INT32_MAX ? -1 : (int64_t)v->v.u;
    else if (v->type == BNC_GGUF_INT32 || v->type == BNC_GGUF_INT64)
        x = v->v.i;
    else
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: expected an integer", fname, key);
    if (x < 0 || x >= n)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %s: id %lld outside the %lld tokens", fname, key,
                           (long long)x, (long long)n);
    *out = (int32_t)x;
    return 0;
}

static int bytes_to_unicode_cp(int b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

static size_t utf8_put(char *out, int cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Length of the UTF-8 sequence starting with byte c (1 for invalid bytes). */
static size_t utf8_len(uint8_t c)
{
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

int llm_tok_from_gguf(const bnc_gguf *g, const char *fname, bnc_llm_tok **out, bnc_err *err)
{
    *out = NULL;
    const bnc_gguf_value *mv = bnc_gguf_get(g, "tokenizer.ggml.model");
    if (!mv) return 0;
    if (mv->type != BNC_GGUF_STRING)
        return bnc_err_set(err, BNC_EFORMAT, "%s: tokenizer.ggml.model: not a string", fname);
    int kind;
    if (strcmp(mv->v.str.s, "llama") == 0)
        kind = TOK_SPM;
    else if (strcmp(mv->v.str.s, "gpt2") == 0)
        kind = TOK_BPE;
    else
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tokenizer.ggml.model: unsupported tokenizer '%.64s' (known: "
                           "llama, gpt2)",
                           fname, mv->v.str.s);
    const bnc_gguf_value *tv = bnc_gguf_get(g, "tokenizer.ggml.tokens");
    if (!tv || tv->type != BNC_GGUF_ARRAY || tv->v.arr.type != BNC_GGUF_STRING || tv->v.arr.n < 1 ||
        tv->v.arr.n > (1u << 24))
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tokenizer.ggml.tokens: %s (needs an array of 1..2^24 strings)",
                           fname, tv ? "wrong type" : "missing");
    int64_t n = (int64_t)tv->v.arr.n;
    const bnc_gguf_value *sv = bnc_gguf_get(g, "tokenizer.ggml.scores");
    const bnc_gguf_value *yv = bnc_gguf_get(g, "tokenizer.ggml.token_type");
    if (sv && (sv->type != BNC_GGUF_ARRAY || sv->v.arr.type != BNC_GGUF_FLOAT32 ||
               (int64_t)sv->v.arr.n != n))
        return bnc_err_set(err, BNC_EFORMAT, "%s: tokenizer.ggml.scores: needs %lld float32 values",
                           fname, (long long)n);
    if (yv && (yv->type != BNC_GGUF_ARRAY || yv->v.arr.type != BNC_GGUF_INT32 ||
               (int64_t)yv->v.arr.n != n))
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tokenizer.ggml.token_type: needs %lld int32 values", fname,
                           (long long)n);
    if (kind == TOK_SPM && !sv)
        return bnc_err_set(err, BNC_EFORMAT, "%s: tokenizer.ggml.scores: missing (llama)", fname);
    bnc_llm_tok *t = calloc(1, sizeof *t);
    if (!t) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    t->kind = kind;
    t->n = n;
    t->piece = calloc((size_t)n, sizeof *t->piece);
    t->len = calloc((size_t)n, sizeof *t->len);
    t->score = calloc((size_t)n, sizeof *t->score);
    t->type = calloc((size_t)n, sizeof *t->type);
    int rc = 0;
    if (!t->piece || !t->len || !t->score || !t->type || map_init(&t->map, n)) {
        rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
        goto fail;
    }
    const bnc_gguf_value *items = tv->v.arr.data;
    for (int64_t i = 0; i < n; i++) {
        if (items[i].type != BNC_GGUF_STRING || items[i].v.str.len > 4096) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: tokenizer.ggml.tokens[%lld]: bad string", fname,
                             (long long)i);
            goto fail;
        }
        t->len[i] = (uint32_t)items[i].v.str.len;
        t->piece[i] = malloc(t->len[i] + 1);
        if (!t->piece[i]) {
            rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
            goto fail;
        }
        memcpy(t->piece[i], items[i].v.str.s, t->len[i] + 1);
        if (sv) memcpy(&t->score[i], (const char *)sv->v.arr.data + 4 * i, 4);
        if (yv)
            memcpy(&t->type[i], (const char *)yv->v.arr.data + 4 * i, 4);
        else
            t->type[i] = 1;
        map_put(&t->map, t->piece, t->len, (int32_t)i);
    }
    if ((rc = get_id(g, fname, "tokenizer.ggml.bos_token_id", n, kind == TOK_SPM ? 1 : -1, &t->bos,
                     err)) ||
        (rc = get_id(g, fname, "tokenizer.ggml.eos_token_id", n, kind == TOK_SPM ? 2 : -1, &t->eos,
                     err)) ||
        (rc = get_id(g, fname, "tokenizer.ggml.unknown_token_id", n, kind == TOK_SPM ? 0 : -1,
                     &t->unk, err)))
        goto fail;
    if (t->bos >= n || t->eos >= n) {
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: tokenizer.ggml.bos_token_id: outside the vocabulary", fname);
        goto fail;
    }
    const bnc_gguf_value *sp = bnc_gguf_get(g, "tokenizer.ggml.add_space_prefix");
    t->add_space_prefix =
        kind == TOK_SPM ? (sp && sp->type == BNC_GGUF_BOOL ? (int)sp->v.u : 1) : 0;
    const bnc_gguf_value *ab = bnc_gguf_get(g, "tokenizer.ggml.add_bos_token");
    t->add_bos = ab && ab->type == BNC_GGUF_BOOL ? (int)ab->v.u : kind == TOK_SPM;
    if (t->add_bos && t->bos < 0) {
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: tokenizer.ggml.bos_token_id: missing (BOS is "
                         "added)",
                         fname);
        goto fail;
    }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t bl;
        if (kind == TOK_SPM)
            bl = (size_t)snprintf(buf, sizeof buf, "<0x%02X>", b);
        else
            bl = utf8_put(buf, bytes_to_unicode_cp(b));
        t->byte_id[b] = map_get(&t->map, t->piece, t->len, buf, bl);
    }
    if (kind == TOK_BPE) {
        const bnc_gguf_value *me = bnc_gguf_get(g, "tokenizer.ggml.merges");
        if (!me || me->type != BNC_GGUF_ARRAY || me->v.arr.type != BNC_GGUF_STRING ||
            me->v.arr.n > (1u << 24)) {
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "%s: tokenizer.ggml.merges: %s (gpt2 needs an "
                             "array of strings)",
                             fname, me ? "wrong type" : "missing");
            goto fail;
        }
        t->n_merges = (int64_t)me->v.arr.n;
        t->merge = calloc((size_t)t->n_merges + 1, sizeof *t->merge);
        t->merge_len = calloc((size_t)t->n_merges + 1, sizeof *t->merge_len);
        if (!t->merge || !t->merge_len || map_init(&t->mmap, t->n_merges)) {
            rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
            goto fail;
        }
        const bnc_gguf_value *mi = me->v.arr.data;
        for (int64_t i = 0; i < t->n_merges; i++) {
            if (mi[i].type != BNC_GGUF_STRING || mi[i].v.str.len > 8192 ||
                !memchr(mi[i].v.str.s, ' ', mi[i].v.str.len)) {
                rc = bnc_err_set(err, BNC_EFORMAT,
                                 "%s: tokenizer.ggml.merges[%lld]: not \"left right\"", fname,
                                 (long long)i);
                goto fail;
            }
            t->merge_len[i] = (uint32_t)mi[i].v.str.len;
            t->merge[i] = strdup(mi[i].v.str.s);
            if (!t->merge[i]) {
                rc = bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
                goto fail;
            }
            map_put(&t->mmap, t->merge, t->merge_len, (int32_t)i);
        }
    }
    *out = t;
    return 0;
fail:
    llm_tok_free(t);
    return rc;
}

/* ---- output buffer ------------------------------------------------------- */

typedef struct ids {
    int32_t *v;
    size_t n, cap;
} ids;

static int push(ids *o, int32_t id)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 256;
        int32_t *nv = realloc(o->v, cap * sizeof *nv);
        if (!nv) return -1;
        o->v = nv;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return 0;
}

/* ---- SentencePiece (llama) --------------------------------------------------- */

typedef struct bigram {
    int32_t left, right;
    float score;
    uint32_t size;
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

/* Higher score first, then the leftmost pair. */
static int before(const bigram *a, const bigram *b)
{
    if (a->score != b->score) return a->score > b->score;
    return a->left < b->left;
}

static int heap_push(heap *h, bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 256;
        bigram *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv) return -1;
        h->v = nv;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = b;
    while (i > 0 && before(&h->v[i], &h->v[(i - 1) / 2])) {
        bigram tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return 0;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(&h->v[l], &h->v[m])) m = l;
        if (r < h->n && before(&h->v[r], &h->v[m])) m = r;
        if (m == i) break;
        bigram tmp = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = tmp;
        i = m;
    }
    return top;
}

typedef struct sym {
    int32_t prev, next;
    uint32_t start, n; /* n == 0: merged away */
} sym;

static int try_bigram(const bnc_llm_tok *t, const char *s, const sym *sy, int32_t l, int32_t r,
                      heap *h)
{
    if (l < 0 || r < 0) return 0;
    int32_t id = map_get(&t->map, t->piece, t->len, s + sy[l].start, sy[l].n + sy[r].n);
    if (id < 0) return 0;
    bigram b = {l, r, t->score[id], sy[l].n + sy[r].n};
    return heap_push(h, b);
}

static int spm_encode(const bnc_llm_tok *t, const char *text, size_t len, ids *o)
{
    /* Escape spaces as U+2581 and add the prefix space. */
    size_t cap = 3 * (len + 1) + 1;
    char *s = malloc(cap);
    sym *sy = malloc((len + 2) * sizeof *sy);
    heap h = {0};
    int rc = -1;
    if (!s || !sy) goto done;
    size_t n = 0;
    if (t->add_space_prefix && len > 0) {
        memcpy(s + n, "\xE2\x96\x81", 3);
        n += 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            s[n++] = text[i];
        }
    }
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = utf8_len((uint8_t)s[i]);
        if (i + cl > n) cl = n - i;
        sy[ns] = (sym){ns - 1, ns + 1, (uint32_t)i, (uint32_t)cl};
        ns++;
        i += cl;
    }
    if (ns > 0) sy[ns - 1].next = -1;
    for (int32_t i = 1; i < ns; i++)
        if (try_bigram(t, s, sy, i - 1, i, &h)) goto done;
    while (h.n > 0) {
        bigram b = heap_pop(&h);
        sym *L = &sy[b.left], *R = &sy[b.right];
        /* Stale entry: one side was merged since it was queued. */
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.size || L->next != b.right) continue;
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) sy[R->next].prev = b.left;
        if (try_bigram(t, s, sy, L->prev, b.left, &h) || try_bigram(t, s, sy, b.left, L->next, &h))
            goto done;
    }
    for (int32_t i = 0; i >= 0 && ns > 0; i = sy[i].next) {
        int32_t id = map_get(&t->map, t->piece, t->len, s + sy[i].start, sy[i].n);
        if (id >= 0) {
            if (push(o, id)) goto done;
            continue;
        }
        for (uint32_t k = 0; k < sy[i].n; k++) {
            int32_t bid = t->byte_id[(uint8_t)s[sy[i].start + k]];
            if (push(o, bid >= 0 ? bid : (t->unk >= 0 ? t->unk : 0))) goto done;
        }
    }
    rc = 0;
done:
    free(s);
    free(sy);
    free(h.v);
    return rc;
}

/* ---- byte-level BPE (gpt2) ---------------------------------------------------- */

enum { C_LETTER, C_DIGIT, C_SPACE, C_OTHER };

static int cls(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return C_LETTER;
    if (c >= '0' && c <= '9') return C_DIGIT;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return C_SPACE;
    return C_OTHER;
}

/* Length of the next pre-token at text[i] (GPT-2's pattern, with non-ASCII
 * bytes counted as letters). */
static size_t gpt2_piece(const char *s, size_t n, size_t i)
{
    const uint8_t *u = (const uint8_t *)s;
    if (u[i] == '\'' && i + 1 < n) {
        static const char *const suf[] = {"re", "ve", "ll", "s", "t", "m", "d"};
        for (size_t k = 0; k < 7; k++) {
            size_t l = strlen(suf[k]);
            if (i + 1 + l <= n && memcmp(s + i + 1, suf[k], l) == 0) return 1 + l;
        }
    }
    size_t j = i;
    if (u[j] == ' ' && j + 1 < n && cls(u[j + 1]) != C_SPACE) j++;
    int c = cls(u[j]);
    if (c != C_SPACE) {
        size_t k = j;
        while (k < n && cls(u[k]) == c)
            k++;
        return k - i;
    }
    size_t k = i;
    while (k < n && cls(u[k]) == C_SPACE)
        k++;
    if (k < n && k - i > 1) return k - i - 1; /* \s+(?!\S): leave one for the next word */
    return k - i;
}

static int bpe_word(const bnc_llm_tok *t, const char *w, size_t wn, ids *o)
{
    /* Map bytes to code points, split into characters. */
    char *s = malloc(3 * wn + 1);
    uint32_t *st = malloc((wn + 1) * sizeof *st), *ln = malloc((wn + 1) * sizeof *ln);
    char *key = malloc(6 * wn + 2);
    int rc = -1;
    if (!s || !st || !ln || !key) goto done;
    size_t n = 0, ns = 0;
    for (size_t i = 0; i < wn; i++) {
        st[ns] = (uint32_t)n;
        ln[ns] = (uint32_t)utf8_put(s + n, bytes_to_unicode_cp((uint8_t)w[i]));
        n += ln[ns++];
    }
    for (;;) {
        int64_t best = -1;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            size_t kl = 0;
            memcpy(key, s + st[i], ln[i]);
            kl += ln[i];
            key[kl++] = ' ';
            memcpy(key + kl, s + st[i + 1], ln[i + 1]);
            kl += ln[i + 1];
            int32_t r = map_get(&t->mmap, t->merge, t->merge_len, key, kl);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                bi = i;
            }
        }
        if (best < 0) break;
        ln[bi] += ln[bi + 1];
        memmove(st + bi + 1, st + bi + 2, (ns - bi - 2) * sizeof *st);
        memmove(ln + bi + 1, ln + bi + 2, (ns - bi - 2) * sizeof *ln);
        ns--;
    }
    for (size_t i = 0; i < ns; i++) {
        int32_t id = map_get(&t->map, t->piece, t->len, s + st[i], ln[i]);
        if (id >= 0) {
            if (push(o, id)) goto done;
            continue;
        }
        /* Not in the vocabulary: its characters one by one. */
        for (size_t k = st[i]; k < st[i] + ln[i];) {
            size_t cl = utf8_len((uint8_t)s[k]);
            int32_t cid = map_get(&t->map, t->piece, t->len, s + k, cl);
            if (cid >= 0 && push(o, cid)) goto done;
            k += cl;
        }
    }
    rc = 0;
done:
    free(s);
    free(st);
    free(ln);
    free(key);
    return rc;
}

int bnc_llm_tokenize(const bnc_llm_tok *t, const char *text, size_t len, int add_bos, int32_t **out,
                     size_t *n, bnc_err *err)
{
    ids o = {0};
    int rc = 0;
    if (add_bos && t->add_bos && t->bos >= 0 && push(&o, t->bos)) rc = -1;
    if (!rc && t->kind == TOK_BYTES) {
        for (size_t i = 0; i < len && !rc; i++)
            rc = push(&o, (int32_t)(uint8_t)text[i]);
    } else if (!rc && t->kind == TOK_SPM) {
        rc = spm_encode(t, text, len, &o);
    } else if (!rc) {
        for (size_t i = 0; i < len && !rc;) {
            size_t k = gpt2_piece(text, len, i);
            if (k == 0) k = 1;
            rc = bpe_word(t, text + i, k, &o);
            i += k;
        }
    }
    if (rc) {
        free(o.v);
        return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory while tokenizing");
    }
    *out = o.v ? o.v : malloc(sizeof(int32_t));
    *n = o.n;
    return 0;
}

static size_t put(char *buf, size_t cap, size_t at, const char *s, size_t n)
{
    if (cap == 0) return 0;
    size_t k = at + n < cap ? n : (at < cap - 1 ? cap - 1 - at : 0);
    memcpy(buf + at, s, k);
    buf[at + k] = 0;
    return k;
}

size_t bnc_llm_detokenize(const bnc_llm_tok *t, int32_t id, char *buf, size_t cap)
{
    if (cap) buf[0] = 0;
    if (id < 0 || id >= t->n) return 0;
    if (t->kind == TOK_BYTES) {
        if (id >= 256) return 0;
        char c = (char)id;
        return put(buf, cap, 0, &c, 1);
    }
    if (t->type[id] == 3 || t->type[id] == 5) return 0; /* control, unused */
    const char *p = t->piece[id];
    size_t pl = t->len[id];
    if (t->kind == TOK_SPM) {
        unsigned b;
        if (t->type[id] == 6 && sscanf(p, "<0x%02X>", &b) == 1) {
            char c = (char)b;
            return put(buf, cap, 0, &c, 1);
        }
        size_t at = 0;
        for (size_t i = 0; i < pl;) {
            if (i + 3 <= pl && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
                at += put(buf, cap, at, " ", 1);
                i += 3;
            } else {
                at += put(buf, cap, at, p + i, 1);
                i++;
            }
        }
        return at;
    }
    /* gpt2: code points back to bytes */
    size_t at = 0;
    for (size_t i = 0; i < pl;) {
        size_t cl = utf8_len((uint8_t)p[i]);
        int cp = (uint8_t)p[i];
        if (cl == 2 && i + 1 < pl)
            cp = ((p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
        else if (cl == 3 && i + 2 < pl)
            cp = ((p[i] & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
        int byte = -1;
        for (int b = 0; b < 256; b++)
            if (bytes_to_unicode_cp(b) == cp) {
                byte = b;
                break;
            }
        if (byte >= 0) {
            char c = (char)byte;
            at += put(buf, cap, at, &c, 1);
        } else {
            at += put(buf, cap, at, p + i, cl);
        }
        i += cl;
    }
    return at;
}

int llm_tok_to_gguf(const bnc_llm_tok *t, bnc_gguf *g, bnc_err *err)
{
    if (t->kind == TOK_BYTES) return 0; /* no keys: loaders fall back to bytes */
    bnc_gguf_value v = bnc_gguf_v_str(t->kind == TOK_SPM ? "llama" : "gpt2");
    int rc = bnc_gguf_set(g, "tokenizer.ggml.model", &v, err);
    bnc_gguf_value *items = calloc((size_t)t->n, sizeof *items);
    if (!items) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
    for (int64_t i = 0; i < t->n; i++)
        items[i] = bnc_gguf_v_str(t->piece[i]);
    bnc_gguf_value arr = {.type = BNC_GGUF_ARRAY};
    arr.v.arr.type = BNC_GGUF_STRING;
    arr.v.arr.n = (uint64_t)t->n;
    arr.v.arr.data = items;
    if (!rc) rc = bnc_gguf_set(g, "tokenizer.ggml.tokens", &arr, err);
    free(items);
    bnc_gguf_value sc = {.type = BNC_GGUF_ARRAY}, ty = sc;
    sc.v.arr.type = BNC_GGUF_FLOAT32;
    sc.v.arr.n = (uint64_t)t->n;
    sc.v.arr.data = t->score;
    ty.v.arr.type = BNC_GGUF_INT32;
    ty.v.arr.n = (uint64_t)t->n;
    ty.v.arr.data = t->type;
    if (!rc) rc = bnc_gguf_set(g, "tokenizer.ggml.scores", &sc, err);
    if (!rc) rc = bnc_gguf_set(g, "tokenizer.ggml.token_type", &ty, err);
    if (!rc && t->kind == TOK_BPE) {
        bnc_gguf_value *mi = calloc((size_t)t->n_merges + 1, sizeof *mi);
        if (!mi) return bnc_err_set(err, BNC_ENOMEM, "llm: out of memory");
        for (int64_t i = 0; i < t->n_merges; i++)
            mi[i] = bnc_gguf_v_str(t->merge[i]);
        bnc_gguf_value ma = {.type = BNC_GGUF_ARRAY};
        ma.v.arr.type = BNC_GGUF_STRING;
        ma.v.arr.n = (uint64_t)t->n_merges;
        ma.v.arr.data = mi;
        rc = bnc_gguf_set(g, "tokenizer.ggml.merges", &ma, err);
        free(mi);
    }
    if (!rc && t->bos >= 0) {
        bnc_gguf_value b = bnc_gguf_v_u32((uint32_t)t->bos);
        rc = bnc_gguf_set(g, "tokenizer.ggml.bos_token_id", &b, err);
    }
    if (!rc && t->eos >= 0) {
        bnc_gguf_value e = bnc_gguf_v_u32((uint32_t)t->eos);
        rc = bnc_gguf_set(g, "tokenizer.ggml.eos_token_id", &e, err);
    }
    if (!rc) {
        bnc_gguf_value b = {.type = BNC_GGUF_BOOL};
        b.v.u = (uint64_t)t->add_bos;
        rc = bnc_gguf_set(g, "tokenizer.ggml.add_bos_token", &b, err);
    }
    return rc;
}
