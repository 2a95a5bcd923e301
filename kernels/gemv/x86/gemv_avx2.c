/* AVX2 (+FMA, F16C) kernels; compiled with -mavx2 -mfma -mf16c and only
 * called after bnc_isa_supported(BNC_ISA_AVX2). */
#include "bitnet_1pass.h"
#include "x86_impl.h"

static double absum_avx2(const float *x, int64_t n)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_pd(a0, _mm256_andnot_pd(sign, _mm256_cvtps_pd(_mm_loadu_ps(x + i))));
        a1 = _mm256_add_pd(a1, _mm256_andnot_pd(sign, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4))));
        a2 = _mm256_add_pd(a2, _mm256_andnot_pd(sign, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8))));
        a3 = _mm256_add_pd(a3, _mm256_andnot_pd(sign, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12))));
    }
    double lane[16];
    _mm256_storeu_pd(lane, a0);
    _mm256_storeu_pd(lane + 4, a1);
    _mm256_storeu_pd(lane + 8, a2);
    _mm256_storeu_pd(lane + 12, a3);
    for (int l = 0; i < n; i++, l++)
        lane[l] += __builtin_fabs((double)x[i]);
    double s = 0;
    for (int l = 0; l < 16; l++)
        s += lane[l];
    return s;
}

/* -1 where x * inv >= 0.5 (round gives +1), as 8 int32 lanes. */
static inline __m256i ge(const float *x, __m256 inv, __m256 th)
{
    return _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_mul_ps(_mm256_loadu_ps(x), inv), th, _CMP_GE_OQ));
}

static inline __m256i le(const float *x, __m256 inv, __m256 th)
{
    return _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_mul_ps(_mm256_loadu_ps(x), inv), th, _CMP_LE_OQ));
}

/* 32 int32 masks (4 vectors) to 32 bytes in element order. */
static inline __m256i pack_masks(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void pack128_avx2(const float *x, int64_t n, float inv, uint8_t *out)
{
    float tmp[128];
    if (n < 128) {
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, x, (size_t)n * sizeof *x);
        x = tmp;
    }
    const __m256 vi = _mm256_set1_ps(inv), hp = _mm256_set1_ps(0.5f), hn = _mm256_set1_ps(-0.5f);
    const __m256i one = _mm256_set1_epi8(1);
    __m256i res = _mm256_setzero_si256();
    for (int g = 0; g < 4; g++) {
        const float *p = x + 32 * g;
        __m256i P =
            pack_masks(ge(p, vi, hp), ge(p + 8, vi, hp), ge(p + 16, vi, hp), ge(p + 24, vi, hp));
        __m256i N =
            pack_masks(le(p, vi, hn), le(p + 8, vi, hn), le(p + 16, vi, hn), le(p + 24, vi, hn));
        __m256i c = _mm256_add_epi8(_mm256_sub_epi8(one, P), N);
        res = _mm256_or_si256(res, _mm256_sll_epi16(c, _mm_cvtsi32_si128(2 * g)));
    }
    _mm256_storeu_si256((__m256i *)(void *)out, res);
}

/* The one-pass tensor quantizer's chunk (bitnet_1pass.h): |x| summed in
 * the 16 double lanes of absum_avx2; per 128-block the codes by comparing
 * x with +-tlo, and the elements with thi <= |x| < tlo listed. */
