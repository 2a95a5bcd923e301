/* Ordinary least squares by Householder QR (as R's lm), with standard
 * errors, t, p, R^2, adjusted R^2 and the overall F test.
 *
 * Each column is scaled by the power of two that brings its norm into
 * [0.5, 1) before the factorization. Scaling by powers of two is exact, so
 * every rounded operation of the QR gives the same bits as on the unscaled
 * columns (no result moves), but nothing overflows or underflows for x^10
 * with x near 1e-6 or 1e6, and the rank is decided column by column on the
 * scaled matrix: column j is refused when its part orthogonal to the
 * columns before it is below tol of its own norm, a test that no change of
 * units can pass or fail. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_stats.h"

void bnc_ols_free(bnc_ols *o)
{
    if (!o) return;
    free(o->coef); /* one block holds coef, se, t, pval */
    memset(o, 0, sizeof *o);
}

int bnc_ols_fit(const double *X, size_t n, size_t k, const double *y, bnc_ols *out, bnc_err *err)
{
    return bnc_ols_fit_opts(X, n, k, y, NULL, out, err);
}

/* Statistics that follow from the coefficients, R^-1 of the scaled columns
 * and their scales, the residual sum of squares and the total (centred with
 * an intercept) sum of squares. */
static void ols_summary(bnc_ols *out, const double *Rinv, const double *scale, double rss,
                        double tss)
{
    size_t n = out->n, p = out->p;
    double df1 = (double)(out->intercept ? p - 1 : p);
    double dn = (double)(out->intercept ? n - 1 : n);
    if (out->exact) {
        for (size_t j = 0; j < p; j++) {
            out->se[j] = 0;
            out->t[j] = out->coef[j] == 0 ? 0 : copysign(INFINITY, out->coef[j]);
            out->pval[j] = out->coef[j] == 0 ? 1 : 0;
        }
        out->sigma = 0;
        out->r2 = out->adj_r2 = 1;
        out->f = df1 > 0 ? INFINITY : 0;
        out->f_p = df1 > 0 ? 0 : 1;
        return;
    }
    out->sigma = sqrt(rss / out->df);
    for (size_t j = 0; j < p; j++) {
        double s = 0;
        for (size_t c = j; c < p; c++)
            s += Rinv[j * p + c] * Rinv[j * p + c];
        out->se[j] = out->sigma * (sqrt(s) * scale[j]);
        out->t[j] = out->coef[j] / out->se[j];
        out->pval[j] = fmin(1.0, 2.0 * bnc_t_sf(fabs(out->t[j]), out->df));
    }
    out->r2 = 1.0 - rss / tss;
    out->adj_r2 = 1.0 - (1.0 - out->r2) * dn / out->df;
    if (df1 > 0) {
        out->f = ((tss - rss) / df1) / (rss / out->df);
        out->f_p = bnc_f_sf(out->f, df1, out->df);
    } else { /* intercept only: nothing to test */
        out->f = 0;
        out->f_p = 1;
    }
}

