/* The machine's streaming read bandwidth, measured in the process that
 * reports a kernel's throughput, so the two figures are taken under the same
 * conditions and their ratio means something. */
#ifndef BNC_STREAM_H
#define BNC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_gemv.h"

/* The two read patterns' best rates, GB/s. */
typedef struct bnc_stream_bw {
    double one_stream;   /* each thread one sequential stream of 64-bit loads */
    double multi_stream; /* each thread 8 streams side by side, 32-byte loads */
} bnc_stream_bw;

/* Best read rate in GB/s (1e9 bytes/s) over reps repetitions of at least
 * min_s seconds each (one warm-up repetition first), reading buf (bytes
 * bytes, a multiple of 64, larger than the last-level cache for a memory
 * figure) with the pool's threads, each thread a fixed share. Every call
 * reads the next slice of buf (1/16 of it, at least 16 MiB), so short
 * repetitions still stream from memory.
 * Two patterns, alternating, and the better one is the result: one long
 * stream per thread, and 8 streams per thread read a line of each in turn
 * (what a GEMV tile does with its rows). Where the hardware prefetcher
 * follows one stream well they agree; where a core's single stream is
 * latency-bound (seen on a Sapphire Rapids-class VM: 8 GB/s one stream,
 * 11-15 GB/s eight) only the second is the read rate a kernel can reach, and
 * a ratio to the first would exceed 1 for a DRAM-resident GEMV.
 * out (may be NULL) receives both patterns' rates. */
double bnc_stream_read(bnc_pool *pool, const uint8_t *buf, size_t bytes, double min_s, int reps,
                       bnc_stream_bw *out);

/* bnc_stream_read without the per-pattern rates. */
double bnc_stream_read_gbps(bnc_pool *pool, const uint8_t *buf, size_t bytes, double min_s,
                            int reps);

#endif