double bnc_avx2_bitnet_spec_chunk(const float *x, int64_t n, float tlo, float thi, uint8_t *codes,
                                  uint32_t *uidx, float *uval, int64_t cap, int64_t *nunc)
{
    const __m256 vtlo = _mm256_set1_ps(tlo), vthi = _mm256_set1_ps(thi);
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i one = _mm256_set1_epi8(1);
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t cnt = 0;
    for (int64_t blk = 0; blk < n; blk += 128) {
        __m256i res = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            /* M[v]: -1 where x >= tlo, +1 where x <= -tlo, 0 elsewhere
             * (the mask |x| >= tlo with x's sign flipped in): few live
             * vectors, so the four double sums stay in registers */
            __m256i M[4];
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) {
                int64_t o = blk + 32 * g + 8 * v;
                __m256 xv = _mm256_loadu_ps(x + o), ax = _mm256_and_ps(xv, absm);
                __m256d dl = _mm256_cvtps_pd(_mm256_castps256_ps128(ax));
                __m256d dh = _mm256_cvtps_pd(_mm256_extractf128_ps(ax, 1));
                if (v & 1) { /* lanes 8..15 */
                    a2 = _mm256_add_pd(a2, dl);
                    a3 = _mm256_add_pd(a3, dh);
                } else {
                    a0 = _mm256_add_pd(a0, dl);
                    a1 = _mm256_add_pd(a1, dh);
                }
                __m256 big = _mm256_cmp_ps(ax, vtlo, _CMP_GE_OQ);
                __m256 und = _mm256_andnot_ps(big, _mm256_cmp_ps(ax, vthi, _CMP_GE_OQ));
                unsigned um = (unsigned)_mm256_movemask_ps(und);
                while (__builtin_expect(um != 0, 0)) {
                    int bit = __builtin_ctz(um);
                    um &= um - 1;
                    if (cnt < cap) {
                        uidx[cnt] = (uint32_t)(o + bit);
                        uval[cnt] = x[o + bit];
                    }
                    cnt++;
                }
                M[v] = _mm256_sign_epi32(_mm256_castps_si256(big), _mm256_castps_si256(xv));
            }
            /* code = 1 + [x >= tlo] - [x <= -tlo] = 1 - M */
            __m256i c = _mm256_sub_epi8(one, pack_masks(M[0], M[1], M[2], M[3]));
            res = _mm256_or_si256(res, _mm256_sll_epi16(c, _mm_cvtsi32_si128(2 * g)));
        }
        _mm256_storeu_si256((__m256i *)(void *)(codes + blk / 4), res);
    }
    *nunc = cnt > cap ? cap + 1 : cnt;
    double lane[16];
    _mm256_storeu_pd(lane, a0);
    _mm256_storeu_pd(lane + 4, a1);
    _mm256_storeu_pd(lane + 8, a2);
    _mm256_storeu_pd(lane + 12, a3);
    double sum = 0;
    for (int l = 0; l < 16; l++)
        sum += lane[l];
    return sum;
}

const bnc_isa_kernels bnc_kernels_avx2 = {.absum = absum_avx2, .pack128 = pack128_avx2};

/* ---- GEMV ------------------------------------------------------------------
 * Tuned for one thread reading DRAM (docs/kernels.md, "Profiles"): rows in
 * tiles that share the activation loads and give the memory system several
 * streams, software prefetch that the memory system can follow (pf_tile in
 * x86_impl.h; docs/kernels.md, "Prefetch on Zen 4"), and as few
 * vector uops per weight byte as the exact integer sums allow. */

#define AI __attribute__((always_inline)) static inline
/* Prefetch: the tiles use pf_tile (x86_impl.h); tq1_0 reads one row at a
 * time and prefetches PF_DIST bytes ahead in it. */
#define PF_DIST 2048

AI __m256i ld256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* One 128-block of the bitnet layout (32 code bytes, byte m holding
 * elements m + 32n in bits 2n..2n+1) against natural-order x, added to the
 * int16 lanes of acc: fields 0 and 2 are q & 3 and (q >> 4) & 3, fields 1
 * and 3 are masked in place (q & 0xc, (q >> 4) & 0xc: four times the code,
 * their products then shifted back, exactly: each is a multiple of 4), so
 * one shift serves four fields. A lane grows by at most 4 * 2 * 3 * 127 =
 * 3048 per block (codes up to 3: any bytes are exact), so four blocks fit
 * in int16 before widen. */
AI __m256i blk128_16(__m256i acc, const uint8_t *w, const int8_t *x)
{
    const __m256i m3 = _mm256_set1_epi8(3), mc = _mm256_set1_epi8(0x0c);
    __m256i q = ld256(w), q4 = _mm256_srli_epi16(q, 4);
    __m256i a = _mm256_maddubs_epi16(_mm256_and_si256(q, m3), ld256(x));
    __m256i b = _mm256_maddubs_epi16(_mm256_and_si256(q, mc), ld256(x + 32));
    __m256i c = _mm256_maddubs_epi16(_mm256_and_si256(q4, m3), ld256(x + 64));
    __m256i d = _mm256_maddubs_epi16(_mm256_and_si256(q4, mc), ld256(x + 96));
    acc = _mm256_add_epi16(acc, _mm256_add_epi16(a, c));
    return _mm256_add_epi16(acc, _mm256_srai_epi16(_mm256_add_epi16(b, d), 2));
}

