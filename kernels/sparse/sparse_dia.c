/* `sparse-dia`: header (iw 0), u32 ndiag, i32 offset[ndiag] (col - row,
 * strictly ascending, in [-(rows-1), cols-1]), then one lane of rows 2-bit
 * codes per diagonal: slot k*rows + i holds element (i, i + offset[k]), code 1
 * where that column is outside the matrix. Small for banded matrices, about
 * twice the dense size for random ones (sparse-auto then picks another). */
#include <stdlib.h>

#include "sparse_impl.h"

/* Size for ndiag diagonals, SIZE_MAX when it does not fit. */
static size_t dia_size(int64_t rows, int64_t ndiag)
{
    int64_t slots;
    if (__builtin_mul_overflow(rows, ndiag, &slots) || slots > INT64_MAX / 2) return SIZE_MAX;
    return BNC_SP_HDR + 4 + 4 * (size_t)ndiag + (size_t)(slots + 3) / 4;
}

static int64_t max_diags(int64_t rows, int64_t cols)
{
    return (rows > 0 && cols > 0) ? rows + cols - 1 : 0;
}

size_t bnc_sp_dia_bound(int64_t rows, int64_t cols)
{
    return dia_size(rows, max_diags(rows, cols));
}

/* Marks the occupied diagonals: flags[off + rows - 1] (allocates flags). */
static int dia_flags(const bnc_sp *t, uint8_t **flags, int64_t *ndiag, bnc_err *err)
{
    int64_t nd = max_diags(t->rows, t->cols);
    uint8_t *f = calloc((size_t)(nd > 0 ? nd : 1), 1);
    if (!f)
        return bnc_err_set(err, BNC_ENOMEM, "sparse-dia: out of memory for %lld diagonals",
                           (long long)nd);
    int64_t count = 0;
    for (int64_t r = 0; r < t->rows; r++)
        for (int64_t j = 0; j < t->cols; j++)
            if (bnc_sp_code(t, r * t->cols + j) != 0) {
                uint8_t *slot = &f[j - r + t->rows - 1];
                count += !*slot;
                *slot = 1;
            }
    *flags = f;
    *ndiag = count;
    return 0;
}

int bnc_sp_dia_size(const bnc_sp *t, size_t *size, bnc_err *err)
{
    uint8_t *flags;
    int64_t nd;
    int rc = dia_flags(t, &flags, &nd, err);
    if (rc) return rc;
    free(flags);
    *size = dia_size(t->rows, nd);
    return 0;
}

static void put2(uint8_t *codes, int64_t slot, int code)
{
    codes[slot / 4] = (uint8_t)((codes[slot / 4] & ~(3u << (2 * (slot % 4)))) |
                                ((unsigned)code << (2 * (slot % 4))));
}

int bnc_sp_dia_write(const bnc_sp *t, uint8_t *dst, bnc_err *err)
{
    uint8_t *flags;
    int64_t nd;
    int rc = dia_flags(t, &flags, &nd, err);
    if (rc) return rc;
    bnc_sp_write_hdr(dst, BNC_SP_DIA, 0, t);
    bnc_st32(dst + BNC_SP_HDR, (uint32_t)nd);
    uint8_t *offs = dst + BNC_SP_HDR + 4;
    uint8_t *codes = offs + 4 * nd;
    int64_t k = 0;
    for (int64_t f = 0; f < max_diags(t->rows, t->cols); f++) {
        if (!flags[f]) continue;
        const int64_t off = f - (t->rows - 1);
        bnc_st32(offs + 4 * k, (uint32_t)(int32_t)off);
        for (int64_t i = 0; i < t->rows; i++) {
            int64_t j = i + off;
            int c = (j >= 0 && j < t->cols) ? bnc_sp_code(t, i * t->cols + j) : 0;
            put2(codes, k * t->rows + i, c + 1);
        }
        k++;
    }
    free(flags);
    return 0;
}

int bnc_sp_dia_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err)
{
    bnc_sp_hdr h;
    int rc = bnc_sp_read_hdr("sparse-dia", src, n, BNC_SP_DIA, rows, cols, &h, err);
    if (rc) return rc;
    if (n < BNC_SP_HDR + 4)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-dia: %zu bytes, too short", n);
    const int64_t nd = bnc_ld32(src + BNC_SP_HDR);
    if (nd > max_diags(rows, cols))
        return bnc_err_set(err, BNC_EFORMAT, "sparse-dia: %lld diagonals in %lldx%lld",
                           (long long)nd, (long long)rows, (long long)cols);
    size_t need = dia_size(rows, nd);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-dia: %zu bytes, expected %zu", n, need);
    const uint8_t *offs = src + BNC_SP_HDR + 4;
    const uint8_t *codes = offs + 4 * nd;
    if (!bnc_sp_pad_ok(codes, rows * nd, 2))
        return bnc_err_set(err, BNC_EFORMAT, "sparse-dia: non-zero padding bits");
    memset(y, 0, sizeof *y * (size_t)(rows * cols));
    int64_t prev = INT64_MIN, count = 0;
    for (int64_t k = 0; k < nd; k++) {
        const int64_t off = (int32_t)bnc_ld32(offs + 4 * k);
        if (off <= prev || off < -(rows - 1) || off > cols - 1)
            return bnc_err_set(err, BNC_EFORMAT, "sparse-dia: bad offset %lld of diagonal %lld",
                               (long long)off, (long long)k);
        prev = off;
        for (int64_t i = 0; i < rows; i++) {
            const int64_t slot = k * rows + i, j = i + off;
            int code = (codes[slot / 4] >> (2 * (slot % 4))) & 3;
            if (code == 1) continue;
            if (code == 3 || j < 0 || j >= cols)
                return bnc_err_set(err, BNC_EFORMAT,
                                   "sparse-dia: bad code %d at row %lld of "
                                   "diagonal %lld",
                                   code, (long long)i, (long long)k);
            y[i * cols + j] = code == 0 ? -h.alpha : h.alpha;
            count++;
        }
    }
    if (count != h.nnz)
        return bnc_err_set(err, BNC_EFORMAT, "sparse-dia: %lld non-zeros, header says %lld",
                           (long long)count, (long long)h.nnz);
    return 0;
}
