/* Unit tests of the statistics library beyond the reference fixtures:
 * large-offset data, streaming updates, degenerate input, bootstrap
 * reproducibility and BCa against an independent computation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnc_rng.h"
#include "analyze.h"
#include "bnc_stats.h"

/* 1e9 + noise: mean and sd right to far better than 1e-9 relative. */
static void test_large_offset(void **state)
{
    (void)state;
    enum { N = 100000 };
    double *x = malloc(N * sizeof *x), *d = malloc(N * sizeof *d);
    bnc_rng r;
    bnc_rng_init(&r, 7, 0);
    for (int i = 0; i < N; i++) {
        x[i] = 1e9 + 1e-3 * bnc_rng_normal(&r);
        d[i] = x[i] - 1e9; /* exact */
    }
    /* reference on the exactly shifted data, in long double */
    long double s = 0, s2 = 0;
    for (int i = 0; i < N; i++)
        s += d[i];
    long double m = s / N;
    for (int i = 0; i < N; i++)
        s2 += (d[i] - m) * (d[i] - m);
    double ref_mean = 1e9 + (double)m, ref_sd = sqrt((double)(s2 / (N - 1)));
    bnc_desc ds;
    bnc_err e;
    assert_int_equal(bnc_desc_compute(x, N, &ds, &e), 0);
    assert_true(fabs(ds.mean - ref_mean) <= 1e-15 * ref_mean);
    assert_true(fabs(ds.sd - ref_sd) <= 1e-9 * ref_sd);
    /* streaming: Welford, and merging two halves (Chan) */
    bnc_running a, b;
    bnc_running_init(&a);
    bnc_running_init(&b);
    for (int i = 0; i < N; i++)
        bnc_running_push(i < N / 3 ? &a : &b, x[i]);
    bnc_running_merge(&a, &b);
    assert_int_equal(a.n, N);
    assert_true(fabs(bnc_running_mean(&a) - ref_mean) <= 1e-15 * ref_mean);
    assert_true(fabs(sqrt(bnc_running_var(&a)) - ref_sd) <= 1e-9 * ref_sd);
    free(x);
    free(d);
}

