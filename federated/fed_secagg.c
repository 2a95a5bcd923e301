/* Secure aggregation primitives: masks, pairwise seeds, Shamir sharing over
 * GF(2^61 - 1), share encryption. */
#include "bnc_fed_secagg.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "bnc_rng.h"

__extension__ typedef unsigned __int128 u128;

#define P61 ((uint64_t)0x1fffffffffffffffull) /* 2^61 - 1 */

int bnc_secagg_init(bnc_err *err)
{
    if (sodium_init() < 0)
        return bnc_err_set(err, BNC_EINTERNAL, "secagg: libsodium failed to initialise");
    return 0;
}

void bnc_secagg_keypair(uint8_t pk[BNC_SECAGG_PK], uint8_t sk[BNC_SECAGG_PK])
{
    randombytes_buf(sk, BNC_SECAGG_PK);
    crypto_scalarmult_base(pk, sk);
}

void bnc_secagg_random_seed(uint8_t seed[BNC_SECAGG_SEED])
{
    randombytes_buf(seed, BNC_SECAGG_SEED);
}

static int shared_hash(const uint8_t sk[BNC_SECAGG_PK], const uint8_t pk[BNC_SECAGG_PK],
                       const char *label, uint32_t round, uint32_t a, uint32_t b, uint8_t out[32],
                       bnc_err *err)
{
    uint8_t dh[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(dh, sk, pk) != 0)
        return bnc_err_set(err, BNC_EFORMAT, "secagg: invalid X25519 public key");
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, dh, sizeof dh);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    uint32_t w[3] = {round, a, b};
    crypto_generichash_update(&st, (const uint8_t *)w, sizeof w);
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(dh, sizeof dh);
    return 0;
}

int bnc_secagg_pair_seed(const uint8_t sk[BNC_SECAGG_PK], const uint8_t pk_other[BNC_SECAGG_PK],
                         uint32_t round, uint32_t me, uint32_t other, uint8_t seed[BNC_SECAGG_SEED],
                         bnc_err *err)
{
    uint32_t lo = me < other ? me : other, hi = me < other ? other : me;
    return shared_hash(sk, pk_other, "bnc-secagg-mask", round, lo, hi, seed, err);
}

int bnc_secagg_box_key(const uint8_t sk[BNC_SECAGG_PK], const uint8_t pk_other[BNC_SECAGG_PK],
                       uint32_t round, uint32_t from, uint32_t to, uint8_t key[32], bnc_err *err)
{
    return shared_hash(sk, pk_other, "bnc-secagg-share", round, from, to, key, err);
}

int bnc_secagg_pair_sign(uint32_t me, uint32_t other)
{
    return me < other ? 1 : -1;
}

void bnc_secagg_add_mask(uint32_t *y, size_t n, const uint8_t seed[BNC_SECAGG_SEED], uint32_t round,
                         int sign)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    memcpy(nonce, &round, sizeof round);
    static const uint8_t zeros[4096];
    uint8_t buf[4096];
    size_t done = 0;
    uint64_t ic = 0; /* 64-byte block counter */
    while (done < n) {
        size_t k = n - done < sizeof buf / 4 ? n - done : sizeof buf / 4;
        size_t bytes = (k * 4 + 63) / 64 * 64;
        crypto_stream_chacha20_xor_ic(buf, zeros, bytes, nonce, ic, seed);
        ic += bytes / 64;
        for (size_t i = 0; i < k; i++) {
            uint32_t v = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
                         (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
            y[done + i] = sign > 0 ? y[done + i] + v : y[done + i] - v;
        }
        done += k;
    }
}

/* ---- GF(2^61 - 1) ----------------------------------------------------------- */

static uint64_t gf_add(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s >= P61 ? s - P61 : s;
}

static uint64_t gf_sub(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a + P61 - b;
}

static uint64_t gf_mul(uint64_t a, uint64_t b)
{
    u128 p = (u128)a * b;
    uint64_t lo = (uint64_t)(p & P61), hi = (uint64_t)(p >> 61);
    return gf_add(lo, hi);
}

static uint64_t gf_inv(uint64_t a) /* a^(p-2) */
{
    uint64_t r = 1, e = P61 - 2;
    while (e) {
        if (e & 1) r = gf_mul(r, a);
        a = gf_mul(a, a);
        e >>= 1;
    }
    return r;
}

