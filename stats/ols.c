/* Ordinary least squares by Householder QR (as R's lm), with standard
 * errors, t, p, R^2, adjusted R^2 and the overall F test. */
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
    memset(out, 0, sizeof *out);
    size_t p = k + 1;
    int rc;
    if ((rc = bnc_stats_check_finite(X, n * k, "least squares (predictors)", err)) ||
        (rc = bnc_stats_check_finite(y, n, "least squares (response)", err)))
        return rc;
    if (n <= p)
        return bnc_err_set(err, BNC_EINVAL,
                           "least squares: %zu observations for %zu coefficients leave no "
                           "residual degrees of freedom",
                           n, p);
    /* A is column-major n x p: intercept then the predictors; b = y. */
    double *A = malloc((n * p + n + p * p + 4 * p) * sizeof *A);
    if (!A) return bnc_err_set(err, BNC_ENOMEM, "least squares: out of memory");
    double *b = A + n * p, *Rinv = b + n, *res = Rinv + p * p;
    for (size_t i = 0; i < n; i++) {
        A[i] = 1.0;
        for (size_t j = 0; j < k; j++)
            A[(j + 1) * n + i] = X[i * k + j];
        b[i] = y[i];
    }
    double maxnorm = 0;
    for (size_t j = 0; j < p; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += A[j * n + i] * A[j * n + i];
        maxnorm = fmax(maxnorm, sqrt(s));
    }
    for (size_t j = 0; j < p; j++) {
        double *a = A + j * n, s = 0;
        for (size_t i = j; i < n; i++)
            s += a[i] * a[i];
        double nrm = sqrt(s);
        /* the column's part orthogonal to the earlier ones */
        if (nrm <= 1e-10 * maxnorm) {
            free(A);
            if (j == 0) return bnc_err_set(err, BNC_EINVAL, "least squares: empty design");
            return bnc_err_set(err, BNC_EINVAL,
                               "least squares: predictor %zu is constant or collinear with the "
                               "others; its coefficient is not identifiable",
                               j);
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
        res[j] = alpha; /* R[j][j] */
    }
    /* R's diagonal in res, above-diagonal in A (column c, rows < c). */
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
    for (size_t j = p; j-- > 0;) {
        double s = b[j];
        for (size_t c = j + 1; c < p; c++)
            s -= A[c * n + j] * coef[c];
        coef[j] = s / res[j];
    }
    double rss = 0;
    for (size_t i = p; i < n; i++)
        rss += b[i] * b[i];
    /* R^-1 (upper triangular), for (X^T X)^-1 = R^-1 R^-T */
    memset(Rinv, 0, p * p * sizeof *Rinv);
    for (size_t c = 0; c < p; c++) {
        Rinv[c * p + c] = 1.0 / res[c];
        for (size_t r = c; r-- > 0;) {
            double s = 0;
            for (size_t m = r + 1; m <= c; m++)
                s += A[m * n + r] * Rinv[m * p + c];
            Rinv[r * p + c] = -s / res[r];
        }
    }
    double ym, yv;
    bnc_mean_var(y, n, &ym, &yv);
    double tss = yv * (double)(n - 1);
    out->df = (double)(n - p);
    out->sigma = sqrt(rss / out->df);
    if (!(tss > 0)) {
        bnc_ols_free(out);
        free(A);
        return bnc_err_set(err, BNC_ERANGE, "least squares: the response is constant (%g)", ym);
    }
    if (!(rss > 1e-28 * tss)) {
        bnc_ols_free(out);
        free(A);
        return bnc_err_set(err, BNC_ERANGE,
                           "least squares: perfect fit (zero residual variance): standard "
                           "errors and p-values are undefined");
    }
    for (size_t j = 0; j < p; j++) {
        double s = 0;
        for (size_t c = j; c < p; c++)
            s += Rinv[j * p + c] * Rinv[j * p + c];
        out->se[j] = out->sigma * sqrt(s);
        out->t[j] = coef[j] / out->se[j];
        out->pval[j] = fmin(1.0, 2.0 * bnc_t_sf(fabs(out->t[j]), out->df));
    }
    out->r2 = 1.0 - rss / tss;
    out->adj_r2 = 1.0 - (1.0 - out->r2) * (double)(n - 1) / out->df;
    out->f = ((tss - rss) / (double)(p - 1)) / (rss / out->df);
    out->f_p = bnc_f_sf(out->f, (double)(p - 1), out->df);
    free(A);
    return 0;
}
