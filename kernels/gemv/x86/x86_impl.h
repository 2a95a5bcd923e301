/* Internal: x86 kernels shared by gemv_avx2.c and gemv_avx512.c. Each
 * includer compiles this with its own target flags; BNC_X86_VNNI selects
 * the VNNI dot product (vpdpbusd on ymm) instead of maddubs + madd. The
 * integer sums and the float operations and their order are those of the
 * scalar reference in gemv.c. */
#ifndef BNC_X86_IMPL_H
#define BNC_X86_IMPL_H

#include <immintrin.h>
#include <string.h>

#include "gemv_impl.h"

/* acc += sum over 4-byte groups of u8 u times s8 s (|s| <= 127). */
static inline __m256i dp(__m256i acc, __m256i u, __m256i s)
{
#ifdef BNC_X86_VNNI
    /* inline asm: GCC 12 copies the accumulator around the intrinsic */
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s));
    return acc;
#else
    return _mm256_add_epi32(acc,
                            _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

static inline int32_t hsum32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline float h2f_x86(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* sum of (code - 1) * x over one 128-weight block with natural-order x;
 * returns sum code * x as lanes (the caller subtracts sum x). */
static inline __m256i blk128(__m256i acc, const uint8_t *w, const int8_t *x)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)w);
    acc = dp(acc, _mm256_and_si256(q, m3), _mm256_loadu_si256((const __m256i *)(const void *)x));
    acc = dp(acc, _mm256_and_si256(_mm256_srli_epi16(q, 2), m3),
             _mm256_loadu_si256((const __m256i *)(const void *)(x + 32)));
    acc = dp(acc, _mm256_and_si256(_mm256_srli_epi16(q, 4), m3),
             _mm256_loadu_si256((const __m256i *)(const void *)(x + 64)));
    acc = dp(acc, _mm256_and_si256(_mm256_srli_epi16(q, 6), m3),
             _mm256_loadu_si256((const __m256i *)(const void *)(x + 96)));
    return acc;
}

/* Integer sum of code * x over 128-blocks [k0, k1) of one row (the
 * caller subtracts the sum of x to get sum (code - 1) * x). */
#ifndef BNC_X86_HAVE_SEG
static int32_t bitnet_seg(const uint8_t *row, const int8_t *x, const int8_t *xp, int64_t k0,
                          int64_t k1)
{
    (void)xp;
    __m256i acc = _mm256_setzero_si256();
    for (int64_t k = k0; k < k1; k++)
        acc = blk128(acc, row + 32 * k, x + 128 * k);
    return hsum32(acc);
}
#endif

static inline void bitnet_rows_x86(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nblk = (jb->cols + 127) / 128;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        if (r + 1 < r1) _mm_prefetch((const char *)(row + jb->row_bytes), _MM_HINT_T0);
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride, *xp = a->qp + b * a->stride;
            const int32_t *xs = jb->xseg + b * jb->nseg;
            float y;
            if (jb->mode != BNC_BITNET_GROUP) {
                int32_t isum = bitnet_seg(row, x, xp, 0, nblk) - xs[0];
                float s = jb->scales[jb->mode == BNC_BITNET_ROW ? r : 0];
                y = (float)isum * s * a->d[b];
            } else {
                int64_t gb = jb->group / 128;
                float acc = 0;
                for (int64_t g = 0; g < jb->ngroups; g++) {
                    int64_t k1 = (g + 1) * gb < nblk ? (g + 1) * gb : nblk;
                    int32_t isum = bitnet_seg(row, x, xp, g * gb, k1) - xs[g];
                    acc += (float)isum * jb->scales[r * jb->ngroups + g];
                }
                y = acc * a->d[b];
            }
            jb->y[b * jb->rows + r] = y;
        }
    }
}

/* tq2_0: 66-byte blocks, the two 32-byte chunks are 128-blocks of the
 * bitnet layout. */
static inline int32_t tq2_blk(const uint8_t *blk, const int8_t *x)
{
    __m256i acc = blk128(_mm256_setzero_si256(), blk, x);
    acc = blk128(acc, blk + 32, x + 128);
    return hsum32(acc);
}

static inline void tq2_0_rows_x86(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / 256;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            const int32_t *xs = jb->xseg + b * jb->nseg;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = row + 66 * k;
                int32_t isum = tq2_blk(blk, x + 256 * k) - xs[k];
                acc += (float)isum * h2f_x86(ld16(blk + 64));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

/* tq1_0: trit n of byte b is 0, 1, 2 as (uint8)(b * 3^n) is below 86, below
 * 171, or above: the same as ((uint8)(b * 3^n) * 3) >> 8. */
static inline __m256i trits(__m256i t)
{
    __m256i ge1 = _mm256_cmpeq_epi8(_mm256_max_epu8(t, _mm256_set1_epi8((char)86)), t);
    __m256i ge2 = _mm256_cmpeq_epi8(_mm256_max_epu8(t, _mm256_set1_epi8((char)171)), t);
    return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(ge1, ge2));
}

static inline __m256i mul3(__m256i t)
{
    return _mm256_add_epi8(t, _mm256_add_epi8(t, t));
}

