#include "bnc_stream.h"

#include "bnc_time.h"

typedef struct bw_arg {
    const uint64_t *p;
    size_t words;
    uint64_t sink[64];
} bw_arg;

static void bw_read(void *v, int tid, int nth)
{
    bw_arg *a = v;
    size_t b = a->words * (size_t)tid / (size_t)nth / 8 * 8;
    size_t e = a->words * (size_t)(tid + 1) / (size_t)nth / 8 * 8;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = b; i < e; i += 8) {
        s0 += a->p[i] + a->p[i + 4];
        s1 += a->p[i + 1] + a->p[i + 5];
        s2 += a->p[i + 2] + a->p[i + 6];
        s3 += a->p[i + 3] + a->p[i + 7];
    }
    /* Kept so the compiler cannot drop the loads. */
    a->sink[tid % 64] += s0 ^ s1 ^ s2 ^ s3;
}

double bnc_stream_read_gbps(bnc_pool *pool, const uint8_t *buf, size_t bytes, double min_s,
                            int reps)
{
    size_t slice = bytes / 16 < (16u << 20) ? bytes : bytes / 16;
    slice = slice / 64 * 64;
    if (slice == 0) return 0.0;
    size_t nslices = bytes / slice, pos = 0;
    bw_arg a = {.p = (const uint64_t *)(const void *)buf, .words = slice / 8};
    double best = 0;
    for (int r = 0; r <= reps; r++) {
        double t0 = bnc_now(), t;
        long it = 0;
        do {
            a.p = (const uint64_t *)(const void *)(buf + (pos++ % nslices) * slice);
            bnc_pool_run(pool, bw_read, &a);
            it++;
            t = bnc_now() - t0;
        } while (t < min_s);
        double g = (double)(a.words / 8 * 8) * 8.0 * (double)it / t / 1e9;
        if (r > 0) /* r == 0 warms up */
            best = g > best ? g : best;
    }
    return best;
}
