/* `sparse-ell`: header, u32 K (slots per row = the largest row's non-zero
 * count), column index[rows * K] (iw bytes), 2-bit codes[rows * K]. In a row
 * the non-zero slots come first with ascending columns; padding slots have
 * code 1 and column 0. */
#include "sparse_impl.h"

static size_t ell_size(int iw, int64_t rows, int64_t k)
{
    return BNC_SP_HDR + 4 + (size_t)iw * (size_t)(rows * k) + (size_t)(rows * k + 3) / 4;
}

size_t bnc_sp_ell_bound(int64_t rows, int64_t cols)
{
    return ell_size(bnc_sp_iw(cols - 1), rows, cols);
}

static int64_t ell_width(const bnc_sp *t)
{
    int64_t k = 0;
    for (int64_t r = 0; r < t->rows; r++) {
        int64_t c = 0;
        for (int64_t j = 0; j < t->cols; j++)
            c += bnc_sp_code(t, r * t->cols + j) != 0;
        if (c > k) k = c;
    }
    return k;
}

int bnc_sp_ell_size(const bnc_sp *t, size_t *size, bnc_err *err)
{
    (void)err;
    *size = ell_size(bnc_sp_iw(t->cols - 1), t->rows, ell_width(t));
    return 0;
}

static void put2(uint8_t *codes, int64_t slot, int code)
{
    codes[slot / 4] = (uint8_t)((codes[slot / 4] & ~(3u << (2 * (slot % 4)))) |
                                ((unsigned)code << (2 * (slot % 4))));
}

int bnc_sp_ell_write(const bnc_sp *t, uint8_t *dst, bnc_err *err)
{
    (void)err;
    const int iw = bnc_sp_iw(t->cols - 1);
    const int64_t K = ell_width(t);
    bnc_sp_write_hdr(dst, BNC_SP_ELL, iw, t);
    bnc_st32(dst + BNC_SP_HDR, (uint32_t)K);
    uint8_t *ci = dst + BNC_SP_HDR + 4;
    uint8_t *codes = ci + (int64_t)iw * t->rows * K;
    for (int64_t r = 0; r < t->rows; r++) {
        int64_t s = 0;
        for (int64_t j = 0; j < t->cols; j++) {
            int c = bnc_sp_code(t, r * t->cols + j);
            if (!c) continue;
            bnc_sp_put_idx(ci + iw * (r * K + s), iw, (uint32_t)j);
            put2(codes, r * K + s, c + 1);
            s++;
        }
        for (; s < K; s++)
            put2(codes, r * K + s, 1);
    }
    return 0;
}

int bnc_sp_ell_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err)
{
    bnc_sp_hdr h;
    int rc = bnc_sp_read_hdr("sparse-ell", src, n, BNC_SP_ELL, rows, cols, &h, err);
    if (rc) return rc;
    if (n < BNC_SP_HDR + 4)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-ell: %zu bytes, too short", n);
    const int64_t K = bnc_ld32(src + BNC_SP_HDR);
    if (K > cols)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-ell: %lld slots per row for %lld columns",
                           (long long)K, (long long)cols);
    size_t need = ell_size(h.iw, rows, K);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-ell: %zu bytes, expected %zu", n, need);
    const uint8_t *ci = src + BNC_SP_HDR + 4;
    const uint8_t *codes = ci + (int64_t)h.iw * rows * K;
    if (!bnc_sp_pad_ok(codes, rows * K, 2))
        return bnc_err_set(err, BNC_EFORMAT, "sparse-ell: non-zero padding bits");
    memset(y, 0, sizeof *y * (size_t)(rows * cols));
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t prev = -1;
        int pad = 0;
        for (int64_t s = 0; s < K; s++) {
            const int64_t slot = r * K + s;
            int code = (codes[slot / 4] >> (2 * (slot % 4))) & 3;
            int64_t j = bnc_sp_get_idx(ci + h.iw * slot, h.iw);
            if (code == 1) {
                if (j != 0)
                    return bnc_err_set(err, BNC_EFORMAT,
                                       "sparse-ell: padding slot with column "
                                       "%lld in row %lld",
                                       (long long)j, (long long)r);
                pad = 1;
                continue;
            }
            if (code == 3 || pad || j >= cols || j <= prev)
                return bnc_err_set(err, BNC_EFORMAT, "sparse-ell: bad slot %lld in row %lld",
                                   (long long)s, (long long)r);
            prev = j;
            y[r * cols + j] = code == 0 ? -h.alpha : h.alpha;
            count++;
        }
    }
    if (count != h.nnz)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-ell: %lld non-zeros, header says %lld",
                           (long long)count, (long long)h.nnz);
    return 0;
}