static inline int32_t tq1_blk(const uint8_t *blk, const int8_t *x)
{
    __m256i acc = _mm256_setzero_si256();
    __m256i t = _mm256_loadu_si256((const __m256i *)(const void *)blk);
    for (int n = 0; n < 5; n++) {
        if (n) t = mul3(t);
        acc = dp(acc, trits(t), _mm256_loadu_si256((const __m256i *)(const void *)(x + 32 * n)));
    }
    /* qs[32..47]: elements 160 + m + 16n; pair trits n, n+1 in one ymm */
    __m128i q1 = _mm_loadu_si128((const __m128i *)(const void *)(blk + 32));
    __m128i q1x3 = _mm_add_epi8(q1, _mm_add_epi8(q1, q1));
    __m256i v = _mm256_set_m128i(q1x3, q1);
    acc = dp(acc, trits(v), _mm256_loadu_si256((const __m256i *)(const void *)(x + 160)));
    v = mul3(mul3(v));
    acc = dp(acc, trits(v), _mm256_loadu_si256((const __m256i *)(const void *)(x + 192)));
    v = mul3(mul3(v)); /* low half: trit 4 of qs[32..47] */
    /* qh: byte k of the vector is qh[k % 4] * 3^(k / 4): elements 240 + k */
    uint32_t qh;
    memcpy(&qh, blk + 48, 4);
    __m128i h = _mm_set1_epi32((int)qh);
    __m128i mult = _mm_setr_epi16(1, 1, 3, 3, 9, 9, 27, 27);
    __m128i lo = _mm_and_si128(_mm_mullo_epi16(h, mult), _mm_set1_epi16(0x00ff));
    __m128i hi =
        _mm_and_si128(_mm_mullo_epi16(_mm_and_si128(h, _mm_set1_epi16((short)0xff00)), mult),
                      _mm_set1_epi16((short)0xff00));
    __m256i last = _mm256_set_m128i(_mm_or_si128(lo, hi), _mm256_castsi256_si128(v));
    acc = dp(acc, trits(last), _mm256_loadu_si256((const __m256i *)(const void *)(x + 224)));
    return hsum32(acc);
}

static inline void tq1_0_rows_x86(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / 256;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            const int32_t *xs = jb->xseg + b * jb->nseg;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = row + 54 * k;
                int32_t isum = tq1_blk(blk, x + 256 * k) - xs[k];
                acc += (float)isum * h2f_x86(ld16(blk + 52));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

/* q8_0 / q4_0: 32-weight blocks. The per-block integer sums of 8 blocks are
 * reduced together (hadd tree), converted and scaled in one vector, then
 * added to the accumulator one by one in block order. */
static inline __m256i q8_lanes(const uint8_t *blk, const int8_t *x)
{
    __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
    __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)x);
    return dp(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(xv, w));
}

static inline __m256i q4_lanes(const uint8_t *blk, const int8_t *x)
{
    __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
    __m128i m = _mm_set1_epi8(15);
    __m256i c = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    return dp(_mm256_setzero_si256(), c, _mm256_loadu_si256((const __m256i *)(const void *)x));
}

static inline __m256i hsum8(const __m256i p[8])
{
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                            _mm256_permute2x128_si256(a, b, 0x31));
}

static inline void q_rows_x86(const bnc_gemv_job *jb, int64_t r0, int64_t r1, int is4)
{
    const bnc_act *a = jb->a;
    const int bytes = is4 ? 18 : 34;
    int64_t nb = jb->cols / 32;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            const int32_t *s32 = a->sum32 + b * (a->stride / 32);
            float acc = 0;
            int64_t k = 0;
            for (; k + 8 <= nb; k += 8) {
                __m256i p[8];
                for (int i = 0; i < 8; i++)
                    p[i] = is4 ? q4_lanes(row + bytes * (k + i), x + 32 * (k + i))
                               : q8_lanes(row + bytes * (k + i), x + 32 * (k + i));
                __m256i is = hsum8(p);
                if (is4)
                    is = _mm256_sub_epi32(
                        is, _mm256_slli_epi32(
                                _mm256_loadu_si256((const __m256i *)(const void *)(s32 + k)), 3));
                const uint8_t *bk = row + bytes * k;
                __m128i dh =
                    _mm_setr_epi16((short)ld16(bk), (short)ld16(bk + bytes),
                                   (short)ld16(bk + 2 * bytes), (short)ld16(bk + 3 * bytes),
                                   (short)ld16(bk + 4 * bytes), (short)ld16(bk + 5 * bytes),
                                   (short)ld16(bk + 6 * bytes), (short)ld16(bk + 7 * bytes));
                float pr[8];
                _mm256_storeu_ps(pr, _mm256_mul_ps(_mm256_cvtepi32_ps(is), _mm256_cvtph_ps(dh)));
                for (int i = 0; i < 8; i++)
                    acc += pr[i];
            }
            for (; k < nb; k++) {
                const uint8_t *bk = row + bytes * k;
                int32_t isum = hsum32(is4 ? q4_lanes(bk, x + 32 * k) : q8_lanes(bk, x + 32 * k));
                if (is4) isum -= 8 * s32[k];
                acc += (float)isum * h2f_x86(ld16(bk));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

static inline void q8_0_rows_x86(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    q_rows_x86(jb, r0, r1, 0);
}

static inline void q4_0_rows_x86(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    q_rows_x86(jb, r0, r1, 1);
}

#endif
