/* t tests, one-way ANOVA (classic and Welch), effect sizes and
 * multiple-comparison corrections; definitions follow R's t.test,
 * oneway.test/aov and p.adjust. Means are taken of the data shifted by its
 * first value (bnc_mean_var_shift), so the differences of means that the
 * statistics are made of keep their digits on data like 1e12 + small
 * differences; variances are invariant to the shift. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_stats.h"

static int check_level(double level, const char *what, bnc_err *err)
{
    if (!(level > 0 && level < 1))
        return bnc_err_set(err, BNC_EINVAL, "%s: confidence level %g is not in (0, 1)", what,
                           level);
    return 0;
}

/* Fills p and the interval from estimate, se, df and diff = estimate - mu
 * (computed by the caller without cancellation): t = diff / se. */
static void t_finish(bnc_ttest *o, double diff, bnc_alternative alt, double level)
{
    o->t = diff / o->se;
    if (alt == BNC_LESS) {
        o->p = bnc_t_cdf(o->t, o->df);
        o->ci_lo = -INFINITY;
        o->ci_hi = o->estimate + bnc_t_quantile(level, o->df) * o->se;
    } else if (alt == BNC_GREATER) {
        o->p = bnc_t_sf(o->t, o->df);
        o->ci_lo = o->estimate - bnc_t_quantile(level, o->df) * o->se;
        o->ci_hi = INFINITY;
    } else {
        o->p = fmin(1.0, 2.0 * bnc_t_sf(fabs(o->t), o->df));
        double q = bnc_t_quantile(0.5 + 0.5 * level, o->df);
        o->ci_lo = o->estimate - q * o->se;
        o->ci_hi = o->estimate + q * o->se;
    }
}

int bnc_ttest_one(const double *x, size_t n, double mu, bnc_alternative alt, double level,
                  bnc_ttest *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = check_level(level, "one-sample t test", err);
    if (rc || (rc = bnc_stats_check_finite(x, n, "one-sample t test", err))) return rc;
    if (n < 2)
        return bnc_err_set(err, BNC_EINVAL, "one-sample t test: needs at least 2 values, got %zu",
                           n);
    double c = x[0], md, v;
    bnc_mean_var_shift(x, n, c, &md, &v);
    if (!(v > 0))
        return bnc_err_set(err, BNC_ERANGE,
                           "one-sample t test: all %zu values are equal (%g): zero variance, "
                           "the t statistic is undefined",
                           n, c);
    out->estimate = c + md;
    out->se = sqrt(v / (double)n);
    out->df = (double)(n - 1);
    t_finish(out, (c - mu) + md, alt, level);
    return 0;
}

int bnc_ttest_paired(const double *x, const double *y, size_t n, double mu, bnc_alternative alt,
                     double level, bnc_ttest *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    if ((rc = bnc_stats_check_finite(x, n, "paired t test (x)", err)) ||
        (rc = bnc_stats_check_finite(y, n, "paired t test (y)", err)))
        return rc;
    if (n < 2)
        return bnc_err_set(err, BNC_EINVAL, "paired t test: needs at least 2 pairs, got %zu", n);
    double *d = malloc(n * sizeof *d);
    if (!d) return bnc_err_set(err, BNC_ENOMEM, "paired t test: out of memory");
    for (size_t i = 0; i < n; i++)
        d[i] = x[i] - y[i];
    rc = bnc_ttest_one(d, n, mu, alt, level, out, err);
    free(d);
    if (rc) bnc_err_prefix(err, "paired differences: ");
    return rc;
}

int bnc_ttest_two(const double *x, size_t nx, const double *y, size_t ny, double mu, int welch,
                  bnc_alternative alt, double level, bnc_ttest *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    const char *what = welch ? "Welch t test" : "Student t test";
    int rc = check_level(level, what, err);
    if (rc || (rc = bnc_stats_check_finite(x, nx, what, err)) ||
        (rc = bnc_stats_check_finite(y, ny, what, err)))
        return rc;
    if (nx < 2 || ny < 2)
        return bnc_err_set(err, BNC_EINVAL,
                           "%s: needs at least 2 values per group, got %zu and %zu", what, nx, ny);
    double c = x[0], mx, vx, my, vy; /* means of x - c and y - c */
    bnc_mean_var_shift(x, nx, c, &mx, &vx);
    bnc_mean_var_shift(y, ny, c, &my, &vy);
    double fx = (double)nx, fy = (double)ny;
    out->estimate = mx - my;
    if (welch) {
        double ax = vx / fx, ay = vy / fy;
        out->se = sqrt(ax + ay);
        out->df = (ax + ay) * (ax + ay) / (ax * ax / (fx - 1) + ay * ay / (fy - 1));
    } else {
        double v = ((fx - 1) * vx + (fy - 1) * vy) / (fx + fy - 2);
        out->se = sqrt(v * (1 / fx + 1 / fy));
        out->df = fx + fy - 2;
    }
    if (!(out->se > 0))
        return bnc_err_set(err, BNC_ERANGE,
                           "%s: both groups are constant (%g and %g): zero variance, the t "
                           "statistic is undefined",
                           what, c + mx, c + my);
    t_finish(out, out->estimate - mu, alt, level);
    return 0;
}

