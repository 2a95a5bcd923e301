/* Units: secure aggregation. The masked sum equals the plain integer sum
 * bit for bit (ternary and int8 alphabets) with 1..n-t clients dropping
 * after sending their masked update (their self-mask seeds rebuilt from t
 * shares held by the others); Shamir recovers a seed from any t shares and
 * not from t-1; a client's masked update, as the server sees it, passes a
 * chi-square test of uniform bytes (the unmasked one does not). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bnc_fed_secagg.h"
#include "bnc_rng.h"

#define N 5 /* clients */
#define T 3 /* threshold */
#define L 7850

static uint8_t pk[N][32], sk[N][32], seed[N][32], shares[N][N * BNC_SECAGG_SHARE];
static uint32_t q[N][L], y[N][L];

/* Client c's masked update for round r (ids 0..N-1): q + PRG(b) + pairwise. */
static void mask(int c, uint32_t r)
{
    bnc_err e;
    memcpy(y[c], q[c], sizeof y[c]);
    bnc_secagg_add_mask(y[c], L, seed[c], r, +1);
    for (int o = 0; o < N; o++) {
        if (o == c) continue;
        uint8_t s[32];
        assert_int_equal(bnc_secagg_pair_seed(sk[c], pk[o], r, (uint32_t)c, (uint32_t)o, s, &e), 0);
        bnc_secagg_add_mask(y[c], L, s, r, bnc_secagg_pair_sign((uint32_t)c, (uint32_t)o));
    }
}

static void setup(int qmax)
{
    bnc_err e;
    assert_int_equal(bnc_secagg_init(&e), 0);
    bnc_rng r;
    bnc_rng_init(&r, 7, (uint64_t)qmax);
    for (int c = 0; c < N; c++) {
        bnc_secagg_keypair(pk[c], sk[c]);
        bnc_secagg_random_seed(seed[c]);
        assert_int_equal(bnc_secagg_split(seed[c], T, N, shares[c], &e), 0);
        float x[L];
        for (int i = 0; i < L; i++)
            x[i] = (float)(bnc_rng_normal(&r) * 0.05);
        bnc_secagg_quantize(x, L, qmax == 1 ? 0.05 : 1.0 / 127, qmax, 0, 1, 2, NULL, q[c]);
    }
    for (int c = 0; c < N; c++) /* once every public key is known */
        mask(c, 9);
}

/* The server's unmasking with `drop` clients (the last ones) not answering:
 * every y arrived; each seed is rebuilt from the shares of T answering
 * clients. */
static void check_sum(int drop)
{
    bnc_err e;
    uint32_t sum[L] = {0}, plain[L] = {0};
    for (int c = 0; c < N; c++)
        for (int i = 0; i < L; i++) {
            sum[i] += y[c][i];
            plain[i] += q[c][i];
        }
    int alive = N - drop;
    for (int c = 0; c < N; c++) {
        uint8_t got[T * BNC_SECAGG_SHARE], b[32];
        uint32_t xs[T];
        for (int k = 0; k < T; k++) { /* the shares of the first T answering clients */
            int holder = (k + c) % alive;
            memcpy(got + k * BNC_SECAGG_SHARE, shares[c] + holder * BNC_SECAGG_SHARE,
                   BNC_SECAGG_SHARE);
            xs[k] = (uint32_t)holder + 1;
        }
        assert_int_equal(bnc_secagg_combine(got, xs, T, b, &e), 0);
        assert_memory_equal(b, seed[c], 32);
        bnc_secagg_add_mask(sum, L, b, 9, -1);
    }
    assert_memory_equal(sum, plain, sizeof sum);
    /* The integers themselves: in range for the alphabet. */
    for (int i = 0; i < L; i++)
        assert_true((int32_t)sum[i] >= -127 * N && (int32_t)sum[i] <= 127 * N);
}

static void test_exact_ternary(void **state)
{
    (void)state;
    setup(1);
    for (int drop = 0; drop <= N - T; drop++)
        check_sum(drop);
}

static void test_exact_int8(void **state)
{
    (void)state;
    setup(127);
    for (int drop = 0; drop <= N - T; drop++)
        check_sum(drop);
}

static void test_shamir_threshold(void **state)
{
    (void)state;
    bnc_err e;
    uint8_t s[32], sh[6 * BNC_SECAGG_SHARE], got[32];
    bnc_secagg_random_seed(s);
    assert_int_equal(bnc_secagg_split(s, 4, 6, sh, &e), 0);
    uint32_t xs[4] = {6, 2, 5, 3};
    uint8_t pick[4 * BNC_SECAGG_SHARE];
    for (int k = 0; k < 4; k++)
        memcpy(pick + k * BNC_SECAGG_SHARE, sh + (xs[k] - 1) * BNC_SECAGG_SHARE, BNC_SECAGG_SHARE);
    assert_int_equal(bnc_secagg_combine(pick, xs, 4, got, &e), 0);
    assert_memory_equal(got, s, 32);
    assert_int_equal(bnc_secagg_combine(pick, xs, 3, got, &e), 0); /* t - 1 shares */
    assert_memory_not_equal(got, s, 32);
    assert_int_equal(bnc_secagg_split(s, 7, 6, sh, &e), BNC_EINVAL);
    uint32_t dup[2] = {2, 2};
    assert_int_equal(bnc_secagg_combine(pick, dup, 2, got, &e), BNC_EINVAL);
    /* Encrypted shares: open(seal) round-trips, a flipped bit is refused. */
    uint8_t key[32] = {1, 2, 3}, box[BNC_SECAGG_BOX], back[BNC_SECAGG_SHARE];
    bnc_secagg_seal(sh, key, 4, box);
    assert_int_equal(bnc_secagg_open(box, key, 4, back, &e), 0);
    assert_memory_equal(back, sh, BNC_SECAGG_SHARE);
    box[20] ^= 1;
    assert_int_equal(bnc_secagg_open(box, key, 4, back, &e), BNC_EFORMAT);
}

/* Chi-square statistic of the byte counts of p[0..n) against uniform (255
 * degrees of freedom) and its upper-tail p-value by the Wilson-Hilferty
 * normal approximation. */
static double chi2_p(const uint8_t *p, size_t n, double *chi2)
{
    double cnt[256] = {0};
    for (size_t i = 0; i < n; i++)
        cnt[p[i]]++;
    double ex = (double)n / 256, x = 0;
    for (int b = 0; b < 256; b++)
        x += (cnt[b] - ex) * (cnt[b] - ex) / ex;
    double k = 255, z = (cbrt(x / k) - (1 - 2 / (9 * k))) / sqrt(2 / (9 * k));
    *chi2 = x;
    return 0.5 * erfc(z / sqrt(2.0));
}

static void test_uniform_bytes(void **state)
{
    (void)state;
    setup(1);
    /* The server's view of client 0 (7850 values, 31,400 bytes): with the
     * threshold p >= 0.001 a uniform source fails 1 time in 1000; the
     * plain ternary update (bytes 0x00, 0x01, 0xff) fails with p ~ 0. */
    double chi2;
    double p = chi2_p((const uint8_t *)y[0], sizeof y[0], &chi2);
    print_message("masked update: chi2 %.1f (255 df), p %.3f\n", chi2, p);
    assert_true(p >= 0.001);
    p = chi2_p((const uint8_t *)q[0], sizeof q[0], &chi2);
    print_message("plain update:  chi2 %.1f, p %.3g\n", chi2, p);
    assert_true(p < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_ternary),
        cmocka_unit_test(test_exact_int8),
        cmocka_unit_test(test_shamir_threshold),
        cmocka_unit_test(test_uniform_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
