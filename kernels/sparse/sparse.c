/* Sparse ternary: shared ternarization, header, and `sparse-auto`, which
 * stores each tensor in whichever of CSR, COO, ELL and DIA is smallest (ties
 * go to the first in that order). See sparse_impl.h for the layouts. */
#include "sparse_impl.h"

static const bnc_sp_fmt formats[] = {
    {BNC_SP_CSR, "sparse-csr", bnc_sp_csr_bound, bnc_sp_csr_size, bnc_sp_csr_write,
     bnc_sp_csr_read},
    {BNC_SP_COO, "sparse-coo", bnc_sp_coo_bound, bnc_sp_coo_size, bnc_sp_coo_write,
     bnc_sp_coo_read},
    {BNC_SP_ELL, "sparse-ell", bnc_sp_ell_bound, bnc_sp_ell_size, bnc_sp_ell_write,
     bnc_sp_ell_read},
    {BNC_SP_DIA, "sparse-dia", bnc_sp_dia_bound, bnc_sp_dia_size, bnc_sp_dia_write,
     bnc_sp_dia_read},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const bnc_sp_fmt *bnc_sp_format(int id)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].id == id) return &formats[i];
    return NULL;
}

static int sp_shape(const char *name, int64_t rows, int64_t cols, int code, bnc_err *err)
{
    int rc = bnc_qshape(name, rows, cols, 1, code, err);
    if (rc) return rc;
    if (rows * cols > (int64_t)UINT32_MAX)
        return bnc_err_set(err, code, "%s: %lldx%lld has more than 2^32-1 weights", name,
                           (long long)rows, (long long)cols);
    return 0;
}

int bnc_sp_prepare(const char *name, const float *x, int64_t rows, int64_t cols,
                   const bnc_qparams *p, bnc_sp *t, bnc_err *err)
{
    int rc = sp_shape(name, rows, cols, BNC_EINVAL, err);
    if (rc) return rc;
    double th = (p && p->threshold != 0.0) ? p->threshold : BNC_SP_DEFAULT_THRESHOLD;
    if (!(th > 0.0) || !isfinite(th))
        return bnc_err_set(err, BNC_EINVAL, "%s: threshold %g must be positive and finite", name,
                           th);
    int64_t n = rows * cols;
    rc = bnc_check_finite(x, n, err);
    if (rc) return rc;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += fabs((double)x[i]);
    t->x = x;
    t->rows = rows;
    t->cols = cols;
    t->thr = n > 0 ? th * (sum / (double)n) : 0.0;
    double kept = 0.0;
    int64_t nnz = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > t->thr) {
            kept += fabs((double)x[i]);
            nnz++;
        }
    t->nnz = nnz;
    t->alpha = nnz > 0 ? (float)(kept / (double)nnz) : 0.0f;
    return 0;
}

void bnc_sp_write_hdr(uint8_t *dst, int fmt, int iw, const bnc_sp *t)
{
    dst[0] = (uint8_t)fmt;
    dst[1] = (uint8_t)iw;
    bnc_stf32(dst + 2, t->alpha);
    bnc_st32(dst + 6, (uint32_t)t->nnz);
}

int bnc_sp_read_hdr(const char *name, const uint8_t *src, size_t n, int fmt, int64_t rows,
                    int64_t cols, bnc_sp_hdr *h, bnc_err *err)
{
    int rc = sp_shape(name, rows, cols, BNC_EFORMAT, err);
    if (rc) return rc;
    if (n < BNC_SP_HDR)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %zu bytes, shorter than the header", name, n);
    h->fmt = src[0];
    h->iw = src[1];
    h->alpha = bnc_ldf32(src + 2);
    h->nnz = bnc_ld32(src + 6);
    if ((fmt != 0 && h->fmt != fmt) || !bnc_sp_format(h->fmt))
        return bnc_err_set(err, BNC_EFORMAT, "%s: unexpected format byte %d", name, h->fmt);
    if (h->fmt == BNC_SP_DIA ? h->iw != 0 : (h->iw != 2 && h->iw != 4))
        return bnc_err_set(err, BNC_EFORMAT, "%s: invalid index width %d", name, h->iw);
    if (!isfinite(h->alpha) || h->alpha < 0.0f)
        return bnc_err_set(err, BNC_EFORMAT, "%s: invalid scale %g", name, (double)h->alpha);
    if (h->nnz > rows * cols)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %lld non-zeros in a %lldx%lld tensor", name,
                           (long long)h->nnz, (long long)rows, (long long)cols);
    return 0;
}

int bnc_sp_iw(int64_t max_index)
{
    return max_index < 65536 ? 2 : 4;
}

