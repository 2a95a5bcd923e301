/* Descriptive statistics, t and bootstrap confidence intervals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_rng.h"
#include "bnc_stats.h"

void bnc_running_init(bnc_running *r)
{
    r->n = 0;
    r->shift = r->mean_d = r->m2 = 0.0;
    r->min = INFINITY;
    r->max = -INFINITY;
}

void bnc_running_push(bnc_running *r, double x)
{
    if (r->n == 0) r->shift = x;
    r->n++;
    double v = x - r->shift, d = v - r->mean_d;
    r->mean_d += d / (double)r->n;
    r->m2 += d * (v - r->mean_d);
    if (x < r->min) r->min = x;
    if (x > r->max) r->max = x;
}

void bnc_running_merge(bnc_running *into, const bnc_running *o)
{
    if (o->n == 0) return;
    if (into->n == 0) {
        *into = *o;
        return;
    }
    double na = (double)into->n, nb = (double)o->n, n = na + nb;
    double ob = o->mean_d + (o->shift - into->shift); /* other's mean on our shift */
    double d = ob - into->mean_d;
    into->mean_d += d * nb / n;
    into->m2 += o->m2 + d * d * na * nb / n;
    into->n += o->n;
    if (o->min < into->min) into->min = o->min;
    if (o->max > into->max) into->max = o->max;
}

double bnc_running_mean(const bnc_running *r)
{
    return r->shift + r->mean_d;
}

double bnc_running_var(const bnc_running *r)
{
    return r->n < 2 ? 0.0 : r->m2 / (double)(r->n - 1);
}

int bnc_stats_check_finite(const double *x, size_t n, const char *what, bnc_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return bnc_err_set(err, BNC_ERANGE, "%s: value %zu of %zu is %s", what, i + 1, n,
                               isnan(x[i]) ? "NaN" : "infinite");
    return 0;
}

void bnc_mean_var_shift(const double *x, size_t n, double c, double *mean_d, double *var)
{
    if (n == 0) {
        *mean_d = 0, *var = 0;
        return;
    }
    /* Neumaier-compensated sum of x - c, then one correction pass: the mean
     * of 1e9 + noise keeps all of the noise's digits. */
    double s = 0, comp = 0;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i] - c, t = s + xi;
        comp += fabs(s) >= fabs(xi) ? (s - t) + xi : (xi - t) + s;
        s = t;
    }
    double m = (s + comp) / (double)n;
    double sd = 0, sd2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (x[i] - c) - m;
        sd += d;
        sd2 += d * d;
    }
    m += sd / (double)n;
    *mean_d = m;
    *var = n < 2 ? 0.0 : (sd2 - sd * sd / (double)n) / (double)(n - 1);
    if (*var < 0) *var = 0;
}

void bnc_mean_var(const double *x, size_t n, double *mean, double *var)
{
    bnc_mean_var_shift(x, n, 0.0, mean, var); /* x - 0 is x: no rounding */
}

