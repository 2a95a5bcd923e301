/* Quantization over MPI ranks with parallel MPI-IO writes (bnc_quantize.h). */
#include "bnc_quantize.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bnc_hash.h"
#include "bnc_ggml.h"
#include "bnc_kernels.h"
#include "bnc_out.h"
#include "bnc_time.h"

#define HASH_CHUNK ((uint64_t)16 << 20)
#define DEFAULT_CHUNK ((uint64_t)8 << 20)
#define MAX_IO ((uint64_t)1 << 30)

/* Every rank returns the same status: the first failing rank's code and
 * message are broadcast to all. */
static int agree(MPI_Comm comm, int rc, bnc_err *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    int mine = rc ? rank : INT_MAX, first = INT_MAX;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == INT_MAX) return 0;
    bnc_err e = {0};
    if (rank == first) {
        e = *err;
        if (!e.code) e.code = rc;
    }
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, comm);
    *err = e;
    return e.code ? e.code : BNC_EINTERNAL;
}

int bnc_quant_source_hash(MPI_Comm comm, const bnc_model *m, char hex[33], bnc_err *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    size_t nchunks = 0;
    for (size_t f = 0; f < m->n_files; f++)
        nchunks += (size_t)((m->files[f]->size + HASH_CHUNK - 1) / HASH_CHUNK);
    size_t nwords = nchunks + 2 * m->n_files;
    uint32_t *words = calloc(nwords ? nwords : 1, sizeof *words);
    if (!words) return bnc_err_set(err, BNC_ENOMEM, "source hash: out of memory");
    size_t c = 0;
    for (size_t f = 0; f < m->n_files; f++) {
        const bnc_mfile *mf = m->files[f];
        for (uint64_t off = 0; off < mf->size; off += HASH_CHUNK, c++) {
            if ((int)(c % (size_t)size) != rank) continue;
            uint64_t len = mf->size - off < HASH_CHUNK ? mf->size - off : HASH_CHUNK;
            words[c] = (uint32_t)crc32(0L, mf->data + off, (uInt)len);
            bnc_mfile_advise_done(mf, off, len);
        }
    }
    for (size_t f = 0; f < m->n_files; f++) {
        uint64_t sz = m->files[f]->size;
        words[nchunks + 2 * f] = (uint32_t)sz;
        words[nchunks + 2 * f + 1] = (uint32_t)(sz >> 32);
    }
    /* One rank wrote each chunk's word, the others left 0: OR is exact. */
    MPI_Allreduce(MPI_IN_PLACE, words, (int)nchunks, MPI_UINT32_T, MPI_BOR, comm);
    bnc_hash128_hex(words, nwords * sizeof *words, hex);
    free(words);
    return 0;
}

/* Sums for the error metrics of one tensor. */
enum { A_SE, A_SX, A_SY, A_SXY, A_N, A_ZEROS, A_COUNT };

typedef struct ctx {
    MPI_Comm comm;
    int rank, size;
    const bnc_model *m;
    const bnc_quant_opts *o;
    const bnc_quant_plan *p;
    MPI_File fh;
    const char *out_path;
    float *x, *w, *y; /* input rows, ternarized rows, dequantized rows */
    uint8_t *q;
    size_t cap_floats, cap_q;
    double *acc;          /* A_COUNT per item */
    double *maxabs;       /* per item */
    uint64_t done, total; /* rank 0's progress in input bytes */
    double last_print, t0;
} ctx;

static int write_at(ctx *c, uint64_t off, const void *buf, uint64_t n, bnc_err *err)
{
    const uint8_t *p = buf;
    while (n > 0) {
        uint64_t k = n > MAX_IO ? MAX_IO : n;
        MPI_Status st;
        int rc = MPI_File_write_at(c->fh, (MPI_Offset)off, p, (int)k, MPI_BYTE, &st);
        int got = 0;
        if (rc == MPI_SUCCESS) MPI_Get_count(&st, MPI_BYTE, &got);
        if (rc != MPI_SUCCESS || (uint64_t)got != k) {
            char msg[MPI_MAX_ERROR_STRING] = "short write";
            int len = 0;
            if (rc != MPI_SUCCESS) MPI_Error_string(rc, msg, &len);
            return bnc_err_set(err, BNC_EIO, "%s: rank %d: write of %llu bytes at %llu: %s",
                               c->out_path, c->rank, (unsigned long long)k, (unsigned long long)off,
                               msg);
        }
        p += k;
        off += k;
        n -= k;
    }
    return 0;
}

