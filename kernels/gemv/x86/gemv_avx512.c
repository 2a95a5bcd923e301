/* AVX-512 (F, BW, VL, VNNI) kernels; compiled with those target flags and
 * only called after bnc_isa_supported(BNC_ISA_AVX512). The bitnet and tq2_0
 * kernels use 512-bit vpdpbusd on two 128-blocks at a time against the
 * permuted activations (bnc_act.qp); the others are the shared ymm kernels
 * with VNNI. */
#define BNC_X86_VNNI 1
#define BNC_X86_HAVE_SEG 1
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static int32_t bitnet_seg(const uint8_t *row, const int8_t *x, const int8_t *xp, int64_t k0,
                          int64_t k1);

#include "x86_impl.h"

#define AI __attribute__((always_inline)) static inline
/* Prefetch: pf_tile (x86_impl.h). */

/* acc += u8 a . s8 b. Inline asm: with the intrinsic, GCC 12 copies the
 * accumulator around every vpdpbusd and spills the 4-row tile. */
AI __m512i dpz(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
    return acc;
}

/* sum code * x over 128-blocks k, k+1 (k even): 64 code bytes against the
 * 256 permuted activations of that chunk. */
AI __m512i pair256(__m512i acc, const uint8_t *w, const int8_t *xp)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    __m512i q = _mm512_loadu_si512(w);
    acc = dpz(acc, _mm512_and_si512(q, m3), _mm512_loadu_si512(xp));
    acc = dpz(acc, _mm512_and_si512(_mm512_srli_epi16(q, 2), m3), _mm512_loadu_si512(xp + 64));
    acc = dpz(acc, _mm512_and_si512(_mm512_srli_epi16(q, 4), m3), _mm512_loadu_si512(xp + 128));
    acc = dpz(acc, _mm512_and_si512(_mm512_srli_epi16(q, 6), m3), _mm512_loadu_si512(xp + 192));
    return acc;
}

/* Group mode (segments may start on an odd 128-block). */
static int32_t bitnet_seg(const uint8_t *row, const int8_t *x, const int8_t *xp, int64_t k0,
                          int64_t k1)
{
    __m256i a256 = _mm256_setzero_si256();
    int64_t k = k0;
    if (k & 1) {
        a256 = blk128(a256, row + 32 * k, x + 128 * k);
        k++;
    }
    __m512i a0 = _mm512_setzero_si512();
    for (; k + 2 <= k1; k += 2)
        a0 = pair256(a0, row + 32 * k, xp + 128 * k);
    if (k < k1) a256 = blk128(a256, row + 32 * k, x + 128 * k);
    return _mm512_reduce_add_epi32(a0) + hsum32(a256);
}

/* One scale per row or tensor: four rows at a time sharing the activation
 * loads (explicit variables, so that the 16 accumulators stay in
 * registers). The 2-bit fields are masked in place (no shifts): field n
 * then carries a factor 4^n, kept in its own accumulator and divided out
 * exactly at the end (every lane is a multiple of 4^n). */
