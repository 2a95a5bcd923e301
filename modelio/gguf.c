/* GGUF v3 reader and writer (see bnc_gguf.h). */
#include "bnc_gguf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_ggml.h"

/* ---- ggml types ----------------------------------------------------------- */

/* The ggml ids and block geometry come from the kernels' scheme table
 * (bnc_ggml_type_at), copied once into this module's view of them; U8 is
 * safetensors' own. */
static bnc_gguf_type_info types[64];
static size_t ntypes;
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

static void types_init(void)
{
    for (size_t i = 0; i < bnc_ggml_type_count() && ntypes < 63; i++) {
        const bnc_scheme *s = bnc_ggml_type_at(i);
        if (s)
            types[ntypes++] = (bnc_gguf_type_info){(uint32_t)s->ggml_type, s->name, s->block,
                                                   s->block_bytes, s->is_float};
    }
    types[ntypes++] = (bnc_gguf_type_info){BNC_TYPE_U8, "u8", 1, 1, 0};
}

const bnc_gguf_type_info *bnc_gguf_type(uint32_t id)
{
    pthread_once(&types_once, types_init);
    for (size_t i = 0; i < ntypes; i++)
        if (types[i].id == id) return &types[i];
    return NULL;
}

const bnc_gguf_type_info *bnc_gguf_type_by_name(const char *name)
{
    pthread_once(&types_once, types_init);
    for (size_t i = 0; i < ntypes; i++)
        if (strcmp(types[i].name, name) == 0) return &types[i];
    return NULL;
}

int bnc_gguf_nbytes(uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t *out, bnc_err *err)
{
    const bnc_gguf_type_info *t = bnc_gguf_type(type);
    if (!t) return bnc_err_set(err, BNC_EINVAL, "unknown ggml type %u", type);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] < 0)
            return bnc_err_set(err, BNC_EFORMAT, "negative dimension %lld", (long long)ne[d]);
        uint64_t x = (uint64_t)ne[d];
        if (x != 0 && n > UINT64_MAX / x)
            return bnc_err_set(err, BNC_EFORMAT, "element count overflows");
        n *= x;
    }
    if (n_dims > 0 && ne[0] % t->block != 0)
        return bnc_err_set(err, BNC_EFORMAT,
                           "row length %lld is not a multiple of %s's block of %lld",
                           (long long)ne[0], t->name, (long long)t->block);
    uint64_t blocks = n / (uint64_t)t->block;
    if (blocks > UINT64_MAX / t->bytes || blocks * t->bytes > (uint64_t)INT64_MAX)
        return bnc_err_set(err, BNC_EFORMAT, "byte size overflows");
    *out = blocks * t->bytes;
    return 0;
}

/* ---- values ----------------------------------------------------------------- */