/* int16 lanes to 8 int32 lanes (pairs added). */
AI __m256i widen(__m256i acc)
{
    return _mm256_madd_epi16(acc, _mm256_set1_epi16(1));
}

/* The lane sums of four vectors: lane i of the result is the sum of t_i. */
AI __m128i reduce4(__m256i t0, __m256i t1, __m256i t2, __m256i t3)
{
    __m256i c = _mm256_hadd_epi32(_mm256_hadd_epi32(t0, t1), _mm256_hadd_epi32(t2, t3));
    return _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
}

#define PF4(off, lin) pf_tile(w0, 4, rb, off, lin)
#define BLK4(k)                                                                                    \
    do {                                                                                           \
        const int8_t *xk = x + 128 * (k);                                                          \
        c0 = blk128_16(c0, w0 + 32 * (k), xk);                                                     \
        c1 = blk128_16(c1, w1 + 32 * (k), xk);                                                     \
        c2 = blk128_16(c2, w2 + 32 * (k), xk);                                                     \
        c3 = blk128_16(c3, w3 + 32 * (k), xk);                                                     \
        __asm__("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3));                                      \
    } while (0)

/* sum code * x over the 128-blocks [k0, k1) of four rows (lane i: row i),
 * four blocks (two cache lines of each row) per step. */
AI __m128i seg4(const uint8_t *w0, const uint8_t *w1, const uint8_t *w2, const uint8_t *w3,
                const int8_t *x, int64_t k0, int64_t k1, int pf, int64_t rb)
{
    __m128i acc = _mm_setzero_si128();
    int64_t k = k0;
    for (; k + 4 <= k1; k += 4) {
        __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
        if (pf) {
            PF4(32 * k, BNC_PF_LIN_BITNET_AVX2);
            PF4(32 * k + 64, BNC_PF_LIN_BITNET_AVX2);
        }
        BLK4(k);
        BLK4(k + 1);
        BLK4(k + 2);
        BLK4(k + 3);
        acc = _mm_add_epi32(acc, reduce4(widen(c0), widen(c1), widen(c2), widen(c3)));
    }
    if (k < k1) { /* short segments (groups of 128 or 256 columns) come here */
        __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
        for (; k < k1; k++) {
            if (pf && !(k & 1)) PF4(32 * k, BNC_PF_LIN_BITNET_AVX2);
            BLK4(k);
        }
        acc = _mm_add_epi32(acc, reduce4(widen(c0), widen(c1), widen(c2), widen(c3)));
    }
    return acc;
}

/* Rows r .. r + nr - 1 (nr <= 4; a short tile computes its last row in the
 * missing lanes and stores only nr). */
static void bitnet_tile(const bnc_gemv_job *jb, int64_t r, int nr)
{
    const bnc_act *a = jb->a;
    int64_t nblk = (jb->cols + 127) / 128;
    const uint8_t *w[4];
    for (int i = 0; i < 4; i++)
        w[i] = jb->w + (r + (i < nr ? i : nr - 1)) * jb->row_bytes;
    for (int64_t b = 0; b < a->batch; b++) {
        const int8_t *x = a->q + b * a->stride;
        const int32_t *xs = jb->xseg + b * jb->nseg;
        float y[4];
        if (jb->mode != BNC_BITNET_GROUP) {
            __m128i is = seg4(w[0], w[1], w[2], w[3], x, 0, nblk, b == 0, jb->row_bytes);
            is = _mm_sub_epi32(is, _mm_set1_epi32(xs[0]));
            __m128 s;
            if (jb->mode == BNC_BITNET_ROW)
                s = _mm_setr_ps(jb->scales[r], jb->scales[r + (nr > 1)],
                                jb->scales[r + (nr > 2 ? 2 : nr - 1)],
                                jb->scales[r + (nr > 3 ? 3 : nr - 1)]);
            else
                s = _mm_set1_ps(jb->scales[0]);
            /* (float)isum * s * d, in that order */
            _mm_storeu_ps(y, _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(is), s), _mm_set1_ps(a->d[b])));
        } else {
            int64_t gb = jb->group / 128, ng = jb->ngroups;
            const float *s0 = jb->scales + r * ng;
            const float *sc[4];
            for (int i = 0; i < 4; i++)
                sc[i] = s0 + (i < nr ? i : nr - 1) * ng;
            __m128 acc = _mm_setzero_ps();
            for (int64_t g = 0; g < ng; g++) {
                int64_t k1 = (g + 1) * gb < nblk ? (g + 1) * gb : nblk;
                __m128i is = seg4(w[0], w[1], w[2], w[3], x, g * gb, k1, b == 0, jb->row_bytes);
                is = _mm_sub_epi32(is, _mm_set1_epi32(xs[g]));
                __m128 s = _mm_setr_ps(sc[0][g], sc[1][g], sc[2][g], sc[3][g]);
                acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(is), s));
            }
            _mm_storeu_ps(y, _mm_mul_ps(acc, _mm_set1_ps(a->d[b])));
        }
        for (int i = 0; i < nr; i++)
            jb->y[b * jb->rows + r + i] = y[i];
    }
}

