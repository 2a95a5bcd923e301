/* ggml's tq1_0: blocks of 256 weights {uint8 qs[48]; uint8 qh[4]; fp16 d},
 * same d and codes as tq2_0 packed in base 3 as fixed-point fractions:
 * qs[0..31] byte m holds elements m + 32n (n = 0..4), qs[32..47] byte 32+m
 * holds 160 + m + 16n, qh[j] holds 240 + j + 4n (n = 0..3). A byte of trits
 * t0..t4 (t0 most significant) stores ceil(v * 256 / 243); trit n is read as
 * ((uint8)(b * 3^n) * 3) >> 8. */
#include <math.h>

#include "bnc_fp16.h"
#include "qimpl.h"

/* The layout this file reads and writes; the table row states the same. */
enum { QK = 256, BLOCK_BYTES = 54 };

BNC_BLOCK_DECL(tq1_0);

static unsigned trit(const float *x, float id)
{
    return (unsigned)(lroundf(*x * id) + 1);
}

static uint8_t frac_byte(unsigned v)
{
    return (uint8_t)((v * 256u + 242u) / 243u);
}

int bnc_quantize_row_tq1_0(const float *x, void *dst, int64_t n, bnc_err *err)
{
    int rc = bnc_row_blocks("tq1_0", n, QK, err);
    if (rc) return rc;
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax, max;
        if ((rc = bnc_block_absmax("tq1_0", xb, QK, b * QK, &amax, &max, err))) return rc;
        const float d = amax;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh;
        if ((rc = bnc_block_scale16("tq1_0", d, b * QK, &dh, err))) return rc;
        uint8_t *blk = out + b * BLOCK_BYTES;
        for (int m = 0; m < 32; m++) {
            unsigned v = 0;
            for (int k = 0; k < 5; k++)
                v = v * 3 + trit(xb + m + 32 * k, id);
            blk[m] = frac_byte(v);
        }
        for (int m = 0; m < 16; m++) {
            unsigned v = 0;
            for (int k = 0; k < 5; k++)
                v = v * 3 + trit(xb + 160 + m + 16 * k, id);
            blk[32 + m] = frac_byte(v);
        }
        for (int j = 0; j < 4; j++) {
            unsigned v = 0;
            for (int k = 0; k < 4; k++)
                v = v * 3 + trit(xb + 240 + j + 4 * k, id);
            blk[48 + j] = frac_byte(v * 3);
        }
        bnc_st16(blk + 52, dh);
    }
    return 0;
}

static float trit_value(uint8_t byte, unsigned pow3, float d)
{
    uint8_t q = (uint8_t)(byte * pow3);
    return (float)((int)((q * 3u) >> 8) - 1) * d;
}

void bnc_dequantize_row_tq1_0(const void *src, float *y, int64_t n)
{
    static const unsigned pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / QK; b++) {
        const uint8_t *blk = in + b * BLOCK_BYTES;
        const float d = bnc_f16_to_f32(bnc_ld16(blk + 52));
        float *yb = y + b * QK;
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 32; m++)
                yb[m + 32 * k] = trit_value(blk[m], pow3[k], d);
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 16; m++)
                yb[160 + m + 16 * k] = trit_value(blk[32 + m], pow3[k], d);
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++)
                yb[240 + j + 4 * k] = trit_value(blk[48 + j], pow3[k], d);
    }
}

/* Every byte value decodes to trits in {0,1,2}; only the scale is checked. */
const char *bnc_check_block_tq1_0(const uint8_t *blk)
{
    return bnc_f16_is_finite(bnc_ld16(blk + 52)) ? NULL : "non-finite scale";
}
