#include "bnc_rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void bnc_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

uint64_t bnc_mix64(uint64_t a, uint64_t b)
{
    uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bnc_rng_init(bnc_rng *r, uint64_t seed, uint64_t stream)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr_hi = stream;
    r->ctr_lo = 0;
    r->avail = 0;
    r->has_spare = 0;
    r->spare = 0.0;
}

void bnc_rng_seek(bnc_rng *r, uint64_t pos)
{
    r->ctr_lo = pos;
    r->avail = 0;
    r->has_spare = 0;
}

uint32_t bnc_rng_u32(bnc_rng *r)
{
    if (r->avail == 0) {
        uint32_t ctr[4] = {(uint32_t)r->ctr_lo, (uint32_t)(r->ctr_lo >> 32), (uint32_t)r->ctr_hi,
                           (uint32_t)(r->ctr_hi >> 32)};
        bnc_philox4x32(r->key, ctr, r->buf);
        r->ctr_lo++;
        r->avail = 4;
    }
    return r->buf[4 - r->avail--];
}

uint64_t bnc_rng_u64(bnc_rng *r)
{
    uint64_t hi = bnc_rng_u32(r);
    return (hi << 32) | bnc_rng_u32(r);
}

double bnc_rng_uniform(bnc_rng *r)
{
    return (double)(bnc_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

float bnc_rng_uniform_pos_f(bnc_rng *r)
{
    return ((float)(bnc_rng_u32(r) >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

double bnc_rng_normal(bnc_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - bnc_rng_uniform(r); /* (0, 1] */
    double u2 = bnc_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

uint64_t bnc_rng_below(bnc_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = bnc_rng_u64(r);
    } while (v >= limit);
    return v % n;
}