size_t bnc_gguf_vtype_size(uint32_t type)
{
    switch (type) {
    case BNC_GGUF_UINT8:
    case BNC_GGUF_INT8:
    case BNC_GGUF_BOOL:
        return 1;
    case BNC_GGUF_UINT16:
    case BNC_GGUF_INT16:
        return 2;
    case BNC_GGUF_UINT32:
    case BNC_GGUF_INT32:
    case BNC_GGUF_FLOAT32:
        return 4;
    case BNC_GGUF_UINT64:
    case BNC_GGUF_INT64:
    case BNC_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

const char *bnc_gguf_vtype_name(uint32_t type)
{
    static const char *names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                  "int32",  "float32", "bool",   "string", "array",
                                  "uint64", "int64",   "float64"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

bnc_gguf_value bnc_gguf_v_u32(uint32_t x)
{
    bnc_gguf_value v = {.type = BNC_GGUF_UINT32};
    v.v.u = x;
    return v;
}

bnc_gguf_value bnc_gguf_v_u64(uint64_t x)
{
    bnc_gguf_value v = {.type = BNC_GGUF_UINT64};
    v.v.u = x;
    return v;
}

bnc_gguf_value bnc_gguf_v_i32(int32_t x)
{
    bnc_gguf_value v = {.type = BNC_GGUF_INT32};
    v.v.i = x;
    return v;
}

bnc_gguf_value bnc_gguf_v_f32(float x)
{
    bnc_gguf_value v = {.type = BNC_GGUF_FLOAT32};
    v.v.f32 = x;
    return v;
}

bnc_gguf_value bnc_gguf_v_str(const char *s)
{
    bnc_gguf_value v = {.type = BNC_GGUF_STRING};
    v.v.str.s = (char *)s;
    v.v.str.len = strlen(s);
    return v;
}

static int is_composite(uint32_t t)
{
    return t == BNC_GGUF_STRING || t == BNC_GGUF_ARRAY;
}

void bnc_gguf_value_clear(bnc_gguf_value *v)
{
    if (!v) return;
    if (v->type == BNC_GGUF_STRING) {
        free(v->v.str.s);
    } else if (v->type == BNC_GGUF_ARRAY) {
        if (is_composite(v->v.arr.type)) {
            bnc_gguf_value *items = v->v.arr.data;
            for (uint64_t i = 0; items && i < v->v.arr.n; i++)
                bnc_gguf_value_clear(&items[i]);
        }
        free(v->v.arr.data);
    }
    memset(v, 0, sizeof *v);
}

int bnc_gguf_value_copy(bnc_gguf_value *dst, const bnc_gguf_value *src, bnc_err *err)
{
    *dst = *src;
    if (src->type == BNC_GGUF_STRING) {
        dst->v.str.s = malloc(src->v.str.len + 1);
        if (!dst->v.str.s) return bnc_err_set(err, BNC_ENOMEM, "out of memory copying a string");
        memcpy(dst->v.str.s, src->v.str.s, src->v.str.len);
        dst->v.str.s[src->v.str.len] = '\0';
    } else if (src->type == BNC_GGUF_ARRAY) {
        uint64_t n = src->v.arr.n;
        dst->v.arr.data = NULL;
        if (is_composite(src->v.arr.type)) {
            bnc_gguf_value *items = calloc(n ? n : 1, sizeof *items);
            if (!items) return bnc_err_set(err, BNC_ENOMEM, "out of memory copying an array");
            const bnc_gguf_value *s = src->v.arr.data;
            for (uint64_t i = 0; i < n; i++) {
                int rc = bnc_gguf_value_copy(&items[i], &s[i], err);
                if (rc) {
                    dst->v.arr.data = items;
                    dst->v.arr.n = i;
                    bnc_gguf_value_clear(dst);
                    return rc;
                }
            }
            dst->v.arr.data = items;
        } else {
            size_t bytes = (size_t)n * bnc_gguf_vtype_size(src->v.arr.type);
            dst->v.arr.data = malloc(bytes ? bytes : 1);
            if (!dst->v.arr.data)
                return bnc_err_set(err, BNC_ENOMEM, "out of memory copying an array");
            if (bytes) memcpy(dst->v.arr.data, src->v.arr.data, bytes);
        }
    }
    return 0;
}

int bnc_gguf_value_equal(const bnc_gguf_value *a, const bnc_gguf_value *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case BNC_GGUF_STRING:
        return a->v.str.len == b->v.str.len &&
               memcmp(a->v.str.s, b->v.str.s, (size_t)a->v.str.len) == 0;
    case BNC_GGUF_ARRAY:
        if (a->v.arr.type != b->v.arr.type || a->v.arr.n != b->v.arr.n) return 0;
        if (is_composite(a->v.arr.type)) {
            const bnc_gguf_value *x = a->v.arr.data, *y = b->v.arr.data;
            for (uint64_t i = 0; i < a->v.arr.n; i++)
                if (!bnc_gguf_value_equal(&x[i], &y[i])) return 0;
            return 1;
        }
        return a->v.arr.n == 0 ||
               memcmp(a->v.arr.data, b->v.arr.data,
                      (size_t)a->v.arr.n * bnc_gguf_vtype_size(a->v.arr.type)) == 0;
    case BNC_GGUF_FLOAT32:
        return memcmp(&a->v.f32, &b->v.f32, sizeof(float)) == 0;
    case BNC_GGUF_FLOAT64:
        return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
    case BNC_GGUF_INT8:
    case BNC_GGUF_INT16:
    case BNC_GGUF_INT32:
    case BNC_GGUF_INT64:
        return a->v.i == b->v.i;
    default:
        return a->v.u == b->v.u;
    }
}

/* Scalar element i of a raw little-endian array as a value. */
static bnc_gguf_value array_scalar(uint32_t type, const uint8_t *p)
{
    bnc_gguf_value v = {.type = type};
    switch (type) {
    case BNC_GGUF_UINT8:
    case BNC_GGUF_BOOL:
        v.v.u = p[0];
        break;
    case BNC_GGUF_INT8:
        v.v.i = (int8_t)p[0];
        break;
    case BNC_GGUF_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        v.v.u = x;
        break;
    }
    case BNC_GGUF_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        v.v.i = x;
        break;
    }
    case BNC_GGUF_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        v.v.u = x;
        break;
    }
    case BNC_GGUF_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        v.v.i = x;
        break;
    }
    case BNC_GGUF_FLOAT32:
        memcpy(&v.v.f32, p, 4);
        break;
    case BNC_GGUF_UINT64:
        memcpy(&v.v.u, p, 8);
        break;
    case BNC_GGUF_INT64:
        memcpy(&v.v.i, p, 8);
        break;
    case BNC_GGUF_FLOAT64:
        memcpy(&v.v.f64, p, 8);
        break;
    default:
        break;
    }
    return v;
}

