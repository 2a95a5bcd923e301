/* The bitnet tensor-scale quantizer in one pass over x (bitnet_1pass.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_1pass.h"
#include "bitnet_impl.h"

/* Half-width of the band around the estimated inverse, relative. The
 * share of elements kept aside is about 0.6 * BAND for Gaussian weights
 * (density of |x| at the threshold 0.4 sigma); the sample below (65536+
 * values) puts the estimate of a Gaussian tensor within 0.23% (1 sd). */
#define BAND 0.01f
/* Elements kept aside per chunk before the chunk is coded again (3%). */
#define CAP (BNC_BITNET_CHUNK / 32)
/* The sample: SAMPLE_RUN consecutive floats (a cache line) at SAMPLE_RUNS
 * or more places, evenly spaced, at most SAMPLE_STRIDE apart (so one line
 * in 64, 1.6% of the reads, in large tensors). */
#define SAMPLE_STRIDE 1024
#define SAMPLE_RUN 16
#define SAMPLE_RUNS 4096

struct bnc_bitnet_1pass {
    const float *x;
    int64_t n, nchunks;
    bnc_isa isa;
    bnc_bitnet_spec_fn spec;
    uint8_t *codes;
    float lo, hi;
    float tlo, thi; /* least |x| coded non-zero under lo and under hi */
    double *sums;   /* per chunk */
    int64_t *nunc;  /* per chunk: kept-aside count, CAP + 1 on overflow */
    uint32_t *uidx; /* nchunks x CAP */
    float *uval;
};

static bnc_bitnet_spec_fn spec_for(bnc_isa isa)
{
    for (bnc_isa i = isa; (unsigned)i < BNC_ISA_COUNT; i = bnc_isa_fallback(i)) {
#ifdef BNC_HAVE_X86
        if (i == BNC_ISA_AVX2) return bnc_avx2_bitnet_spec_chunk;
#endif
        if (i == BNC_ISA_SCALAR) break;
    }
    return NULL;
}

static void run_chunks(void *arg, int t, int ntasks)
{
    bnc_bitnet_1pass *s = arg;
    int64_t c0 = s->nchunks * t / ntasks, c1 = s->nchunks * (t + 1) / ntasks;
    for (int64_t c = c0; c < c1; c++) {
        int64_t b = c * BNC_BITNET_CHUNK;
        int64_t e = b + BNC_BITNET_CHUNK < s->n ? b + BNC_BITNET_CHUNK : s->n;
        s->sums[c] = s->spec(s->x + b, e - b, s->tlo, s->thi, s->codes + b / 4, s->uidx + c * CAP,
                             s->uval + c * CAP, CAP, &s->nunc[c]);
    }
}

/* The least a >= 0 with fl(a * m) >= 0.5 (fl(a * m) is monotone in a). */
static float threshold(float m)
{
    float a = 0.5f / m;
    while (a > 0 && a * m >= 0.5f)
        a = nextafterf(a, 0.0f);
    while (!(a * m >= 0.5f))
        a = nextafterf(a, INFINITY);
    return a;
}

static void free_state(bnc_bitnet_1pass *s)
{
    if (!s) return;
    free(s->sums);
    free(s->nunc);
    free(s->uidx);
    free(s->uval);
    free(s);
}

bnc_bitnet_1pass *bnc_bitnet_1pass_run(const float *x, int64_t rows, int64_t cols, bnc_isa isa,
                                       bnc_pool *pool, uint8_t *codes, double *sum)
{
    bnc_bitnet_spec_fn spec = spec_for(isa);
    int64_t n = rows * cols;
    if (!spec || cols % 128 || n < BNC_BITNET_CHUNK) return NULL;
    /* the estimate: mean |x| over the sample */
    int64_t stride = n / SAMPLE_RUNS / SAMPLE_RUN * SAMPLE_RUN, scount = 0;
    stride = stride < SAMPLE_RUN ? SAMPLE_RUN : stride > SAMPLE_STRIDE ? SAMPLE_STRIDE : stride;
    float acc[SAMPLE_RUN] = {0}; /* an estimate: float lanes are plenty */
    for (int64_t i = 0; i + SAMPLE_RUN <= n; i += stride, scount += SAMPLE_RUN)
        for (int j = 0; j < SAMPLE_RUN; j++)
            acc[j] += fabsf(x[i + j]);
    double ssum = 0;
    for (int j = 0; j < SAMPLE_RUN; j++)
        ssum += acc[j];
    float mean = (float)(ssum / (double)scount);
    if (!(mean > 0) || !isfinite(mean)) return NULL;
    float inv0 = 1.0f / mean;
    bnc_bitnet_1pass *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->x = x;
    s->n = n;
    s->nchunks = (n + BNC_BITNET_CHUNK - 1) / BNC_BITNET_CHUNK;
    s->isa = isa;
    s->spec = spec;
    s->codes = codes;
    s->lo = inv0 * (1.0f - BAND);
    s->hi = inv0 * (1.0f + BAND);
    s->tlo = threshold(s->lo);
    s->thi = threshold(s->hi);
    s->sums = malloc((size_t)s->nchunks * sizeof *s->sums);
    s->nunc = malloc((size_t)s->nchunks * sizeof *s->nunc);
    s->uidx = malloc((size_t)(s->nchunks * CAP) * sizeof *s->uidx);
    s->uval = malloc((size_t)(s->nchunks * CAP) * sizeof *s->uval);
    if (!s->sums || !s->nunc || !s->uidx || !s->uval) {
        free_state(s);
        return NULL;
    }
    int threads = bnc_pool_threads(pool);
    int ntasks = (int)(s->nchunks < 4 * threads ? s->nchunks : 4 * threads);
    bnc_pool_run_tasks(pool, run_chunks, s, ntasks, (size_t)n * sizeof(float));
    double total = 0;
    for (int64_t c = 0; c < s->nchunks; c++)
        total += s->sums[c];
    *sum = total;
    return s;
}

int bnc_bitnet_1pass_finish(bnc_bitnet_1pass *s, float inv)
{
    if (!(inv >= s->lo && inv <= s->hi)) {
        free_state(s);
        return 0;
    }
    bnc_isa_kernels k;
    bnc_isa_kernels_get(s->isa, &k);
    for (int64_t c = 0; c < s->nchunks; c++) {
        int64_t b = c * BNC_BITNET_CHUNK;
        int64_t e = b + BNC_BITNET_CHUNK < s->n ? b + BNC_BITNET_CHUNK : s->n;
        uint8_t *codes = s->codes + b / 4;
        if (s->nunc[c] > CAP) { /* too many kept aside: code the chunk again */
            for (int64_t i = b; i < e; i += 128)
                k.pack128(s->x + i, 128, inv, s->codes + i / 4);
            continue;
        }
        for (int64_t u = 0; u < s->nunc[c]; u++) {
            uint32_t o = s->uidx[c * CAP + u];
            float p = s->uval[c * CAP + u] * inv;
            int code = 1 + (p >= 0.5f) - (p <= -0.5f);
            uint8_t *byte = codes + o / 128 * 32 + o % 32;
            int sh = 2 * (int)(o % 128 / 32);
            *byte = (uint8_t)((*byte & ~(3 << sh)) | (code << sh));
        }
    }
    free_state(s);
    return 1;
}
