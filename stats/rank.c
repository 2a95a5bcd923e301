/* Rank tests: Mann-Whitney U and Wilcoxon signed-rank, exact for small
 * samples without ties, normal approximation with tie and continuity
 * correction otherwise (as R's wilcox.test). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_stats.h"

typedef struct vi {
    double v;
    size_t i;
} vi;

static int cmp_vi(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* Average ranks of v[0..n-1] into r; returns sum of (t^3 - t) over tie
 * groups in *ties (0 when there are none). */
static int rank_avg(const double *v, size_t n, double *r, double *ties)
{
    vi *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) return BNC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        s[i] = (vi){v[i], i};
    qsort(s, n, sizeof *s, cmp_vi);
    *ties = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && s[b].v == s[a].v)
            b++;
        double rk = 0.5 * (double)(a + 1 + b); /* mean of ranks a+1..b */
        for (size_t j = a; j < b; j++)
            r[s[j].i] = rk;
        double t = (double)(b - a);
        *ties += t * t * t - t;
        a = b;
    }
    free(s);
    return 0;
}

/* Exact null distribution of U for sizes m, n: counts c[u], u = 0..m*n,
 * from f(u; i, j) = f(u - j; i - 1, j) + f(u; i, j - 1) (additions only, so
 * tail counts keep full relative precision). Returns a malloc'd array of
 * probabilities, or NULL. */
static double *mw_exact_dist(size_t m, size_t n)
{
    size_t L = m * n + 1;
    double *prev = calloc((n + 1) * L, sizeof *prev), *cur = calloc((n + 1) * L, sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return NULL;
    }
    for (size_t j = 0; j <= n; j++)
        prev[j * L] = 1; /* i = 0: only u = 0 */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * L * sizeof *cur);
        cur[0] = 1; /* j = 0 */
        for (size_t j = 1; j <= n; j++)
            for (size_t u = 0; u <= i * j; u++)
                cur[j * L + u] = (u >= j ? prev[j * L + u - j] : 0) + cur[(j - 1) * L + u];
        double *t = prev;
        prev = cur;
        cur = t;
    }
    double *d = malloc(L * sizeof *d), tot = 0;
    if (d) {
        for (size_t u = 0; u < L; u++)
            tot += prev[n * L + u];
        for (size_t u = 0; u < L; u++)
            d[u] = prev[n * L + u] / tot;
    }
    free(prev);
    free(cur);
    return d;
}

/* Exact distribution of the signed-rank statistic V for n ranks 1..n. */
static double *sr_exact_dist(size_t n)
{
    size_t L = n * (n + 1) / 2 + 1;
    double *c = calloc(L, sizeof *c);
    if (!c) return NULL;
    c[0] = 1;
    for (size_t k = 1; k <= n; k++)
        for (size_t v = k * (k + 1) / 2; v >= k; v--)
            c[v] += c[v - k];
    double tot = ldexp(1.0, (int)n);
    for (size_t v = 0; v < L; v++)
        c[v] /= tot;
    return c;
}

/* p-value from an exact distribution d[0..L-1] of an integer statistic s
 * symmetric about L-1 over 2, as R does. */
static double exact_p(const double *d, size_t L, double s, bnc_alternative alt)
{
    size_t k = (size_t)llround(s);
    double le = 0, ge = 0;
    for (size_t u = 0; u < L; u++) {
        if (u <= k) le += d[u];
        if (u >= k) ge += d[u];
    }
    if (alt == BNC_LESS) return fmin(1.0, le);
    if (alt == BNC_GREATER) return fmin(1.0, ge);
    double p = s > 0.5 * (double)(L - 1) ? ge : le;
    return fmin(1.0, 2.0 * p);
}

static double normal_p(double z, double sigma, bnc_alternative alt, double *zout)
{
    double corr = alt == BNC_TWO_SIDED ? (z > 0   ? 0.5
                                          : z < 0 ? -0.5
                                                  : 0.0)
                  : alt == BNC_GREATER ? 0.5
                                       : -0.5;
    z = (z - corr) / sigma;
    *zout = z;
    if (alt == BNC_LESS) return bnc_norm_cdf(z);
    if (alt == BNC_GREATER) return bnc_norm_sf(z);
    return fmin(1.0, 2.0 * fmin(bnc_norm_cdf(z), bnc_norm_sf(z)));
}

