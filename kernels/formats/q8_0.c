/* ggml's q8_0: blocks of 32 weights {fp16 d; int8 qs[32]}, d = amax / 127,
 * qs = roundf(x * (1/d)) (half away from zero), as quantize_row_q8_0_ref. */
#include <math.h>

#include "bnc_fp16.h"
#include "qimpl.h"

/* The layout this file reads and writes; the table row states the same. */
enum { QK = 32, BLOCK_BYTES = 34 };

BNC_BLOCK_DECL(q8_0);

int bnc_quantize_row_q8_0(const float *x, void *dst, int64_t n, bnc_err *err)
{
    int rc = bnc_row_blocks("q8_0", n, QK, err);
    if (rc) return rc;
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax, max;
        if ((rc = bnc_block_absmax("q8_0", xb, QK, b * QK, &amax, &max, err))) return rc;
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh;
        if ((rc = bnc_block_scale16("q8_0", d, b * QK, &dh, err))) return rc;
        uint8_t *blk = out + b * BLOCK_BYTES;
        bnc_st16(blk, dh);
        for (int j = 0; j < QK; j++)
            blk[2 + j] = (uint8_t)(int8_t)roundf(xb[j] * id);
    }
    return 0;
}

void bnc_dequantize_row_q8_0(const void *src, float *y, int64_t n)
{
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / QK; b++) {
        const uint8_t *blk = in + b * BLOCK_BYTES;
        const float d = bnc_f16_to_f32(bnc_ld16(blk));
        for (int j = 0; j < QK; j++)
            y[b * QK + j] = (float)(int8_t)blk[2 + j] * d;
    }
}

const char *bnc_check_block_q8_0(const uint8_t *blk)
{
    return bnc_f16_is_finite(bnc_ld16(blk)) ? NULL : "non-finite scale";
}
