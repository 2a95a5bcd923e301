/* AVX2 (+FMA, F16C) kernels; compiled with -mavx2 -mfma -mf16c and only
 * called after bnc_isa_supported(BNC_ISA_AVX2). */
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
    return _mm256_castps_si256(_mm256_cmp_ps(_mm256_mul_ps(_mm256_loadu_ps(x), inv), th, _CMP_GE_OQ));
}

static inline __m256i le(const float *x, __m256 inv, __m256 th)
{
    return _mm256_castps_si256(_mm256_cmp_ps(_mm256_mul_ps(_mm256_loadu_ps(x), inv), th, _CMP_LE_OQ));
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
        __m256i P = pack_masks(ge(p, vi, hp), ge(p + 8, vi, hp), ge(p + 16, vi, hp), ge(p + 24, vi, hp));
        __m256i N = pack_masks(le(p, vi, hn), le(p + 8, vi, hn), le(p + 16, vi, hn), le(p + 24, vi, hn));
        __m256i c = _mm256_add_epi8(_mm256_sub_epi8(one, P), N);
        res = _mm256_or_si256(res, _mm256_sll_epi16(c, _mm_cvtsi32_si128(2 * g)));
    }
    _mm256_storeu_si256((__m256i *)(void *)out, res);
}

const bnc_isa_kernels bnc_kernels_avx2 = {.absum = absum_avx2, .pack128 = pack128_avx2};

/* The GEMV row kernels the scheme table names for BNC_ISA_AVX2. */
void bnc_avx2_bitnet_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    bitnet_rows_x86(j, r0, r1);
}
void bnc_avx2_tq2_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    tq2_0_rows_x86(j, r0, r1);
}
void bnc_avx2_tq1_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    tq1_0_rows_x86(j, r0, r1);
}
void bnc_avx2_q8_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1) { q8_0_rows_x86(j, r0, r1); }
void bnc_avx2_q4_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1) { q4_0_rows_x86(j, r0, r1); }
