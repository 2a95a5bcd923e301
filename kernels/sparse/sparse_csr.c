/* `sparse-csr`: header, u32 row_ptr[rows + 1], column index[nnz] (iw bytes,
 * ascending within a row), sign bits[nnz]. */
#include "sparse_impl.h"

static size_t csr_size(int64_t rows, int64_t cols, int64_t nnz)
{
    int iw = bnc_sp_iw(cols - 1);
    return BNC_SP_HDR + 4 * (size_t)(rows + 1) + (size_t)iw * (size_t)nnz + (size_t)(nnz + 7) / 8;
}

size_t bnc_sp_csr_bound(int64_t rows, int64_t cols)
{
    return csr_size(rows, cols, rows * cols);
}

int bnc_sp_csr_size(const bnc_sp *t, size_t *size, bnc_err *err)
{
    (void)err;
    *size = csr_size(t->rows, t->cols, t->nnz);
    return 0;
}

int bnc_sp_csr_write(const bnc_sp *t, uint8_t *dst, bnc_err *err)
{
    (void)err;
    const int iw = bnc_sp_iw(t->cols - 1);
    bnc_sp_write_hdr(dst, BNC_SP_CSR, iw, t);
    uint8_t *rp = dst + BNC_SP_HDR;
    uint8_t *ci = rp + 4 * (t->rows + 1);
    uint8_t *sg = ci + (int64_t)iw * t->nnz;
    int64_t k = 0;
    bnc_st32(rp, 0);
    for (int64_t r = 0; r < t->rows; r++) {
        for (int64_t j = 0; j < t->cols; j++) {
            int c = bnc_sp_code(t, r * t->cols + j);
            if (!c) continue;
            bnc_sp_put_idx(ci + iw * k, iw, (uint32_t)j);
            if (c < 0) sg[k / 8] |= (uint8_t)(1u << (k % 8));
            k++;
        }
        bnc_st32(rp + 4 * (r + 1), (uint32_t)k);
    }
    return 0;
}

int bnc_sp_csr_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err)
{
    bnc_sp_hdr h;
    int rc = bnc_sp_read_hdr("sparse-csr", src, n, BNC_SP_CSR, rows, cols, &h, err);
    if (rc) return rc;
    size_t need = BNC_SP_HDR + 4 * (size_t)(rows + 1) + (size_t)h.iw * (size_t)h.nnz +
                  (size_t)(h.nnz + 7) / 8;
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-csr: %zu bytes, expected %zu", n, need);
    const uint8_t *rp = src + BNC_SP_HDR;
    const uint8_t *ci = rp + 4 * (rows + 1);
    const uint8_t *sg = ci + (int64_t)h.iw * h.nnz;
    if (bnc_ld32(rp) != 0 || bnc_ld32(rp + 4 * rows) != (uint32_t)h.nnz)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-csr: row pointers do not span 0..nnz");
    if (!bnc_sp_pad_ok(sg, h.nnz, 1))
        return bnc_err_set(err, BNC_EFORMAT, "sparse-csr: non-zero padding bits");
    memset(y, 0, sizeof *y * (size_t)(rows * cols));
    for (int64_t r = 0; r < rows; r++) {
        int64_t a = bnc_ld32(rp + 4 * r), b = bnc_ld32(rp + 4 * (r + 1));
        if (b < a || b > h.nnz)
            return bnc_err_set(err, BNC_EFORMAT, "sparse-csr: bad row pointer for row %lld",
                               (long long)r);
        int64_t prev = -1;
        for (int64_t k = a; k < b; k++) {
            int64_t j = bnc_sp_get_idx(ci + h.iw * k, h.iw);
            if (j >= cols || j <= prev)
                return bnc_err_set(err, BNC_EFORMAT, "sparse-csr: bad column %lld in row %lld",
                                   (long long)j, (long long)r);
            prev = j;
            y[r * cols + j] = ((sg[k / 8] >> (k % 8)) & 1) ? -h.alpha : h.alpha;
        }
    }
    return 0;
}