static void progress(ctx *c, uint64_t bytes)
{
    c->done += bytes;
    if (!c->o->progress || c->rank != 0) return;
    double now = bnc_now();
    if (now - c->last_print < 1.0 && c->done < c->total) return;
    c->last_print = now;
    fprintf(stderr, "quantize: rank 0 %5.1f%% of its %.1f MB, %.1f s\n",
            c->total ? 100.0 * (double)c->done / (double)c->total : 100.0, (double)c->total / 1e6,
            now - c->t0);
}

static void accumulate(ctx *c, size_t item, const float *x, const float *y, size_t n)
{
    double *a = &c->acc[item * A_COUNT];
    double se = 0, sx = 0, sy = 0, sxy = 0, mx = c->maxabs[item], zeros = 0;
    for (size_t k = 0; k < n; k++) {
        double u = x[k], v = y[k], d = u - v;
        se += d * d;
        sx += u * u;
        sy += v * v;
        sxy += u * v;
        if (fabs(d) > mx) mx = fabs(d);
        zeros += y[k] == 0.0f;
    }
    a[A_SE] += se;
    a[A_SX] += sx;
    a[A_SY] += sy;
    a[A_SXY] += sxy;
    a[A_N] += (double)n;
    a[A_ZEROS] += zeros;
    c->maxabs[item] = mx;
}

/* Rows per step so the f32 working set stays near chunk_bytes. */
static int64_t step_rows(const ctx *c, int64_t cols)
{
    uint64_t chunk = c->o->chunk_bytes ? c->o->chunk_bytes : DEFAULT_CHUNK;
    int64_t r = (int64_t)(chunk / ((uint64_t)cols * sizeof(float)));
    return r < 1 ? 1 : r;
}

static int ensure(ctx *c, size_t floats, size_t qbytes, bnc_err *err)
{
    if (floats > c->cap_floats) {
        free(c->x);
        free(c->w);
        free(c->y);
        c->x = malloc(floats * sizeof(float));
        c->w = malloc(floats * sizeof(float));
        c->y = malloc(floats * sizeof(float));
        c->cap_floats = floats;
        if (!c->x || !c->w || !c->y)
            return bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory for %zu floats", c->rank,
                               floats);
    }
    if (qbytes > c->cap_q) {
        free(c->q);
        c->q = malloc(qbytes);
        c->cap_q = qbytes;
        if (!c->q) return bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory", c->rank);
    }
    return 0;
}

/* Sum of |x| of every row in [r0, r1) into rowsum[r]. */
static int row_abs_sums(ctx *c, size_t item, int64_t r0, int64_t r1, double *rowsum, bnc_err *err)
{
    const bnc_quant_item *it = &c->p->items[item];
    int64_t step = step_rows(c, it->cols);
    for (int64_t r = r0; r < r1; r += step) {
        int64_t nr = r1 - r < step ? r1 - r : step;
        int rc = ensure(c, (size_t)(nr * it->cols), 0, err);
        if (!rc) rc = bnc_model_rows_f32(c->m, it->src, r, nr, c->x, err);
        if (rc) return rc;
        for (int64_t k = 0; k < nr; k++) {
            const float *row = c->x + k * it->cols;
            double s = 0;
            for (int64_t j = 0; j < it->cols; j++)
                s += fabs((double)row[j]);
            rowsum[r + k] = s;
        }
    }
    return 0;
}

/* Quantizes and writes rows [r0, r1) of an item; gamma is used when the
 * item is ternarized. */
