/* safetensors reader, index reader and writer (see bnc_safetensors.h). */
#include "bnc_safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"

static const struct {
    const char *dtype;
    uint32_t type;
} dtypes[] = {
    {"F32", 0},  {"F16", 1},  {"BF16", 30}, {"I8", 24},  {"U8", BNC_TYPE_U8},
    {"I16", 25}, {"I32", 26}, {"I64", 27},  {"F64", 28},
};

int bnc_st_dtype_type(const char *dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].dtype, dtype) == 0) return (int)dtypes[i].type;
    return -1;
}

const char *bnc_st_type_dtype(uint32_t type)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].type == type) return dtypes[i].dtype;
    return NULL;
}

void bnc_st_free(bnc_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st);
}

static int cmp_begin(const void *a, const void *b)
{
    const bnc_st_tensor *x = *(const bnc_st_tensor *const *)a;
    const bnc_st_tensor *y = *(const bnc_st_tensor *const *)b;
    return x->begin < y->begin ? -1 : (x->begin > y->begin ? 1 : 0);
}

/* Reads a JSON integer in [0, INT64_MAX] (jansson parses big numbers as
 * reals or fails; negative ones are rejected here). */
static int json_u64(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0) return -1;
    *out = (uint64_t)json_integer_value(j);
    return 0;
}

static int parse_tensor(const char *fname, const char *name, json_t *v, uint64_t data_start,
                        size_t size, bnc_st_tensor *t, bnc_err *err)
{
    if (!json_is_object(v))
        return bnc_err_set(err, BNC_EFORMAT, "%s: tensor '%.200s': entry is not a JSON object",
                           fname, name);
    json_t *dt = json_object_get(v, "dtype");
    json_t *shape = json_object_get(v, "shape");
    json_t *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return bnc_err_set(err, BNC_EFORMAT, "%s: tensor '%.200s': dtype: missing or not a string",
                           fname, name);
    int type = bnc_st_dtype_type(json_string_value(dt));
    if (type < 0)
        return bnc_err_set(err, BNC_EFORMAT, "%s: tensor '%.200s': dtype: unknown dtype '%.40s'",
                           fname, name, json_string_value(dt));
    t->type = (uint32_t)type;
    if (!json_is_array(shape))
        return bnc_err_set(err, BNC_EFORMAT, "%s: tensor '%.200s': shape: missing or not an array",
                           fname, name);
    size_t nd = json_array_size(shape);
    if (nd > BNC_ST_MAX_DIMS)
        return bnc_err_set(err, BNC_EFORMAT, "%s: tensor '%.200s': shape: %zu dimensions (max %d)",
                           fname, name, nd, BNC_ST_MAX_DIMS);
    t->n_dims = (int)nd;
    uint64_t count = 1;
    for (size_t d = 0; d < nd; d++) {
        uint64_t x;
        if (json_u64(json_array_get(shape, d), &x))
            return bnc_err_set(err, BNC_EFORMAT,
                               "%s: tensor '%.200s': shape: dimension %zu is not a non-negative "
                               "integer",
                               fname, name, d);
        if (x == 0)
            return bnc_err_set(err, BNC_EFORMAT,
                               "%s: tensor '%.200s': shape: dimension %zu is 0 (empty tensor)",
                               fname, name, d);
        t->shape[d] = (int64_t)x;
        if (count > UINT64_MAX / x)
            return bnc_err_set(err, BNC_EFORMAT, "%s: tensor '%.200s': shape: product overflows",
                               fname, name);
        count *= x;
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tensor '%.200s': data_offsets: missing or not [begin, end]", fname,
                           name);
    uint64_t b, e;
    if (json_u64(json_array_get(offs, 0), &b) || json_u64(json_array_get(offs, 1), &e))
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tensor '%.200s': data_offsets: not non-negative integers", fname,
                           name);
    if (b > e)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tensor '%.200s': data_offsets: begin %llu is after end %llu", fname,
                           name, (unsigned long long)b, (unsigned long long)e);
    uint64_t avail = size - data_start;
    if (e > avail)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tensor '%.200s': data_offsets: [%llu, %llu) out of range (the "
                           "byte buffer holds %llu bytes)",
                           fname, name, (unsigned long long)b, (unsigned long long)e,
                           (unsigned long long)avail);
    size_t es = bnc_gguf_type(t->type)->bytes;
    if (count > UINT64_MAX / es || count * es != e - b)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: tensor '%.200s': shape: %llu elements of %s need %llu bytes but "
                           "data_offsets span %llu",
                           fname, name, (unsigned long long)count, json_string_value(dt),
                           count > UINT64_MAX / es ? 0ull : (unsigned long long)(count * es),
                           (unsigned long long)(e - b));
    t->begin = data_start + b;
    t->end = data_start + e;
    return 0;
}

