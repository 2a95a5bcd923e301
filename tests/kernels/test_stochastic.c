/* ternary-stochastic: unbiased, reproducible for a given (seed, stream).
 *
 * Tolerance: y_i takes s*sign(x_i) with probability |x_i|/s, else 0, so
 * Var(y_i) = s|x_i| - x_i^2 <= s^2/4 and the mean of K independent draws has
 * standard deviation sd_i = sqrt(Var(y_i) / K). Each element's mean must lie
 * within 5 sd_i of x_i (two-sided probability 5.7e-7 per element, 4e-5 for
 * all 64; the draws are seeded, so the test is also deterministic), and the
 * standardised sum over all elements within 5 of zero. Elements with zero
 * variance (x = 0, |x| = s) must be exact in every draw. */
#include "ktest.h"

#include <math.h>

#define N 64
#define K 4000

static void test_unbiased(void **state)
{
    (void)state;
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = -1.0f + 2.0f * (float)i / (float)(N - 1); /* -1 .. 1, s = 1 */
    x[10] = 0.0f;
    x[11] = 0.013f;
    x[12] = -0.97f;
    const double s = 1.0;
    const bnc_scheme *sc = bnc_scheme_find("ternary-stochastic");
    assert_non_null(sc);
    double mean[N] = {0};
    float y[N];
    uint8_t buf[64];
    for (int k = 0; k < K; k++) {
        bnc_qparams p = {.seed = 0x5eed, .stream = (uint64_t)k};
        size_t w;
        bnc_err err;
        assert_int_equal(sc->quantize(x, 1, N, &p, buf, sizeof buf, &w, &err), 0);
        assert_int_equal(w, N / 4 + 4);
        assert_int_equal(sc->dequantize(buf, w, 1, N, &p, y, &err), 0);
        for (int i = 0; i < N; i++) {
            assert_true(y[i] == 0.0f || fabsf(y[i]) == 1.0f);
            if (y[i] != 0.0f) assert_true((y[i] > 0) == (x[i] > 0)); /* never flips the sign */
            mean[i] += y[i];
        }
        assert_true(y[0] == -1.0f && y[N - 1] == 1.0f && y[10] == 0.0f);
    }
    double zsum = 0.0, vsum = 0.0;
    for (int i = 0; i < N; i++) {
        mean[i] /= K;
        double var = s * fabs((double)x[i]) - (double)x[i] * x[i];
        double sd = sqrt(var / K);
        if (fabs(mean[i] - x[i]) > 5.0 * sd + 1e-12)
            fail_msg("element %d: mean %g of %d draws, x = %g, sd %g", i, mean[i], K, (double)x[i],
                     sd);
        zsum += mean[i] - x[i];
        vsum += var / K;
    }
    assert_true(fabs(zsum) <= 5.0 * sqrt(vsum));
}

static void test_reproducible(void **state)
{
    (void)state;
    float x[1000];
    fill_normal(x, 1000, 21);
    const bnc_scheme *sc = bnc_scheme_find("ternary-stochastic");
    size_t w1, w2, w3, w4;
    bnc_qparams p = {.seed = 1, .stream = 2};
    uint8_t *a = quant(sc, x, 10, 100, &p, &w1);
    uint8_t *b = quant(sc, x, 10, 100, &p, &w2);
    assert_memory_equal(a, b, w1);
    p.stream = 3;
    uint8_t *c = quant(sc, x, 10, 100, &p, &w3);
    assert_memory_not_equal(a, c, w1);
    p.stream = 2, p.seed = 2;
    uint8_t *d = quant(sc, x, 10, 100, &p, &w4);
    assert_memory_not_equal(a, d, w1);
    /* the shape does not enter the draws: 1x1000 gives the same bytes */
    p.seed = 1;
    uint8_t *e = quant(sc, x, 1, 1000, &p, &w4);
    assert_memory_equal(a, e, w1);
    free(a), free(b), free(c), free(d), free(e);
}

static void test_all_zero(void **state)
{
    (void)state;
    float x[16] = {0}, y[16];
    const bnc_scheme *sc = bnc_scheme_find("ternary-stochastic");
    size_t w;
    uint8_t *q = quant(sc, x, 4, 4, NULL, &w);
    bnc_err err;
    assert_int_equal(sc->dequantize(q, w, 4, 4, NULL, y, &err), 0);
    for (int i = 0; i < 16; i++)
        assert_true(y[i] == 0.0f);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbiased),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_all_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