static void bitnet_rows_avx2(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        bitnet_tile(jb, r, 4);
    if (r < r1) bitnet_tile(jb, r, (int)(r1 - r));
}

/* tq2_0: four rows; per 256-block the two 128-blocks of each row into int16
 * lanes, their sums reduced together, scaled by the four fp16 scales in one
 * vector and added to each row's lane in block order. */
static void tq2_tile(const bnc_gemv_job *jb, int64_t r, int nr)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / 256;
    const uint8_t *w0, *w1, *w2, *w3;
    w0 = jb->w + r * jb->row_bytes;
    w1 = jb->w + (r + (nr > 1)) * jb->row_bytes;
    w2 = jb->w + (r + (nr > 2 ? 2 : nr - 1)) * jb->row_bytes;
    w3 = jb->w + (r + (nr > 3 ? 3 : nr - 1)) * jb->row_bytes;
    for (int64_t b = 0; b < a->batch; b++) {
        const int8_t *x = a->q + b * a->stride;
        const int32_t *xs = jb->xseg + b * jb->nseg;
        __m128 facc = _mm_setzero_ps();
#define DH4(k)                                                                                     \
    _mm_setr_epi16((short)ld16(w0 + 66 * (k) + 64), (short)ld16(w1 + 66 * (k) + 64),               \
                   (short)ld16(w2 + 66 * (k) + 64), (short)ld16(w3 + 66 * (k) + 64), 0, 0, 0, 0)
        __m128i dnext = nb > 0 ? DH4(0) : _mm_setzero_si128();
        for (int64_t k = 0; k < nb; k++) {
            __m128i dh = dnext;
            if (k + 1 < nb) dnext = DH4(k + 1);
            if (b == 0) {
                const int64_t rb = jb->row_bytes;
                PF4(66 * k, BNC_PF_LIN_TQ2);
            }
            const int8_t *xk = x + 256 * k;
            __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
            c0 = blk128_16(blk128_16(c0, w0 + 66 * k, xk), w0 + 66 * k + 32, xk + 128);
            c1 = blk128_16(blk128_16(c1, w1 + 66 * k, xk), w1 + 66 * k + 32, xk + 128);
            c2 = blk128_16(blk128_16(c2, w2 + 66 * k, xk), w2 + 66 * k + 32, xk + 128);
            c3 = blk128_16(blk128_16(c3, w3 + 66 * k, xk), w3 + 66 * k + 32, xk + 128);
            __m128i is = reduce4(widen(c0), widen(c1), widen(c2), widen(c3));
            is = _mm_sub_epi32(is, _mm_set1_epi32(xs[k]));
            facc = _mm_add_ps(facc, _mm_mul_ps(_mm_cvtepi32_ps(is), _mm_cvtph_ps(dh)));
        }
#undef DH4
        float y[4];
        _mm_storeu_ps(y, _mm_mul_ps(facc, _mm_set1_ps(a->d[b])));
        for (int i = 0; i < nr; i++)
            jb->y[b * jb->rows + r + i] = y[i];
    }
}

static void tq2_0_rows_avx2(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        tq2_tile(jb, r, 4);
    if (r < r1) tq2_tile(jb, r, (int)(r1 - r));
}