int bnc_st_parse(const void *buf, size_t size, const char *fname, bnc_safetensors **out,
                 bnc_err *err)
{
    *out = NULL;
    fname = fname ? fname : "safetensors";
    if (size < 8)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: header length: truncated file (%zu bytes, need at least 8)", fname,
                           size);
    uint64_t n;
    memcpy(&n, buf, 8);
    if (n > size - 8)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: header length: %llu bytes runs beyond the end of the %zu-byte file",
                           fname, (unsigned long long)n, size);
    if (n > BNC_ST_MAX_HEADER)
        return bnc_err_set(err, BNC_EFORMAT, "%s: header length: %llu bytes exceeds the %u limit",
                           fname, (unsigned long long)n, BNC_ST_MAX_HEADER);
    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bnc_err_set(err, BNC_EFORMAT, "%s: header: invalid JSON at byte %d: %s", fname,
                           je.position, je.text);
    int rc = 0;
    bnc_safetensors *st = calloc(1, sizeof *st);
    bnc_st_tensor **by = NULL;
    if (!st) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
        goto done;
    }
    st->header_len = n;
    st->data_start = 8 + n;
    if (!json_is_object(root)) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: header: JSON is not an object", fname);
        goto done;
    }
    size_t cap = json_object_size(root);
    st->tensors = calloc(cap ? cap : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                rc = bnc_err_set(err, BNC_EFORMAT, "%s: __metadata__: not a JSON object", fname);
                goto done;
            }
            size_t m = json_object_size(val);
            st->meta_keys = calloc(m ? m : 1, sizeof(char *));
            st->meta_values = calloc(m ? m : 1, sizeof(char *));
            if (!st->meta_keys || !st->meta_values) {
                rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv)
            {
                if (!json_is_string(mv)) {
                    rc = bnc_err_set(err, BNC_EFORMAT,
                                     "%s: __metadata__: value of '%.100s' is not a string", fname,
                                     mk);
                    goto done;
                }
                st->meta_keys[st->n_meta] = strdup(mk);
                st->meta_values[st->n_meta] = strdup(json_string_value(mv));
                st->n_meta++;
                if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1]) {
                    rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
                    goto done;
                }
            }
            continue;
        }
        bnc_st_tensor *t = &st->tensors[st->n_tensors];
        t->name = strdup(key);
        if (!t->name) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
            goto done;
        }
        st->n_tensors++;
        if ((rc = parse_tensor(fname, key, val, st->data_start, size, t, err))) goto done;
    }
    if (st->n_tensors > 1) {
        by = malloc(st->n_tensors * sizeof *by);
        if (!by) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
            goto done;
        }
        for (size_t i = 0; i < st->n_tensors; i++)
            by[i] = &st->tensors[i];
        qsort(by, st->n_tensors, sizeof *by, cmp_begin);
        for (size_t i = 1; i < st->n_tensors; i++)
            if (by[i - 1]->end > by[i]->begin && by[i]->end > by[i]->begin) {
                rc = bnc_err_set(err, BNC_EFORMAT,
                                 "%s: tensor '%.200s': data_offsets: overlap tensor '%.200s'",
                                 fname, by[i]->name, by[i - 1]->name);
                goto done;
            }
    }
done:
    free(by);
    json_decref(root);
    if (rc)
        bnc_st_free(st);
    else
        *out = st;
    return rc;
}

/* ---- index ---------------------------------------------------------------------- */

void bnc_st_index_free(bnc_st_index *ix)
{
    if (!ix) return;
    for (size_t i = 0; i < ix->n; i++)
        free(ix->names[i]);
    for (size_t i = 0; i < ix->n_shards; i++)
        free(ix->shards[i]);
    free(ix->names);
    free(ix->shard);
    free(ix->shards);
    free(ix);
}