void bnc_gguf_value_format(const bnc_gguf_value *v, char *buf, size_t n)
{
    if (n == 0) return;
    buf[0] = '\0';
    switch (v->type) {
    case BNC_GGUF_STRING:
        snprintf(buf, n, "\"%.*s%s\"", v->v.str.len > 60 ? 60 : (int)v->v.str.len, v->v.str.s,
                 v->v.str.len > 60 ? "..." : "");
        for (char *c = buf; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
        return;
    case BNC_GGUF_BOOL:
        snprintf(buf, n, "%s", v->v.u ? "true" : "false");
        return;
    case BNC_GGUF_FLOAT32:
        snprintf(buf, n, "%.9g", (double)v->v.f32);
        return;
    case BNC_GGUF_FLOAT64:
        snprintf(buf, n, "%.17g", v->v.f64);
        return;
    case BNC_GGUF_INT8:
    case BNC_GGUF_INT16:
    case BNC_GGUF_INT32:
    case BNC_GGUF_INT64:
        snprintf(buf, n, "%lld", (long long)v->v.i);
        return;
    case BNC_GGUF_ARRAY: {
        size_t len = (size_t)snprintf(buf, n, "%s[%llu] [", bnc_gguf_vtype_name(v->v.arr.type),
                                      (unsigned long long)v->v.arr.n);
        uint64_t show = v->v.arr.n < 4 ? v->v.arr.n : 4;
        for (uint64_t i = 0; i < show && len < n; i++) {
            char item[96];
            if (is_composite(v->v.arr.type)) {
                bnc_gguf_value_format(&((const bnc_gguf_value *)v->v.arr.data)[i], item,
                                      sizeof item);
            } else {
                size_t es = bnc_gguf_vtype_size(v->v.arr.type);
                bnc_gguf_value s =
                    array_scalar(v->v.arr.type, (const uint8_t *)v->v.arr.data + i * es);
                bnc_gguf_value_format(&s, item, sizeof item);
            }
            len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", item);
        }
        if (len < n) snprintf(buf + len, n - len, "%s]", v->v.arr.n > show ? ", ..." : "");
        return;
    }
    default:
        snprintf(buf, n, "%llu", (unsigned long long)v->v.u);
        return;
    }
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t n, off;
    const char *fname;
    bnc_err *err;
} reader;

static int need(reader *r, uint64_t k, const char *field)
{
    if (k > r->n - r->off)
        return bnc_err_set(r->err, BNC_EFORMAT,
                           "%s: %s: truncated file (need %llu bytes at offset %zu, %zu left)",
                           r->fname, field, (unsigned long long)k, r->off, r->n - r->off);
    return 0;
}

static int rd_bytes(reader *r, void *dst, size_t k, const char *field)
{
    int rc = need(r, k, field);
    if (rc) return rc;
    memcpy(dst, r->p + r->off, k);
    r->off += k;
    return 0;
}

static int rd_u32(reader *r, uint32_t *x, const char *field)
{
    return rd_bytes(r, x, 4, field);
}
static int rd_u64(reader *r, uint64_t *x, const char *field)
{
    return rd_bytes(r, x, 8, field);
}

/* Reads a string (uint64 length + bytes) into a fresh NUL-terminated copy. */
static int rd_str(reader *r, char **s, uint64_t *len, const char *field)
{
    uint64_t n;
    int rc = rd_u64(r, &n, field);
    if (rc) return rc;
    if (n > r->n - r->off)
        return bnc_err_set(r->err, BNC_EFORMAT,
                           "%s: %s: string length %llu exceeds the %zu bytes left in the file",
                           r->fname, field, (unsigned long long)n, r->n - r->off);
    *s = malloc((size_t)n + 1);
    if (!*s) return bnc_err_set(r->err, BNC_ENOMEM, "%s: %s: out of memory", r->fname, field);
    memcpy(*s, r->p + r->off, (size_t)n);
    (*s)[n] = '\0';
    r->off += (size_t)n;
    if (len) *len = n;
    return 0;
}

static int rd_value(reader *r, uint32_t type, bnc_gguf_value *v, const char *key, int depth);

static int rd_array(reader *r, bnc_gguf_value *v, const char *key, int depth)
{
    uint32_t et;
    uint64_t n;
    int rc = rd_u32(r, &et, key);
    if (!rc) rc = rd_u64(r, &n, key);
    if (rc) return rc;
    if (et > BNC_GGUF_FLOAT64)
        return bnc_err_set(r->err, BNC_EFORMAT, "%s: %s: unknown array element type %u", r->fname,
                           key, et);
    if (depth >= BNC_GGUF_MAX_DEPTH)
        return bnc_err_set(r->err, BNC_EFORMAT, "%s: %s: arrays nested deeper than %d", r->fname,
                           key, BNC_GGUF_MAX_DEPTH);
    /* The smallest encoding of an element bounds the count by what is left. */
    size_t es = bnc_gguf_vtype_size(et);
    uint64_t min_elem = es ? es : (et == BNC_GGUF_STRING ? 8 : 12);
    if (n > (r->n - r->off) / min_elem)
        return bnc_err_set(r->err, BNC_EFORMAT,
                           "%s: %s: array length %llu cannot fit in the %zu bytes left", r->fname,
                           key, (unsigned long long)n, r->n - r->off);
    v->type = BNC_GGUF_ARRAY;
    v->v.arr.type = et;
    v->v.arr.n = 0;
    if (es) {
        v->v.arr.data = malloc(n ? (size_t)n * es : 1);
        if (!v->v.arr.data)
            return bnc_err_set(r->err, BNC_ENOMEM, "%s: %s: out of memory", r->fname, key);
        v->v.arr.n = n;
        rc = rd_bytes(r, v->v.arr.data, (size_t)n * es, key);
        if (rc) return rc;
        if (et == BNC_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (((uint8_t *)v->v.arr.data)[i] > 1)
                    return bnc_err_set(r->err, BNC_EFORMAT,
                                       "%s: %s: bool array item %llu is %u, not 0 or 1", r->fname,
                                       key, (unsigned long long)i, ((uint8_t *)v->v.arr.data)[i]);
        return 0;
    }
    bnc_gguf_value *items = calloc(n ? (size_t)n : 1, sizeof *items);
    if (!items) return bnc_err_set(r->err, BNC_ENOMEM, "%s: %s: out of memory", r->fname, key);
    v->v.arr.data = items;
    for (uint64_t i = 0; i < n; i++) {
        v->v.arr.n = i + 1;
        rc = rd_value(r, et, &items[i], key, depth + 1);
        if (rc) return rc;
    }
    return 0;
}

static int rd_value(reader *r, uint32_t type, bnc_gguf_value *v, const char *key, int depth)
{
    memset(v, 0, sizeof *v);
    if (type == BNC_GGUF_STRING) {
        v->type = type;
        return rd_str(r, &v->v.str.s, &v->v.str.len, key);
    }
    if (type == BNC_GGUF_ARRAY) return rd_array(r, v, key, depth);
    size_t es = bnc_gguf_vtype_size(type);
    if (!es)
        return bnc_err_set(r->err, BNC_EFORMAT, "%s: %s: unknown value type %u", r->fname, key,
                           type);
    uint8_t b[8];
    int rc = rd_bytes(r, b, es, key);
    if (rc) return rc;
    *v = array_scalar(type, b);
    if (type == BNC_GGUF_BOOL && v->v.u > 1)
        return bnc_err_set(r->err, BNC_EFORMAT, "%s: %s: bool value %u is not 0 or 1", r->fname,
                           key, b[0]);
    return 0;
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const bnc_gguf_tensor *x = *(const bnc_gguf_tensor *const *)a;
    const bnc_gguf_tensor *y = *(const bnc_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : (x->offset > y->offset ? 1 : 0);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

int bnc_gguf_parse(const void *buf, size_t size, const char *fname, bnc_gguf **out, bnc_err *err)
{
    *out = NULL;
    reader r = {buf, size, 0, fname ? fname : "gguf", err};
    char magic[4];
    int rc = rd_bytes(&r, magic, 4, "magic");
    if (rc) return rc;
    if (memcmp(magic, BNC_GGUF_MAGIC, 4) != 0)
        return bnc_err_set(err, BNC_EFORMAT, "%s: magic: bad magic %02x %02x %02x %02x (not GGUF)",
                           r.fname, (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2],
                           (uint8_t)magic[3]);
    bnc_gguf *g = bnc_gguf_new();
    if (!g) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", r.fname);
    uint64_t nt, nkv;
    if ((rc = rd_u32(&r, &g->version, "version"))) goto fail;
    if (g->version != 3) {
        rc = bnc_err_set(err, BNC_EVERSION, "%s: version: GGUF version %u is not supported (3 is)",
                         r.fname, g->version);
        goto fail;
    }
    if ((rc = rd_u64(&r, &nt, "tensor_count")) || (rc = rd_u64(&r, &nkv, "metadata_kv_count")))
        goto fail;
    /* A tensor info takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; a
     * KV at least 8 (key length) + 4 + 1. */
    if (nt > (size - r.off) / 32) {
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: tensor_count: %llu tensor infos cannot fit in a %zu-byte file",
                         r.fname, (unsigned long long)nt, size);
        goto fail;
    }
    if (nkv > (size - r.off) / 13) {
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: metadata_kv_count: %llu entries cannot fit in a %zu-byte file",
                         r.fname, (unsigned long long)nkv, size);
        goto fail;
    }
    g->kv = calloc(nkv ? (size_t)nkv : 1, sizeof *g->kv);
    g->tensors = calloc(nt ? (size_t)nt : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", r.fname);
        goto fail;
    }
    g->cap_kv = (size_t)(nkv ? nkv : 1);
    g->cap_tensors = (size_t)(nt ? nt : 1);
    for (uint64_t i = 0; i < nkv; i++) {
        char field[64];
        snprintf(field, sizeof field, "metadata key %llu", (unsigned long long)i);
        bnc_gguf_kv *kv = &g->kv[i];
        g->n_kv = (size_t)i + 1;
        if ((rc = rd_str(&r, &kv->key, NULL, field))) goto fail;
        uint32_t vt;
        if ((rc = rd_u32(&r, &vt, kv->key))) goto fail;
        if (vt > BNC_GGUF_FLOAT64) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: unknown value type %u", r.fname, kv->key,
                             vt);
            goto fail;
        }
        if ((rc = rd_value(&r, vt, &kv->value, kv->key, 0))) goto fail;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->kv[j].key, kv->key) == 0) {
                rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: duplicate metadata key", r.fname,
                                 kv->key);
                goto fail;
            }
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->value.type != BNC_GGUF_UINT32 || kv->value.v.u == 0 || kv->value.v.u % 8 != 0 ||
                (kv->value.v.u & (kv->value.v.u - 1)) != 0) {
                rc = bnc_err_set(err, BNC_EFORMAT,
                                 "%s: general.alignment: must be a uint32 power of two and a "
                                 "multiple of 8",
                                 r.fname);
                goto fail;
            }
            g->alignment = (uint32_t)kv->value.v.u;
        }
    }
    for (uint64_t i = 0; i < nt; i++) {
        char field[64];
        snprintf(field, sizeof field, "tensor info %llu", (unsigned long long)i);
        bnc_gguf_tensor *t = &g->tensors[i];
        g->n_tensors = (size_t)i + 1;
        if ((rc = rd_str(&r, &t->name, NULL, field))) goto fail;
        char tf[300];
        snprintf(tf, sizeof tf, "tensor '%.200s'", t->name);
        if ((rc = rd_u32(&r, &t->n_dims, tf))) goto fail;
        if (t->n_dims == 0 || t->n_dims > BNC_GGUF_MAX_DIMS) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: n_dims %u is not in 1..%d", r.fname, tf,
                             t->n_dims, BNC_GGUF_MAX_DIMS);
            goto fail;
        }
        for (int d = 0; d < BNC_GGUF_MAX_DIMS; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t x;
            if ((rc = rd_u64(&r, &x, tf))) goto fail;
            if (x > (uint64_t)INT64_MAX) {
                rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: dimension %u is absurd (%llu)", r.fname,
                                 tf, d, (unsigned long long)x);
                goto fail;
            }
            if (x == 0) { /* no rows to split, no row to divide by */
                rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: dimension %u is 0 (empty tensor)",
                                 r.fname, tf, d);
                goto fail;
            }
            t->ne[d] = (int64_t)x;
        }
        if ((rc = rd_u32(&r, &t->type, tf)) || (rc = rd_u64(&r, &t->offset, tf))) goto fail;
        if (!bnc_gguf_type(t->type) || t->type == BNC_TYPE_U8) {
            rc =
                bnc_err_set(err, BNC_EFORMAT, "%s: %s: unknown ggml type %u", r.fname, tf, t->type);
            goto fail;
        }
        bnc_err e2;
        if (bnc_gguf_nbytes(t->type, t->n_dims, t->ne, &t->nbytes, &e2)) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: shape: %s", r.fname, tf, e2.msg);
            goto fail;
        }
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->tensors[j].name, t->name) == 0) {
                rc = bnc_err_set(err, BNC_EFORMAT, "%s: %s: duplicate tensor name", r.fname, tf);
                goto fail;
            }
    }
    g->header_size = r.off;
    g->data_offset = align_up(r.off, g->alignment);
    if (g->data_offset > size && nt > 0) {
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "%s: data section: starts at %llu, beyond the end of the %zu-byte file",
                         r.fname, (unsigned long long)g->data_offset, size);
        goto fail;
    }
    uint64_t avail = g->data_offset <= size ? size - g->data_offset : 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        bnc_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0) {
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "%s: tensor '%.200s': offset %llu is not a multiple of the "
                             "alignment %u",
                             r.fname, t->name, (unsigned long long)t->offset, g->alignment);
            goto fail;
        }
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "%s: tensor '%.200s': data [%llu, +%llu) lies beyond the end of "
                             "the file (data section holds %llu bytes)",
                             r.fname, t->name, (unsigned long long)t->offset,
                             (unsigned long long)t->nbytes, (unsigned long long)avail);
            goto fail;
        }
        uint64_t end = align_up(t->offset + t->nbytes, g->alignment);
        if (end > g->data_size) g->data_size = end;
    }
    if (g->n_tensors > 1) {
        bnc_gguf_tensor **by = malloc(g->n_tensors * sizeof *by);
        if (!by) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", r.fname);
            goto fail;
        }
        for (size_t i = 0; i < g->n_tensors; i++)
            by[i] = &g->tensors[i];
        qsort(by, g->n_tensors, sizeof *by, cmp_tensor_offset);
        for (size_t i = 1; i < g->n_tensors; i++)
            if (by[i - 1]->offset + by[i - 1]->nbytes > by[i]->offset && by[i]->nbytes > 0 &&
                by[i - 1]->nbytes > 0) {
                rc = bnc_err_set(err, BNC_EFORMAT,
                                 "%s: tensor '%.200s': data overlaps tensor '%.200s'", r.fname,
                                 by[i]->name, by[i - 1]->name);
                free(by);
                goto fail;
            }
        free(by);
    }
    *out = g;
    return 0;