static void test_degenerate(void **state)
{
    (void)state;
    bnc_err e;
    bnc_ttest t;
    double c[] = {3, 3, 3, 3}, c2[] = {5, 5, 5}, one[] = {1.0}, nanv[] = {1, NAN, 3};
    assert_int_equal(bnc_ttest_one(c, 4, 0, BNC_TWO_SIDED, 0.95, &t, &e), BNC_ERANGE);
    assert_non_null(strstr(e.msg, "zero variance"));
    assert_int_equal(bnc_ttest_two(c, 4, c2, 3, 0, 1, BNC_TWO_SIDED, 0.95, &t, &e), BNC_ERANGE);
    assert_int_equal(bnc_ttest_one(one, 1, 0, BNC_TWO_SIDED, 0.95, &t, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "at least 2"));
    assert_int_equal(bnc_ttest_one(nanv, 3, 0, BNC_TWO_SIDED, 0.95, &t, &e), BNC_ERANGE);
    assert_non_null(strstr(e.msg, "value 2 of 3 is NaN"));
    bnc_desc d;
    assert_int_equal(bnc_desc_compute(one, 1, &d, &e), 0);
    assert_int_equal(d.has_sd, 0);
    assert_true(d.sd == 0 && d.mean == 1.0 && d.median == 1.0);
    assert_int_equal(bnc_desc_compute(one, 0, &d, &e), BNC_EINVAL);
    const double *g[] = {c, c2};
    size_t ns[] = {4, 3};
    bnc_anova a;
    assert_int_equal(bnc_anova_oneway(g, ns, 2, 0, &a, &e), BNC_ERANGE);
    assert_int_equal(bnc_anova_oneway(g, ns, 2, 1, &a, &e), BNC_ERANGE);
    bnc_ranktest r;
    assert_int_equal(bnc_mann_whitney(c, 4, c, 4, BNC_TWO_SIDED, -1, &r, &e), BNC_ERANGE);
    assert_int_equal(bnc_wilcoxon_signed(c, c, 4, 0, BNC_TWO_SIDED, -1, &r, &e), BNC_EINVAL);
    double dd, gg;
    assert_int_equal(bnc_cohen_d(c, 4, c2, 3, &dd, &gg, &e), BNC_ERANGE);
    double X[] = {1, 1, 1, 1}, y[] = {1, 2, 3, 5};
    bnc_ols o;
    assert_int_equal(bnc_ols_fit(X, 4, 1, y, &o, &e), BNC_EINVAL); /* constant predictor */
    assert_non_null(strstr(e.msg, "predictor 1 is constant or collinear"));
    assert_int_equal(o.aliased, 1);
    assert_null(o.coef);
    /* an exact fit is a result: y = 2 x, residual and standard errors 0 */
    double X2[] = {1, 2, 3, 4}, y2[] = {2, 4, 6, 8};
    assert_int_equal(bnc_ols_fit(X2, 4, 1, y2, &o, &e), 0);
    assert_true(o.exact && o.sigma == 0 && o.se[0] == 0 && o.se[1] == 0);
    assert_true(fabs(o.coef[0]) < 1e-14 && fabs(o.coef[1] - 2) < 1e-14);
    assert_true(o.r2 == 1 && isinf(o.f) && o.f_p == 0 && isinf(o.t[1]) && o.pval[1] == 0);
    bnc_ols_free(&o);
    /* without an intercept: a zero column, a collinear one, a zero response */
    double X3[] = {0, 1, 0, 2, 0, 3, 0, 5}, X4[] = {1, 2, 2, 4, 3, 6, 4, 8};
    bnc_ols_opts noint = {.no_intercept = 1};
    assert_int_equal(bnc_ols_fit_opts(X3, 4, 2, y, &noint, &o, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "predictor 1 is all zero"));
    assert_int_equal(bnc_ols_fit_opts(X4, 4, 2, y, &noint, &o, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "predictor 2 is collinear with the predictors before it"));
    assert_int_equal(o.aliased, 2);
    double zero[] = {0, 0, 0, 0};
    assert_int_equal(bnc_ols_fit_opts(X2, 4, 1, zero, &noint, &o, &e), BNC_ERANGE);
    assert_int_equal(bnc_ols_fit(X2, 4, 1, zero, &o, &e), BNC_ERANGE); /* constant response */
    assert_int_equal(bnc_ols_fit(X2, 4, 0, y, &o, &e), BNC_EINVAL);    /* no predictors */
    assert_int_equal(bnc_ols_fit(X4, 2, 2, y, &o, &e), BNC_EINVAL);    /* 2 rows, 3 coefficients */
    /* as many rows as coefficients: interpolation, exact */
    assert_int_equal(bnc_ols_fit(X2, 2, 1, y, &o, &e), 0);
    assert_true(o.exact && o.df == 0 && fabs(o.coef[1] - 1) < 1e-15);
    bnc_ols_free(&o);
    /* lag-1 autocorrelation needs 3 values that are not all equal */
    assert_int_equal(bnc_desc_compute(c, 4, &d, &e), 0);
    assert_true(!d.has_acf && d.acf1 == 0 && d.acf1_p == 1);
    assert_int_equal(bnc_desc_compute(y, 2, &d, &e), 0);
    assert_int_equal(d.has_acf, 0);
    double bad[] = {0.5, 1.5};
    double out[2];
    assert_int_equal(bnc_p_adjust_holm(bad, 2, out, &e), BNC_ERANGE);
    assert_true(isnan(bnc_t_cdf(1, -1)) && isnan(bnc_betainc(1, 1, 2)));
}

