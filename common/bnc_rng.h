/* Counter-based random numbers (Philox4x32-10). A stream is keyed by
 * (seed, stream) and indexed by a counter, so the same task produces the same
 * numbers on any rank and any thread, and element i of a tensor can be
 * generated without generating 0..i-1. */
#ifndef BNC_RNG_H
#define BNC_RNG_H

#include <stdint.h>

typedef struct bnc_rng {
    uint32_t key[2];
    uint64_t ctr_hi; /* stream */
    uint64_t ctr_lo; /* position, advanced by each block */
    uint32_t buf[4];
    int avail;     /* unread words in buf */
    int has_spare; /* Box-Muller keeps its second normal */
    double spare;
} bnc_rng;

/* One Philox4x32-10 block: 4 random words for (key, counter). Stateless. */
void bnc_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

/* Starts a generator for (seed, stream) at position 0. */
void bnc_rng_init(bnc_rng *r, uint64_t seed, uint64_t stream);
/* Moves the generator to block position pos (each block holds 4 words). */
void bnc_rng_seek(bnc_rng *r, uint64_t pos);
uint32_t bnc_rng_u32(bnc_rng *r);
uint64_t bnc_rng_u64(bnc_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double bnc_rng_uniform(bnc_rng *r);
/* Uniform float in (0, 1]: never 0, safe for logs. */
float bnc_rng_uniform_pos_f(bnc_rng *r);
/* Standard normal (Box-Muller on two uniforms). */
double bnc_rng_normal(bnc_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t bnc_rng_below(bnc_rng *r, uint64_t n);

/* Mixes several 64-bit values into one key (splitmix64 finalizer chain),
 * used to derive sub-seeds such as (campaign seed, task, stream). */
uint64_t bnc_mix64(uint64_t a, uint64_t b);

#endif
