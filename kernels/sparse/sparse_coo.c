/* `sparse-coo`: header, row index[nnz], column index[nnz] (iw bytes each,
 * entries in strictly increasing row-major order), sign bits[nnz]. */
#include "sparse_impl.h"

static int coo_iw(int64_t rows, int64_t cols)
{
    return bnc_sp_iw((rows > cols ? rows : cols) - 1);
}

static size_t coo_size(int iw, int64_t nnz)
{
    return BNC_SP_HDR + 2 * (size_t)iw * (size_t)nnz + (size_t)(nnz + 7) / 8;
}

size_t bnc_sp_coo_bound(int64_t rows, int64_t cols)
{
    return coo_size(coo_iw(rows, cols), rows * cols);
}

int bnc_sp_coo_size(const bnc_sp *t, size_t *size, bnc_err *err)
{
    (void)err;
    *size = coo_size(coo_iw(t->rows, t->cols), t->nnz);
    return 0;
}

int bnc_sp_coo_write(const bnc_sp *t, uint8_t *dst, bnc_err *err)
{
    (void)err;
    const int iw = coo_iw(t->rows, t->cols);
    bnc_sp_write_hdr(dst, BNC_SP_COO, iw, t);
    uint8_t *ri = dst + BNC_SP_HDR;
    uint8_t *ci = ri + (int64_t)iw * t->nnz;
    uint8_t *sg = ci + (int64_t)iw * t->nnz;
    int64_t k = 0;
    for (int64_t r = 0; r < t->rows; r++)
        for (int64_t j = 0; j < t->cols; j++) {
            int c = bnc_sp_code(t, r * t->cols + j);
            if (!c) continue;
            bnc_sp_put_idx(ri + iw * k, iw, (uint32_t)r);
            bnc_sp_put_idx(ci + iw * k, iw, (uint32_t)j);
            if (c < 0) sg[k / 8] |= (uint8_t)(1u << (k % 8));
            k++;
        }
    return 0;
}

int bnc_sp_coo_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err)
{
    bnc_sp_hdr h;
    int rc = bnc_sp_read_hdr("sparse-coo", src, n, BNC_SP_COO, rows, cols, &h, err);
    if (rc) return rc;
    size_t need = coo_size(h.iw, h.nnz);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-coo: %zu bytes, expected %zu", n, need);
    const uint8_t *ri = src + BNC_SP_HDR;
    const uint8_t *ci = ri + (int64_t)h.iw * h.nnz;
    const uint8_t *sg = ci + (int64_t)h.iw * h.nnz;
    if (!bnc_sp_pad_ok(sg, h.nnz, 1))
        return bnc_err_set(err, BNC_EFORMAT, "sparse-coo: non-zero padding bits");
    memset(y, 0, sizeof *y * (size_t)(rows * cols));
    int64_t prev = -1;
    for (int64_t k = 0; k < h.nnz; k++) {
        int64_t r = bnc_sp_get_idx(ri + h.iw * k, h.iw), j = bnc_sp_get_idx(ci + h.iw * k, h.iw);
        if (r >= rows || j >= cols || r * cols + j <= prev)
            return bnc_err_set(err, BNC_EFORMAT, "sparse-coo: bad entry %lld (%lld, %lld)",
                               (long long)k, (long long)r, (long long)j);
        prev = r * cols + j;
        y[prev] = ((sg[k / 8] >> (k % 8)) & 1) ? -h.alpha : h.alpha;
    }
    return 0;
}