/* q8_0 / q4_0: eight rows, lane i of the float accumulator is row i. Per
 * 32-block each row's products go to 8 int32 lanes, the eight rows' lanes
 * are reduced together (hsum8), scaled by the eight fp16 scales and added
 * to the rows' lanes in block order. */
AI __m256i q8_p(const uint8_t *blk, __m256i xv)
{
    __m256i w = ld256(blk + 2);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(xv, w)),
                             _mm256_set1_epi16(1));
}

/* q4_0: the 16 bytes in both halves (a broadcast load), the high half
 * shifted by 4, masked: low nibbles then high nibbles, elements 0..31. */
AI __m256i q4_p(const uint8_t *blk, __m256i xv)
{
    __m256i q =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(blk + 2)));
    q = _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)),
                         _mm256_set1_epi8(15));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), _mm256_set1_epi16(1));
}

AI void q_tile(const bnc_gemv_job *jb, int64_t r, int nr, int is4)
{
    const bnc_act *a = jb->a;
    const int64_t bytes = is4 ? 18 : 34;
    int64_t nb = jb->cols / 32;
    const uint8_t *w[8];
    for (int i = 0; i < 8; i++)
        w[i] = jb->w + (r + (i < nr ? i : nr - 1)) * jb->row_bytes;
    for (int64_t b = 0; b < a->batch; b++) {
        const int8_t *x = a->q + b * a->stride;
        const int32_t *s32 = a->sum32 + b * (a->stride / 32);
        __m256 facc = _mm256_setzero_ps();
        for (int64_t k = 0; k < nb; k++) {
            const int64_t o = bytes * k;
            /* one call per 68 (q8_0) or 72 (q4_0) bytes of row, about a line */
            if (b == 0 && (is4 ? (k & 3) == 0 : (k & 1) == 0))
                pf_tile(w[0], 8, jb->row_bytes, o, BNC_PF_LIN_Q);
            __m256i xv = ld256(x + 32 * k);
            __m256i p[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                p[i] = is4 ? q4_p(w[i] + o, xv) : q8_p(w[i] + o, xv);
            __m256i is = hsum8(p);
            if (is4) is = _mm256_sub_epi32(is, _mm256_set1_epi32(8 * s32[k]));
            __m128i dh =
                _mm_setr_epi16((short)ld16(w[0] + o), (short)ld16(w[1] + o), (short)ld16(w[2] + o),
                               (short)ld16(w[3] + o), (short)ld16(w[4] + o), (short)ld16(w[5] + o),
                               (short)ld16(w[6] + o), (short)ld16(w[7] + o));
            facc = _mm256_add_ps(facc, _mm256_mul_ps(_mm256_cvtepi32_ps(is), _mm256_cvtph_ps(dh)));
        }
        float y[8];
        _mm256_storeu_ps(y, _mm256_mul_ps(facc, _mm256_set1_ps(a->d[b])));
        for (int i = 0; i < nr; i++)
            jb->y[b * jb->rows + r + i] = y[i];
    }
}

static void q8_0_rows_avx2(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8)
        q_tile(jb, r, 8, 0);
    if (r < r1) q_tile(jb, r, (int)(r1 - r), 0);
}

static void q4_0_rows_avx2(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8)
        q_tile(jb, r, 8, 1);
    if (r < r1) q_tile(jb, r, (int)(r1 - r), 1);
}

/* tq1_0: trit n of byte b is floor(3 * (uint8)(b * 3^n) / 256), that is
 * [t >= 86] + [t >= 171] for t = (uint8)(b * 3^n): two signed compares of
 * u = t ^ 0x80. Multiplying by 3 keeps the offset ((t ^ 0x80) * 3 =
 * (3t) ^ 0x80 mod 256), so each byte vector is flipped once and the next
 * digits come from u by mul3. The products go to int16 lanes (a block adds
 * at most 8 * 2 * 2 * 127 = 4064 per lane), widened once per block; the
 * per-block sums of 8 blocks are reduced together (hsum8) and scaled in
 * one vector, then added to the accumulator one by one in block order, as
 * the scalar reference does. */
AI __m256i trits_u(__m256i u)
{
    __m256i g1 = _mm256_cmpgt_epi8(u, _mm256_set1_epi8(85 - 128));
    __m256i g2 = _mm256_cmpgt_epi8(u, _mm256_set1_epi8(170 - 128));
    return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(g1, g2));
}

