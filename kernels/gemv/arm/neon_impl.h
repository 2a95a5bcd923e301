/* Internal: the ARM NEON kernels, included by neon.c (Armv8.0 Advanced
 * SIMD: vmull/vpadal dot products) and neon_dotprod.c (compiled with
 * +dotprod; BNC_NEON_DOT selects sdot). Each includer gets its own static
 * copy compiled with its own target flags; neon.c picks one at run time
 * (getauxval(AT_HWCAP) & HWCAP_ASIMDDP).
 *
 * Bitwise equal to the scalar reference in gemv.c: the integer sums are
 * exact (any order gives the same int32), and the float part is the
 * reference's expression, element for element, compiled with
 * -ffp-contract=off (no fused multiply-add). The fp16 scales are converted
 * with bnc_f16_to_f32 (exact, keeps NaN payloads as the reference does). */
#ifndef BNC_NEON_IMPL_H
#define BNC_NEON_IMPL_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "bnc_fp16.h"
#include "gemv_impl.h"

#define AI __attribute__((always_inline)) static inline

/* acc += the 16 products of s8 a and s8 b, folded into 4 int32 lanes.
 * Without sdot two products share an int16 lane: |a| <= 128 (a q8_0 byte
 * may be -128) and |b| <= 127 (activations), so |sum| <= 32512 fits. */
AI int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#ifdef BNC_NEON_DOT
    return vdotq_s32(acc, a, b);
#else
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_high_s8(p, a, b);
    return vpadalq_s16(acc, p);
#endif
}

AI uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* sum (code - 1) * x over one 128-weight block of the bitnet layout (byte
 * m holds elements m + 32n in bits 2n..2n+1) with natural-order x; two
 * accumulators (even and odd 16-byte halves). */
AI void blk128(int32x4_t *a0, int32x4_t *a1, const uint8_t *w, const int8_t *x)
{
    const uint8x16_t m3 = vdupq_n_u8(3);
    const int8x16_t one = vdupq_n_s8(1);
    uint8x16_t q0 = vld1q_u8(w), q1 = vld1q_u8(w + 16);
    *a0 = dot16(*a0, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q0, m3)), one), vld1q_s8(x));
    *a1 = dot16(*a1, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q1, m3)), one), vld1q_s8(x + 16));
    *a0 = dot16(*a0, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q0, 2), m3)), one),
                vld1q_s8(x + 32));
    *a1 = dot16(*a1, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q1, 2), m3)), one),
                vld1q_s8(x + 48));
    *a0 = dot16(*a0, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q0, 4), m3)), one),
                vld1q_s8(x + 64));
    *a1 = dot16(*a1, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q1, 4), m3)), one),
                vld1q_s8(x + 80));
    *a0 = dot16(*a0, vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q0, 6)), one), vld1q_s8(x + 96));
    *a1 = dot16(*a1, vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q1, 6)), one), vld1q_s8(x + 112));
}

/* Integer sum of (code - 1) * x over the 128-blocks [k0, k1) of one row. */
static int32_t bitnet_seg(const uint8_t *row, const int8_t *x, int64_t k0, int64_t k1)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    for (int64_t k = k0; k < k1; k++)
        blk128(&a0, &a1, row + 32 * k, x + 128 * k);
    return vaddvq_s32(vaddq_s32(a0, a1));
}

static void neon_bitnet_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nblk = (jb->cols + 127) / 128;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float y;
            if (jb->mode != BNC_BITNET_GROUP) {
                int32_t isum = bitnet_seg(row, x, 0, nblk);
                float s = jb->scales[jb->mode == BNC_BITNET_ROW ? r : 0];
                y = (float)isum * s * a->d[b];
            } else {
                int64_t gb = jb->group / 128;
                float acc = 0;
                for (int64_t g = 0; g < jb->ngroups; g++) {
                    int64_t k1 = (g + 1) * gb < nblk ? (g + 1) * gb : nblk;
                    int32_t isum = bitnet_seg(row, x, g * gb, k1);
                    acc += (float)isum * jb->scales[r * jb->ngroups + g];
                }
                y = acc * a->d[b];
            }
            jb->y[b * jb->rows + r] = y;
        }
    }
}

