/* Special functions behind the tests: incomplete beta and gamma, normal and
 * Student t distributions, the non-central t.
 *
 * Accuracy strategy: the power prefactors x^a (1-x)^b / B(a, b) and
 * x^a e^-x / Gamma(a) are computed in a form where the large terms cancel
 * analytically (Stirling correction + log1p(u) - u), so large parameters
 * (t tests with df in the thousands) keep full relative precision; both a
 * value and its complement are always computed from the argument that is not
 * close to 1, so tails never suffer cancellation. */
#include <float.h>
#include <math.h>

#include "bnc_stats.h"

#define LN_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */
#define SQRT_2PI 2.50662827463100050241576528481
#define TINY 1e-300

/* Stirling series remainder: lgamma(x) - ((x - 1/2) log x - x + log sqrt(2pi)),
 * accurate to 1e-17 for x >= 10. */
static double lgammacor(double x)
{
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 +
                r2 * (-1.0 / 360 +
                      r2 * (1.0 / 1260 +
                            r2 * (-1.0 / 1680 +
                                  r2 * (1.0 / 1188 +
                                        r2 * (-691.0 / 360360 +
                                              r2 * (1.0 / 156 + r2 * (-3617.0 / 122400))))))));
}

/* log1p(u) - u without cancellation for small u. With v = u / (2 + u):
 * log1p(u) = 2 atanh(v) and u - 2v = u v, so log1p(u) - u = -u v + 2 (v^3/3
 * + v^5/5 + ...). */
static double log1pmx(double u)
{
    if (fabs(u) >= 0.5 || u <= -1.0) return log1p(u) - u;
    double v = u / (2.0 + u), v2 = v * v, term = v * v2, sum = 0.0;
    for (int k = 3; k < 200; k += 2) {
        double add = term / k;
        sum += add;
        if (fabs(add) <= 1e-18 * fabs(sum)) break;
        term *= v2;
    }
    return -u * v + 2.0 * sum;
}

double bnc_lbeta(double a, double b)
{
    if (!(a > 0) || !(b > 0)) return NAN;
    double p = a < b ? a : b, q = a < b ? b : a;
    if (p >= 10) {
        double corr = lgammacor(p) + lgammacor(q) - lgammacor(p + q);
        return -0.5 * log(q) + LN_SQRT_2PI + corr + (p - 0.5) * log(p / (p + q)) +
               q * log1p(-p / (p + q));
    }
    if (q >= 10) {
        double corr = lgammacor(q) - lgammacor(p + q);
        return lgamma(p) + corr + p - p * log(p + q) + (q - 0.5) * log1p(-p / (p + q));
    }
    return lgamma(p) + lgamma(q) - lgamma(p + q);
}

/* log of x^a y^b / B(a, b), with y = 1 - x given separately. */
static double beta_log_prefactor(double a, double b, double x, double y)
{
    if (a >= 10 && b >= 10) {
        double s = a + b, p0 = a / s, q0 = b / s;
        double d = x < y ? x - p0 : q0 - y;
        double corr = lgammacor(a) + lgammacor(b) - lgammacor(s);
        double u1 = d / p0, u2 = -d / q0;
        /* far below the mean u is near -1 and log1p(u) would lose x's digits */
        double ta = u1 < -0.5 ? a * log(x / p0) - a * u1 : a * log1pmx(u1);
        double tb = u2 < -0.5 ? b * log(y / q0) - b * u2 : b * log1pmx(u2);
        return ta + tb + 0.5 * log(a * q0) - LN_SQRT_2PI - corr;
    }
    double lx = x < 0.5 ? log(x) : log1p(-y);
    double ly = y < 0.5 ? log(y) : log1p(-x);
    return a * lx + b * ly - bnc_lbeta(a, b);
}

/* Continued fraction of I_x(a, b) (modified Lentz); converges quickly for
 * x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < TINY) d = TINY;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m < 1000000; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        if (fabs(d) < TINY) d = TINY;
        c = 1.0 + num / c;
        if (fabs(c) < TINY) c = TINY;
        d = 1.0 / d;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        if (fabs(d) < TINY) d = TINY;
        c = 1.0 + num / c;
        if (fabs(c) < TINY) c = TINY;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 4e-16) break;
    }
    return h;
}

/* I_x(a, b) and its complement, with y = 1 - x. */
static void ibeta(double a, double b, double x, double y, double *i, double *ic)
{
    if (x <= 0) {
        *i = 0, *ic = 1;
        return;
    }
    if (y <= 0) {
        *i = 1, *ic = 0;
        return;
    }
    if (x < (a + 1.0) / (a + b + 2.0)) {
        double w = exp(beta_log_prefactor(a, b, x, y)) / a * beta_cf(a, b, x);
        *i = w;
        *ic = 1.0 - w;
    } else {
        double w = exp(beta_log_prefactor(b, a, y, x)) / b * beta_cf(b, a, y);
        *ic = w;
        *i = 1.0 - w;
    }
}