static int do_rows(ctx *c, size_t item, int64_t r0, int64_t r1, float gamma, bnc_err *err)
{
    const bnc_quant_item *it = &c->p->items[item];
    const bnc_model_tensor *t = &c->m->tensors[it->src];
    uint64_t in_rb = bnc_model_row_bytes(c->m, it->src);
    int64_t step = step_rows(c, it->cols);
    int rc = 0;
    if (r1 <= r0) return 0;
    if (it->out_type == t->type && !it->ternarize) {
        /* Same type: the bytes are copied as they are (no re-quantization). */
        bnc_mfile_advise_sequential(c->m->files[t->file], t->offset + (uint64_t)r0 * in_rb,
                                    (uint64_t)(r1 - r0) * in_rb);
        /* In 64 MiB pieces, dropping each piece's input pages after it. */
        const uint64_t piece = (uint64_t)64 << 20;
        for (uint64_t off = 0, len = (uint64_t)(r1 - r0) * in_rb; off < len; off += piece) {
            uint64_t k = len - off < piece ? len - off : piece;
            uint64_t src = (uint64_t)r0 * in_rb + off;
            if ((rc = write_at(c, it->out_offset + (uint64_t)r0 * it->out_row_bytes + off,
                               t->data + src, k, err)))
                return rc;
            if (!c->o->metrics) bnc_mfile_advise_done(c->m->files[t->file], t->offset + src, k);
        }
        for (int64_t r = r0; r < r1 && c->o->metrics; r += step) {
            int64_t nr = r1 - r < step ? r1 - r : step;
            if ((rc = ensure(c, (size_t)(nr * it->cols), 0, err)) ||
                (rc = bnc_model_rows_f32(c->m, it->src, r, nr, c->x, err)))
                return rc;
            accumulate(c, item, c->x, c->x, (size_t)(nr * it->cols));
            bnc_mfile_advise_done(c->m->files[t->file], t->offset + (uint64_t)r * in_rb,
                                  (uint64_t)nr * in_rb);
        }
        progress(c, (uint64_t)(r1 - r0) * in_rb);
        return 0;
    }
    const bnc_scheme *s = bnc_ggml_scheme((int)it->out_type);
    if (!s) {
        const bnc_gguf_type_info *ti = bnc_gguf_type(it->out_type);
        return bnc_err_set(err, BNC_ENOTSUP, "tensor %s: no kernel scheme writes %s", t->name,
                           ti ? ti->name : "?");
    }
    bnc_qparams qp = {0};
    float inv = 1.0f / (gamma + BNC_QUANT_BITNET_EPS);
    for (int64_t r = r0; r < r1 && !rc; r += step) {
        int64_t nr = r1 - r < step ? r1 - r : step;
        size_t nf = (size_t)(nr * it->cols);
        uint64_t qn = (uint64_t)nr * it->out_row_bytes;
        if ((rc = ensure(c, nf, (size_t)qn, err)) ||
            (rc = bnc_model_rows_f32(c->m, it->src, r, nr, c->x, err)))
            return rc;
        const float *src = c->x;
        if (it->ternarize) {
            /* BitNet b1.58: W_t = clip(round(W / (gamma + eps)), -1, 1); the
             * container then holds gamma * W_t exactly up to fp16 of gamma. */
            for (size_t k = 0; k < nf; k++) {
                float v = roundf(c->x[k] * inv);
                c->w[k] = gamma * (v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v));
            }
            src = c->w;
        }
        size_t written = 0;
        rc = BNC_ENOTSUP;
        if (c->o->device)
            rc = c->o->device(c->o->device_ctx, s, &qp, src, nr, it->cols, c->q, c->cap_q, &written,
                              err);
        if (rc == BNC_ENOTSUP)
            rc = s->quantize(src, nr, it->cols, &qp, c->q, c->cap_q, &written, err);
        if (rc) return bnc_err_prefix(err, "tensor %s: ", t->name);
        if (written != qn)
            return bnc_err_set(err, BNC_EINTERNAL, "tensor %s: %s wrote %zu bytes, planned %llu",
                               t->name, s->name, written, (unsigned long long)qn);
        if ((rc = write_at(c, it->out_offset + (uint64_t)r * it->out_row_bytes, c->q, qn, err)))
            return rc;
        if (c->o->metrics) {
            if ((rc = s->dequantize(c->q, written, nr, it->cols, &qp, c->y, err)))
                return bnc_err_prefix(err, "tensor %s: ", t->name);
            accumulate(c, item, c->x, c->y, nf);
        }
        /* Done with these input pages: keep the resident set small on big
         * models (the page cache keeps them for other readers). */
        bnc_mfile_advise_done(c->m->files[t->file], t->offset + (uint64_t)r * in_rb,
                              (uint64_t)nr * in_rb);
        progress(c, (uint64_t)nr * in_rb);
    }
    return rc;
}