static void test_bootstrap(void **state)
{
    (void)state;
    double x[40];
    bnc_rng r;
    bnc_rng_init(&r, 11, 3);
    for (int i = 0; i < 40; i++)
        x[i] = exp(bnc_rng_normal(&r)); /* skewed */
    bnc_interval p1, p2, bca;
    double reps[2000];
    bnc_err e;
    assert_int_equal(
        bnc_bootstrap_ci(x, 40, NULL, NULL, 2000, 0.95, 42, BNC_BOOT_PERCENTILE, &p1, reps, &e), 0);
    assert_int_equal(
        bnc_bootstrap_ci(x, 40, NULL, NULL, 2000, 0.95, 42, BNC_BOOT_PERCENTILE, &p2, NULL, &e), 0);
    assert_true(p1.lo == p2.lo && p1.hi == p2.hi); /* same seed, same interval */
    assert_true(p1.lo < p1.est && p1.est < p1.hi);
    /* percentile interval = type-7 quantiles of the sorted replicates */
    /* h = 1999 * 0.025 = 49.975: between replicates 49 and 50 (0-based) */
    assert_true(fabs(p1.lo - (reps[49] + 0.975 * (reps[50] - reps[49]))) < 1e-12);
    assert_int_equal(
        bnc_bootstrap_ci(x, 40, NULL, NULL, 2000, 0.95, 42, BNC_BOOT_BCA, &bca, NULL, &e), 0);
    /* BCa from the same replicates, recomputed here from the definition */
    double jack[40], buf[39], theta = bnc_stat_mean(x, 40, NULL);
    for (int i = 0; i < 40; i++) {
        int k = 0;
        for (int j = 0; j < 40; j++)
            if (j != i) buf[k++] = x[j];
        jack[i] = bnc_stat_mean(buf, 39, NULL);
    }
    int below = 0;
    for (int b = 0; b < 2000; b++)
        below += reps[b] < theta;
    double z0 = bnc_norm_quantile(below / 2000.0), jm = 0, num = 0, den = 0;
    for (int i = 0; i < 40; i++)
        jm += jack[i] / 40;
    for (int i = 0; i < 40; i++) {
        num += pow(jm - jack[i], 3);
        den += pow(jm - jack[i], 2);
    }
    double acc = num / (6 * pow(den, 1.5)), z = bnc_norm_quantile(0.025);
    double a1 = bnc_norm_cdf(z0 + (z0 + z) / (1 - acc * (z0 + z)));
    assert_true(fabs(bca.lo - bnc_quantile_sorted(reps, 2000, a1)) < 1e-12);
    assert_true(acc > 0);        /* right-skewed data: positive acceleration */
    assert_true(bca.hi > p1.hi); /* BCa shifts the interval to the long tail */
    assert_int_equal(
        bnc_bootstrap_ci(x, 1, NULL, NULL, 2000, 0.95, 42, BNC_BOOT_BCA, &bca, NULL, &e),
        BNC_EINVAL);
}

/* Polynomial design 1, x, ..., x^deg (row-major n x deg) of x = s t. */
static void poly_design(const double *t, size_t n, int deg, double s, double *X)
{
    for (size_t i = 0; i < n; i++) {
        double v = 1;
        for (int j = 0; j < deg; j++)
            X[i * (size_t)deg + (size_t)j] = v *= s * t[i];
    }
}

/* The rank decision and the coefficients do not depend on the units of x:
 * a polynomial in s t with s a power of two gives exactly (bit for bit) the
 * coefficients of the fit on t times s^-j, and with s = 1e6 or 1e-6 the
 * same decision on the rank. The old test (column norm against 1e-10 of the
 * largest) refused the quadratic at x ~ 1e6 as an "empty design". */
