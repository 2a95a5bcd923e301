/* Corpus files for training: read whole, SHA-256 (FIPS 180-4, written here
 * so the library needs no crypto package), unigram entropy. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bnc_train.h"

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + S1 + ch + K256[i] + w[i];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + mj;
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void bnc_sha256_hex(const void *data, size_t n, char hex[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        sha256_block(h, p + i);
    uint8_t tail[128] = {0};
    size_t r = n - i;
    if (r) memcpy(tail, p + i, r);
    tail[r] = 0x80;
    size_t tl = r + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8u;
    for (int j = 0; j < 8; j++)
        tail[tl - 1 - (size_t)j] = (uint8_t)(bits >> (8 * j));
    sha256_block(h, tail);
    if (tl == 128) sha256_block(h, tail + 64);
    for (int j = 0; j < 8; j++)
        snprintf(hex + 8 * j, 9, "%08x", h[j]);
}

uint8_t *bnc_tr_slurp(FILE *f, size_t *n)
{
    size_t cap = 1 << 20, len = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        if (len == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    *n = len;
    return b;
}

int bnc_tr_corpus_read(const char *path, size_t min_bytes, bnc_tr_corpus *c, bnc_err *err)
{
    memset(c, 0, sizeof *c);
    if (!path || !*path) return bnc_err_set(err, BNC_EINVAL, "train: no corpus file given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return bnc_err_set(err, errno == ENOENT || errno == ENOTDIR ? BNC_EINVAL : BNC_EIO,
                           "%s: cannot open corpus: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return bnc_err_set(err, BNC_EINVAL, "%s: is a directory, not a corpus file", path);
    }
    size_t n = 0;
    uint8_t *b = bnc_tr_slurp(f, &n);
    int bad = ferror(f);
    fclose(f);
    if (!b) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory reading the corpus", path);
    if (bad) {
        free(b);
        return bnc_err_set(err, BNC_EIO, "%s: read error", path);
    }
    if (n < min_bytes) {
        free(b);
        return bnc_err_set(err, BNC_EINVAL, "%s: corpus is %s (%zu bytes, need at least %zu)", path,
                           n == 0 ? "empty" : "too short", n, min_bytes);
    }
    c->bytes = b;
    c->n = n;
    c->path = strdup(path);
    bnc_sha256_hex(b, n, c->sha256);
    return 0;
}

void bnc_tr_corpus_free(bnc_tr_corpus *c)
{
    if (!c) return;
    free(c->bytes);
    free(c->path);
    memset(c, 0, sizeof *c);
}

double bnc_tr_unigram_bits(const bnc_tr_corpus *c)
{
    uint64_t cnt[256] = {0};
    for (size_t i = 0; i < c->n; i++)
        cnt[c->bytes[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++)
        if (cnt[i]) {
            double p = (double)cnt[i] / (double)c->n;
            h -= p * log2(p);
        }
    return h;
}
