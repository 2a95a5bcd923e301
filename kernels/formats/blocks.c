/* The tensor functions of every block scheme, from its row: the shape
 * check, the buffer sizes, the row functions over rows * cols weights and,
 * for untrusted bytes, the row's check of each block. */
#include <math.h>

#include "bnc_fp16.h"
#include "qimpl.h"

size_t bnc_blocks_qsize(const bnc_scheme *s, int64_t rows, int64_t cols)
{
    if (bnc_qshape(s->name, rows, cols, s->block, BNC_EINVAL, NULL)) return 0;
    return (size_t)(rows * cols / s->block) * s->block_bytes;
}

int bnc_blocks_quantize(const bnc_scheme *s, const float *x, int64_t rows, int64_t cols, void *dst,
                        size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape(s->name, rows, cols, s->block, BNC_EINVAL, err);
    if (rc) return rc;
    size_t need = bnc_blocks_qsize(s, rows, cols);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "%s: buffer of %zu bytes, need %zu", s->name, cap,
                           need);
    rc = s->quantize_row(x, dst, rows * cols, err);
    if (rc) return rc;
    *written = need;
    return 0;
}

int bnc_blocks_dequantize(const bnc_scheme *s, const void *src, size_t n, int64_t rows,
                          int64_t cols, float *y, bnc_err *err)
{
    int rc = bnc_qshape(s->name, rows, cols, s->block, BNC_EFORMAT, err);
    if (rc) return rc;
    size_t need = bnc_blocks_qsize(s, rows, cols);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %zu bytes for %lldx%lld, expected %zu", s->name,
                           n, (long long)rows, (long long)cols, need);
    const uint8_t *in = src;
    if (s->check_block)
        for (size_t b = 0; b < need / s->block_bytes; b++) {
            const char *why = s->check_block(in + b * s->block_bytes);
            if (why)
                return bnc_err_set(err, BNC_EFORMAT, "%s: %s %s %zu", s->name, why,
                                   s->block == 1 ? "at index" : "in block", b);
        }
    s->dequantize_row(src, y, rows * cols);
    return 0;
}

int bnc_row_blocks(const char *name, int64_t n, int qk, bnc_err *err)
{
    if (n < 0 || n % qk != 0)
        return bnc_err_set(err, BNC_EINVAL, "%s: row of %lld is not a multiple of %d", name,
                           (long long)n, qk);
    return 0;
}

int bnc_block_absmax(const char *name, const float *xb, int qk, int64_t base, float *amax,
                     float *max, bnc_err *err)
{
    float a = 0.0f, m = 0.0f;
    for (int j = 0; j < qk; j++) {
        if (!isfinite(xb[j]))
            return bnc_err_set(err, BNC_ERANGE, "%s: non-finite value %g at index %lld", name,
                               (double)xb[j], (long long)(base + j));
        if (a < fabsf(xb[j])) {
            a = fabsf(xb[j]);
            m = xb[j];
        }
    }
    *amax = a;
    *max = m;
    return 0;
}

int bnc_block_scale16(const char *name, float d, int64_t base, uint16_t *dh, bnc_err *err)
{
    *dh = bnc_f32_to_f16(d);
    if (!bnc_f16_is_finite(*dh))
        return bnc_err_set(err, BNC_ERANGE,
                           "%s: scale %g of the block at index %lld overflows fp16", name,
                           (double)d, (long long)base);
    return 0;
}