int bnc_st_index_parse(const void *buf, size_t size, const char *fname, bnc_st_index **out,
                       bnc_err *err)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(buf, size, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bnc_err_set(err, BNC_EFORMAT, "%s: invalid JSON at byte %d: %s", fname, je.position,
                           je.text);
    int rc = 0;
    bnc_st_index *ix = calloc(1, sizeof *ix);
    json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!ix) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
        goto done;
    }
    if (!json_is_object(root)) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: JSON is not an object", fname);
        goto done;
    }
    if (!json_is_object(wm)) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: weight_map: missing or not an object", fname);
        goto done;
    }
    size_t m = json_object_size(wm);
    ix->names = calloc(m ? m : 1, sizeof(char *));
    ix->shard = calloc(m ? m : 1, sizeof(size_t));
    ix->shards = calloc(m ? m : 1, sizeof(char *));
    if (!ix->names || !ix->shard || !ix->shards) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v)
    {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s || !*s || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
            rc =
                bnc_err_set(err, BNC_EFORMAT,
                            "%s: weight_map: shard of '%.200s' is not a plain file name", fname, k);
            goto done;
        }
        size_t j = 0;
        while (j < ix->n_shards && strcmp(ix->shards[j], s) != 0)
            j++;
        if (j == ix->n_shards) {
            ix->shards[j] = strdup(s);
            if (!ix->shards[j]) {
                rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
                goto done;
            }
            ix->n_shards++;
        }
        ix->names[ix->n] = strdup(k);
        if (!ix->names[ix->n]) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", fname);
            goto done;
        }
        ix->shard[ix->n++] = j;
    }
done:
    json_decref(root);
    if (rc)
        bnc_st_index_free(ix);
    else
        *out = ix;
    return rc;
}

/* ---- writer -------------------------------------------------------------------- */

struct bnc_st_writer {
    FILE *f;
    char *path;
    uint64_t remaining; /* bytes of tensor data still to write */
};

int bnc_st_writer_open(const char *path, const bnc_st_spec *specs, size_t n,
                       const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                       bnc_st_writer **out, bnc_err *err)
{
    *out = NULL;
    json_t *root = json_object();
    if (!root) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    int rc = 0;
    uint64_t off = 0;
    if (n_meta) {
        json_t *m = json_object();
        for (size_t i = 0; i < n_meta; i++)
            json_object_set_new(m, meta_keys[i], json_string(meta_values[i]));
        json_object_set_new(root, "__metadata__", m);
    }
    for (size_t i = 0; i < n; i++) {
        const char *dt = bnc_st_type_dtype(specs[i].type);
        if (!dt) {
            rc = bnc_err_set(err, BNC_EINVAL, "%s: tensor %s: type %u has no safetensors dtype",
                             path, specs[i].name, specs[i].type);
            goto fail;
        }
        uint64_t count = 1;
        json_t *shape = json_array();
        for (int d = 0; d < specs[i].n_dims; d++) {
            count *= (uint64_t)specs[i].shape[d];
            json_array_append_new(shape, json_integer(specs[i].shape[d]));
        }
        uint64_t bytes = count * bnc_gguf_type(specs[i].type)->bytes;
        json_t *t = json_object();
        json_object_set_new(t, "dtype", json_string(dt));
        json_object_set_new(t, "shape", shape);
        json_object_set_new(t, "data_offsets",
                            json_pack("[II]", (json_int_t)off, (json_int_t)(off + bytes)));
        json_object_set_new(root, specs[i].name, t);
        off += bytes;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    if (!text) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto fail;
    }
    size_t len = strlen(text);
    size_t padded = (len + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(text);
        rc = bnc_err_set(err, BNC_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t hl = padded;
    int ok = fwrite(&hl, 8, 1, f) == 1 && fwrite(text, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    free(text);
    if (!ok) {
        fclose(f);
        rc = bnc_err_set(err, BNC_EIO, "%s: write failed: %s", path, strerror(errno));
        goto fail;
    }
    bnc_st_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        fclose(f);
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto fail;
    }
    w->f = f;
    w->remaining = off;
    *out = w;
fail:
    json_decref(root);
    return rc;
}

int bnc_st_writer_write(bnc_st_writer *w, const void *data, size_t n, bnc_err *err)
{
    if (n > w->remaining)
        return bnc_err_set(err, BNC_EINVAL, "%s: %zu bytes beyond the planned tensor data", w->path,
                           n);
    if (fwrite(data, 1, n, w->f) != n)
        return bnc_err_set(err, BNC_EIO, "%s: write failed: %s", w->path, strerror(errno));
    w->remaining -= n;
    return 0;
}

int bnc_st_writer_close(bnc_st_writer *w, bnc_err *err)
{
    if (!w) return 0;
    int rc = 0;
    if (w->remaining)
        rc = bnc_err_set(err, BNC_EINVAL, "%s: %llu bytes of tensor data missing", w->path,
                         (unsigned long long)w->remaining);
    if (fclose(w->f) != 0 && !rc)
        rc = bnc_err_set(err, BNC_EIO, "%s: close failed: %s", w->path, strerror(errno));
    free(w->path);
    free(w);
    return rc;
}