static void test_ols_units(void **state)
{
    (void)state;
    enum { N = 25, DEG = 10 };
    double t[N], y[N], X[N * DEG];
    bnc_rng r;
    bnc_rng_init(&r, 5, 1);
    for (int i = 0; i < N; i++) {
        t[i] = 1 + 2.0 * i / (N - 1);
        y[i] = 1 + t[i] - 0.25 * t[i] * t[i] + 0.01 * bnc_rng_normal(&r);
    }
    bnc_err e;
    bnc_ols ref, o;
    for (int deg = 2; deg <= 3; deg++) {
        poly_design(t, N, deg, 1, X);
        assert_int_equal(bnc_ols_fit(X, N, (size_t)deg, y, &ref, &e), 0);
        static const int ex[] = {20, -20, 40, -40, 300, -300}; /* 2^+-900: no overflow */
        for (int c = 0; c < 6; c++) {
            double s = ldexp(1, ex[c]);
            poly_design(t, N, deg, s, X);
            assert_int_equal(bnc_ols_fit(X, N, (size_t)deg, y, &o, &e), 0);
            for (int j = 0; j <= deg; j++) {
                assert_true(o.coef[j] == ldexp(ref.coef[j], -ex[c] * j));
                assert_true(o.se[j] == ldexp(ref.se[j], -ex[c] * j));
                assert_true(o.t[j] == ref.t[j] && o.pval[j] == ref.pval[j]);
            }
            assert_true(o.sigma == ref.sigma && o.r2 == ref.r2 && o.f == ref.f);
            bnc_ols_free(&o);
        }
        bnc_ols_free(&ref);
    }
    /* degree 10 on [1, 3]: the same verdict (and aliased column) in every
     * unit, for the default tolerance and a looser one */
    for (int tl = 0; tl < 2; tl++) {
        bnc_ols_opts opts = {.tol = tl ? 1e-13 : 0};
        int rc0 = -99;
        size_t al0 = 0;
        static const double sc[] = {1, 1e6, 1e-6, 3.7e11, 1e-9};
        for (int c = 0; c < 5; c++) {
            poly_design(t, N, DEG, sc[c], X);
            int rc = bnc_ols_fit_opts(X, N, DEG, y, &opts, &o, &e);
            if (c == 0) rc0 = rc, al0 = o.aliased;
            assert_int_equal(rc, rc0);
            assert_int_equal(o.aliased, al0);
            if (!rc) bnc_ols_free(&o);
        }
        if (!tl) assert_int_equal(rc0, BNC_EINVAL); /* x^10 is within 1e-7 of the others */
    }
}

/* ANOVA, Welch ANOVA and t tests of groups shifted by 1e12 against the same
 * groups unshifted. The values are multiples of 2^-10 below 2^10, so g +
 * 1e12 is exact and the statistics of both data sets are the same numbers:
 * double precision allows all 15-16 digits, and the shift by a data value
 * reproduces them to 1e-15 relative (measured: bit for bit). Before, the
 * group means were rounded at 1e12 (to 1.2e-4): on InsectSprays + 1e12 F
 * kept 5 to 6 digits (2.9e-6 relative), a Welch t on PlantGrowth 4. */
static void test_shift_1e12(void **state)
{
    (void)state;
    enum { K = 4, M = 12 };
    double g[K][M], gs[K][M];
    const double *pg[K], *ps[K];
    size_t ns[K];
    bnc_rng r;
    bnc_rng_init(&r, 9, 2);
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < M; j++) {
            g[i][j] = round((3 + 0.1 * i + 0.5 * (1 + i) * bnc_rng_normal(&r)) * 1024) / 1024;
            gs[i][j] = g[i][j] + 1e12;
            assert_true(gs[i][j] - 1e12 == g[i][j]);
        }
        pg[i] = g[i], ps[i] = gs[i], ns[i] = M - (size_t)i;
    }
    bnc_err e;
    for (int w = 0; w < 2; w++) {
        bnc_anova a, b;
        assert_int_equal(bnc_anova_oneway(pg, ns, K, w, &a, &e), 0);
        assert_int_equal(bnc_anova_oneway(ps, ns, K, w, &b, &e), 0);
        double x[] = {a.f, a.p, a.df2, a.ss_between, a.ss_within, a.eta2, a.omega2};
        double z[] = {b.f, b.p, b.df2, b.ss_between, b.ss_within, b.eta2, b.omega2};
        for (int i = 0; i < 7; i++)
            assert_true(fabs(x[i] - z[i]) <= 1e-15 * fabs(x[i]));
    }
    for (int w = 0; w < 2; w++) {
        bnc_ttest a, b;
        assert_int_equal(bnc_ttest_two(g[0], M, g[2], M - 2, 0, w, 0, 0.95, &a, &e), 0);
        assert_int_equal(bnc_ttest_two(gs[0], M, gs[2], M - 2, 0, w, 0, 0.95, &b, &e), 0);
        assert_true(fabs(a.t - b.t) <= 1e-15 * fabs(a.t) && fabs(a.p - b.p) <= 1e-15 * a.p);
        assert_true(fabs(a.estimate - b.estimate) <= 1e-15 * fabs(a.estimate));
    }
    bnc_ttest a, b;
    assert_int_equal(bnc_ttest_one(g[1], M, 3, 0, 0.95, &a, &e), 0);
    assert_int_equal(bnc_ttest_one(gs[1], M, 3 + 1e12, 0, 0.95, &b, &e), 0);
    assert_true(fabs(a.t - b.t) <= 1e-15 * fabs(a.t) && fabs(a.p - b.p) <= 1e-15 * a.p);
}