fail:
    bnc_gguf_free(g);
    return rc;
}

/* ---- building ------------------------------------------------------------------ */

bnc_gguf *bnc_gguf_new(void)
{
    bnc_gguf *g = calloc(1, sizeof *g);
    if (g) {
        g->version = BNC_GGUF_VERSION;
        g->alignment = BNC_GGUF_DEFAULT_ALIGNMENT;
    }
    return g;
}

void bnc_gguf_free(bnc_gguf *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        bnc_gguf_value_clear(&g->kv[i].value);
    }
    for (size_t i = 0; i < g->n_tensors; i++)
        free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g);
}

long bnc_gguf_find_key(const bnc_gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return (long)i;
    return -1;
}

const bnc_gguf_value *bnc_gguf_get(const bnc_gguf *g, const char *key)
{
    long i = bnc_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kv[i].value;
}

int bnc_gguf_set(bnc_gguf *g, const char *key, const bnc_gguf_value *v, bnc_err *err)
{
    if (strcmp(key, "general.alignment") == 0) {
        if (v->type != BNC_GGUF_UINT32 || v->v.u == 0 || v->v.u % 8 || (v->v.u & (v->v.u - 1)))
            return bnc_err_set(err, BNC_EINVAL,
                               "general.alignment must be a uint32 power of two, multiple of 8");
        g->alignment = (uint32_t)v->v.u;
    }
    bnc_gguf_value copy;
    int rc = bnc_gguf_value_copy(&copy, v, err);
    if (rc) return rc;
    long i = bnc_gguf_find_key(g, key);
    if (i >= 0) {
        bnc_gguf_value_clear(&g->kv[i].value);
        g->kv[i].value = copy;
        return 0;
    }
    if (g->n_kv == g->cap_kv) {
        size_t cap = g->cap_kv ? 2 * g->cap_kv : 16;
        bnc_gguf_kv *kv = realloc(g->kv, cap * sizeof *kv);
        if (!kv) {
            bnc_gguf_value_clear(&copy);
            return bnc_err_set(err, BNC_ENOMEM, "out of memory adding key %s", key);
        }
        g->kv = kv;
        g->cap_kv = cap;
    }
    g->kv[g->n_kv].key = strdup(key);
    if (!g->kv[g->n_kv].key) {
        bnc_gguf_value_clear(&copy);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory adding key %s", key);
    }
    g->kv[g->n_kv++].value = copy;
    return 0;
}

