/* ggml's q4_0: blocks of 32 weights {fp16 d; uint8 qs[16]}. m is the first
 * element of largest magnitude (sign kept), d = m / -8 (so an all-zero block
 * stores d = -0.0, bytes 00 80, as ggml does), code = min(15, (int8)(x * (1/d)
 * + 8.5)); byte j holds element j (low nibble) and j + 16 (high nibble). */
#include <math.h>

#include "bnc_fp16.h"
#include "qimpl.h"

/* The layout this file reads and writes; the table row states the same. */
enum { QK = 32, BLOCK_BYTES = 18 };

BNC_BLOCK_DECL(q4_0);

int bnc_quantize_row_q4_0(const float *x, void *dst, int64_t n, bnc_err *err)
{
    int rc = bnc_row_blocks("q4_0", n, QK, err);
    if (rc) return rc;
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax, max;
        if ((rc = bnc_block_absmax("q4_0", xb, QK, b * QK, &amax, &max, err))) return rc;
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh;
        if ((rc = bnc_block_scale16("q4_0", d, b * QK, &dh, err))) return rc;
        uint8_t *blk = out + b * BLOCK_BYTES;
        bnc_st16(blk, dh);
        for (int j = 0; j < QK / 2; j++) {
            /* x * id is within [-8, 8] here, so the conversions are defined. */
            int8_t c0 = (int8_t)(xb[j] * id + 8.5f);
            int8_t c1 = (int8_t)(xb[j + 16] * id + 8.5f);
            uint8_t q0 = (uint8_t)(c0 < 15 ? c0 : 15);
            uint8_t q1 = (uint8_t)(c1 < 15 ? c1 : 15);
            blk[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
    return 0;
}

void bnc_dequantize_row_q4_0(const void *src, float *y, int64_t n)
{
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / QK; b++) {
        const uint8_t *blk = in + b * BLOCK_BYTES;
        const float d = bnc_f16_to_f32(bnc_ld16(blk));
        float *yb = y + b * QK;
        for (int j = 0; j < QK / 2; j++) {
            yb[j] = (float)((blk[2 + j] & 0x0f) - 8) * d;
            yb[j + 16] = (float)((blk[2 + j] >> 4) - 8) * d;
        }
    }
}

const char *bnc_check_block_q4_0(const uint8_t *blk)
{
    return bnc_f16_is_finite(bnc_ld16(blk)) ? NULL : "non-finite scale";
}
