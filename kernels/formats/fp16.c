/* fp16 / bf16 conversions (round to nearest even) in portable C, and the
 * row functions of the f16 and bf16 schemes: the one place the project
 * converts half precision (fp16 -> f32 is inline in bnc_fp16.h). A finite
 * f32 that rounds to inf is reported (BNC_ERANGE) rather than stored. */
#include "bnc_fp16.h"

#include <string.h>

#include "qimpl.h"

uint16_t bnc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf, or NaN kept quiet with its top payload bits */
        return (uint16_t)(sign | 0x7c00u |
                          (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u) /* >= 65520: the tie above 65504 rounds to even, i.e. inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal fp16: rebias the exponent, round the 13 dropped bits */
        uint32_t r = ax - (112u << 23);
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    uint32_t e = ax >> 23;
    if (e == 0) /* f32 zero or subnormal: far below fp16's smallest subnormal */
        return (uint16_t)sign;
    /* fp16 subnormal: value = m * 2^(e-150); we want round(value * 2^24). */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;
    if (shift > 24) return (uint16_t)sign;
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++; /* may carry into the smallest normal, which is the right encoding */
    return (uint16_t)(sign | q);
}

uint16_t bnc_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet */
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float bnc_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static void to16_row(uint16_t (*cv)(float), const float *x, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        bnc_st16(d + 2 * i, cv(x[i]));
}

static void from16_row(float (*cv)(uint16_t), const void *src, float *y, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = cv(bnc_ld16(s + 2 * i));
}

void bnc_f32_to_f16_row(const float *x, void *dst, int64_t n)
{
    to16_row(bnc_f32_to_f16, x, dst, n);
}
void bnc_f16_to_f32_row(const void *src, float *y, int64_t n)
{
    from16_row(bnc_f16_to_f32, src, y, n);
}
void bnc_f32_to_bf16_row(const float *x, void *dst, int64_t n)
{
    to16_row(bnc_f32_to_bf16, x, dst, n);
}
void bnc_bf16_to_f32_row(const void *src, float *y, int64_t n)
{
    from16_row(bnc_bf16_to_f32, src, y, n);
}

/* ---- the f16 and bf16 schemes (block of one weight) ---------------------- */

int bnc_quantize_row_f16(const float *x, void *dst, int64_t n, bnc_err *err);
int bnc_quantize_row_bf16(const float *x, void *dst, int64_t n, bnc_err *err);
const char *bnc_check_block_f16(const uint8_t *blk);
const char *bnc_check_block_bf16(const uint8_t *blk);

static int quantize_row16(const char *name, int bf, const float *x, void *dst, int64_t n,
                          bnc_err *err)
{
    int rc = bnc_check_finite(x, n, err);
    if (rc) return rc;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = bf ? bnc_f32_to_bf16(x[i]) : bnc_f32_to_f16(x[i]);
        if (bf ? !bnc_bf16_is_finite(h) : !bnc_f16_is_finite(h))
            return bnc_err_set(err, BNC_ERANGE, "%s: value %g at index %lld overflows the format",
                               name, (double)x[i], (long long)i);
        bnc_st16(d + 2 * i, h);
    }
    return 0;
}

int bnc_quantize_row_f16(const float *x, void *dst, int64_t n, bnc_err *err)
{
    return quantize_row16("f16", 0, x, dst, n, err);
}

int bnc_quantize_row_bf16(const float *x, void *dst, int64_t n, bnc_err *err)
{
    return quantize_row16("bf16", 1, x, dst, n, err);
}

const char *bnc_check_block_f16(const uint8_t *blk)
{
    return bnc_f16_is_finite(bnc_ld16(blk)) ? NULL : "non-finite value";
}

const char *bnc_check_block_bf16(const uint8_t *blk)
{
    return bnc_bf16_is_finite(bnc_ld16(blk)) ? NULL : "non-finite value";
}
