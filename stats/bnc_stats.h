/* Statistics for campaign results: special functions, descriptive
 * statistics, confidence intervals, hypothesis tests, effect sizes,
 * multiple-comparison corrections, least squares and power analysis.
 *
 * Conventions:
 *  - Functions that can fail return an int status (0 ok, negative BNC_E*)
 *    and write a message into a caller-provided bnc_err (NULL allowed).
 *    Degenerate input (fewer values than the method needs, zero variance,
 *    NaN or infinite values) is refused with BNC_EINVAL or BNC_ERANGE and a
 *    message saying why; no function returns a NaN statistic with status 0.
 *  - p-values are two-sided unless an alternative is given.
 *  - Results agree with R 4.2 and SciPy 1.10 (tests/stats/fixtures). */
#ifndef BNC_STATS_H
#define BNC_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

/* ------------------------------------------------------------------ */
/* Special functions. Pure; never fail. Out-of-domain arguments give NaN
 * (these are the only functions here that may return NaN). */

/* log Beta(a, b) for a, b > 0, accurate also for large a, b. */
double bnc_lbeta(double a, double b);
/* Regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
double bnc_betainc(double a, double b, double x);
/* Its complement 1 - I_x(a, b), computed without cancellation. */
double bnc_betaincc(double a, double b, double x);
/* Regularized lower/upper incomplete gamma P(a, x), Q(a, x), a > 0, x >= 0. */
double bnc_gammainc(double a, double x);
double bnc_gammaincc(double a, double x);

/* Standard normal: cdf, upper tail, quantile (p in [0, 1]). */
double bnc_norm_cdf(double z);
double bnc_norm_sf(double z);
double bnc_norm_quantile(double p);

/* Student t with df > 0 degrees of freedom (df may be fractional, below 1,
 * or INFINITY for the normal): cdf, upper tail, quantile. */
double bnc_t_cdf(double t, double df);
double bnc_t_sf(double t, double df);
double bnc_t_quantile(double p, double df);
/* Non-central t cdf (df > 0, non-centrality ncp), accurate to about 1e-14
 * absolute. Used by power analysis. */
double bnc_nct_cdf(double t, double df, double ncp);
/* F distribution upper tail P(F > f) with (d1, d2) degrees of freedom. */
double bnc_f_sf(double f, double d1, double d2);

/* ------------------------------------------------------------------ */
/* Descriptive statistics. */

/* Streaming mean and variance (Welford on values shifted by the first one,
 * so 1e9 + noise keeps the noise's digits); merge combines two streams (Chan
 * et al.), so partial results from ranks or threads can be joined. Read the
 * mean with bnc_running_mean. */
typedef struct bnc_running {
    int64_t n;
    double shift;      /* the first value seen */
    double mean_d, m2; /* mean of (x - shift), sum of squared deviations */
    double min, max;
} bnc_running;
void bnc_running_init(bnc_running *r);
void bnc_running_push(bnc_running *r, double x);
void bnc_running_merge(bnc_running *into, const bnc_running *other);
/* Sample variance (n - 1 denominator); 0 when n < 2 (check n first). */
double bnc_running_var(const bnc_running *r);
double bnc_running_mean(const bnc_running *r);

typedef struct bnc_desc {
    size_t n;
    double mean, median, q1, q3, min, max;
    int has_sd;         /* 0 when n < 2: sd, var, se are then 0 and meaningless */
    double sd, var, se; /* sample sd and variance (n - 1), se = sd / sqrt(n) */
    /* Lag-1 autocorrelation of the values in the order given (drift between
     * repetitions shows as acf1 > 0), see bnc_acf1. has_acf is 0 when n < 3
     * or all values are equal; acf1 and acf1_q are then 0 and acf1_p 1. */
    int has_acf;
    double acf1, acf1_q, acf1_p;
} bnc_desc;

/* Descriptive statistics of x[0..n-1] (two-pass, compensated: exact to a few
 * ulps even for data like 1e9 + small noise). Quartiles use R's default
 * (type 7) definition. Fails on n == 0 or a NaN/infinite value. */
int bnc_desc_compute(const double *x, size_t n, bnc_desc *out, bnc_err *err);
/* Lag-1 autocorrelation r1 = sum (x[t] - m)(x[t+1] - m) / sum (x[t] - m)^2
 * (R's acf), its Ljung-Box statistic q = n (n + 2) r1^2 / (n - 1) and the
 * p-value P(chi^2_1 > q) (R's Box.test(x, 1, "Ljung-Box"); two-sided, no
 * correction for the mean). *ok = 0 (r1 = q = 0, p = 1) when n < 3 or the
 * values are all equal. No validation (callers check finiteness). */
void bnc_acf1(const double *x, size_t n, double *r1, double *q, double *p, int *ok);
/* Quantile of SORTED data, R type 7 (linear interpolation), 0 <= p <= 1. */
double bnc_quantile_sorted(const double *sorted, size_t n, double p);
/* Mean and sample variance by the compensated two-pass algorithm; the
 * variance is 0 when n < 2. No validation (callers check finiteness). */