#define DPB(acc, q, m, x) acc = dpz(acc, _mm512_and_si512(q, m), x)
#define ROW4(i)                                                                                    \
    do {                                                                                           \
        __m512i q = _mm512_loadu_si512(w##i + 64 * k);                                             \
        DPB(a##i##0, q, m0, x0);                                                                   \
        DPB(a##i##1, q, m1, x1);                                                                   \
        DPB(a##i##2, q, m2, x2);                                                                   \
        DPB(a##i##3, q, m3, x3);                                                                   \
    } while (0)

AI int32_t fold4(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    return _mm512_reduce_add_epi32(
        _mm512_add_epi32(_mm512_add_epi32(a0, _mm512_srai_epi32(a1, 2)),
                         _mm512_add_epi32(_mm512_srai_epi32(a2, 4), _mm512_srai_epi32(a3, 6))));
}

static void bitnet_tile(const bnc_gemv_job *jb, int64_t r, int nr, int64_t b)
{
    const bnc_act *a = jb->a;
    const int8_t *x = a->q + b * a->stride, *xp = a->qp + b * a->stride;
    int64_t nblk = (jb->cols + 127) / 128, np = nblk / 2;
    const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c),
                  m2 = _mm512_set1_epi8(0x30), m3 = _mm512_set1_epi8((char)0xc0);
    int32_t isum[4];
    const uint8_t *w0 = jb->w + r * jb->row_bytes, *w1 = w0 + jb->row_bytes,
                  *w2 = w1 + jb->row_bytes, *w3 = w2 + jb->row_bytes;
    if (nr == 4) {
        __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00;
        __m512i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        __m512i a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        __m512i a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int64_t k = 0; k < np; k++) {
            const int8_t *xk = xp + 256 * k;
            __m512i x0 = _mm512_load_si512(xk), x1 = _mm512_load_si512(xk + 64),
                    x2 = _mm512_load_si512(xk + 128), x3 = _mm512_load_si512(xk + 192);
            pf_tile(w0, 4, jb->row_bytes, 64 * k, BNC_PF_LIN_BITNET_AVX512);
            ROW4(0);
            ROW4(1);
            ROW4(2);
            ROW4(3);
        }
        isum[0] = fold4(a00, a01, a02, a03);
        isum[1] = fold4(a10, a11, a12, a13);
        isum[2] = fold4(a20, a21, a22, a23);
        isum[3] = fold4(a30, a31, a32, a33);
    } else {
        __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00;
        for (int64_t k = 0; k < np; k++) {
            const int8_t *xk = xp + 256 * k;
            __m512i x0 = _mm512_load_si512(xk), x1 = _mm512_load_si512(xk + 64),
                    x2 = _mm512_load_si512(xk + 128), x3 = _mm512_load_si512(xk + 192);
            ROW4(0);
        }
        isum[0] = fold4(a00, a01, a02, a03);
    }
    const uint8_t *wr[4] = {w0, w1, w2, w3};
    const int32_t xs = jb->xseg[b * jb->nseg];
    for (int i = 0; i < nr; i++) {
        int32_t t = isum[i] - xs;
        if (nblk & 1)
            t += hsum32(
                blk128(_mm256_setzero_si256(), wr[i] + 32 * (nblk - 1), x + 128 * (nblk - 1)));
        float s = jb->scales[jb->mode == BNC_BITNET_ROW ? r + i : 0];
        jb->y[b * jb->rows + r + i] = (float)t * s * a->d[b];
    }
}

static void bitnet_rows_512(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    if (jb->mode == BNC_BITNET_GROUP) {
        bitnet_rows_x86(jb, r0, r1);
        return;
    }
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        for (int64_t b = 0; b < jb->a->batch; b++)
            bitnet_tile(jb, r, 4, b);
    for (; r < r1; r++)
        for (int64_t b = 0; b < jb->a->batch; b++)
            bitnet_tile(jb, r, 1, b);
}

/* tq2_0: the 64 code bytes of a block are two 128-blocks of the bitnet
 * layout. Four rows at a time; their per-block sums are reduced together
 * and scaled in one vector, then added to each row's float sum in block
 * order (the reference's order). */
AI __m256i tq2_acc(const uint8_t *q8, __m512i x0, __m512i x1, __m512i x2, __m512i x3)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    __m512i q = _mm512_loadu_si512(q8);
    __asm__("" : "+v"(q)); /* one (line-splitting) load, not one per field */
    __m512i acc = dpz(_mm512_setzero_si512(), _mm512_and_si512(q, m3), x0);
    acc = dpz(acc, _mm512_and_si512(_mm512_srli_epi16(q, 2), m3), x1);
    acc = dpz(acc, _mm512_and_si512(_mm512_srli_epi16(q, 4), m3), x2);
    acc = dpz(acc, _mm512_and_si512(_mm512_srli_epi16(q, 6), m3), x3);
    return _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
}

static void tq2_tile(const bnc_gemv_job *jb, int64_t r, int nr, int64_t b)
{
    const bnc_act *a = jb->a;
    const int8_t *xp = a->qp + b * a->stride;
    const int32_t *xs = jb->xseg + b * jb->nseg;
    int64_t nb = jb->cols / 256;
    const uint8_t *w0 = jb->w + r * jb->row_bytes, *w1 = w0 + jb->row_bytes,
                  *w2 = w1 + jb->row_bytes, *w3 = w2 + jb->row_bytes;
    float *y = jb->y + b * jb->rows + r;
    if (nr == 4) {
        /* lane i of facc is row i's float sum: each lane adds its blocks in
         * order, as the reference does for each row */
        __m128 facc = _mm_setzero_ps();
        /* The fp16 scales of block k + 1 are loaded during block k: they
         * often sit in the next cache line, and their load was the hottest
         * stall in the profile (23% of the samples); this took tq2_0 from
         * 0.6 to 0.75-0.9 of the read bandwidth (1 thread). */
#define DH4(k)                                                                                     \
    _mm_setr_epi16((short)ld16(w0 + 66 * (k) + 64), (short)ld16(w1 + 66 * (k) + 64),               \
                   (short)ld16(w2 + 66 * (k) + 64), (short)ld16(w3 + 66 * (k) + 64), 0, 0, 0, 0)
        __m128i dnext = nb > 0 ? DH4(0) : _mm_setzero_si128();
        for (int64_t k = 0; k < nb; k++) {
            __m128i dh = dnext;
            if (k + 1 < nb) dnext = DH4(k + 1);
            const int8_t *xk = xp + 256 * k;
            __m512i x0 = _mm512_load_si512(xk), x1 = _mm512_load_si512(xk + 64),
                    x2 = _mm512_load_si512(xk + 128), x3 = _mm512_load_si512(xk + 192);
            pf_tile(w0, 4, jb->row_bytes, 66 * k, BNC_PF_LIN_TQ2);
            __m256i h0 = tq2_acc(w0 + 66 * k, x0, x1, x2, x3);
            __m256i h1 = tq2_acc(w1 + 66 * k, x0, x1, x2, x3);
            __m256i h2 = tq2_acc(w2 + 66 * k, x0, x1, x2, x3);
            __m256i h3 = tq2_acc(w3 + 66 * k, x0, x1, x2, x3);
            __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(h0, h1), _mm256_hadd_epi32(h2, h3));
            __m128i is = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
            is = _mm_sub_epi32(is, _mm_set1_epi32(xs[k]));
            facc = _mm_add_ps(facc, _mm_mul_ps(_mm_cvtepi32_ps(is), _mm_cvtph_ps(dh)));
        }
#undef DH4
        _mm_storeu_ps(y, _mm_mul_ps(facc, _mm_set1_ps(a->d[b])));
        return;
    }
    float f0 = 0;
    for (int64_t k = 0; k < nb; k++) {
        const int8_t *xk = xp + 256 * k;
        __m256i h0 = tq2_acc(w0 + 66 * k, _mm512_load_si512(xk), _mm512_load_si512(xk + 64),
                             _mm512_load_si512(xk + 128), _mm512_load_si512(xk + 192));
        f0 += (float)(hsum32(h0) - xs[k]) * h2f_x86(ld16(w0 + 66 * k + 64));
    }
    y[0] = f0 * a->d[b];
}

static void tq2_0_rows_512(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        for (int64_t b = 0; b < jb->a->batch; b++)
            tq2_tile(jb, r, 4, b);
    for (; r < r1; r++)
        for (int64_t b = 0; b < jb->a->batch; b++)
            tq2_tile(jb, r, 1, b);
}

static double absum_avx512(const float *x, int64_t n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm512_add_pd(a0, _mm512_abs_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i))));
        a1 = _mm512_add_pd(a1, _mm512_abs_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8))));
    }
    double lane[16];
    _mm512_storeu_pd(lane, a0);
    _mm512_storeu_pd(lane + 8, a1);
    for (int l = 0; i < n; i++, l++)
        lane[l] += __builtin_fabs((double)x[i]);
    double s = 0;
    for (int l = 0; l < 16; l++)
        s += lane[l];
    return s;
}

