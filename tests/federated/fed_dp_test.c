/* Units: the RDP accountant against published epsilons, and clip-and-noise.
 *
 * Reference: TensorFlow Privacy, tutorials/README.md ("Select Parameters"),
 * the MNIST DP-SGD tutorial: N = 60000, batch 256 (q = 256/60000), delta =
 * 1e-5, epsilon from compute_dp_sgd_privacy.py (RDP of the sampled
 * Gaussian mechanism, orders 1.1..10.9 and 12..63, classical conversion),
 * steps = ceil(epochs * N / batch):
 *   noise 1.1, 60 epochs (14063 steps) -> eps 3.01
 *   noise 1.3, 15 epochs ( 3516 steps) -> eps 1.19
 *   noise 0.7, 45 epochs (10547 steps) -> eps 7.10
 * The table prints two decimals: we match them to +-0.005. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bnc_fed_dp.h"
#include "bnc_fed_robust.h"

static void check(double sigma, int epochs, double expect)
{
    double q = 256.0 / 60000.0, eps, order;
    int64_t steps = (int64_t)ceil(epochs * 60000.0 / 256.0);
    bnc_err e;
    assert_int_equal(bnc_fed_dp_epsilon(q, sigma, steps, 1e-5, &eps, &order, &e), 0);
    print_message("sigma %.1f, %d epochs, %lld steps: eps %.4f at order %g (published %.2f)\n",
                  sigma, epochs, (long long)steps, eps, order, expect);
    assert_true(fabs(eps - expect) <= 0.005);
}

static void test_published(void **state)
{
    (void)state;
    check(1.1, 60, 3.01);
    check(1.3, 15, 1.19);
    check(0.7, 45, 7.10);
}

static void test_rdp_limits(void **state)
{
    (void)state;
    /* q = 1 is the plain Gaussian mechanism: RDP alpha / (2 sigma^2). */
    assert_true(fabs(bnc_fed_rdp_sgm(1, 2, 8) - 1.0) < 1e-12);
    assert_true(bnc_fed_rdp_sgm(0, 2, 8) == 0);
    /* Integer and fractional orders agree where they meet (alpha near 3). */
    double a = bnc_fed_rdp_sgm(0.01, 1.0, 3), b = bnc_fed_rdp_sgm(0.01, 1.0, 3.0000001);
    assert_true(fabs(a - b) / a < 1e-4);
    /* Subsampling amplifies privacy: far below the unsampled value. */
    assert_true(bnc_fed_rdp_sgm(0.01, 1.0, 4) < 0.01 * 4 / 2.0);
    double eps;
    bnc_err e;
    assert_int_equal(bnc_fed_dp_epsilon(0.1, 0, 10, 1e-5, &eps, NULL, &e), BNC_EINVAL);
}

static void test_clip_noise(void **state)
{
    (void)state;
    float v[4] = {3, 4, 0, 0}; /* norm 5 */
    assert_int_equal(bnc_fed_dp_clip_noise(v, 4, 1.0, 0, 1, 2), 0);
    assert_true(fabs(bnc_fed_l2(v, 4) - 1.0) < 1e-6 && fabsf(v[0] - 0.6f) < 1e-7f);
    assert_int_equal(bnc_fed_dp_clip_noise(v, 4, 2.0, 0, 1, 2), 1);
    static float z[100000];
    bnc_fed_dp_clip_noise(z, 100000, 1.0, 0.5, 7, 9);
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) {
        s += z[i];
        s2 += (double)z[i] * z[i];
    }
    /* Mean 0 and standard deviation 0.5 within 4 standard errors. */
    assert_true(fabs(s / 100000) < 4 * 0.5 / sqrt(100000.0));
    assert_true(fabs(sqrt(s2 / 100000) - 0.5) < 4 * 0.5 / sqrt(2 * 100000.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published),
        cmocka_unit_test(test_rdp_limits),
        cmocka_unit_test(test_clip_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