/* One item: rows [r0, r1) here; split items agree on gamma with every rank. */
static int do_item(ctx *c, size_t item, int split, bnc_err *err)
{
    const bnc_quant_item *it = &c->p->items[item];
    int64_t r0 = 0, r1 = it->rows;
    if (split) bnc_quant_split_rows(it->rows, c->size, c->rank, &r0, &r1);
    float gamma = 0;
    int rc = 0;
    if (it->ternarize) {
        /* Per-row sums, each computed by exactly one rank and summed in row
         * order, make gamma independent of the number of ranks. */
        double *rowsum = calloc((size_t)(it->rows ? it->rows : 1), sizeof *rowsum);
        if (!rowsum) rc = bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory", c->rank);
        if (!rc) rc = row_abs_sums(c, item, r0, r1, rowsum, err);
        if (split) {
            int bad = agree(c->comm, rc, err);
            if (bad) {
                free(rowsum);
                return bad;
            }
            MPI_Allreduce(MPI_IN_PLACE, rowsum, (int)it->rows, MPI_DOUBLE, MPI_SUM, c->comm);
        }
        if (!rc) {
            double total = 0;
            for (int64_t r = 0; r < it->rows; r++)
                total += rowsum[r];
            double n = (double)it->rows * (double)it->cols;
            gamma = n > 0 ? (float)(total / n) : 0.0f;
        }
        free(rowsum);
    }
    if (!rc) rc = do_rows(c, item, r0, r1, gamma, err);
    return rc;
}

void bnc_quant_result_free(bnc_quant_result *r)
{
    if (!r) return;
    free(r->metrics);
    r->metrics = NULL;
}

/* Serialises the plan's per-item fields rank 0 decided. */
enum { P_SRC, P_TYPE, P_TERN, P_OWNER, P_ROWS, P_COLS, P_OFF, P_RB, P_IN, P_FIELDS };

static int share_plan(MPI_Comm comm, int rank, bnc_quant_plan **pp, int size, bnc_err *err)
{
    int64_t head[2] = {0, 0};
    if (rank == 0) {
        head[0] = (int64_t)(*pp)->n;
        head[1] = (int64_t)(*pp)->file_size;
    }
    MPI_Bcast(head, 2, MPI_INT64_T, 0, comm);
    size_t n = (size_t)head[0];
    int64_t *buf = malloc((n ? n : 1) * P_FIELDS * sizeof *buf);
    int rc = buf ? 0 : bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory", rank);
    if (agree(comm, rc, err)) {
        free(buf);
        return err->code;
    }
    if (rank == 0)
        for (size_t i = 0; i < n; i++) {
            const bnc_quant_item *it = &(*pp)->items[i];
            int64_t *b = &buf[i * P_FIELDS];
            b[P_SRC] = it->src;
            b[P_TYPE] = it->out_type;
            b[P_TERN] = it->ternarize;
            b[P_OWNER] = it->owner;
            b[P_ROWS] = it->rows;
            b[P_COLS] = it->cols;
            b[P_OFF] = (int64_t)it->out_offset;
            b[P_RB] = (int64_t)it->out_row_bytes;
            b[P_IN] = (int64_t)it->in_bytes;
        }
    MPI_Bcast(buf, (int)(n * P_FIELDS), MPI_INT64_T, 0, comm);
    if (rank != 0) {
        bnc_quant_plan *p = calloc(1, sizeof *p);
        if (p) p->items = calloc(n ? n : 1, sizeof *p->items);
        if (!p || !p->items) {
            free(p);
            rc = bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory", rank);
        } else {
            p->n = n;
            p->n_ranks = size;
            p->file_size = (uint64_t)head[1];
            for (size_t i = 0; i < n; i++) {
                bnc_quant_item *it = &p->items[i];
                const int64_t *b = &buf[i * P_FIELDS];
                it->src = (uint32_t)b[P_SRC];
                it->out_type = (uint32_t)b[P_TYPE];
                it->ternarize = (int32_t)b[P_TERN];
                it->owner = (int32_t)b[P_OWNER];
                it->rows = b[P_ROWS];
                it->cols = b[P_COLS];
                it->out_offset = (uint64_t)b[P_OFF];
                it->out_row_bytes = (uint64_t)b[P_RB];
                it->in_bytes = (uint64_t)b[P_IN];
            }
            *pp = p;
        }
    }
    free(buf);
    return agree(comm, rc, err);
}