double bnc_quantile_sorted(const double *s, size_t n, double p)
{
    if (n == 0) return NAN;
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return s[n - 1];
    double f = h - (double)lo;
    return f == 0 ? s[lo] : s[lo] + f * (s[lo + 1] - s[lo]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bnc_desc_compute(const double *x, size_t n, bnc_desc *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0) return bnc_err_set(err, BNC_EINVAL, "descriptive statistics: no values");
    int rc = bnc_stats_check_finite(x, n, "descriptive statistics", err);
    if (rc) return rc;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return bnc_err_set(err, BNC_ENOMEM, "descriptive statistics: out of memory (%zu values)",
                           n);
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    out->n = n;
    bnc_mean_var(x, n, &out->mean, &out->var);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = bnc_quantile_sorted(s, n, 0.5);
    out->q1 = bnc_quantile_sorted(s, n, 0.25);
    out->q3 = bnc_quantile_sorted(s, n, 0.75);
    free(s);
    out->has_sd = n >= 2;
    out->sd = sqrt(out->var);
    out->se = out->has_sd ? out->sd / sqrt((double)n) : 0.0;
    bnc_acf1(x, n, &out->acf1, &out->acf1_q, &out->acf1_p, &out->has_acf);
    return 0;
}

void bnc_acf1(const double *x, size_t n, double *r1, double *q, double *p, int *ok)
{
    *r1 = *q = 0, *p = 1, *ok = 0;
    if (n < 3) return;
    double m, v;
    bnc_mean_var(x, n, &m, &v);
    /* deviations from the mean are exact for offset data (Sterbenz), so the
     * sums keep the noise's digits */
    double num = 0, den = 0, prev = x[0] - m;
    den = prev * prev;
    for (size_t i = 1; i < n; i++) {
        double d = x[i] - m;
        num += prev * d;
        den += d * d;
        prev = d;
    }
    if (!(den > 0)) return;
    double fn = (double)n;
    *r1 = num / den;
    *q = fn * (fn + 2) * *r1 * *r1 / (fn - 1); /* Ljung-Box, one lag */
    *p = bnc_gammaincc(0.5, 0.5 * *q);         /* chi-squared, 1 df */
    *ok = 1;
}

static int check_level(double level, const char *what, bnc_err *err)
{
    if (!(level > 0 && level < 1))
        return bnc_err_set(err, BNC_EINVAL, "%s: confidence level %g is not in (0, 1)", what,
                           level);
    return 0;
}

int bnc_ci_mean_t(const double *x, size_t n, double level, bnc_interval *out, bnc_err *err)
{
    int rc = check_level(level, "t interval", err);
    if (rc) return rc;
    if (n < 2)
        return bnc_err_set(err, BNC_EINVAL, "t interval: needs at least 2 values, got %zu", n);
    if ((rc = bnc_stats_check_finite(x, n, "t interval", err))) return rc;
    double m, v;
    bnc_mean_var(x, n, &m, &v);
    double half = bnc_t_quantile(0.5 + 0.5 * level, (double)(n - 1)) * sqrt(v / (double)n);
    out->est = m;
    out->lo = m - half;
    out->hi = m + half;
    return 0;
}

double bnc_stat_mean(const double *x, size_t n, void *user)
{
    (void)user;
    double m, v;
    bnc_mean_var(x, n, &m, &v);
    return m;
}

double bnc_stat_median(const double *x, size_t n, void *user)
{
    (void)user;
    double *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = bnc_quantile_sorted(s, n, 0.5);
    free(s);
    return m;
}

int bnc_bca_from_replicates(double theta, double *reps, size_t B, const double *jack, size_t n,
                            double level, bnc_interval *out, bnc_err *err)
{
    int rc = check_level(level, "BCa interval", err);
    if (rc) return rc;
    if (B < 2 || n < 2)
        return bnc_err_set(err, BNC_EINVAL, "BCa interval: needs >= 2 replicates and values");
    qsort(reps, B, sizeof *reps, cmp_double);
    size_t below = 0;
    for (size_t b = 0; b < B; b++)
        below += reps[b] < theta;
    if (below == 0 || below == B) {
        if (reps[0] == reps[B - 1]) { /* constant statistic: degenerate interval */
            out->est = out->lo = out->hi = theta;
            return 0;
        }
        return bnc_err_set(err, BNC_ERANGE,
                           "BCa interval: the estimate %g lies outside all %zu bootstrap "
                           "replicates; bias correction is undefined (use percentile)",
                           theta, B);
    }
    double z0 = bnc_norm_quantile((double)below / (double)B);
    double jm, jv;
    bnc_mean_var(jack, n, &jm, &jv);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = jm - jack[i];
        num += d * d * d;
        den += d * d;
    }
    double acc = den > 0 ? num / (6.0 * pow(den, 1.5)) : 0.0;
    double alpha = 0.5 * (1.0 - level);
    double za = bnc_norm_quantile(alpha), zb = bnc_norm_quantile(1.0 - alpha);
    double a1 = bnc_norm_cdf(z0 + (z0 + za) / (1.0 - acc * (z0 + za)));
    double a2 = bnc_norm_cdf(z0 + (z0 + zb) / (1.0 - acc * (z0 + zb)));
    out->est = theta;
    out->lo = bnc_quantile_sorted(reps, B, a1);
    out->hi = bnc_quantile_sorted(reps, B, a2);
    return 0;
}

int bnc_bootstrap_ci(const double *x, size_t n, bnc_statistic_fn stat, void *user, size_t B,
                     double level, uint64_t seed, bnc_boot_method method, bnc_interval *out,
                     double *reps_out, bnc_err *err)
{
    int rc = check_level(level, "bootstrap interval", err);
    if (rc) return rc;
    if (n < 2)
        return bnc_err_set(err, BNC_EINVAL, "bootstrap interval: needs at least 2 values, got %zu",
                           n);
    if (B < 100)
        return bnc_err_set(err, BNC_EINVAL, "bootstrap interval: %zu resamples, need >= 100", B);
    if ((rc = bnc_stats_check_finite(x, n, "bootstrap interval", err))) return rc;
    if (!stat) stat = bnc_stat_mean;
    double *reps = reps_out ? reps_out : malloc(B * sizeof *reps);
    double *buf = malloc(n * sizeof *buf);
    double *jack = method == BNC_BOOT_BCA ? malloc(n * sizeof *jack) : NULL;
    if (!reps || !buf || (method == BNC_BOOT_BCA && !jack)) {
        rc = bnc_err_set(err, BNC_ENOMEM, "bootstrap interval: out of memory");
        goto done;
    }
    bnc_rng rng;
    bnc_rng_init(&rng, seed, 0);
    for (size_t b = 0; b < B; b++) {
        for (size_t i = 0; i < n; i++)
            buf[i] = x[bnc_rng_below(&rng, n)];
        reps[b] = stat(buf, n, user);
    }
    double theta = stat(x, n, user);
    if (method == BNC_BOOT_BCA) {
        for (size_t i = 0; i < n; i++) { /* leave-one-out values */
            size_t k = 0;
            for (size_t j = 0; j < n; j++)
                if (j != i) buf[k++] = x[j];
            jack[i] = stat(buf, n - 1, user);
        }
        rc = bnc_bca_from_replicates(theta, reps, B, jack, n, level, out, err);
    } else {
        qsort(reps, B, sizeof *reps, cmp_double);
        double alpha = 0.5 * (1.0 - level);
        out->est = theta;
        out->lo = bnc_quantile_sorted(reps, B, alpha);
        out->hi = bnc_quantile_sorted(reps, B, 1.0 - alpha);
    }
done:
    if (reps != reps_out) free(reps);
    free(buf);
    free(jack);
    return rc;
}