int bnc_ols_fit_opts(const double *X, size_t n, size_t k, const double *y, const bnc_ols_opts *opts,
                     bnc_ols *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    int icpt = !(opts && opts->no_intercept);
    double tol = opts && opts->tol > 0 ? opts->tol : 1e-7;
    size_t p = k + (size_t)icpt, q = (size_t)icpt; /* q: offset of X's columns */
    int rc;
    if ((rc = bnc_stats_check_finite(X, n * k, "least squares (predictors)", err)) ||
        (rc = bnc_stats_check_finite(y, n, "least squares (response)", err)))
        return rc;
    if (k == 0) return bnc_err_set(err, BNC_EINVAL, "least squares: no predictors");
    if (opts && !(opts->tol >= 0 && opts->tol < 1))
        return bnc_err_set(err, BNC_EINVAL, "least squares: rank tolerance %g is not in [0, 1)",
                           opts->tol);
    if (n < p)
        return bnc_err_set(err, BNC_EINVAL,
                           "least squares: %zu observations for %zu coefficients: the "
                           "coefficients are not determined",
                           n, p);
    double ym, yv;
    bnc_mean_var(y, n, &ym, &yv);
    double tss = icpt ? yv * (double)(n - 1) : 0;
    if (!icpt)
        for (size_t i = 0; i < n; i++)
            tss += y[i] * y[i];
    if (!(tss > 0)) {
        if (icpt)
            return bnc_err_set(err, BNC_ERANGE, "least squares: the response is constant (%g)", ym);
        return bnc_err_set(err, BNC_ERANGE, "least squares: the response is all zero");
    }
    /* A is column-major n x p: (intercept,) then the predictors; b = y.
     * scale[j] is the power of two that A's column j was multiplied by. */
    double *A = malloc((n * p + n + p * p + 3 * p) * sizeof *A);
    if (!A) return bnc_err_set(err, BNC_ENOMEM, "least squares: out of memory");
    double *b = A + n * p, *Rinv = b + n, *diag = Rinv + p * p, *scale = diag + p,
           *norm = scale + p;
    for (size_t i = 0; i < n; i++) {
        if (icpt) A[i] = 1.0;
        for (size_t j = 0; j < k; j++)
            A[(j + q) * n + i] = X[i * k + j];
        b[i] = y[i];
    }
    for (size_t j = 0; j < p; j++) {
        double *a = A + j * n, mx = 0, s = 0;
        for (size_t i = 0; i < n; i++)
            mx = fmax(mx, fabs(a[i]));
        int e = 0, e2 = 0;
        if (mx > 0) {
            /* the norm of the column divided by a power of two near its
             * largest entry (no overflow), then its own power of two */
            frexp(mx, &e);
            for (size_t i = 0; i < n; i++) {
                double v = ldexp(a[i], -e);
                s += v * v;
            }
            frexp(sqrt(s), &e2);
        }
        scale[j] = ldexp(1.0, -(e + e2));
        s = 0;
        for (size_t i = 0; i < n; i++) {
            a[i] *= scale[j];
            s += a[i] * a[i];
        }
        norm[j] = sqrt(s); /* in [0.5, 1), or 0 for a zero column */
    }
    for (size_t j = 0; j < p; j++) {
        double *a = A + j * n, s = 0;
        for (size_t i = j; i < n; i++)
            s += a[i] * a[i];
        double nrm = sqrt(s);
        /* the column's part orthogonal to the earlier ones, against its norm */
        if (!(nrm > tol * norm[j])) {
            free(A);
            out->aliased = j + 1 - q;
            if (icpt)
                return bnc_err_set(err, BNC_EINVAL,
                                   "least squares: predictor %zu is constant or collinear with "
                                   "the intercept and the predictors before it (orthogonal part "
                                   "%.3g of its norm, tolerance %g); its coefficient is not "
                                   "identifiable",
                                   j, nrm / norm[j], tol);
            return bnc_err_set(
                err, BNC_EINVAL,
                "least squares: predictor %zu is %s; its coefficient is not "
                "identifiable",
                j + 1, norm[j] == 0 ? "all zero" : "collinear with the predictors before it");
        }
        double alpha = a[j] > 0 ? -nrm : nrm;
        double v0 = a[j] - alpha;
        double vnorm2 = s - a[j] * a[j] + v0 * v0;
        a[j] = v0;
        /* apply H = I - 2 v v^T / (v^T v) to the remaining columns and b */
        for (size_t c = j + 1; c <= p; c++) {
            double *col = c < p ? A + c * n : b, dot = 0;
            for (size_t i = j; i < n; i++)
                dot += a[i] * col[i];
            double f = 2 * dot / vnorm2;
            for (size_t i = j; i < n; i++)
                col[i] -= f * a[i];
        }
        diag[j] = alpha; /* R[j][j] */
    }
    /* R's diagonal in diag, above-diagonal in A (column c, rows < c), all
     * for the scaled columns. */
    double *coef = calloc(4 * p, sizeof *coef);
    if (!coef) {
        free(A);
        return bnc_err_set(err, BNC_ENOMEM, "least squares: out of memory");
    }
    out->coef = coef;
    out->se = coef + p;
    out->t = coef + 2 * p;
    out->pval = coef + 3 * p;
    out->n = n;
    out->p = p;
    out->intercept = icpt;
    double bnorm = 0; /* |b| of the scaled problem, for the exact-fit test */
    for (size_t j = p; j-- > 0;) {
        double s = b[j];
        for (size_t c = j + 1; c < p; c++)
            s -= A[c * n + j] * coef[c];
        coef[j] = s / diag[j];
        bnorm += coef[j] * coef[j];
    }
    bnorm = sqrt(bnorm);
    double rss = 0;
    for (size_t i = p; i < n; i++)
        rss += b[i] * b[i];
    /* R^-1 (upper triangular), for (X^T X)^-1 = R^-1 R^-T */
    memset(Rinv, 0, p * p * sizeof *Rinv);
    for (size_t c = 0; c < p; c++) {
        Rinv[c * p + c] = 1.0 / diag[c];
        for (size_t r = c; r-- > 0;) {
            double s = 0;
            for (size_t m = r + 1; m <= c; m++)
                s += A[m * n + r] * Rinv[m * p + c];
            Rinv[r * p + c] = -s / diag[r];
        }
    }
    /* back to the units of X: coefficient j (and below, its standard error)
     * carries the column's scale (exact: powers of two) */
    for (size_t j = 0; j < p; j++)
        coef[j] *= scale[j];
    double ynorm = 0;
    for (size_t i = 0; i < n; i++)
        ynorm += y[i] * y[i];
    ynorm = sqrt(ynorm);
    out->df = (double)(n - p);
    /* Exact fit: the residual is at the rounding error of a backward-stable
     * QR, eps |y| (|y| plus |A| |b| on the scaled columns, |A| <= sqrt(p)),
     * with a small factor for the sums. */
    double lim = 32 * DBL_EPSILON * (double)n * (ynorm + sqrt((double)p) * bnorm);
    out->exact = n == p || sqrt(rss) <= lim;
    if (out->exact) rss = 0;
    ols_summary(out, Rinv, scale, rss, tss);
    free(A);
    return 0;
}
