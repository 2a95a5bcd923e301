/* The machine's streaming read bandwidth, measured in the process that
 * reports a kernel's throughput, so the two figures are taken under the same
 * conditions and their ratio means something. */
#ifndef BNC_STREAM_H
#define BNC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_gemv.h"

/* Best read rate in GB/s (1e9 bytes/s) over reps repetitions of at least
 * min_s seconds each (one warm-up repetition first), reading buf (bytes
 * bytes, a multiple of 64, larger than the last-level cache for a memory
 * figure) with the pool's threads, each thread a fixed share. Every call
 * reads the next slice of buf (1/16 of it, at least 16 MiB), so short
 * repetitions still stream from memory. */
double bnc_stream_read_gbps(bnc_pool *pool, const uint8_t *buf, size_t bytes, double min_s,
                            int reps);

#endif
