#include "bnc_hash.h"

#include <stdio.h>

static uint64_t fmix(uint64_t z)
{
    z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDull;
    z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return z ^ (z >> 33);
}

uint64_t bnc_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xCBF29CE484222325ull ^ fmix(seed + 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return fmix(h ^ (uint64_t)n);
}

void bnc_hash128(const void *data, size_t n, uint64_t out[2])
{
    out[0] = bnc_hash64(data, n, 0x243F6A8885A308D3ull);
    out[1] = bnc_hash64(data, n, 0x13198A2E03707344ull);
}

void bnc_hash128_hex(const void *data, size_t n, char hex[33])
{
    uint64_t h[2];
    bnc_hash128(data, n, h);
    snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
}
