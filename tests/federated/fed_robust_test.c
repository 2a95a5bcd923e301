/* Units: robust aggregation rules against values worked out by hand (in the
 * comments), update norms of poisoned updates, attacks, attacker choice. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bnc_fed.h"
#include "bnc_fed_robust.h"

static void test_median_trimmed(void **state)
{
    (void)state;
    /* Coordinate 0: {1, 5, 3, 100} -> median (3 + 5) / 2 = 4, trimmed
     * (25% off each end: drop 1 and 100) (3 + 5) / 2 = 4, mean 27.25.
     * Coordinate 1: {-2, 0, 7, -1e30} -> median (-2 + 0) / 2 = -1, trimmed
     * drop -1e30 and 7: (-2 + 0) / 2 = -1. */
    float u0[] = {1, -2}, u1[] = {5, 0}, u2[] = {3, 7}, u3[] = {100, -1e30f};
    const float *u[] = {u0, u1, u2, u3};
    float out[2];
    bnc_err e;
    assert_int_equal(bnc_fed_robust_aggregate(BNC_FED_AGG_MEDIAN, u, 4, 2, 0, 0, 0, out, NULL, &e),
                     0);
    assert_true(out[0] == 4.0f && out[1] == -1.0f);
    assert_int_equal(
        bnc_fed_robust_aggregate(BNC_FED_AGG_TRIMMED, u, 4, 2, 0.25, 0, 0, out, NULL, &e), 0);
    assert_true(out[0] == 4.0f && out[1] == -1.0f);
    /* Odd count: {1, 5, 3} -> 3; trimmed 0.2 of 3 cuts floor(0.6) = 0: mean 3. */
    assert_int_equal(bnc_fed_robust_aggregate(BNC_FED_AGG_MEDIAN, u, 3, 2, 0, 0, 0, out, NULL, &e),
                     0);
    assert_true(out[0] == 3.0f && out[1] == 0.0f);
    assert_int_equal(
        bnc_fed_robust_aggregate(BNC_FED_AGG_TRIMMED, u, 3, 2, 0.2, 0, 0, out, NULL, &e), 0);
    assert_true(out[0] == 3.0f && fabsf(out[1] - 5.0f / 3.0f) < 1e-6f);
}

static void test_krum(void **state)
{
    (void)state;
    /* Honest a=(1,1) b=(1.1,0.9) c=(0.9,1.1) d=(1,1.05), attacker (100,-100),
     * f = 1: each score sums the 5-1-2 = 2 smallest squared distances:
     * a .0025+.02 = .0225, b .02+.0325 = .0525, c .0125+.02 = .0325,
     * d .0025+.0125 = .015. Krum picks d; Multi-Krum (m = 3) averages d, a, c. */
    float a[] = {1, 1}, b[] = {1.1f, 0.9f}, c[] = {0.9f, 1.1f}, d[] = {1, 1.05f}, x[] = {100, -100};
    const float *u[] = {a, b, x, c, d};
    float out[2];
    uint8_t chosen[5];
    bnc_err e;
    assert_int_equal(bnc_fed_robust_aggregate(BNC_FED_AGG_KRUM, u, 5, 2, 0, 1, 0, out, chosen, &e),
                     0);
    assert_true(out[0] == 1.0f && out[1] == 1.05f);
    assert_true(chosen[4] && !chosen[0] && !chosen[1] && !chosen[2] && !chosen[3]);
    assert_int_equal(
        bnc_fed_robust_aggregate(BNC_FED_AGG_MULTIKRUM, u, 5, 2, 0, 1, 3, out, chosen, &e), 0);
    assert_true(chosen[0] && !chosen[1] && !chosen[2] && chosen[3] && chosen[4]);
    assert_true(fabsf(out[0] - (1.0f + 0.9f + 1.0f) / 3) < 1e-6f);
    assert_true(fabsf(out[1] - (1.0f + 1.1f + 1.05f) / 3) < 1e-6f);
    assert_int_equal(bnc_fed_robust_aggregate(BNC_FED_AGG_KRUM, u, 0, 2, 0, 1, 0, out, NULL, &e),
                     BNC_EINVAL);
}

static void test_norm_attacks(void **state)
{
    (void)state;
    /* 7850 weights of 3e38: the norm 3e38 * sqrt(7850) = 2.658e40 is finite
     * in double (the server compares it with --max-norm). */
    static float w[7850];
    bnc_fed_attack_apply(BNC_FED_ATTACK_POISON, 3e38, w, 7850, 1, 2);
    double n = bnc_fed_l2(w, 7850);
    assert_true(isfinite(n) && fabs(n / (3e38 * sqrt(7850.0)) - 1) < 1e-6);
    float v[3] = {1, -2, 0.5f};
    bnc_fed_attack_apply(BNC_FED_ATTACK_SIGNFLIP, 4, v, 3, 1, 2);
    assert_true(v[0] == -4 && v[1] == 8 && v[2] == -2);
    bnc_fed_attack_apply(BNC_FED_ATTACK_SCALED, 0.5, v, 3, 1, 2);
    assert_true(v[0] == -2 && v[1] == 4 && v[2] == -1);
    /* Attackers: round(0.2 * 10) = 2 of 10 ids, the same for the same seed. */
    bnc_fed_config c;
    bnc_fed_config_defaults(&c);
    c.attack = BNC_FED_ATTACK_SIGNFLIP;
    c.attack_frac = 0.2;
    int k = 0;
    for (int i = 0; i < 10; i++)
        k += bnc_fed_is_attacker(&c, i);
    assert_int_equal(k, 2);
    c.attack_frac = 1;
    for (int i = 0; i < 10; i++)
        assert_true(bnc_fed_is_attacker(&c, i));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_trimmed),
        cmocka_unit_test(test_krum),
        cmocka_unit_test(test_norm_attacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
