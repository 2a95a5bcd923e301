/* ggml's q8_0: blocks of 32 weights {fp16 d; int8 qs[32]}, d = amax / 127,
 * qs = roundf(x * (1/d)) (half away from zero), as quantize_row_q8_0_ref. */
#include <math.h>

#include "bnc_fp16.h"
#include "bnc_ggml.h"
#include "qimpl.h"

int bnc_quantize_row_q8_0(const float *x, void *dst, int64_t n, bnc_err *err)
{
    if (n < 0 || n % BNC_QK8_0 != 0)
        return bnc_err_set(err, BNC_EINVAL, "q8_0: row of %lld is not a multiple of %d",
                           (long long)n, BNC_QK8_0);
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / BNC_QK8_0; b++) {
        const float *xb = x + b * BNC_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < BNC_QK8_0; j++) {
            if (!isfinite(xb[j]))
                return bnc_err_set(err, BNC_ERANGE, "q8_0: non-finite value %g at index %lld",
                                   (double)xb[j], (long long)(b * BNC_QK8_0 + j));
            amax = fmaxf(amax, fabsf(xb[j]));
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = bnc_f32_to_f16(d);
        if (!bnc_f16_is_finite(dh))
            return bnc_err_set(err, BNC_ERANGE,
                               "q8_0: scale %g of the block at index %lld "
                               "overflows fp16",
                               (double)d, (long long)(b * BNC_QK8_0));
        uint8_t *blk = out + b * BNC_Q8_0_BYTES;
        bnc_st16(blk, dh);
        for (int j = 0; j < BNC_QK8_0; j++)
            blk[2 + j] = (uint8_t)(int8_t)roundf(xb[j] * id);
    }
    return 0;
}

void bnc_dequantize_row_q8_0(const void *src, float *y, int64_t n)
{
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / BNC_QK8_0; b++) {
        const uint8_t *blk = in + b * BNC_Q8_0_BYTES;
        const float d = bnc_f16_to_f32(bnc_ld16(blk));
        for (int j = 0; j < BNC_QK8_0; j++)
            y[b * BNC_QK8_0 + j] = (float)(int8_t)blk[2 + j] * d;
    }
}

size_t bnc_q8_0_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (bnc_qshape("q8_0", rows, cols, BNC_QK8_0, BNC_EINVAL, NULL)) return 0;
    return (size_t)(rows * cols / BNC_QK8_0) * BNC_Q8_0_BYTES;
}

int bnc_q8_0_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                      size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape("q8_0", rows, cols, BNC_QK8_0, BNC_EINVAL, err);
    if (rc) return rc;
    size_t need = bnc_q8_0_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "q8_0: buffer of %zu bytes, need %zu", cap, need);
    rc = bnc_quantize_row_q8_0(x, dst, rows * cols, err);
    if (rc) return rc;
    *written = need;
    return 0;
}

int bnc_q8_0_dequantize(const void *src, size_t n, int64_t rows, int64_t cols, const bnc_qparams *p,
                        float *y, bnc_err *err)
{
    int rc = bnc_qshape("q8_0", rows, cols, BNC_QK8_0, BNC_EFORMAT, err);
    if (rc) return rc;
    size_t need = bnc_q8_0_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "q8_0: %zu bytes for %lldx%lld, expected %zu", n,
                           (long long)rows, (long long)cols, need);
    const uint8_t *in = src;
    for (size_t b = 0; b < need / BNC_Q8_0_BYTES; b++)
        if (!bnc_f16_is_finite(bnc_ld16(in + b * BNC_Q8_0_BYTES)))
            return bnc_err_set(err, BNC_EFORMAT, "q8_0: non-finite scale in block %zu", b);
    bnc_dequantize_row_q8_0(src, y, rows * cols);
    return 0;
}