static void finish_metrics(const double *a, double mx, bnc_quant_metric *q)
{
    double se = a[A_SE], sx = a[A_SX], sy = a[A_SY], sxy = a[A_SXY], n = a[A_N];
    q->mse = n > 0 ? se / n : 0.0;
    q->rel_rmse = sx > 0 ? sqrt(se / sx) : (se > 0 ? INFINITY : 0.0);
    q->sqnr_db = se > 0 ? 10.0 * log10(sx / se) : INFINITY;
    q->cosine = (sx > 0 && sy > 0) ? sxy / sqrt(sx * sy) : (sx == sy ? 1.0 : 0.0);
    q->max_abs = mx;
    q->sparsity = n > 0 ? a[A_ZEROS] / n : 0.0;
}

#define TMP_MAX_PATH 4200

/* Rank 0: refuses an output that is an input (the path given or any file of
 * the model) or not a regular file, and creates the temporary file beside it
 * that every rank then writes with MPI-IO. */
static int open_output(const bnc_model *m, const char *in_path, const char *out_path, char *tmp,
                       bnc_err *err)
{
    const char **inputs = calloc(m->n_files + 2, sizeof *inputs);
    if (!inputs) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    inputs[0] = in_path;
    for (size_t i = 0; i < m->n_files; i++)
        inputs[i + 1] = m->files[i]->path;
    int rc = bnc_out_check(out_path, inputs, err);
    free(inputs);
    return rc ? rc : bnc_out_temp(out_path, tmp, TMP_MAX_PATH, err);
}