/* The exact Mann-Whitney distribution sums to 1 and matches brute force. */
static void test_exact_small(void **state)
{
    (void)state;
    double x[] = {1, 4}, y[] = {2, 3, 5};
    bnc_ranktest r;
    bnc_err e;
    assert_int_equal(bnc_mann_whitney(x, 2, y, 3, BNC_LESS, -1, &r, &e), 0);
    /* U = 2; of the C(5,2) = 10 placements of x's ranks, U <= 2 for 4 */
    assert_true(r.exact && r.stat == 2 && fabs(r.p - 0.4) < 1e-15);
}

/* The analysis on observations in memory: baseline choice and order,
 * pairing, Holm, verdicts by metric direction, degenerate groups. */
static void test_analysis(void **state)
{
    (void)state;
    static const char *keys[] = {"s1", "s2", "s3", "s4", "s5", "s6"};
    double base[] = {1.00, 1.10, 0.95, 1.05, 1.02, 0.98};
    double fast[] = {1.50, 1.62, 1.41, 1.58, 1.49, 1.47}; /* clearly higher */
    double same[] = {1.01, 1.08, 0.97, 1.03, 1.04, 0.97}; /* about the same */
    bnc_obs obs[64];
    size_t n = 0;
    for (int i = 0; i < 6; i++) {
        obs[n++] = (bnc_obs){"tok_per_s", "f16", keys[i], base[i]};
        obs[n++] = (bnc_obs){"tok_per_s", "q8_0", keys[i], same[i]};
        obs[n++] = (bnc_obs){"tok_per_s", "tq2_0", keys[i], fast[i]};
        obs[n++] = (bnc_obs){"tok_per_s", "one", keys[i], i == 0 ? 2.0 : NAN};
    }
    bnc_analyze_opts o = {.campaign = "unit"};
    bnc_analysis *a;
    bnc_err e;
    assert_int_equal(bnc_analysis_compute(obs, n, &o, &a, &e), 0);
    assert_int_equal(a->nm, 1);
    const bnc_metric_result *m = &a->m[0];
    assert_int_equal(m->direction, 1);
    assert_int_equal(m->ng, 4);
    assert_string_equal(m->g[0].name, "f16"); /* preferred baseline, listed first */
    assert_true(m->g[0].is_baseline);
    /* "one" has a single value and 5 NaN: not every group has the baseline's
     * seeds, so the comparisons are unpaired (Welch) */
    assert_int_equal(m->paired, 0);
    const bnc_group_stats *one = NULL, *tq = NULL, *q8 = NULL;
    for (size_t j = 0; j < m->ng; j++) {
        if (!strcmp(m->g[j].name, "one")) one = &m->g[j];
        if (!strcmp(m->g[j].name, "tq2_0")) tq = &m->g[j];
        if (!strcmp(m->g[j].name, "q8_0")) q8 = &m->g[j];
    }
    assert_true(one && tq && q8);
    assert_int_equal(one->n, 1);
    assert_int_equal(one->n_nan, 5);
    assert_string_equal(one->verdict, "undefined");
    assert_non_null(strstr(one->note, "at least 2"));
    assert_string_equal(tq->verdict, "better");
    assert_string_equal(q8->verdict, "no evidence of a difference");
    /* Welch p of tq2_0 against f16 equals the library's, Holm over 2 tests */
    bnc_ttest t;
    assert_int_equal(bnc_ttest_two(fast, 6, base, 6, 0, 1, BNC_TWO_SIDED, 0.95, &t, &e), 0);
    assert_true(fabs(tq->p - t.p) <= 1e-15 * t.p);
    /* Holm over the two tests: the smaller p (tq2_0) is doubled */
    assert_true(tq->p < q8->p);
    assert_true(tq->p_adj == fmin(1, 2 * tq->p));
    assert_true(q8->p_adj == fmax(tq->p_adj, q8->p));
    bnc_analysis_free(a);

    /* without the single-value group every group has the same seeds: paired */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(obs[i].group, "one")) obs[k++] = obs[i];
    o.baseline = "q8_0";
    o.correction = "bh";
    assert_int_equal(bnc_analysis_compute(obs, k, &o, &a, &e), 0);
    m = &a->m[0];
    assert_int_equal(m->paired, 1);
    assert_int_equal(m->npairs, 6);
    assert_string_equal(m->g[0].name, "q8_0");
    assert_int_equal(bnc_ttest_paired(fast, same, 6, 0, BNC_TWO_SIDED, 0.95, &t, &e), 0);
    for (size_t j = 0; j < m->ng; j++)
        if (!strcmp(m->g[j].name, "tq2_0")) assert_true(fabs(m->g[j].p - t.p) <= 1e-15 * t.p);
    assert_true(m->has_anova);
    bnc_analysis_free(a);

    /* drift: a group whose repetitions climb steadily is named in the note
     * (lag-1 autocorrelation significant at alpha), the others are not */
    static const char *rk[] = {"r01", "r02", "r03", "r04", "r05", "r06",
                               "r07", "r08", "r09", "r10", "r11", "r12"};
    double flat[] = {1.00, 1.03, 0.97, 0.99, 1.06, 1.01, 0.95, 1.04, 1.05, 0.98, 0.96, 1.02};
    double climb[12];
    for (int i = 0; i < 12; i++)
        climb[i] = 1 + 0.05 * i + 0.01 * (i % 2);
    size_t nd = 0;
    bnc_obs dobs[24];
    for (int i = 0; i < 12; i++) {
        dobs[nd++] = (bnc_obs){"tok_per_s", "f16", rk[i], flat[i]};
        dobs[nd++] = (bnc_obs){"tok_per_s", "climbing", rk[i], climb[i]};
    }
    bnc_analyze_opts od = {.campaign = "unit"};
    assert_int_equal(bnc_analysis_compute(dobs, nd, &od, &a, &e), 0);
    bnc_desc df, dc;
    assert_int_equal(bnc_desc_compute(flat, 12, &df, &e), 0);
    assert_int_equal(bnc_desc_compute(climb, 12, &dc, &e), 0);
    assert_true(df.acf1_p >= 0.05 && dc.acf1_p < 0.05 && dc.acf1 > 0.5);
    assert_non_null(strstr(a->m[0].note, "drift: climbing's repetitions"));
    assert_null(strstr(a->m[0].note, "f16"));
    bnc_analysis_free(a);
    /* an alternating group is named too, as alternating */
    for (int i = 0; i < 12; i++)
        dobs[2 * i + 1].value = 1 + 0.05 * (i % 2) + 0.001 * i;
    assert_int_equal(bnc_analysis_compute(dobs, nd, &od, &a, &e), 0);
    assert_non_null(strstr(a->m[0].note, "alternation: climbing's repetitions"));
    bnc_analysis_free(a);

    o.baseline = "nope";
    assert_int_equal(bnc_analysis_compute(obs, k, &o, &a, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "values: f16, q8_0, tq2_0"));
    o.baseline = NULL;
    o.alpha = 0.7;
    assert_int_equal(bnc_analysis_compute(obs, k, &o, &a, &e), BNC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_offset), cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_bootstrap),    cmocka_unit_test(test_exact_small),
        cmocka_unit_test(test_analysis),     cmocka_unit_test(test_ols_units),
        cmocka_unit_test(test_shift_1e12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