double bnc_betainc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
    double i, ic;
    ibeta(a, b, x, 1.0 - x, &i, &ic);
    return i;
}

double bnc_betaincc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
    double i, ic;
    ibeta(a, b, x, 1.0 - x, &i, &ic);
    return ic;
}

/* log of x^a e^-x / Gamma(a). */
static double gamma_log_prefactor(double a, double x)
{
    if (a >= 10 && x < 0.5 * a)
        return a * log(x / a) - (x - a) + 0.5 * log(a) - LN_SQRT_2PI - lgammacor(a);
    if (a >= 10) return a * log1pmx((x - a) / a) + 0.5 * log(a) - LN_SQRT_2PI - lgammacor(a);
    return a * log(x) - x - lgamma(a);
}

static void igamma(double a, double x, double *p, double *q)
{
    if (x <= 0) {
        *p = 0, *q = 1;
        return;
    }
    if (isinf(x)) {
        *p = 1, *q = 0;
        return;
    }
    double lp = gamma_log_prefactor(a, x);
    if (x < a + 1.0) {
        /* series: P = x^a e^-x / Gamma(a + 1) * sum x^n / ((a+1)...(a+n)) */
        double term = 1.0, sum = 1.0;
        for (int n = 1; n < 1000000; n++) {
            term *= x / (a + n);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        *p = exp(lp) / a * sum;
        *q = 1.0 - *p;
    } else {
        /* Legendre continued fraction for Q (modified Lentz). */
        double b = x + 1.0 - a, c = 1.0 / TINY, d = 1.0 / b, h = d;
        for (int n = 1; n < 1000000; n++) {
            double an = -n * (n - a);
            b += 2.0;
            d = an * d + b;
            if (fabs(d) < TINY) d = TINY;
            c = b + an / c;
            if (fabs(c) < TINY) c = TINY;
            d = 1.0 / d;
            double del = d * c;
            h *= del;
            if (fabs(del - 1.0) < 4e-16) break;
        }
        *q = exp(lp) * h;
        *p = 1.0 - *q;
    }
}

double bnc_gammainc(double a, double x)
{
    if (!(a > 0) || !(x >= 0)) return NAN;
    double p, q;
    igamma(a, x, &p, &q);
    return p;
}

double bnc_gammaincc(double a, double x)
{
    if (!(a > 0) || !(x >= 0)) return NAN;
    double p, q;
    igamma(a, x, &p, &q);
    return q;
}

/* ------------------------------------------------------------------ */
/* Normal distribution. */

/* log of the density at x, with x^2/2 split so that its rounding error does
 * not reach the exponent for large |x| (as R's pnorm does). */
static double norm_log_pdf(double x)
{
    double xs = trunc(x * 16.0) / 16.0, del = (x - xs) * (x + xs);
    return -LN_SQRT_2PI - 0.5 * xs * xs - 0.5 * del;
}

/* Mills ratio (1 - Phi(x)) / phi(x) for x >= 5 by its continued fraction
 * 1/(x + 1/(x + 2/(x + 3/(x + ...)))). */
static double mills(double x)
{
    /* f = x + 1/(x + 2/(x + ...)) by modified Lentz; R = 1/f */
    double f = x, c = x, d = 0.0;
    for (int n = 1; n < 5000; n++) {
        d = x + n * d;
        c = x + n / c;
        d = 1.0 / d;
        double del = c * d;
        f *= del;
        if (fabs(del - 1.0) < 4e-16) break;
    }
    return 1.0 / f;
}

/* Lower tail Phi(x) for x <= 0 as log, and Phi(x)/phi(x). */
static double norm_lower(double x, double *log_phi_out, double *ratio)
{
    if (x < -5.0) {
        double m = mills(-x), lp = norm_log_pdf(x);
        if (log_phi_out) *log_phi_out = lp + log(m);
        if (ratio) *ratio = m;
        return exp(lp) * m;
    }
    double v = 0.5 * erfc(-x * M_SQRT1_2);
    if (log_phi_out) *log_phi_out = log(v);
    if (ratio) *ratio = v / exp(norm_log_pdf(x));
    return v;
}

double bnc_norm_cdf(double z)
{
    if (isnan(z)) return NAN;
    if (z <= 0) return norm_lower(z, NULL, NULL);
    return z > 5.0 ? 1.0 - norm_lower(-z, NULL, NULL) : 0.5 * erfc(-z * M_SQRT1_2);
}

double bnc_norm_sf(double z)
{
    return isnan(z) ? NAN : bnc_norm_cdf(-z);
}

double bnc_norm_quantile(double p)
{
    if (isnan(p) || p < 0 || p > 1) return NAN;
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    double q = p - 0.5; /* exact for p in [0.25, 1] */
    if (fabs(q) <= 0.425) {
        /* Newton on 0.5 erf(x / sqrt 2) = q: no cancellation near 0. */
        double x = q * SQRT_2PI;
        for (int it = 0; it < 100; it++) {
            double g = 0.5 * erf(x * M_SQRT1_2) - q;
            double step = g / exp(norm_log_pdf(x));
            x -= step;
            if (fabs(step) <= 1e-16 * fabs(x)) break;
        }
        return x;
    }
    if (p > 0.5) return -bnc_norm_quantile(1.0 - p); /* 1 - p exact here */
    /* lower tail: Newton on log Phi(x) = log p, from the asymptotic guess */
    double lp = log(p), s = -2.0 * lp;
    double x = -sqrt(fmax(s - log(s) - 2.0 * LN_SQRT_2PI, 0.5));
    for (int it = 0; it < 100; it++) {
        double lphi, ratio;
        norm_lower(x, &lphi, &ratio);
        double step = (lphi - lp) * ratio;
        x -= step;
        if (fabs(step) <= 1e-16 * fabs(x)) break;
    }
    return x;
}

/* ------------------------------------------------------------------ */
/* Student t. */

/* For t <= 0: lower = F(t), mid = 1/2 - F(t), both without cancellation. */
static void t_lower(double t, double df, double *lower, double *mid)
{
    double at = fabs(t), x, y;
    if (at > 1e150) {
        /* x = df / t^2 would underflow: leading term x^a / (a B(a, 1/2)) in
         * logs (the next term is x times smaller, below 1e-300). */
        double a = 0.5 * df;
        *lower = 0.5 * exp(a * (log(df) - 2.0 * log(at)) - log(a) - bnc_lbeta(a, 0.5));
        *mid = 0.5 - *lower;
        return;
    } else {
        double t2 = at * at;
        x = df / (df + t2);
        y = t2 / (df + t2);
    }
    double i, ic;
    ibeta(0.5 * df, 0.5, x, y, &i, &ic);
    *lower = 0.5 * i;
    *mid = 0.5 * ic;
}

static double t_pdf(double t, double df)
{
    if (isinf(df)) return exp(norm_log_pdf(t));
    return exp(-0.5 * (df + 1.0) * log1p(t * t / df) - 0.5 * log(df) - bnc_lbeta(0.5 * df, 0.5));
}

double bnc_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(df)) return bnc_norm_cdf(t);
    double lo, mid;
    t_lower(-fabs(t), df, &lo, &mid);
    return t <= 0 ? lo : 0.5 + mid;
}