int bnc_quantize_run(MPI_Comm comm, const char *in_path, const char *out_path,
                     const bnc_quant_opts *o, bnc_quant_plan **plan_out, bnc_quant_result *res,
                     bnc_err *err)
{
    bnc_err local;
    if (!err) err = &local;
    bnc_err_clear(err);
    if (plan_out) *plan_out = NULL;
    memset(res, 0, sizeof *res);
    ctx c = {0};
    c.comm = comm;
    c.o = o;
    c.out_path = out_path;
    c.t0 = bnc_now();
    c.fh = MPI_FILE_NULL;
    MPI_Comm_rank(comm, &c.rank);
    MPI_Comm_size(comm, &c.size);
    bnc_model *m = NULL;
    bnc_quant_plan *p = NULL;
    char *tmp = NULL;
    int made_tmp = 0; /* rank 0 created tmp and must remove it on failure */
    int rc = bnc_model_open(in_path, NULL, &m, err);
    if ((rc = agree(comm, rc, err))) goto out;
    c.m = m;
    if (c.rank == 0) rc = bnc_quant_plan_build(m, o, c.size, &p, err);
    if ((rc = agree(comm, rc, err))) goto out;
    if ((rc = share_plan(comm, c.rank, &p, c.size, err))) goto out;
    c.p = p;
    c.acc = calloc((p->n ? p->n : 1) * A_COUNT, sizeof *c.acc);
    c.maxabs = calloc(p->n ? p->n : 1, sizeof *c.maxabs);
    tmp = calloc(1, TMP_MAX_PATH);
    if (!c.acc || !c.maxabs || !tmp)
        rc = bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory", c.rank);
    if ((rc = agree(comm, rc, err))) goto out;
    if (c.rank == 0) rc = open_output(m, in_path, out_path, tmp, err);
    if ((rc = agree(comm, rc, err))) goto out;
    made_tmp = c.rank == 0;
    MPI_Bcast(tmp, TMP_MAX_PATH, MPI_CHAR, 0, comm);
    int mrc = MPI_File_open(comm, tmp, MPI_MODE_WRONLY, MPI_INFO_NULL, &c.fh);
    if (mrc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(mrc, msg, &len);
        rc = bnc_err_set(err, BNC_EIO, "%s: rank %d cannot open its temporary file %s: %s",
                         out_path, c.rank, tmp, msg);
        c.fh = MPI_FILE_NULL;
    }
    if ((rc = agree(comm, rc, err))) goto out;
    /* A fresh file of the final size: the gaps between tensors read as 0. */
    if (MPI_File_set_size(c.fh, (MPI_Offset)p->file_size) != MPI_SUCCESS)
        rc = bnc_err_set(err, BNC_EIO, "%s: cannot size to %llu bytes", tmp,
                         (unsigned long long)p->file_size);
    if ((rc = agree(comm, rc, err))) goto out;
    for (size_t i = 0; i < p->n; i++) {
        const bnc_quant_item *it = &p->items[i];
        if (it->owner == c.rank)
            c.total += it->in_bytes;
        else if (it->owner < 0) {
            int64_t r0, r1;
            bnc_quant_split_rows(it->rows, c.size, c.rank, &r0, &r1);
            c.total += (uint64_t)(r1 - r0) * (it->rows ? it->in_bytes / (uint64_t)it->rows : 0);
        }
    }
    char hash[33];
    rc = bnc_quant_source_hash(comm, m, hash, err);
    if ((rc = agree(comm, rc, err))) goto out;
    /* Split tensors first, in plan order: their allreduces are collective. */
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].owner >= 0) continue;
        rc = do_item(&c, i, 1, err);
        if ((rc = agree(comm, rc, err))) goto out;
    }
    for (size_t i = 0; i < p->n && !rc; i++)
        if (p->items[i].owner == c.rank) rc = do_item(&c, i, 0, err);
    if ((rc = agree(comm, rc, err))) goto out;
    if (o->metrics) {
        MPI_Reduce(c.rank == 0 ? MPI_IN_PLACE : c.acc, c.acc, (int)(p->n * A_COUNT), MPI_DOUBLE,
                   MPI_SUM, 0, comm);
        MPI_Reduce(c.rank == 0 ? MPI_IN_PLACE : c.maxabs, c.maxabs, (int)p->n, MPI_DOUBLE, MPI_MAX,
                   0, comm);
    }
    if (c.rank == 0) {
        bnc_gguf_value v = bnc_gguf_v_str(hash);
        uint8_t *hdr = NULL;
        size_t hn = 0;
        rc = bnc_gguf_set(p->out, "bnc.quantize.source_hash", &v, err);
        if (!rc) rc = bnc_gguf_header_bytes(p->out, &hdr, &hn, err);
        if (!rc) rc = write_at(&c, 0, hdr, hn, err);
        free(hdr);
    }
    if ((rc = agree(comm, rc, err))) goto out;
    if (MPI_File_sync(c.fh) != MPI_SUCCESS)
        rc = bnc_err_set(err, BNC_EIO, "%s: rank %d cannot sync its writes", out_path, c.rank);
    if (MPI_File_close(&c.fh) != MPI_SUCCESS && !rc)
        rc = bnc_err_set(err, BNC_EIO, "%s: rank %d cannot close the output", out_path, c.rank);
    c.fh = MPI_FILE_NULL;
    if ((rc = agree(comm, rc, err))) goto out;
    if (c.rank == 0) rc = bnc_out_rename(tmp, out_path, err);
    made_tmp = 0; /* renamed, or removed by bnc_out_rename */
    if ((rc = agree(comm, rc, err))) goto out;
    memcpy(res->source_hash, hash, sizeof hash);
    res->n = p->n;
    for (size_t i = 0; i < p->n; i++) {
        res->in_bytes += p->items[i].in_bytes;
        res->out_bytes += (uint64_t)p->items[i].rows * p->items[i].out_row_bytes;
    }
    if (c.rank == 0 && o->metrics) {
        res->metrics = calloc(p->n ? p->n : 1, sizeof *res->metrics);
        for (size_t i = 0; res->metrics && i < p->n; i++)
            finish_metrics(&c.acc[i * A_COUNT], c.maxabs[i], &res->metrics[i]);
    }
    res->seconds = bnc_now() - c.t0;
out:
    if (c.fh != MPI_FILE_NULL) MPI_File_close(&c.fh);
    if (made_tmp) unlink(tmp);
    free(tmp);
    free(c.x);
    free(c.w);
    free(c.y);
    free(c.q);
    free(c.acc);
    free(c.maxabs);
    if (plan_out && c.rank == 0 && !rc)
        *plan_out = p;
    else
        bnc_quant_plan_free(p);
    bnc_model_free(m);
    return rc;
}
