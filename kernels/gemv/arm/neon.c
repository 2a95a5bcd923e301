/* NEON kernels (Armv8.0 Advanced SIMD, every aarch64 CPU) and the run-time
 * choice of their dot product variants (neon_dotprod.c). */
#include <math.h>
#include <sys/auxv.h>

#include "neon_impl.h"
#include "bnc_neon.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif

int bnc_neon_has_dotprod(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
}

void bnc_neon_bitnet_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    if (bnc_neon_has_dotprod())
        bnc_neondp_bitnet_rows(jb, r0, r1);
    else
        neon_bitnet_rows(jb, r0, r1);
}

void bnc_neon_tq2_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    if (bnc_neon_has_dotprod())
        bnc_neondp_tq2_0_rows(jb, r0, r1);
    else
        neon_tq2_0_rows(jb, r0, r1);
}

void bnc_neon_tq1_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    if (bnc_neon_has_dotprod())
        bnc_neondp_tq1_0_rows(jb, r0, r1);
    else
        neon_tq1_0_rows(jb, r0, r1);
}

void bnc_neon_q8_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    if (bnc_neon_has_dotprod())
        bnc_neondp_q8_0_rows(jb, r0, r1);
    else
        neon_q8_0_rows(jb, r0, r1);
}

void bnc_neon_q4_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    if (bnc_neon_has_dotprod())
        bnc_neondp_q4_0_rows(jb, r0, r1);
    else
        neon_q4_0_rows(jb, r0, r1);
}

/* 16 double lanes as 8 float64x2 accumulators: lane l holds the elements
 * i with i % 16 == l, added in index order, as in the reference. */
static double absum_neon(const float *x, int64_t n)
{
    float64x2_t acc[8];
    for (int l = 0; l < 8; l++)
        acc[l] = vdupq_n_f64(0);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int v = 0; v < 4; v++) {
            float32x4_t f = vld1q_f32(x + i + 4 * v);
            acc[2 * v] = vaddq_f64(acc[2 * v], vabsq_f64(vcvt_f64_f32(vget_low_f32(f))));
            acc[2 * v + 1] = vaddq_f64(acc[2 * v + 1], vabsq_f64(vcvt_high_f64_f32(f)));
        }
    double lane[16];
    for (int l = 0; l < 8; l++)
        vst1q_f64(lane + 2 * l, acc[l]);
    for (int l = 0; i < n; i++, l++)
        lane[l] += fabs((double)x[i]);
    double s = 0;
    for (int l = 0; l < 16; l++)
        s += lane[l];
    return s;
}

/* 4 floats to int32 codes t + 1 with t = clip(round(x * inv), -1, 1). */
static inline int32x4_t code4(const float *x, float32x4_t inv)
{
    float32x4_t v = vrndaq_f32(vmulq_f32(vld1q_f32(x), inv)); /* round half away */
    v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-1.0f)), vdupq_n_f32(1.0f));
    return vaddq_s32(vcvtq_s32_f32(v), vdupq_n_s32(1));
}

/* 16 int32 codes (each 0..2) to 16 bytes in element order. */
static inline uint8x16_t narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
    uint16x8_t lo =
        vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(a)), vmovn_u32(vreinterpretq_u32_s32(b)));
    uint16x8_t hi =
        vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(c)), vmovn_u32(vreinterpretq_u32_s32(d)));
    return vcombine_u8(vmovn_u16(lo), vmovn_u16(hi));
}

static void pack128_neon(const float *x, int64_t n, float inv, uint8_t *out)
{
    float tmp[128];
    if (n < 128) {
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, x, (size_t)n * sizeof *x);
        x = tmp;
    }
    const float32x4_t vi = vdupq_n_f32(inv);
    uint8x16_t r0 = vdupq_n_u8(0), r1 = r0;
    for (int g = 0; g < 4; g++) {
        const float *p = x + 32 * g;
        uint8x16_t c0 =
            narrow16(code4(p, vi), code4(p + 4, vi), code4(p + 8, vi), code4(p + 12, vi));
        uint8x16_t c1 =
            narrow16(code4(p + 16, vi), code4(p + 20, vi), code4(p + 24, vi), code4(p + 28, vi));
        int8x16_t sh = vdupq_n_s8((int8_t)(2 * g));
        r0 = vorrq_u8(r0, vshlq_u8(c0, sh));
        r1 = vorrq_u8(r1, vshlq_u8(c1, sh));
    }
    vst1q_u8(out, r0);
    vst1q_u8(out + 16, r1);
}

const bnc_isa_kernels bnc_kernels_neon = {.absum = absum_neon, .pack128 = pack128_neon};

void bnc_neon_act_row(const float *x, int64_t cols, int8_t *q, float *d)
{
    float32x4_t m = vdupq_n_f32(0);
    int64_t j = 0;
    for (; j + 4 <= cols; j += 4)
        m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    float amax = vmaxvq_f32(m);
    for (; j < cols; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    *d = amax / 127.0f;
    float s = amax > 0 ? 127.0f / amax : 0.0f;
    const float32x4_t vs = vdupq_n_f32(s), hi = vdupq_n_f32(127.0f), lo = vdupq_n_f32(-127.0f);
    for (j = 0; j + 16 <= cols; j += 16) {
        int32x4_t v[4];
        for (int i = 0; i < 4; i++) {
            float32x4_t f = vrndaq_f32(vmulq_f32(vld1q_f32(x + j + 4 * i), vs));
            v[i] = vcvtq_s32_f32(vminq_f32(vmaxq_f32(f, lo), hi));
        }
        int16x8_t a = vcombine_s16(vmovn_s32(v[0]), vmovn_s32(v[1]));
        int16x8_t b = vcombine_s16(vmovn_s32(v[2]), vmovn_s32(v[3]));
        vst1q_s8(q + j, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
    }
    for (; j < cols; j++) {
        float v = roundf(x[j] * s);
        q[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
    }
}