void bnc_mean_var(const double *x, size_t n, double *mean, double *var);
/* The same for x - c: *mean_d is the mean of x - c. With c a value of the
 * data (x - c exact for values within a factor 2 of c), differences of means
 * of data near 1e12 keep every digit of the data. */
void bnc_mean_var_shift(const double *x, size_t n, double c, double *mean_d, double *var);
/* Fails with a message naming `what` and the index when x holds a NaN or
 * infinity. */
int bnc_stats_check_finite(const double *x, size_t n, const char *what, bnc_err *err);

/* ------------------------------------------------------------------ */
/* Confidence intervals. level is e.g. 0.95. */

typedef struct bnc_interval {
    double est, lo, hi;
} bnc_interval;

/* t interval for the mean; needs n >= 2 and finite data (zero variance gives
 * the degenerate interval [mean, mean]). */
int bnc_ci_mean_t(const double *x, size_t n, double level, bnc_interval *out, bnc_err *err);

typedef enum { BNC_BOOT_PERCENTILE, BNC_BOOT_BCA } bnc_boot_method;
/* Statistic of a sample, used by the bootstrap; user is passed through. */
typedef double (*bnc_statistic_fn)(const double *x, size_t n, void *user);
double bnc_stat_mean(const double *x, size_t n, void *user);
double bnc_stat_median(const double *x, size_t n, void *user);

/* Bootstrap interval for stat (NULL: the mean) from B resamples drawn with
 * bnc_rng keyed by (seed, stream 0): the same seed gives the same interval on
 * any machine. Needs n >= 2 and B >= 100. BCa uses the jackknife for the
 * acceleration. If reps is not NULL it receives the B sorted replicates. */
int bnc_bootstrap_ci(const double *x, size_t n, bnc_statistic_fn stat, void *user, size_t B,
                     double level, uint64_t seed, bnc_boot_method method, bnc_interval *out,
                     double *reps, bnc_err *err);
/* The BCa interval from given replicates (any order, sorted in place),
 * the full-sample estimate and the n jackknife (leave-one-out) values. */
int bnc_bca_from_replicates(double theta_hat, double *reps, size_t B, const double *jack, size_t n,
                            double level, bnc_interval *out, bnc_err *err);

/* ------------------------------------------------------------------ */
/* Tests. */

typedef enum { BNC_TWO_SIDED = 0, BNC_LESS, BNC_GREATER } bnc_alternative;

typedef struct bnc_ttest {
    double t, df, p;
    double estimate; /* mean, mean difference, or difference of means */
    double se;       /* standard error of the estimate */
    double ci_lo, ci_hi;
} bnc_ttest;

/* One-sample t test of mean(x) == mu. */
int bnc_ttest_one(const double *x, size_t n, double mu, bnc_alternative alt, double level,
                  bnc_ttest *out, bnc_err *err);
/* Paired t test of mean(x - y) == mu (x and y both of length n). */
int bnc_ttest_paired(const double *x, const double *y, size_t n, double mu, bnc_alternative alt,
                     double level, bnc_ttest *out, bnc_err *err);
/* Two-sample t test of mean(x) - mean(y) == mu: Student (pooled variance)
 * when welch == 0, Welch (Satterthwaite df) otherwise. */
int bnc_ttest_two(const double *x, size_t nx, const double *y, size_t ny, double mu, int welch,
                  bnc_alternative alt, double level, bnc_ttest *out, bnc_err *err);

typedef struct bnc_anova {
    double f, df1, df2, p;
    double ss_between, ss_within, ms_between, ms_within;
    double eta2, omega2; /* effect sizes (classic ANOVA only; 0 for Welch) */
} bnc_anova;

/* One-way ANOVA over k groups (groups[i] has sizes[i] values); welch != 0
 * gives Welch's heteroscedastic ANOVA (R's oneway.test). */
int bnc_anova_oneway(const double *const *groups, const size_t *sizes, size_t k, int welch,
                     bnc_anova *out, bnc_err *err);

typedef struct bnc_ranktest {
    double stat; /* U (= R's W) for Mann-Whitney, V for signed-rank */
    double p;
    int exact;     /* 1 when p comes from the exact null distribution */
    double z;      /* normal statistic (with continuity correction) when !exact */
    size_t n_used; /* signed-rank: non-zero differences used */
} bnc_ranktest;

/* Mann-Whitney U test of x against y (stat = U of x). exact: -1 automatic
 * (exact when both n < 50 and there are no ties, as R does), 0 normal
 * approximation with tie and continuity correction, 1 exact (refused with
 * ties). */
int bnc_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, bnc_alternative alt,
                     int exact, bnc_ranktest *out, bnc_err *err);
/* Wilcoxon signed-rank test of x - y (y NULL: of x) against mu; zero
 * differences are dropped; exact rules as above. */