double bnc_t_sf(double t, double df)
{
    return isnan(t) ? NAN : bnc_t_cdf(-t, df);
}

double bnc_t_quantile(double p, double df)
{
    if (isnan(p) || p < 0 || p > 1 || !(df > 0)) return NAN;
    if (isinf(df)) return bnc_norm_quantile(p);
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    if (p == 0.5) return 0.0;
    if (p > 0.5) return -bnc_t_quantile(1.0 - p, df);
    /* p < 1/2, t < 0. Tail (p < 1/4): solve log F(-e^u) = log p in u, which is
     * nearly linear for heavy tails. Centre: solve 1/2 - F(t) = 1/2 - p in t.
     * Both are safeguarded Newton iterations inside a bracket. */
    if (p < 0.25) {
        double lp = log(p);
        /* bracket u: G(u) = log F(-e^u) - lp decreases in u */
        double ulo = -2.0, uhi = 2.0, lo, mid;
        for (int i = 0; i < 2000; i++) {
            t_lower(-exp(uhi), df, &lo, &mid);
            if (log(lo) < lp) break;
            ulo = uhi;
            uhi += 2.0 + fabs(uhi);
        }
        for (int i = 0; i < 200; i++) {
            t_lower(-exp(ulo), df, &lo, &mid);
            if (log(lo) >= lp) break;
            uhi = ulo;
            ulo -= 2.0;
        }
        double z = bnc_norm_quantile(p);
        double u = log(-z);
        if (!(u > ulo && u < uhi)) u = 0.5 * (ulo + uhi);
        for (int it = 0; it < 300; it++) {
            double t = -exp(u);
            t_lower(t, df, &lo, &mid);
            double g = log(lo) - lp;
            if (g > 0)
                ulo = u;
            else
                uhi = u;
            double dg = -t_pdf(t, df) * exp(u) / lo;
            double un = u - g / dg;
            if (!(un > ulo && un < uhi) || dg == 0) un = 0.5 * (ulo + uhi);
            double step = un - u;
            u = un;
            if (fabs(step) <= 2e-16 * fabs(u) || fabs(step) < 1e-300 ||
                uhi - ulo <= 1e-16 * fabs(u))
                break;
        }
        return -exp(u);
    }
    double m = 0.5 - p; /* exact */
    double tlo = -1.0, thi = 0.0, lo, mid;
    for (int i = 0; i < 2000; i++) {
        t_lower(tlo, df, &lo, &mid);
        if (mid >= m) break;
        thi = tlo;
        tlo *= 2.0;
    }
    double t = bnc_norm_quantile(p);
    if (!(t > tlo && t < thi)) t = 0.5 * (tlo + thi);
    for (int it = 0; it < 300; it++) {
        t_lower(t, df, &lo, &mid);
        double g = mid - m; /* increases as t decreases */
        if (g > 0)
            tlo = t;
        else
            thi = t;
        double tn = t + g / t_pdf(t, df);
        if (!(tn > tlo && tn < thi)) tn = 0.5 * (tlo + thi);
        double step = tn - t;
        t = tn;
        if (fabs(step) <= 2e-16 * fabs(t) || thi - tlo <= 1e-16 * fabs(t)) break;
    }
    return t;
}

