/* The multiple-choice knapsack of mixed_precision: the exact solver against
 * brute force on small random instances, greedy never better than exact,
 * a case where greedy is strictly worse, and exact never worse than any
 * uniform choice that fits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bnc_mck.h"

enum { MAXG = 7, MAXK = 4 };

/* A small deterministic generator (the test's own: splitmix64). */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The least total error over all k^n assignments within cap, or -1. */
static double brute(const bnc_mck *p, uint64_t cap, int *found)
{
    int c[MAXG] = {0};
    double best = -1;
    *found = 0;
    for (;;) {
        int ok = 1;
        for (size_t g = 0; g < p->n_groups; g++)
            ok &= p->cost[g * p->n_opts + (size_t)c[g]] != BNC_MCK_NONE;
        if (ok && bnc_mck_total_cost(p, c) <= cap) {
            double e = bnc_mck_total_err(p, c);
            if (!*found || e < best) best = e;
            *found = 1;
        }
        size_t g = 0;
        while (g < p->n_groups && ++c[g] == (int)p->n_opts)
            c[g++] = 0;
        if (g == p->n_groups) return best;
    }
}

static void exact_matches_brute_force(void **state)
{
    (void)state;
    uint64_t s = 12345;
    int feasible = 0, greedy_worse = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t n = 1 + next(&s) % MAXG, k = 1 + next(&s) % MAXK;
        uint64_t cost[MAXG * MAXK];
        double err[MAXG * MAXK];
        for (size_t g = 0; g < n; g++) {
            for (size_t o = 0; o < k; o++) {
                /* Costs like tensor sizes in bits (with ties), errors with
                 * ties and options that are both dearer and worse. */
                cost[g * k + o] = 8 * (1 + next(&s) % 40);
                err[g * k + o] = (double)(next(&s) % 1000) / 7.0;
                if (o > 0 && next(&s) % 6 == 0) cost[g * k + o] = BNC_MCK_NONE;
            }
        }
        bnc_mck p = {n, k, cost, err};
        uint64_t cap = next(&s) % (n * 8 * 40 + 1);
        int found;
        double want = brute(&p, cap, &found);
        int ge[MAXG], ex[MAXG];
        bnc_err e1, e2;
        int rg = bnc_mck_greedy(&p, cap, ge, &e1), rx = bnc_mck_exact(&p, cap, ex, NULL, &e2);
        if (!found) {
            assert_int_equal(rg, BNC_ERANGE);
            assert_int_equal(rx, BNC_ERANGE);
            continue;
        }
        feasible++;
        assert_int_equal(rg, 0);
        assert_int_equal(rx, 0);
        assert_true(bnc_mck_total_cost(&p, ex) <= cap);
        assert_true(bnc_mck_total_cost(&p, ge) <= cap);
        for (size_t g = 0; g < n; g++) {
            assert_true(cost[g * k + (size_t)ex[g]] != BNC_MCK_NONE);
            assert_true(cost[g * k + (size_t)ge[g]] != BNC_MCK_NONE);
        }
        /* Bit-for-bit the brute-force optimum (same summation order). */
        assert_true(bnc_mck_total_err(&p, ex) == want);
        assert_true(bnc_mck_total_err(&p, ge) >= want);
        greedy_worse += bnc_mck_total_err(&p, ge) > want;
    }
    /* The instances exercise both outcomes. */
    assert_true(feasible > 1000);
    assert_true(greedy_worse > 10);
}

/* Greedy takes the better ratio (B: 12 per bit) and then cannot afford A's
 * upgrade; the optimum upgrades A alone. */
