/* IEEE half precision (fp16) and bfloat16 conversions, rounding to nearest
 * even as ggml's GGML_FP32_TO_FP16 (F16C's _cvtss_sh) does. Pure functions,
 * no state; NaN stays NaN (quiet), values too large for the format become
 * +-inf (callers that must not store inf check bnc_f16_is_finite). */
#ifndef BNC_FP16_H
#define BNC_FP16_H

#include <stdint.h>

/* f32 -> fp16 bits, round to nearest even, subnormals kept. */
uint16_t bnc_f32_to_f16(float f);
/* f32 -> bfloat16 bits (the high half of the f32), round to nearest even. */
uint16_t bnc_f32_to_bf16(float f);
/* bfloat16 bits -> f32 (exact). */
float bnc_bf16_to_f32(uint16_t h);

/* Non-zero when the fp16 / bf16 bits encode a finite number. */
static inline int bnc_f16_is_finite(uint16_t h)
{
    return (h & 0x7c00u) != 0x7c00u;
}
static inline int bnc_bf16_is_finite(uint16_t h)
{
    return (h & 0x7f80u) != 0x7f80u;
}

/* fp16 bits -> f32 (exact). */
static inline float bnc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    uint32_t x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e != 0) {
        x = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        x = sign;
    } else { /* subnormal: normalise */
        e = 113;
        while ((m & 0x400u) == 0) {
            m <<= 1;
            e--;
        }
        x = sign | (e << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    __builtin_memcpy(&f, &x, sizeof f);
    return f;
}

/* Row converters over n values (dst little-endian 2-byte words, any alignment
 * of dst is fine). They do not check for overflow: use the f16/bf16 schemes
 * when out-of-range values must be reported. */
void bnc_f32_to_f16_row(const float *x, void *dst, int64_t n);
void bnc_f16_to_f32_row(const void *src, float *y, int64_t n);
void bnc_f32_to_bf16_row(const float *x, void *dst, int64_t n);
void bnc_bf16_to_f32_row(const void *src, float *y, int64_t n);

#endif