/* F(t; df, ncp) for t >= 0 (Lenth's series in incomplete beta functions):
 * Phi(-ncp) + 1/2 sum_j [p_j I_x(j + 1/2, df/2) + q_j I_x(j + 1, df/2)],
 * x = t^2 / (t^2 + df), summed over the Poisson weights' bulk. */
static double nct_upper_half(double t, double df, double ncp)
{
    double lam = 0.5 * ncp * ncp, t2 = t * t;
    double x = t2 / (t2 + df), y = df / (t2 + df);
    double sum = 0.0;
    double center = floor(lam), width = 12.0 * sqrt(lam) + 40.0;
    double j0 = fmax(0.0, center - width), j1 = center + width;
    double lsgn = ncp < 0 ? -1.0 : 1.0;
    double llam = log(lam), lnc = log(fabs(ncp));
    for (double j = j0; j <= j1; j += 1.0) {
        double lw = -lam + j * llam;
        double pj = exp(lw - lgamma(j + 1.0));
        double qj = lsgn * exp(lnc + lw - 0.5 * M_LN2 - lgamma(j + 1.5));
        double i1, c1, i2, c2;
        ibeta(j + 0.5, 0.5 * df, x, y, &i1, &c1);
        ibeta(j + 1.0, 0.5 * df, x, y, &i2, &c2);
        sum += pj * i1 + qj * i2;
    }
    return bnc_norm_cdf(-ncp) + 0.5 * sum;
}

double bnc_nct_cdf(double t, double df, double ncp)
{
    if (isnan(t) || !(df > 0) || isnan(ncp)) return NAN;
    if (ncp == 0) return bnc_t_cdf(t, df);
    if (isinf(t)) return t > 0 ? 1.0 : 0.0;
    double v = t >= 0 ? nct_upper_half(t, df, ncp) : 1.0 - nct_upper_half(-t, df, -ncp);
    return fmin(1.0, fmax(0.0, v));
}

double bnc_f_sf(double f, double d1, double d2)
{
    if (isnan(f) || !(d1 > 0) || !(d2 > 0)) return NAN;
    if (f <= 0) return 1.0;
    if (isinf(f)) return 0.0;
    double den = d2 + d1 * f, i, ic;
    ibeta(0.5 * d2, 0.5 * d1, d2 / den, d1 * f / den, &i, &ic);
    return i;
}
