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

/* Prefetch for a tile of n rows of rb bytes read side by side, called once
 * per 64 bytes of row offset off (docs/kernels.md, "Prefetch"). Each row of
 * a tile is a short stream (16 lines at 4096 columns), too short for the
 * hardware's stream prefetcher to train on, and software prefetches into
 * L1 are capped by L1's few outstanding misses (about 15 GB/s at DRAM
 * latency), so: a tile of at most lin_max bytes prefetches the next tile in
 * address order into L1 (n lines per call, a tile per tile: one ascending
 * stream, which the L2 prefetcher follows); a longer one prefetches
 * BNC_PF_ROW_DIST bytes ahead in each row into L2 (past the row's end, in
 * the same row of a later tile). lin_max is each kernel's measured best
 * (BNC_PF_LIN_* below; 0: always per row). */
#define BNC_PF_ROW_DIST 4096
#define BNC_PF_LIN_BITNET_AVX2 8192
#define BNC_PF_LIN_BITNET_AVX512 0
#define BNC_PF_LIN_TQ2 16384
#define BNC_PF_LIN_Q 8192

static inline __attribute__((always_inline)) void pf_tile(const uint8_t *w0, int n, int64_t rb,
                                                          int64_t off, int64_t lin_max)
{
    if (n * rb <= lin_max) {
        const char *p = (const char *)w0 + n * rb + n * off;
        for (int i = 0; i < n; i++)
            _mm_prefetch(p + 64 * i, _MM_HINT_T0);
        return;
    }
    int64_t t = off + BNC_PF_ROW_DIST, tile = 0;
    while (t >= rb) {
        t -= rb;
        tile += n * rb;
    }
    const char *p = (const char *)w0 + tile + t;
    for (int i = 0; i < n; i++)
        _mm_prefetch(p + i * rb, _MM_HINT_T1);
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

/* Multiplies every byte by 3 (mod 256): the next base-3 digit of tq1_0's
 * packed trits moves to the top. */
static inline __m256i mul3(__m256i t)
{
    return _mm256_add_epi8(t, _mm256_add_epi8(t, t));
}

/* The 8 lane sums of 8 vectors at once (a hadd tree): p[i]'s sum in lane i. */
static inline __m256i hsum8(const __m256i p[8])
{
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                            _mm256_permute2x128_si256(a, b, 0x31));
}

#endif