int bnc_anova_oneway(const double *const *g, const size_t *ns, size_t k, int welch, bnc_anova *out,
                     bnc_err *err)
{
    memset(out, 0, sizeof *out);
    const char *what = welch ? "Welch ANOVA" : "one-way ANOVA";
    if (k < 2) return bnc_err_set(err, BNC_EINVAL, "%s: needs at least 2 groups, got %zu", what, k);
    double *m = calloc(2 * k, sizeof *m);
    if (!m) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", what);
    double *v = m + k;
    size_t N = 0;
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        if ((rc = bnc_stats_check_finite(g[i], ns[i], what, err))) goto done;
        if (ns[i] < (welch ? 2u : 1u)) {
            rc = bnc_err_set(err, BNC_EINVAL, "%s: group %zu has %zu values, needs %d", what, i + 1,
                             ns[i], welch ? 2 : 1);
            goto done;
        }
        N += ns[i];
    }
    /* means of the data shifted by its first value */
    double c = g[0][0];
    for (size_t i = 0; i < k; i++)
        bnc_mean_var_shift(g[i], ns[i], c, &m[i], &v[i]);
    if (N <= k) {
        rc = bnc_err_set(err, BNC_EINVAL, "%s: %zu values in %zu groups leave no residual df", what,
                         N, k);
        goto done;
    }
    double fk = (double)k;
    if (welch) {
        double sw = 0, swm = 0;
        for (size_t i = 0; i < k; i++) {
            if (!(v[i] > 0)) {
                rc = bnc_err_set(err, BNC_ERANGE,
                                 "%s: group %zu is constant (%g): zero variance, weights undefined",
                                 what, i + 1, c + m[i]);
                goto done;
            }
            double w = (double)ns[i] / v[i];
            sw += w;
            swm += w * m[i];
        }
        double mw = swm / sw, num = 0, tmp = 0;
        for (size_t i = 0; i < k; i++) {
            double w = (double)ns[i] / v[i], r = 1 - w / sw;
            num += w * (m[i] - mw) * (m[i] - mw);
            tmp += r * r / ((double)ns[i] - 1);
        }
        tmp /= fk * fk - 1;
        out->df1 = fk - 1;
        out->df2 = 1 / (3 * tmp);
        out->f = num / ((fk - 1) * (1 + 2 * (fk - 2) * tmp));
        out->p = bnc_f_sf(out->f, out->df1, out->df2);
        goto done;
    }
    /* grand mean from all values (compensated), sums of squares by group */
    double tot = 0, gm;
    for (size_t i = 0; i < k; i++)
        tot += (double)ns[i] * m[i];
    gm = tot / (double)N;
    double corr = 0;
    for (size_t i = 0; i < k; i++)
        corr += (double)ns[i] * (m[i] - gm);
    gm += corr / (double)N;
    double ssb = 0, ssw = 0;
    for (size_t i = 0; i < k; i++) {
        ssb += (double)ns[i] * (m[i] - gm) * (m[i] - gm);
        ssw += v[i] * ((double)ns[i] - 1);
    }
    out->ss_between = ssb;
    out->ss_within = ssw;
    out->df1 = fk - 1;
    out->df2 = (double)N - fk;
    out->ms_between = ssb / out->df1;
    out->ms_within = ssw / out->df2;
    if (!(ssw > 0)) {
        rc = bnc_err_set(err, BNC_ERANGE,
                         "%s: every group is constant: zero within-group variance, F undefined",
                         what);
        goto done;
    }
    out->f = out->ms_between / out->ms_within;
    out->p = bnc_f_sf(out->f, out->df1, out->df2);
    out->eta2 = ssb / (ssb + ssw);
    out->omega2 = (ssb - out->df1 * out->ms_within) / (ssb + ssw + out->ms_within);
