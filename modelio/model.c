/* A model opened from safetensors (single or sharded) or GGUF. */
#include "bnc_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_ggml.h"
#include "bnc_kernels.h"
#include "convert.h"

static int open_file(bnc_mcache *cache, const char *path, bnc_mfile **out, bnc_err *err)
{
    return cache ? bnc_mcache_get(cache, path, out, err) : bnc_mfile_open(path, 0, out, err);
}

void bnc_model_free(bnc_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_files; i++) {
        bnc_mfile_release(m->files[i]);
        if (m->st) bnc_st_free(m->st[i]);
    }
    free(m->files);
    free(m->st);
    bnc_gguf_free(m->gguf);
    free(m->tensors);
    free(m->path);
    free(m);
}

long bnc_model_find(const bnc_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return (long)i;
    return -1;
}

static void from_st(bnc_model_tensor *t, const bnc_st_tensor *s, size_t file, const uint8_t *base)
{
    t->name = s->name;
    t->type = s->type;
    t->file = file;
    for (int d = 0; d < BNC_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    /* safetensors shapes are row-major; ggml lists the contiguous dim first. */
    int nd = s->n_dims;
    t->n_dims = nd == 0 ? 1 : (uint32_t)(nd > BNC_GGUF_MAX_DIMS ? BNC_GGUF_MAX_DIMS : nd);
    for (int d = 0; d < nd; d++) {
        int g = nd - 1 - d;
        if (g >= BNC_GGUF_MAX_DIMS)
            t->ne[BNC_GGUF_MAX_DIMS - 1] *= s->shape[d];
        else
            t->ne[g] = s->shape[d];
    }
    t->offset = s->begin;
    t->nbytes = s->end - s->begin;
    t->data = base + s->begin;
}

static void finish_tensor(bnc_model_tensor *t)
{
    t->cols = t->ne[0];
    t->rows = 1;
    for (int d = 1; d < BNC_GGUF_MAX_DIMS; d++)
        t->rows *= t->ne[d];
}

static char *dir_join(const char *index_path, const char *name)
{
    const char *slash = strrchr(index_path, '/');
    size_t dl = slash ? (size_t)(slash - index_path) + 1 : 0;
    char *p = malloc(dl + strlen(name) + 1);
    if (p) {
        memcpy(p, index_path, dl);
        strcpy(p + dl, name);
    }
    return p;
}

static int open_index(bnc_model *m, bnc_mcache *cache, bnc_err *err)
{
    bnc_mfile *f;
    int rc = open_file(cache, m->path, &f, err);
    if (rc) return rc;
    bnc_st_index *ix;
    rc = bnc_st_index_parse(f->data, f->size, m->path, &ix, err);
    bnc_mfile_release(f);
    if (rc) return rc;
    m->files = calloc(ix->n_shards ? ix->n_shards : 1, sizeof *m->files);
    m->st = calloc(ix->n_shards ? ix->n_shards : 1, sizeof *m->st);
    m->tensors = calloc(ix->n ? ix->n : 1, sizeof *m->tensors);
    if (!m->files || !m->st || !m->tensors) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", m->path);
        goto done;
    }
    for (size_t s = 0; s < ix->n_shards; s++) {
        char *sp = dir_join(m->path, ix->shards[s]);
        if (!sp) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", m->path);
            goto done;
        }
        rc = open_file(cache, sp, &m->files[s], err);
        if (!rc) {
            m->n_files = s + 1;
            rc = bnc_st_parse(m->files[s]->data, m->files[s]->size, sp, &m->st[s], err);
        }
        if (rc) {
            if (rc == BNC_EIO) bnc_err_prefix(err, "%s: weight_map: shard: ", m->path);
            free(sp);
            goto done;
        }
        /* Every tensor of a shard must be listed for that shard. */
        for (size_t k = 0; k < m->st[s]->n_tensors; k++) {
            size_t j = 0;
            while (j < ix->n && strcmp(ix->names[j], m->st[s]->tensors[k].name) != 0)
                j++;
            if (j == ix->n || ix->shard[j] != s) {
                rc = bnc_err_set(err, BNC_EFORMAT,
                                 "%s: weight_map: tensor '%.200s' of shard %s is not mapped to it",
                                 m->path, m->st[s]->tensors[k].name, ix->shards[s]);
                free(sp);
                goto done;
            }
        }
        free(sp);
    }
    for (size_t j = 0; j < ix->n; j++) {
        size_t s = ix->shard[j];
        const bnc_safetensors *st = m->st[s];
        size_t k = 0;
        while (k < st->n_tensors && strcmp(st->tensors[k].name, ix->names[j]) != 0)
            k++;
        if (k == st->n_tensors) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: weight_map: tensor '%.200s' is not in shard %s",
                             m->path, ix->names[j], ix->shards[s]);
            goto done;
        }
        from_st(&m->tensors[m->n_tensors], &st->tensors[k], s, m->files[s]->data);
        finish_tensor(&m->tensors[m->n_tensors++]);
    }
done:
    bnc_st_index_free(ix);
    return rc;
}