static uint64_t gf_rand(void)
{
    for (;;) { /* uniform in [0, p) by rejection */
        uint64_t v;
        randombytes_buf(&v, sizeof v);
        v &= P61;
        if (v < P61) return v;
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int bnc_secagg_split(const uint8_t seed[BNC_SECAGG_SEED], int t, int n, uint8_t *out, bnc_err *err)
{
    if (t < 1 || t > n)
        return bnc_err_set(err, BNC_EINVAL, "secagg: threshold %d of %d shares", t, n);
    for (int w = 0; w < 8; w++) {
        /* Word w of the seed is the constant term of a degree t-1 polynomial. */
        uint64_t coef[256];
        if (t > 256) return bnc_err_set(err, BNC_EINVAL, "secagg: threshold %d above 256", t);
        coef[0] = (uint64_t)seed[4 * w] | (uint64_t)seed[4 * w + 1] << 8 |
                  (uint64_t)seed[4 * w + 2] << 16 | (uint64_t)seed[4 * w + 3] << 24;
        for (int k = 1; k < t; k++)
            coef[k] = gf_rand();
        for (int j = 0; j < n; j++) {
            uint64_t x = (uint64_t)(j + 1), y = 0;
            for (int k = t - 1; k >= 0; k--) /* Horner */
                y = gf_add(gf_mul(y, x), coef[k]);
            put64(out + (size_t)j * BNC_SECAGG_SHARE + 8 * (size_t)w, y);
        }
        sodium_memzero(coef, sizeof coef);
    }
    return 0;
}

int bnc_secagg_combine(const uint8_t *shares, const uint32_t *xs, int k,
                       uint8_t seed[BNC_SECAGG_SEED], bnc_err *err)
{
    for (int a = 0; a < k; a++) {
        if (xs[a] == 0) return bnc_err_set(err, BNC_EINVAL, "secagg: share with x = 0");
        for (int b = a + 1; b < k; b++)
            if (xs[a] == xs[b]) return bnc_err_set(err, BNC_EINVAL, "secagg: x %u twice", xs[a]);
    }
    for (int w = 0; w < 8; w++) {
        uint64_t s = 0;
        for (int a = 0; a < k; a++) {
            /* Lagrange basis at 0: prod_b x_b / (x_b - x_a). */
            uint64_t num = 1, den = 1;
            for (int b = 0; b < k; b++) {
                if (b == a) continue;
                num = gf_mul(num, xs[b]);
                den = gf_mul(den, gf_sub(xs[b], xs[a]));
            }
            uint64_t y = get64(shares + (size_t)a * BNC_SECAGG_SHARE + 8 * (size_t)w);
            s = gf_add(s, gf_mul(y, gf_mul(num, gf_inv(den))));
        }
        for (int i = 0; i < 4; i++)
            seed[4 * w + i] = (uint8_t)(s >> (8 * i));
    }
    return 0;
}

void bnc_secagg_seal(const uint8_t share[BNC_SECAGG_SHARE], const uint8_t key[32], uint32_t round,
                     uint8_t box[BNC_SECAGG_BOX])
{
    uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
    memcpy(nonce, &round, sizeof round);
    crypto_secretbox_easy(box, share, BNC_SECAGG_SHARE, nonce, key);
}

int bnc_secagg_open(const uint8_t box[BNC_SECAGG_BOX], const uint8_t key[32], uint32_t round,
                    uint8_t share[BNC_SECAGG_SHARE], bnc_err *err)
{
    uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
    memcpy(nonce, &round, sizeof round);
    if (crypto_secretbox_open_easy(share, box, BNC_SECAGG_BOX, nonce, key) != 0)
        return bnc_err_set(err, BNC_EFORMAT, "secagg: a share does not authenticate");
    return 0;
}

void bnc_secagg_quantize(const float *x, size_t n, double step, int qmax, int stochastic,
                         uint64_t seed, uint64_t stream, float *residual, uint32_t *q)
{
    bnc_rng r;
    bnc_rng_init(&r, bnc_mix64(seed, 0x5ec), stream);
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i] + (residual ? (double)residual[i] : 0.0);
        double u = v / step;
        double k = stochastic ? floor(u + bnc_rng_uniform(&r)) : nearbyint(u);
        if (k > qmax) k = qmax;
        if (k < -qmax) k = -qmax;
        if (residual) residual[i] = (float)(v - step * k);
        q[i] = (uint32_t)(int32_t)k;
    }
}