void bnc_sp_put_idx(uint8_t *p, int iw, uint32_t v)
{
    if (iw == 2)
        bnc_st16(p, (uint16_t)v);
    else
        bnc_st32(p, v);
}

uint32_t bnc_sp_get_idx(const uint8_t *p, int iw)
{
    return iw == 2 ? bnc_ld16(p) : bnc_ld32(p);
}

int bnc_sp_pad_ok(const uint8_t *bits, int64_t nitems, int per_item_bits)
{
    int64_t nbits = nitems * per_item_bits;
    if (nbits % 8 == 0) return 1;
    return (bits[nbits / 8] >> (nbits % 8)) == 0;
}

int bnc_sp_quantize_fmt(const bnc_sp_fmt *f, const float *x, int64_t rows, int64_t cols,
                        const bnc_qparams *p, void *dst, size_t cap, size_t *written, bnc_err *err)
{
    bnc_sp t;
    int rc = bnc_sp_prepare(f->name, x, rows, cols, p, &t, err);
    if (rc) return rc;
    size_t need;
    rc = f->size(&t, &need, err);
    if (rc) return rc;
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "%s: buffer of %zu bytes, need %zu", f->name, cap,
                           need);
    memset(dst, 0, need);
    rc = f->write(&t, dst, err);
    if (rc) return rc;
    *written = need;
    return 0;
}

int bnc_sp_dequantize_fmt(const bnc_sp_fmt *f, const void *src, size_t n, int64_t rows,
                          int64_t cols, float *y, bnc_err *err)
{
    int rc = sp_shape(f->name, rows, cols, BNC_EFORMAT, err);
    if (rc) return rc;
    return f->read(src, n, rows, cols, y, err);
}

/* ---- the explicit-format rows ---- */
#define SP_ROW(fn, ID)                                                                             \
    size_t bnc_##fn##_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)                      \
    {                                                                                              \
        (void)p;                                                                                   \
        if (sp_shape("sparse", rows, cols, BNC_EINVAL, NULL)) return 0;                            \
        return bnc_sp_format(ID)->bound(rows, cols);                                               \
    }                                                                                              \
    int bnc_##fn##_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,      \
                            void *dst, size_t cap, size_t *written, bnc_err *err)                  \
    {                                                                                              \
        return bnc_sp_quantize_fmt(bnc_sp_format(ID), x, rows, cols, p, dst, cap, written, err);   \
    }                                                                                              \
    int bnc_##fn##_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,               \
                              const bnc_qparams *p, float *y, bnc_err *err)                        \
    {                                                                                              \
        (void)p;                                                                                   \
        return bnc_sp_dequantize_fmt(bnc_sp_format(ID), src, n, rows, cols, y, err);               \
    }

SP_ROW(sparse_csr, BNC_SP_CSR)
SP_ROW(sparse_coo, BNC_SP_COO)
SP_ROW(sparse_ell, BNC_SP_ELL)
SP_ROW(sparse_dia, BNC_SP_DIA)

/* ---- sparse-auto ---- */

/* The smallest actual size is at most the smallest worst case. */
size_t bnc_sparse_auto_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (sp_shape("sparse-auto", rows, cols, BNC_EINVAL, NULL)) return 0;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < NFORMATS; i++) {
        size_t b = formats[i].bound(rows, cols);
        if (b < best) best = b;
    }
    return best;
}

int bnc_sparse_auto_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                             void *dst, size_t cap, size_t *written, bnc_err *err)
{
    bnc_sp t;
    int rc = bnc_sp_prepare("sparse-auto", x, rows, cols, p, &t, err);
    if (rc) return rc;
    const bnc_sp_fmt *best = NULL;
    size_t best_size = SIZE_MAX;
    for (size_t i = 0; i < NFORMATS; i++) {
        size_t s;
        rc = formats[i].size(&t, &s, err);
        if (rc) return rc;
        if (s < best_size) {
            best_size = s;
            best = &formats[i];
        }
    }
    if (cap < best_size)
        return bnc_err_set(err, BNC_EINVAL, "sparse-auto: buffer of %zu bytes, need %zu", cap,
                           best_size);
    memset(dst, 0, best_size);
    rc = best->write(&t, dst, err);
    if (rc) return rc;
    *written = best_size;
    return 0;
}

int bnc_sparse_auto_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                               const bnc_qparams *p, float *y, bnc_err *err)
{
    (void)p;
    if (n < 1) return bnc_err_set(err, BNC_EFORMAT, "sparse-auto: empty buffer");
    const bnc_sp_fmt *f = bnc_sp_format(((const uint8_t *)src)[0]);
    if (!f)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-auto: unknown format byte %d",
                           ((const uint8_t *)src)[0]);
    return bnc_sp_dequantize_fmt(f, src, n, rows, cols, y, err);
}