/* tq2_0: 66-byte blocks of 256 weights, the 64 code bytes are two
 * 128-blocks of the bitnet layout, then the fp16 scale. */
static void neon_tq2_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / 256;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = row + 66 * k;
                int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
                blk128(&a0, &a1, blk, x + 256 * k);
                blk128(&a0, &a1, blk + 32, x + 256 * k + 128);
                int32_t isum = vaddvq_s32(vaddq_s32(a0, a1));
                acc += (float)isum * bnc_f16_to_f32(ld16(blk + 64));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

/* tq1_0: 54-byte blocks of 256 weights in base 3 (FORMATS.md): trit n of
 * byte b is ((uint8)(b * 3^n) * 3) >> 8; qs[0..31] hold elements m + 32n
 * (n = 0..4), qs[32..47] elements 160 + m + 16n, qh[0..3] elements
 * 240 + j + 4n (n = 0..3), then the fp16 scale at byte 52. */
AI int8x16_t tern16(uint8x16_t t)
{
    uint8x16_t v = vcombine_u8(vshrn_n_u16(vmull_u8(vget_low_u8(t), vdup_n_u8(3)), 8),
                               vshrn_n_u16(vmull_high_u8(t, vdupq_n_u8(3)), 8));
    return vsubq_s8(vreinterpretq_s8_u8(v), vdupq_n_s8(1));
}

AI int32_t tq1_isum(const uint8_t *blk, const int8_t *x)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    static const uint8_t hpow[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
    uint8x16_t q0 = vld1q_u8(blk), q1 = vld1q_u8(blk + 16), q2 = vld1q_u8(blk + 32);
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    for (int n = 0; n < 5; n++) {
        uint8x16_t p = vdupq_n_u8(pow3[n]);
        a0 = dot16(a0, tern16(vmulq_u8(q0, p)), vld1q_s8(x + 32 * n));
        a1 = dot16(a1, tern16(vmulq_u8(q1, p)), vld1q_s8(x + 32 * n + 16));
        a0 = dot16(a0, tern16(vmulq_u8(q2, p)), vld1q_s8(x + 160 + 16 * n));
    }
    uint32_t qh;
    memcpy(&qh, blk + 48, 4);
    uint8x16_t h = vmulq_u8(vreinterpretq_u8_u32(vdupq_n_u32(qh)), vld1q_u8(hpow));
    a1 = dot16(a1, tern16(h), vld1q_s8(x + 240));
    return vaddvq_s32(vaddq_s32(a0, a1));
}

static void neon_tq1_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / 256;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = row + 54 * k;
                int32_t isum = tq1_isum(blk, x + 256 * k);
                acc += (float)isum * bnc_f16_to_f32(ld16(blk + 52));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

/* q8_0 (34 bytes: fp16 d, 32 int8) and q4_0 (18 bytes: fp16 d, 16 bytes of
 * nibbles: element e < 16 is the low nibble of byte e, e >= 16 the high
 * nibble of byte e - 16, minus 8). */
AI int32_t q8_isum(const uint8_t *blk, const int8_t *x)
{
    int32x4_t acc = dot16(vdupq_n_s32(0), vld1q_s8((const int8_t *)(blk + 2)), vld1q_s8(x));
    acc = dot16(acc, vld1q_s8((const int8_t *)(blk + 18)), vld1q_s8(x + 16));
    return vaddvq_s32(acc);
}

AI int32_t q4_isum(const uint8_t *blk, const int8_t *x)
{
    uint8x16_t q = vld1q_u8(blk + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), eight);
    int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
    int32x4_t acc = dot16(vdupq_n_s32(0), lo, vld1q_s8(x));
    acc = dot16(acc, hi, vld1q_s8(x + 16));
    return vaddvq_s32(acc);
}

AI void q_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1, int is4)
{
    const bnc_act *a = jb->a;
    const int bytes = is4 ? 18 : 34;
    int64_t nb = jb->cols / 32;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = row + bytes * k;
                int32_t isum = is4 ? q4_isum(blk, x + 32 * k) : q8_isum(blk, x + 32 * k);
                acc += (float)isum * bnc_f16_to_f32(ld16(blk));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

static void neon_q8_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    q_rows(jb, r0, r1, 0);
}

static void neon_q4_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    q_rows(jb, r0, r1, 1);
}

#endif
