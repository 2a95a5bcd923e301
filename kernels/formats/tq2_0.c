/* ggml's tq2_0: blocks of 256 weights {uint8 qs[64]; fp16 d}, d = amax,
 * code = lroundf(x * (1/d)) + 1 in {0,1,2}. Two chunks of 32 bytes; byte m of
 * chunk c holds elements 128c + m + 32n (n = 0..3) in bits 2n..2n+1. */
#include <math.h>

#include "bnc_fp16.h"
#include "bnc_ggml.h"
#include "qimpl.h"

int bnc_quantize_row_tq2_0(const float *x, void *dst, int64_t n, bnc_err *err)
{
    if (n < 0 || n % BNC_QK_K != 0)
        return bnc_err_set(err, BNC_EINVAL, "tq2_0: row of %lld is not a multiple of %d",
                           (long long)n, BNC_QK_K);
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / BNC_QK_K; b++) {
        const float *xb = x + b * BNC_QK_K;
        float amax = 0.0f;
        for (int j = 0; j < BNC_QK_K; j++) {
            if (!isfinite(xb[j]))
                return bnc_err_set(err, BNC_ERANGE, "tq2_0: non-finite value %g at index %lld",
                                   (double)xb[j], (long long)(b * BNC_QK_K + j));
            amax = fmaxf(amax, fabsf(xb[j]));
        }
        const float d = amax;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = bnc_f32_to_f16(d);
        if (!bnc_f16_is_finite(dh))
            return bnc_err_set(err, BNC_ERANGE,
                               "tq2_0: scale %g of the block at index %lld "
                               "overflows fp16",
                               (double)d, (long long)(b * BNC_QK_K));
        uint8_t *blk = out + b * BNC_TQ2_0_BYTES;
        for (int c = 0; c < 2; c++)
            for (int m = 0; m < 32; m++) {
                unsigned q = 0;
                for (int k = 0; k < 4; k++) {
                    long code = lroundf(xb[128 * c + m + 32 * k] * id) + 1;
                    q |= (unsigned)(code & 3) << (2 * k);
                }
                blk[32 * c + m] = (uint8_t)q;
            }
        bnc_st16(blk + 64, dh);
    }
    return 0;
}

void bnc_dequantize_row_tq2_0(const void *src, float *y, int64_t n)
{
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / BNC_QK_K; b++) {
        const uint8_t *blk = in + b * BNC_TQ2_0_BYTES;
        const float d = bnc_f16_to_f32(bnc_ld16(blk + 64));
        float *yb = y + b * BNC_QK_K;
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 4; k++)
                for (int m = 0; m < 32; m++)
                    yb[128 * c + 32 * k + m] = (float)(((blk[32 * c + m] >> (2 * k)) & 3) - 1) * d;
    }
}

size_t bnc_tq2_0_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (bnc_qshape("tq2_0", rows, cols, BNC_QK_K, BNC_EINVAL, NULL)) return 0;
    return (size_t)(rows * cols / BNC_QK_K) * BNC_TQ2_0_BYTES;
}

int bnc_tq2_0_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                       size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape("tq2_0", rows, cols, BNC_QK_K, BNC_EINVAL, err);
    if (rc) return rc;
    size_t need = bnc_tq2_0_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "tq2_0: buffer of %zu bytes, need %zu", cap, need);
    rc = bnc_quantize_row_tq2_0(x, dst, rows * cols, err);
    if (rc) return rc;
    *written = need;
    return 0;
}

/* Stricter than ggml: rejects non-finite scales and code 3, which no
 * quantizer writes. */
int bnc_tq2_0_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                         const bnc_qparams *p, float *y, bnc_err *err)
{
    int rc = bnc_qshape("tq2_0", rows, cols, BNC_QK_K, BNC_EFORMAT, err);
    if (rc) return rc;
    size_t need = bnc_tq2_0_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "tq2_0: %zu bytes for %lldx%lld, expected %zu", n,
                           (long long)rows, (long long)cols, need);
    const uint8_t *in = src;
    for (size_t b = 0; b < need / BNC_TQ2_0_BYTES; b++) {
        const uint8_t *blk = in + b * BNC_TQ2_0_BYTES;
        if (!bnc_f16_is_finite(bnc_ld16(blk + 64)))
            return bnc_err_set(err, BNC_EFORMAT, "tq2_0: non-finite scale in block %zu", b);
        for (int j = 0; j < 64; j++) {
            uint8_t v = blk[j];
            /* a 2-bit field equal to 3 has both bits set */
            if ((v & (v >> 1) & 0x55u) != 0)
                return bnc_err_set(err, BNC_EFORMAT, "tq2_0: invalid code 3 in block %zu", b);
        }
    }
    bnc_dequantize_row_tq2_0(src, y, rows * cols);
    return 0;
}
