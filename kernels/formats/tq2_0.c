/* ggml's tq2_0: blocks of 256 weights {uint8 qs[64]; fp16 d}, d = amax,
 * code = lroundf(x * (1/d)) + 1 in {0,1,2}. Two chunks of 32 bytes; byte m of
 * chunk c holds elements 128c + m + 32n (n = 0..3) in bits 2n..2n+1. */
#include <math.h>

#include "bnc_fp16.h"
#include "qimpl.h"

/* The layout this file reads and writes; the table row states the same. */
enum { QK = 256, BLOCK_BYTES = 66 };

BNC_BLOCK_DECL(tq2_0);

int bnc_quantize_row_tq2_0(const float *x, void *dst, int64_t n, bnc_err *err)
{
    int rc = bnc_row_blocks("tq2_0", n, QK, err);
    if (rc) return rc;
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax, max;
        if ((rc = bnc_block_absmax("tq2_0", xb, QK, b * QK, &amax, &max, err))) return rc;
        const float d = amax;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh;
        if ((rc = bnc_block_scale16("tq2_0", d, b * QK, &dh, err))) return rc;
        uint8_t *blk = out + b * BLOCK_BYTES;
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
    for (int64_t b = 0; b < n / QK; b++) {
        const uint8_t *blk = in + b * BLOCK_BYTES;
        const float d = bnc_f16_to_f32(bnc_ld16(blk + 64));
        float *yb = y + b * QK;
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 4; k++)
                for (int m = 0; m < 32; m++)
                    yb[128 * c + 32 * k + m] = (float)(((blk[32 * c + m] >> (2 * k)) & 3) - 1) * d;
    }
}

/* Stricter than ggml: rejects non-finite scales and code 3, which no
 * quantizer writes. */
const char *bnc_check_block_tq2_0(const uint8_t *blk)
{
    if (!bnc_f16_is_finite(bnc_ld16(blk + 64))) return "non-finite scale";
    for (int j = 0; j < 64; j++) {
        uint8_t v = blk[j];
        /* a 2-bit field equal to 3 has both bits set */
        if ((v & (v >> 1) & 0x55u) != 0) return "invalid code 3";
    }
    return NULL;
}
