/* Lookup-table GEMV for the bitnet schemes (T-MAC style), AVX-512BW, kept
 * to measure against the unpack-and-multiply kernels (gemv_avx512.c).
 *
 * Layout (bnc_bitnet_lut_pack): rows in tiles of 64; for each tile and each
 * column quad q (columns 4q..4q+3) 64 bytes, byte i for row 64t + i holding
 * the pattern index of columns (4q, 4q+1) in its low nibble and of
 * (4q+2, 4q+3) in its high nibble, index = 3 * code_a + code_b (codes
 * t + 1). Then the f32 scales as in the bitnet layout.
 * Per GEMV each column pair p gets a 16-entry int16 table T_p[3a + b] =
 * (a - 1) x_2p + (b - 1) x_2p+1, split into low and high bytes; vpshufb
 * looks up 64 rows at once, unpack joins the bytes into int16 sums. The
 * integer sums are exact, so y equals the scalar reference bitwise. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_impl.h"

typedef struct lut_job {
    const uint8_t *w;
    const float *scales;
    int per_row;
    int64_t rows, cols, nq, ntiles;
    const bnc_act *a;
    const uint8_t *tab; /* batch x (cols/2 pairs) x 32 bytes: 16 low, 16 high */
    const int32_t *xsum_unused;
    float *y;
} lut_job;

static void lut_tile(const lut_job *j, int64_t t, int64_t b)
{
    const uint8_t *tw = j->w + t * j->nq * 64;
    const uint8_t *tab = j->tab + b * (j->nq * 2) * 32;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t q0 = 0; q0 < j->nq; q0 += 64) {
        int64_t q1 = q0 + 64 < j->nq ? q0 + 64 : j->nq;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0;
        for (int64_t q = q0; q < q1; q++) {
            __m512i w = _mm512_loadu_si512(tw + 64 * q);
            __m512i lo = _mm512_and_si512(w, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
            const uint8_t *tp = tab + 64 * q;
            __m512i tl0 =
                _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)tp));
            __m512i th0 =
                _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(tp + 16)));
            __m512i tl1 =
                _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(tp + 32)));
            __m512i th1 =
                _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(tp + 48)));
            __m512i l0 = _mm512_shuffle_epi8(tl0, lo), h0 = _mm512_shuffle_epi8(th0, lo);
            __m512i l1 = _mm512_shuffle_epi8(tl1, hi), h1 = _mm512_shuffle_epi8(th1, hi);
            a0 = _mm512_add_epi16(
                a0, _mm512_add_epi16(_mm512_unpacklo_epi8(l0, h0), _mm512_unpacklo_epi8(l1, h1)));
            a1 = _mm512_add_epi16(
                a1, _mm512_add_epi16(_mm512_unpackhi_epi8(l0, h0), _mm512_unpackhi_epi8(l1, h1)));
        }
        /* at most 64 quads: |sum| <= 64 * 2 * 254 < 32768 */
        s0 = _mm512_add_epi32(s0, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(a0)));
        s1 = _mm512_add_epi32(s1, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(a0, 1)));
        s2 = _mm512_add_epi32(s2, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(a1)));
        s3 = _mm512_add_epi32(s3, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(a1, 1)));
    }
    int32_t v[4][16];
    _mm512_storeu_si512(v[0], s0);
    _mm512_storeu_si512(v[1], s1);
    _mm512_storeu_si512(v[2], s2);
    _mm512_storeu_si512(v[3], s3);
    /* v[0]: rows 0-7, 16-23; v[1]: 32-39, 48-55; v[2]: 8-15, 24-31; v[3]: 40-47, 56-63 */
    static const int base[4][2] = {{0, 16}, {32, 48}, {8, 24}, {40, 56}};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 16; i++) {
            int64_t r = t * 64 + base[k][i / 8] + i % 8;
            if (r < j->rows) {
                float s = j->scales[j->per_row ? r : 0];
                j->y[b * j->rows + r] = (float)v[k][i] * s * j->a->d[b];
            }
        }
}

static void lut_run(void *arg, int tid, int nth)
{
    const lut_job *j = arg;
    int64_t t0 = j->ntiles * tid / nth, t1 = j->ntiles * (tid + 1) / nth;
    for (int64_t t = t0; t < t1; t++)
        for (int64_t b = 0; b < j->a->batch; b++)
            lut_tile(j, t, b);
}