done:
    free(m);
    return rc;
}

double bnc_hedges_j(double df)
{
    if (!(df > 0)) return NAN;
    if (df <= 1) return 0.0; /* Gamma((df-1)/2) has its pole at df = 1 */
    return exp(lgamma(0.5 * df) - 0.5 * log(0.5 * df) - lgamma(0.5 * (df - 1)));
}

int bnc_cohen_d(const double *x, size_t nx, const double *y, size_t ny, double *d, double *g,
                bnc_err *err)
{
    int rc;
    if ((rc = bnc_stats_check_finite(x, nx, "Cohen's d", err)) ||
        (rc = bnc_stats_check_finite(y, ny, "Cohen's d", err)))
        return rc;
    if (nx < 2 || ny < 2)
        return bnc_err_set(err, BNC_EINVAL,
                           "Cohen's d: needs at least 2 values per group, got %zu and %zu", nx, ny);
    double c = x[0], mx, vx, my, vy; /* means of x - c and y - c */
    bnc_mean_var_shift(x, nx, c, &mx, &vx);
    bnc_mean_var_shift(y, ny, c, &my, &vy);
    double df = (double)(nx + ny - 2);
    double sp = sqrt(((double)(nx - 1) * vx + (double)(ny - 1) * vy) / df);
    if (!(sp > 0))
        return bnc_err_set(err, BNC_ERANGE,
                           "Cohen's d: both groups are constant: pooled sd is zero, d undefined");
    *d = (mx - my) / sp;
    if (g) *g = *d * bnc_hedges_j(df);
    return 0;
}

int bnc_cohen_dz(const double *x, const double *y, size_t n, double *dz, bnc_err *err)
{
    int rc;
    if ((rc = bnc_stats_check_finite(x, n, "Cohen's d_z", err)) ||
        (rc = bnc_stats_check_finite(y, n, "Cohen's d_z", err)))
        return rc;
    if (n < 2)
        return bnc_err_set(err, BNC_EINVAL, "Cohen's d_z: needs at least 2 pairs, got %zu", n);
    double *d = malloc(n * sizeof *d);
    if (!d) return bnc_err_set(err, BNC_ENOMEM, "Cohen's d_z: out of memory");
    for (size_t i = 0; i < n; i++)
        d[i] = x[i] - y[i];
    double m, v;
    bnc_mean_var(d, n, &m, &v);
    free(d);
    if (!(v > 0))
        return bnc_err_set(err, BNC_ERANGE,
                           "Cohen's d_z: the paired differences are constant (%g): sd is zero", m);
    *dz = m / sqrt(v);
    return 0;
}

/* p-values with their original positions, for sorting. */
typedef struct pidx {
    double p;
    size_t i;
} pidx;

static int cmp_pidx(const void *a, const void *b)
{
    const pidx *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int p_adjust(const double *p, size_t m, double *out, int bh, bnc_err *err)
{
    const char *what = bh ? "Benjamini-Hochberg" : "Holm";
    for (size_t i = 0; i < m; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return bnc_err_set(err, BNC_ERANGE, "%s: p-value %zu is %g, not in [0, 1]", what, i + 1,
                               p[i]);
    pidx *s = malloc((m ? m : 1) * sizeof *s);
    if (!s) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < m; i++)
        s[i] = (pidx){p[i], i};
    qsort(s, m, sizeof *s, cmp_pidx);
    double fm = (double)m;
    if (bh) { /* cummin from the largest down of p * m / rank */
        double run = 1.0;
        for (size_t r = m; r-- > 0;) {
            double v = s[r].p * fm / (double)(r + 1);
            if (v < run) run = v;
            s[r].p = run;
        }
    } else { /* cummax from the smallest up of p * (m - rank + 1) */
        double run = 0.0;
        for (size_t r = 0; r < m; r++) {
            double v = fmin(1.0, s[r].p * (fm - (double)r));
            if (v > run) run = v;
            s[r].p = run;
        }
    }
    for (size_t r = 0; r < m; r++)
        out[s[r].i] = s[r].p;
    free(s);
    return 0;
}

int bnc_p_adjust_holm(const double *p, size_t m, double *out, bnc_err *err)
{
    return p_adjust(p, m, out, 0, err);
}

int bnc_p_adjust_bh(const double *p, size_t m, double *out, bnc_err *err)
{
    return p_adjust(p, m, out, 1, err);
}