static void pack128_avx512(const float *x, int64_t n, float inv, uint8_t *out)
{
    float tmp[128];
    if (n < 128) {
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, x, (size_t)n * sizeof *x);
        x = tmp;
    }
    const __m512 vi = _mm512_set1_ps(inv), hp = _mm512_set1_ps(0.5f), hn = _mm512_set1_ps(-0.5f);
    const __m256i one = _mm256_set1_epi8(1);
    __m256i res = _mm256_setzero_si256();
    for (int g = 0; g < 4; g++) {
        __m512 v0 = _mm512_mul_ps(_mm512_loadu_ps(x + 32 * g), vi);
        __m512 v1 = _mm512_mul_ps(_mm512_loadu_ps(x + 32 * g + 16), vi);
        __mmask32 P = _mm512_kunpackw(_mm512_cmp_ps_mask(v1, hp, _CMP_GE_OQ),
                                      _mm512_cmp_ps_mask(v0, hp, _CMP_GE_OQ));
        __mmask32 N = _mm512_kunpackw(_mm512_cmp_ps_mask(v1, hn, _CMP_LE_OQ),
                                      _mm512_cmp_ps_mask(v0, hn, _CMP_LE_OQ));
        /* code = 1 + [x >= .5] - [x <= -.5], placed at bits 2g */
        __m256i c = _mm256_mask_add_epi8(one, P, one, one);
        c = _mm256_mask_sub_epi8(c, N, c, one);
        res = _mm256_or_si256(res, _mm256_slli_epi16(c, 2 * g));
    }
    _mm256_storeu_si256((__m256i *)(void *)out, res);
}

const bnc_isa_kernels bnc_kernels_avx512 = {.absum = absum_avx512, .pack128 = pack128_avx512};

/* The GEMV row kernels the scheme table names for BNC_ISA_AVX512. */
/* clang-format off */
BNC_ROWS_EXPORT(avx512, bitnet, bitnet_rows_512)
BNC_ROWS_EXPORT(avx512, tq2_0, tq2_0_rows_512)
/* clang-format on */