int bnc_wilcoxon_signed(const double *x, const double *y, size_t n, double mu, bnc_alternative alt,
                        int exact, bnc_ranktest *out, bnc_err *err);

/* ------------------------------------------------------------------ */
/* Effect sizes. */

/* Cohen's d = (mean x - mean y) / pooled sd, and Hedges' g = d * J(df) with
 * the exact small-sample correction J = Gamma(df/2) / (sqrt(df/2)
 * Gamma((df-1)/2)), df = nx + ny - 2. */
int bnc_cohen_d(const double *x, size_t nx, const double *y, size_t ny, double *d, double *g,
                bnc_err *err);
/* Cohen's d for paired data: mean(x - y) / sd(x - y) (d_z). */
int bnc_cohen_dz(const double *x, const double *y, size_t n, double *dz, bnc_err *err);
/* Hedges' correction factor J(df), df > 0. */
double bnc_hedges_j(double df);

/* ------------------------------------------------------------------ */
/* Multiple comparisons: adjusted p-values as R's p.adjust. out may alias p. */

int bnc_p_adjust_holm(const double *p, size_t m, double *out, bnc_err *err);
int bnc_p_adjust_bh(const double *p, size_t m, double *out, bnc_err *err);

/* ------------------------------------------------------------------ */
/* Ordinary least squares y = X b + e (Householder QR on the column-scaled
 * design, as R's lm). */

typedef struct bnc_ols {
    size_t n, p;                  /* observations, coefficients (including the intercept) */
    double *coef, *se, *t, *pval; /* arrays of p, owned; free with bnc_ols_free */
    double sigma;                 /* residual standard error */
    double df;                    /* residual degrees of freedom n - p */
    double r2, adj_r2;
    double f, f_p;  /* overall F statistic (against the intercept-only model, or
                     * against y = 0 without an intercept) */
    int intercept;  /* 1 when coef[0] is the intercept */
    int exact;      /* 1 for an exact fit (see bnc_ols_fit_opts) */
    size_t aliased; /* on a rank-deficiency error: the 1-based column of X that
                     * is a combination of the columns before it (and the
                     * intercept); 0 otherwise */
} bnc_ols;

typedef struct bnc_ols_opts {
    int no_intercept; /* 1: fit y = X b with no intercept column */
    double tol;       /* rank tolerance, 0: 1e-7 (R's lm); see bnc_ols_fit_opts */
} bnc_ols_opts;

/* Fits y on the columns of X (row-major n x k); unless opts->no_intercept a
 * column of ones is put first, so coef[0] is the intercept. opts may be NULL
 * (intercept, default tolerance).
 *  - Rank: each column is scaled to unit norm (by a power of two, exactly)
 *    and a column whose part orthogonal to the columns before it has norm
 *    below tol is refused with BNC_EINVAL naming it (out->aliased). The
 *    decision, and the coefficients up to the scaling, do not depend on the
 *    units of X: x in metres or in micrometres fit alike.
 *  - Exact fits: when the residual is zero to rounding (norm below
 *    32 n eps |y|, or n == p) the fit is returned with out->exact = 1,
 *    sigma = 0, rss 0, standard errors 0, t = +-INFINITY (0 for a coefficient
 *    that is exactly 0), p-values 0 (1), r2 = adj_r2 = 1, f = INFINITY and
 *    f_p = 0. Check out->exact before reading t or p.
 *  - R^2 and F are centred with an intercept and uncentred (sum y^2, F on p
 *    and n - p df) without one, as R's summary.lm.
 * Fails on NaN/infinite input, k == 0, n < p (BNC_EINVAL), a rank-deficient
 * design (BNC_EINVAL), or, with an intercept, a constant response
 * (BNC_ERANGE: R^2 is 0/0). On failure *out holds no memory. */
int bnc_ols_fit_opts(const double *X, size_t n, size_t k, const double *y, const bnc_ols_opts *opts,
                     bnc_ols *out, bnc_err *err);
/* bnc_ols_fit_opts with an intercept and the default tolerance. */
int bnc_ols_fit(const double *X, size_t n, size_t k, const double *y, bnc_ols *out, bnc_err *err);
void bnc_ols_free(bnc_ols *o);

/* ------------------------------------------------------------------ */
/* Power of t tests (exact, non-central t, both rejection tails). */

typedef enum { BNC_POWER_ONE_SAMPLE, BNC_POWER_PAIRED, BNC_POWER_TWO_SAMPLE } bnc_power_design;

/* Power to detect standardized effect d with n per group (n >= 2) at
 * significance alpha. */
int bnc_power_t(bnc_power_design design, double n, double d, double alpha, bnc_alternative alt,
                double *power, bnc_err *err);
/* Smallest (fractional) n per group with power >= target; *n_int gets the
 * integer n to plan with (ceil). */
int bnc_power_t_n(bnc_power_design design, double d, double alpha, double target,
                  bnc_alternative alt, double *n, int64_t *n_int, bnc_err *err);

#endif