int bnc_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, bnc_alternative alt,
                     int exact, bnc_ranktest *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if ((rc = bnc_stats_check_finite(x, nx, "Mann-Whitney U test", err)) ||
        (rc = bnc_stats_check_finite(y, ny, "Mann-Whitney U test", err)))
        return rc;
    if (nx < 1 || ny < 1)
        return bnc_err_set(err, BNC_EINVAL, "Mann-Whitney U test: empty group (%zu and %zu values)",
                           nx, ny);
    size_t N = nx + ny;
    double *all = malloc(2 * N * sizeof *all), ties;
    if (!all) return bnc_err_set(err, BNC_ENOMEM, "Mann-Whitney U test: out of memory");
    double *r = all + N;
    memcpy(all, x, nx * sizeof *all);
    memcpy(all + nx, y, ny * sizeof *all);
    if (rank_avg(all, N, r, &ties)) {
        free(all);
        return bnc_err_set(err, BNC_ENOMEM, "Mann-Whitney U test: out of memory");
    }
    double sr = 0;
    for (size_t i = 0; i < nx; i++)
        sr += r[i];
    free(all);
    double fx = (double)nx, fy = (double)ny;
    out->stat = sr - fx * (fx + 1) / 2;
    int use_exact = exact < 0 ? (nx < 50 && ny < 50 && ties == 0) : exact;
    if (use_exact && ties > 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "Mann-Whitney U test: exact p requested but the data have ties");
    if (use_exact) {
        double *d = mw_exact_dist(nx, ny);
        if (!d) return bnc_err_set(err, BNC_ENOMEM, "Mann-Whitney U test: out of memory");
        out->p = exact_p(d, nx * ny + 1, out->stat, alt);
        out->exact = 1;
        free(d);
        return 0;
    }
    double sigma = sqrt(fx * fy / 12.0 * ((fx + fy + 1) - ties / ((fx + fy) * (fx + fy - 1))));
    if (!(sigma > 0))
        return bnc_err_set(err, BNC_ERANGE,
                           "Mann-Whitney U test: all %zu values are tied: no rank information", N);
    out->p = normal_p(out->stat - fx * fy / 2, sigma, alt, &out->z);
    return 0;
}

int bnc_wilcoxon_signed(const double *x, const double *y, size_t n, double mu, bnc_alternative alt,
                        int exact, bnc_ranktest *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if ((rc = bnc_stats_check_finite(x, n, "Wilcoxon signed-rank test", err)) ||
        (y && (rc = bnc_stats_check_finite(y, n, "Wilcoxon signed-rank test", err))))
        return rc;
    double *d = malloc(2 * (n ? n : 1) * sizeof *d), ties;
    if (!d) return bnc_err_set(err, BNC_ENOMEM, "Wilcoxon signed-rank test: out of memory");
    double *r = d + n;
    size_t m = 0;
    int zeroes = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i] - (y ? y[i] : 0) - mu;
        if (v == 0)
            zeroes = 1;
        else
            d[m++] = v;
    }
    out->n_used = m;
    if (m == 0) {
        free(d);
        return bnc_err_set(err, BNC_EINVAL,
                           "Wilcoxon signed-rank test: all %zu differences are zero", n);
    }
    double *ad = malloc(m * sizeof *ad);
    if (!ad) {
        free(d);
        return bnc_err_set(err, BNC_ENOMEM, "Wilcoxon signed-rank test: out of memory");
    }
    for (size_t i = 0; i < m; i++)
        ad[i] = fabs(d[i]);
    rc = rank_avg(ad, m, r, &ties);
    free(ad);
    if (rc) {
        free(d);
        return bnc_err_set(err, BNC_ENOMEM, "Wilcoxon signed-rank test: out of memory");
    }
    double v = 0;
    for (size_t i = 0; i < m; i++)
        if (d[i] > 0) v += r[i];
    free(d);
    out->stat = v;
    double fm = (double)m;
    int use_exact = exact < 0 ? (m < 50 && ties == 0 && !zeroes) : exact;
    if (use_exact && (ties > 0 || zeroes))
        return bnc_err_set(err, BNC_EINVAL,
                           "Wilcoxon signed-rank test: exact p requested but the data have %s",
                           zeroes ? "zero differences" : "ties");
    if (use_exact) {
        double *dist = sr_exact_dist(m);
        if (!dist) return bnc_err_set(err, BNC_ENOMEM, "Wilcoxon signed-rank test: out of memory");
        out->p = exact_p(dist, m * (m + 1) / 2 + 1, v, alt);
        out->exact = 1;
        free(dist);
        return 0;
    }
    double sigma = sqrt(fm * (fm + 1) * (2 * fm + 1) / 24.0 - ties / 48.0);
    if (!(sigma > 0))
        return bnc_err_set(err, BNC_ERANGE,
                           "Wilcoxon signed-rank test: all differences tied: no rank information");
    out->p = normal_p(v - fm * (fm + 1) / 4, sigma, alt, &out->z);
    return 0;
}