size_t bnc_bitnet_lut_bytes(int mode, int64_t rows, int64_t cols)
{
    if (rows < 1 || cols < 1 || mode == BNC_BITNET_GROUP) return 0;
    int64_t nq = (cols + 3) / 4, nt = (rows + 63) / 64;
    return (size_t)(nt * nq * 64) + (size_t)(mode == BNC_BITNET_ROW ? rows : 1) * sizeof(float);
}

int bnc_bitnet_lut_pack(const void *w, size_t wbytes, int mode, int64_t rows, int64_t cols,
                        void *dst, size_t cap, bnc_err *err)
{
    size_t need = bnc_bitnet_lut_bytes(mode, rows, cols);
    int64_t rb = bnc_bitnet_row_bytes(cols);
    size_t ns = (size_t)(mode == BNC_BITNET_ROW ? rows : 1);
    if (need == 0 || cap < need || wbytes != (size_t)(rows * rb) + ns * sizeof(float))
        return bnc_err_set(err, BNC_EINVAL, "bitnet lut pack: bad sizes");
    const uint8_t *src = w;
    uint8_t *out = dst;
    int64_t nq = (cols + 3) / 4, nt = (rows + 63) / 64;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t q = 0; q < nq; q++)
            for (int i = 0; i < 64; i++) {
                int64_t r = t * 64 + i;
                int c[4];
                for (int k = 0; k < 4; k++) {
                    int64_t col = 4 * q + k;
                    c[k] = 1;
                    if (r < rows && col < cols)
                        c[k] =
                            (src[r * rb + col / 128 * 32 + col % 32] >> (2 * (col % 128 / 32))) & 3;
                }
                out[(t * nq + q) * 64 + i] = (uint8_t)((3 * c[0] + c[1]) | (3 * c[2] + c[3]) << 4);
            }
    memcpy(out + nt * nq * 64, src + rows * rb, ns * sizeof(float));
    return 0;
}

int bnc_bitnet_lut_gemv(const void *w, size_t wbytes, int mode, int64_t rows, const bnc_act *a,
                        float *y, bnc_pool *pool, bnc_err *err)
{
    if (!bnc_isa_supported(BNC_ISA_AVX512))
        return bnc_err_set(err, BNC_ENOTSUP, "bitnet lut: needs AVX-512");
    size_t need = bnc_bitnet_lut_bytes(mode, rows, a->cols);
    if (need == 0 || wbytes != need)
        return bnc_err_set(err, BNC_EFORMAT, "bitnet lut: %zu bytes, expected %zu", wbytes, need);
    int64_t nq = (a->cols + 3) / 4, np = 2 * nq;
    uint8_t *tab = malloc((size_t)(a->batch * np) * 32);
    if (!tab) return bnc_err_set(err, BNC_ENOMEM, "bitnet lut: out of memory");
    for (int64_t b = 0; b < a->batch; b++) {
        const int8_t *x = a->q + b * a->stride; /* zero padded past cols */
        for (int64_t p = 0; p < np; p++) {
            uint8_t *tp = tab + (b * np + p) * 32;
            /* pair p of quad q = p / 2: columns 4q + 2(p % 2) and + 1 */
            int64_t c0 = 4 * (p / 2) + 2 * (p % 2);
            for (int idx = 0; idx < 16; idx++) {
                int v = idx < 9 ? (idx / 3 - 1) * x[c0] + (idx % 3 - 1) * x[c0 + 1] : 0;
                tp[idx] = (uint8_t)(v & 0xff);
                tp[16 + idx] = (uint8_t)((v >> 8) & 0xff);
            }
        }
    }
    const uint8_t *wb = w;
    int64_t nt = (rows + 63) / 64;
    lut_job j = {.w = wb,
                 .scales = (const float *)(const void *)(wb + nt * nq * 64),
                 .per_row = mode == BNC_BITNET_ROW,
                 .rows = rows,
                 .cols = a->cols,
                 .nq = nq,
                 .ntiles = nt,
                 .a = a,
                 .tab = tab,
                 .y = y};
    bnc_pool_run_tasks(pool, lut_run, &j, 4 * bnc_pool_threads(pool), wbytes);
    free(tab);
    return 0;
}