AI __m256i tq1_acc(__m256i acc, __m256i u, const int8_t *x)
{
    return _mm256_add_epi16(acc, _mm256_maddubs_epi16(trits_u(u), ld256(x)));
}

/* The block's 8 int32 lane sums of trit * x (trits 0..2). */
AI __m256i tq1_lanes(const uint8_t *blk, const int8_t *x)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m256i u = _mm256_xor_si256(ld256(blk), flip);
    __m256i a0 = tq1_acc(_mm256_setzero_si256(), u, x);
    u = mul3(u);
    __m256i a1 = tq1_acc(_mm256_setzero_si256(), u, x + 32);
    u = mul3(u);
    a0 = tq1_acc(a0, u, x + 64);
    u = mul3(u);
    a1 = tq1_acc(a1, u, x + 96);
    u = mul3(u);
    a0 = tq1_acc(a0, u, x + 128);
    /* qs[32..47]: elements 160 + m + 16n; trits n, n+1 in one ymm */
    __m128i q1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(blk + 32)),
                               _mm256_castsi256_si128(flip));
    __m128i q1x3 = _mm_add_epi8(q1, _mm_add_epi8(q1, q1));
    __m256i v = _mm256_set_m128i(q1x3, q1);
    a1 = tq1_acc(a1, v, x + 160);
    v = mul3(mul3(v));
    a0 = tq1_acc(a0, v, x + 192);
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
    __m128i last_hi = _mm_xor_si128(_mm_or_si128(lo, hi), _mm256_castsi256_si128(flip));
    __m256i last = _mm256_set_m128i(last_hi, _mm256_castsi256_si128(v));
    a1 = tq1_acc(a1, last, x + 224);
    return _mm256_madd_epi16(_mm256_add_epi16(a0, a1), _mm256_set1_epi16(1));
}

static void tq1_0_rows_avx2(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / 256;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            const int32_t *xs = jb->xseg + b * jb->nseg;
            float acc = 0;
            int64_t k = 0;
            for (; k + 8 <= nb; k += 8) {
                __m256i p[8];
                const uint8_t *bk = row + 54 * k;
                if (b == 0) {
                    _mm_prefetch((const char *)(bk + PF_DIST), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + PF_DIST + 64), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + PF_DIST + 128), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + PF_DIST + 192), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + PF_DIST + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + PF_DIST + 320), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + PF_DIST + 384), _MM_HINT_T0);
                }
                for (int i = 0; i < 8; i++)
                    p[i] = tq1_lanes(bk + 54 * i, x + 256 * (k + i));
                __m256i is = _mm256_sub_epi32(
                    hsum8(p), _mm256_loadu_si256((const __m256i *)(const void *)(xs + k)));
                __m128i dh = _mm_setr_epi16((short)ld16(bk + 52), (short)ld16(bk + 54 + 52),
                                            (short)ld16(bk + 108 + 52), (short)ld16(bk + 162 + 52),
                                            (short)ld16(bk + 216 + 52), (short)ld16(bk + 270 + 52),
                                            (short)ld16(bk + 324 + 52), (short)ld16(bk + 378 + 52));
                float pr[8];
                _mm256_storeu_ps(pr, _mm256_mul_ps(_mm256_cvtepi32_ps(is), _mm256_cvtph_ps(dh)));
                for (int i = 0; i < 8; i++)
                    acc += pr[i];
            }
            for (; k < nb; k++) {
                const uint8_t *blk = row + 54 * k;
                int32_t isum = hsum32(tq1_lanes(blk, x + 256 * k)) - xs[k];
                acc += (float)isum * h2f_x86(ld16(blk + 52));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
    }
}

/* The GEMV row kernels the scheme table names for BNC_ISA_AVX2. */
/* clang-format off */
BNC_ROWS_EXPORT(avx2, bitnet, bitnet_rows_avx2)
BNC_ROWS_EXPORT(avx2, tq2_0, tq2_0_rows_avx2)
BNC_ROWS_EXPORT(avx2, tq1_0, tq1_0_rows_avx2)
BNC_ROWS_EXPORT(avx2, q8_0, q8_0_rows_avx2)
BNC_ROWS_EXPORT(avx2, q4_0, q4_0_rows_avx2)
/* clang-format on */