static void greedy_can_be_worse(void **state)
{
    (void)state;
    uint64_t cost[] = {0, 10, 0, 1};
    double err[] = {100, 0, 50, 38};
    bnc_mck p = {2, 2, cost, err};
    int ge[2], ex[2];
    size_t states = 0;
    assert_int_equal(bnc_mck_greedy(&p, 10, ge, NULL), 0);
    assert_int_equal(bnc_mck_exact(&p, 10, ex, &states, NULL), 0);
    assert_int_equal(ge[0], 0);
    assert_int_equal(ge[1], 1);
    assert_true(bnc_mck_total_err(&p, ge) == 138.0);
    assert_int_equal(ex[0], 1);
    assert_int_equal(ex[1], 0);
    assert_true(bnc_mck_total_err(&p, ex) == 50.0);
    assert_true(states >= 2);
}

/* A model-sized instance: 20 layers of 6 matrix shapes plus embeddings
 * (122 tensors), 5 schemes with the bit sizes of bitnet/int4/q4_0/q8_0/f16
 * (a per-tensor constant for bitnet's scale) and errors falling with bits,
 * spread per tensor: exact <= greedy and exact <= every uniform assignment
 * that fits, within the budget, at every budget from 2.5 to 9 bits. */
static void exact_beats_uniform(void **state)
{
    (void)state;
    enum { L = 20, N = 6 * L + 2, K = 5 };
    static const double bpw[K] = {2.0, 4.5, 4.5, 8.5, 16.0};
    static const double rel[K] = {0.5, 0.11, 0.12, 0.008, 0.0003};
    static const uint64_t shapes[6] = {1024 * 1024, 1024 * 256,  1024 * 256,
                                       1024 * 1024, 1024 * 2816, 2816 * 1024};
    uint64_t cost[N * K];
    double err[N * K], weights = 0;
    uint64_t s = 99;
    for (size_t g = 0; g < N; g++) {
        uint64_t w = g < 2 ? 1024 * 8192 : shapes[(g - 2) % 6];
        double norm2 = (double)w * (0.5 + (double)(next(&s) % 1000) / 100.0);
        weights += (double)w;
        for (size_t o = 0; o < K; o++) {
            cost[g * K + o] = (uint64_t)(bpw[o] * (double)w) + (o == 0 ? 256 : 0);
            double r = rel[o] * (0.8 + (double)(next(&s) % 400) / 1000.0);
            err[g * K + o] = r * r * norm2;
        }
    }
    bnc_mck p = {N, K, cost, err};
    int strictly_better = 0;
    for (double budget = 2.5; budget <= 9.0; budget += 0.5) {
        uint64_t cap = (uint64_t)(budget * weights);
        int ge[N], ex[N], un[N];
        size_t states = 0;
        assert_int_equal(bnc_mck_greedy(&p, cap, ge, NULL), 0);
        assert_int_equal(bnc_mck_exact(&p, cap, ex, &states, NULL), 0);
        double e = bnc_mck_total_err(&p, ex);
        assert_true(bnc_mck_total_cost(&p, ex) <= cap);
        assert_true(bnc_mck_total_cost(&p, ge) <= cap);
        assert_true(e <= bnc_mck_total_err(&p, ge));
        strictly_better += e < bnc_mck_total_err(&p, ge);
        for (int o = 0; o < K; o++) {
            for (size_t g = 0; g < N; g++)
                un[g] = o;
            if (bnc_mck_total_cost(&p, un) <= cap) assert_true(e <= bnc_mck_total_err(&p, un));
        }
    }
    assert_true(strictly_better > 0);
}

static void no_option_is_an_error(void **state)
{
    (void)state;
    uint64_t cost[] = {BNC_MCK_NONE, BNC_MCK_NONE};
    double err[] = {1, 1};
    bnc_mck p = {1, 2, cost, err};
    int c[1];
    bnc_err e;
    assert_int_equal(bnc_mck_exact(&p, 100, c, NULL, &e), BNC_EINVAL);
    assert_int_equal(bnc_mck_greedy(&p, 100, c, NULL), BNC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_matches_brute_force),
        cmocka_unit_test(greedy_can_be_worse),
        cmocka_unit_test(exact_beats_uniform),
        cmocka_unit_test(no_option_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