int bnc_model_open(const char *path, bnc_mcache *cache, bnc_model **out, bnc_err *err)
{
    *out = NULL;
    bnc_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
    }
    int rc;
    size_t pl = strlen(path);
    if (pl >= 5 && strcmp(path + pl - 5, ".json") == 0) {
        m->format = BNC_MODEL_SAFETENSORS;
        rc = open_index(m, cache, err);
        goto done;
    }
    m->files = calloc(1, sizeof *m->files);
    m->st = calloc(1, sizeof *m->st);
    if (!m->files || !m->st) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = open_file(cache, path, &m->files[0], err))) goto done;
    m->n_files = 1;
    const bnc_mfile *f = m->files[0];
    /* A .gguf name or a near-miss magic goes to the GGUF reader, which names
     * the bad magic; anything else is read as safetensors. */
    int gguf_name = pl >= 5 && strcmp(path + pl - 5, ".gguf") == 0;
    if ((f->size >= 3 && memcmp(f->data, BNC_GGUF_MAGIC, 3) == 0) || gguf_name) {
        m->format = BNC_MODEL_GGUF;
        if ((rc = bnc_gguf_parse(f->data, f->size, path, &m->gguf, err))) goto done;
        m->tensors = calloc(m->gguf->n_tensors ? m->gguf->n_tensors : 1, sizeof *m->tensors);
        if (!m->tensors) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        for (size_t i = 0; i < m->gguf->n_tensors; i++) {
            const bnc_gguf_tensor *g = &m->gguf->tensors[i];
            bnc_model_tensor *t = &m->tensors[i];
            t->name = g->name;
            t->type = g->type;
            t->n_dims = g->n_dims;
            memcpy(t->ne, g->ne, sizeof t->ne);
            t->nbytes = g->nbytes;
            t->offset = m->gguf->data_offset + g->offset;
            t->data = f->data + t->offset;
            finish_tensor(t);
        }
        m->n_tensors = m->gguf->n_tensors;
    } else {
        m->format = BNC_MODEL_SAFETENSORS;
        if ((rc = bnc_st_parse(f->data, f->size, path, &m->st[0], err))) goto done;
        m->tensors = calloc(m->st[0]->n_tensors ? m->st[0]->n_tensors : 1, sizeof *m->tensors);
        if (!m->tensors) {
            rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        for (size_t i = 0; i < m->st[0]->n_tensors; i++) {
            from_st(&m->tensors[i], &m->st[0]->tensors[i], 0, f->data);
            finish_tensor(&m->tensors[i]);
        }
        m->n_tensors = m->st[0]->n_tensors;
    }
done:
    if (rc) {
        bnc_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

uint64_t bnc_model_row_bytes(const bnc_model *m, size_t i)
{
    const bnc_model_tensor *t = &m->tensors[i];
    return t->rows > 0 ? t->nbytes / (uint64_t)t->rows : 0;
}

int bnc_model_rows_f32(const bnc_model *m, size_t i, int64_t row0, int64_t nrows, float *out,
                       bnc_err *err)
{
    const bnc_model_tensor *t = &m->tensors[i];
    if (row0 < 0 || nrows < 0 || row0 > t->rows || nrows > t->rows - row0)
        return bnc_err_set(err, BNC_EINVAL, "tensor %s: rows [%lld, +%lld) out of range", t->name,
                           (long long)row0, (long long)nrows);
    uint64_t rb = bnc_model_row_bytes(m, i);
    const uint8_t *src = t->data + (uint64_t)row0 * rb;
    size_t n = (size_t)(nrows * t->cols);
    switch (t->type) {
    case 0:
        memcpy(out, src, n * sizeof(float));
        return 0;
    case 1:
        bnc_mio_f16_to_f32(src, out, n);
        return 0;
    case 30:
        bnc_mio_bf16_to_f32(src, out, n);
        return 0;
    case 24:
        for (size_t k = 0; k < n; k++)
            out[k] = (float)(int8_t)src[k];
        return 0;
    case BNC_TYPE_U8:
        for (size_t k = 0; k < n; k++)
            out[k] = (float)src[k];
        return 0;
    case 25:
        for (size_t k = 0; k < n; k++) {
            int16_t x;
            memcpy(&x, src + 2 * k, 2);
            out[k] = (float)x;
        }
        return 0;
    case 26:
        for (size_t k = 0; k < n; k++) {
            int32_t x;
            memcpy(&x, src + 4 * k, 4);
            out[k] = (float)x;
        }
        return 0;
    case 27:
        for (size_t k = 0; k < n; k++) {
            int64_t x;
            memcpy(&x, src + 8 * k, 8);
            out[k] = (float)x;
        }
        return 0;
    case 28:
        for (size_t k = 0; k < n; k++) {
            double x;
            memcpy(&x, src + 8 * k, 8);
            out[k] = (float)x;
        }
        return 0;
    default:
        break;
    }
    const bnc_scheme *sc = bnc_ggml_scheme((int)t->type);
    if (sc && sc->dequantize) {
        bnc_qparams qp = {0};
        int rc = sc->dequantize(src, (size_t)(rb * (uint64_t)nrows), nrows, t->cols, &qp, out, err);
        return rc ? bnc_err_prefix(err, "tensor %s: ", t->name) : 0;
    }
    const bnc_gguf_type_info *ti = bnc_gguf_type(t->type);
    return bnc_err_set(err, BNC_ENOTSUP, "tensor %s: no kernel reads type %s", t->name,
                       ti ? ti->name : "?");
}
