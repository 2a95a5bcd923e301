/* Streaming read bandwidth, two ways (bnc_stream.h says why both). */
#include "bnc_stream.h"

#include "bnc_time.h"

/* The multi-stream reader's loads: 32 bytes each, so one 64-byte line takes
 * two load slots (AVX2 where the CPU has it, two 16-byte halves elsewhere),
 * as in the GEMV tiles. */
typedef uint64_t v4u64 __attribute__((vector_size(32), aligned(32)));

enum { STREAMS = 8 };

typedef struct bw_arg {
    const uint8_t *p;
    size_t bytes; /* of this slice, a multiple of 64 */
    int multi;
    uint64_t sink[64];
} bw_arg;

/* One sequential stream of 64-bit loads over words words from p. */
static uint64_t read_one(const uint64_t *p, size_t words)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < words; i += 8) {
        s0 += p[i] + p[i + 4];
        s1 += p[i + 1] + p[i + 5];
        s2 += p[i + 2] + p[i + 6];
        s3 += p[i + 3] + p[i + 7];
    }
    return s0 ^ s1 ^ s2 ^ s3;
}

/* STREAMS sequential streams side by side, one line of each in turn. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
static uint64_t
read_multi(const uint8_t *p, size_t lines_per_stream)
{
    const v4u64 *q = (const v4u64 *)(const void *)p;
    size_t stride = lines_per_stream * 2; /* in 32-byte vectors */
    v4u64 a = {0, 0, 0, 0}, b = a;
    for (size_t i = 0; i < stride; i += 2)
        for (int s = 0; s < STREAMS; s++) {
            a ^= q[(size_t)s * stride + i];
            b ^= q[(size_t)s * stride + i + 1];
        }
    a ^= b;
    return a[0] ^ a[1] ^ a[2] ^ a[3];
}

/* Thread t's share of a slice of `lines` lines: its first line, and how
 * many it reads (the multi-stream pattern drops the remainder of STREAMS). */
static size_t share(const bw_arg *a, int t, int nth, size_t *first)
{
    size_t lines = a->bytes / 64;
    size_t b = lines * (size_t)t / (size_t)nth, e = lines * (size_t)(t + 1) / (size_t)nth;
    *first = b;
    return a->multi ? (e - b) / STREAMS * STREAMS : e - b;
}

static void bw_read(void *v, int tid, int nth)
{
    bw_arg *a = v;
    size_t b, n = share(a, tid, nth, &b);
    const uint8_t *p = a->p + b * 64;
    uint64_t s =
        a->multi ? read_multi(p, n / STREAMS) : read_one((const uint64_t *)(const void *)p, n * 8);
    /* Kept so the compiler cannot drop the loads. */
    a->sink[tid % 64] += s;
}

/* Bytes one call of bw_read reads over all threads. */
static size_t bytes_read(const bw_arg *a, int nth)
{
    size_t n = 0, b;
    for (int t = 0; t < nth; t++)
        n += share(a, t, nth, &b);
    return n * 64;
}

double bnc_stream_read(bnc_pool *pool, const uint8_t *buf, size_t bytes, double min_s, int reps,
                       bnc_stream_bw *out)
{
    size_t slice = bytes / 16 < (16u << 20) ? bytes : bytes / 16;
    slice = slice / 64 * 64;
    if (out) *out = (bnc_stream_bw){0};
    if (slice == 0) return 0.0;
    size_t nslices = bytes / slice, pos = 0;
    bw_arg a = {.p = buf, .bytes = slice};
    double best[2] = {0, 0};
    int nth = bnc_pool_threads(pool);
    /* The two patterns alternate repetition by repetition, so a neighbour's
     * burst on a shared machine hits both alike. */
    for (int r = 0; r <= reps; r++)
        for (int m = 0; m < 2; m++) {
            a.multi = m;
            size_t per_call = bytes_read(&a, nth);
            double t0 = bnc_now(), t;
            long it = 0;
            do {
                a.p = buf + (pos++ % nslices) * slice;
                bnc_pool_run(pool, bw_read, &a);
                it++;
                t = bnc_now() - t0;
            } while (t < min_s);
            double g = (double)per_call * (double)it / t / 1e9;
            if (r > 0 && g > best[m]) /* r == 0 warms up */
                best[m] = g;
        }
    if (out) {
        out->one_stream = best[0];
        out->multi_stream = best[1];
    }
    return best[0] > best[1] ? best[0] : best[1];
}

double bnc_stream_read_gbps(bnc_pool *pool, const uint8_t *buf, size_t bytes, double min_s,
                            int reps)
{
    return bnc_stream_read(pool, buf, bytes, min_s, reps, NULL);
}