long bnc_gguf_find_tensor(const bnc_gguf *g, const char *name)
{
    for (size_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return (long)i;
    return -1;
}

int bnc_gguf_add_tensor(bnc_gguf *g, const char *name, uint32_t n_dims, const int64_t *ne,
                        uint32_t type, bnc_err *err)
{
    if (n_dims == 0 || n_dims > BNC_GGUF_MAX_DIMS)
        return bnc_err_set(err, BNC_EINVAL, "tensor %s: %u dimensions (GGUF holds 1..4)", name,
                           n_dims);
    if (type == BNC_TYPE_U8)
        return bnc_err_set(err, BNC_EINVAL, "tensor %s: type u8 has no GGUF equivalent", name);
    bnc_gguf_tensor t = {0};
    t.n_dims = n_dims;
    t.type = type;
    for (int d = 0; d < BNC_GGUF_MAX_DIMS; d++)
        t.ne[d] = d < (int)n_dims ? ne[d] : 1;
    bnc_err e2;
    if (bnc_gguf_nbytes(type, n_dims, t.ne, &t.nbytes, &e2))
        return bnc_err_set(err, BNC_EINVAL, "tensor %s: %s", name, e2.msg);
    if (g->n_tensors == g->cap_tensors) {
        size_t cap = g->cap_tensors ? 2 * g->cap_tensors : 16;
        bnc_gguf_tensor *ts = realloc(g->tensors, cap * sizeof *ts);
        if (!ts) return bnc_err_set(err, BNC_ENOMEM, "out of memory adding tensor %s", name);
        g->tensors = ts;
        g->cap_tensors = cap;
    }
    t.name = strdup(name);
    if (!t.name) return bnc_err_set(err, BNC_ENOMEM, "out of memory adding tensor %s", name);
    g->tensors[g->n_tensors++] = t;
    return 0;
}

/* ---- writing ----------------------------------------------------------------- */

/* A writer that only counts when p is NULL (the planning pass). */
typedef struct writer {
    uint8_t *p;
    size_t off;
} writer;

static void w_bytes(writer *w, const void *src, size_t n)
{
    if (w->p && n) memcpy(w->p + w->off, src, n);
    w->off += n;
}

static void w_u32(writer *w, uint32_t x)
{
    w_bytes(w, &x, 4);
}
static void w_u64(writer *w, uint64_t x)
{
    w_bytes(w, &x, 8);
}

static void w_str(writer *w, const char *s, uint64_t n)
{
    w_u64(w, n);
    w_bytes(w, s, (size_t)n);
}

static void w_value(writer *w, const bnc_gguf_value *v)
{
    switch (v->type) {
    case BNC_GGUF_STRING:
        w_str(w, v->v.str.s, v->v.str.len);
        return;
    case BNC_GGUF_ARRAY:
        w_u32(w, v->v.arr.type);
        w_u64(w, v->v.arr.n);
        if (is_composite(v->v.arr.type)) {
            const bnc_gguf_value *items = v->v.arr.data;
            for (uint64_t i = 0; i < v->v.arr.n; i++)
                w_value(w, &items[i]);
        } else {
            w_bytes(w, v->v.arr.data, (size_t)v->v.arr.n * bnc_gguf_vtype_size(v->v.arr.type));
        }
        return;
    case BNC_GGUF_FLOAT32:
        w_bytes(w, &v->v.f32, 4);
        return;
    case BNC_GGUF_FLOAT64:
        w_bytes(w, &v->v.f64, 8);
        return;
    default: {
        /* Little-endian host: the low bytes of the 64-bit slot are the value. */
        uint64_t x = v->v.u;
        w_bytes(w, &x, bnc_gguf_vtype_size(v->type));
        return;
    }
    }
}

static void w_header(writer *w, const bnc_gguf *g)
{
    w_bytes(w, BNC_GGUF_MAGIC, 4);
    w_u32(w, g->version);
    w_u64(w, g->n_tensors);
    w_u64(w, g->n_kv);
    for (size_t i = 0; i < g->n_kv; i++) {
        w_str(w, g->kv[i].key, strlen(g->kv[i].key));
        w_u32(w, g->kv[i].value.type);
        w_value(w, &g->kv[i].value);
    }
    for (size_t i = 0; i < g->n_tensors; i++) {
        const bnc_gguf_tensor *t = &g->tensors[i];
        w_str(w, t->name, strlen(t->name));
        w_u32(w, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            w_u64(w, (uint64_t)t->ne[d]);
        w_u32(w, t->type);
        w_u64(w, t->offset);
    }
}

int bnc_gguf_plan(bnc_gguf *g, bnc_err *err)
{
    uint64_t off = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        g->tensors[i].offset = off;
        off = align_up(off + g->tensors[i].nbytes, g->alignment);
    }
    g->data_size = off;
    writer w = {NULL, 0};
    w_header(&w, g);
    g->header_size = w.off;
    g->data_offset = align_up(w.off, g->alignment);
    (void)err;
    return 0;
}

uint64_t bnc_gguf_file_size(const bnc_gguf *g)
{
    return g->data_offset + g->data_size;
}

int bnc_gguf_header_bytes(const bnc_gguf *g, uint8_t **out, size_t *n, bnc_err *err)
{
    uint8_t *p = calloc(1, (size_t)g->data_offset ? (size_t)g->data_offset : 1);
    if (!p)
        return bnc_err_set(err, BNC_ENOMEM, "out of memory for a %llu-byte GGUF header",
                           (unsigned long long)g->data_offset);
    writer w = {p, 0};
    w_header(&w, g);
    if (w.off != g->header_size) {
        free(p);
        return bnc_err_set(err, BNC_EINTERNAL, "GGUF header changed after planning");
    }
    *out = p;
    *n = (size_t)g->data_offset;
    return 0;
}

int bnc_gguf_write_file(bnc_gguf *g, const char *path, const void *const *data, bnc_err *err)
{
    int rc = bnc_gguf_plan(g, err);
    if (rc) return rc;
    uint8_t *hdr;
    size_t n;
    if ((rc = bnc_gguf_header_bytes(g, &hdr, &n, err))) return rc;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return bnc_err_set(err, BNC_EIO, "%s: %s", path, strerror(errno));
    }
    int ok = fwrite(hdr, 1, n, f) == n;
    free(hdr);
    static const uint8_t zeros[256];
    for (size_t i = 0; ok && i < g->n_tensors; i++) {
        const bnc_gguf_tensor *t = &g->tensors[i];
        ok = fwrite(data[i], 1, (size_t)t->nbytes, f) == t->nbytes;
        uint64_t pad = align_up(t->nbytes, g->alignment) - t->nbytes;
        while (ok && pad > 0) {
            size_t k = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
            ok = fwrite(zeros, 1, k, f) == k;
            pad -= k;
        }
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) return bnc_err_set(err, BNC_EIO, "%s: write failed: %s", path, strerror(errno));
    return 0;
}
