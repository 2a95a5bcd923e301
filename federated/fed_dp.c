/* RDP accountant of the sampled Gaussian mechanism and clip-and-noise.
 *
 * For order alpha, one step of the mechanism with sampling rate q and
 * noise multiplier sigma has RDP log(A_alpha) / (alpha - 1), where
 * A_alpha = E_{z ~ mu0} [(mu(z) / mu0(z))^alpha], mu0 = N(0, sigma^2) and
 * mu = (1 - q) mu0 + q N(1, sigma^2) (Mironov et al. 2019, Sec. 3.3).
 * Integer alpha: the binomial expansion
 *   A = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2)).
 * Fractional alpha: the integral split at z0 = sigma^2 log(1/q - 1) + 1/2,
 * each half a convergent binomial series whose terms carry a Gaussian tail
 * (erfc) factor. Everything is summed in log space. */
#include "bnc_fed_dp.h"

#include <math.h>

#include "bnc_fed_robust.h"
#include "bnc_rng.h"

/* log(exp(a) + exp(b)) and log(exp(a) - exp(b)) (a >= b), -inf aware. */
static double log_add(double a, double b)
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

static double log_sub(double a, double b)
{
    if (b == -INFINITY) return a;
    if (a <= b) return -INFINITY;
    return a + log1p(-exp(b - a));
}

/* log(erfc(x)), accurate where erfc underflows (large x): the asymptotic
 * series erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - ...). */
static double log_erfc(double x)
{
    if (x < 20) return log(erfc(x));
    double x2 = x * x;
    double s = 1 - 1 / (2 * x2) + 3 / (4 * x2 * x2) - 15 / (8 * x2 * x2 * x2);
    return -x2 - log(x) - 0.5 * log(M_PI) + log(s);
}

static double log_a_int(double q, double sigma, int alpha)
{
    double la = -INFINITY, lq = log(q), l1q = log1p(-q);
    for (int k = 0; k <= alpha; k++) {
        double lbin = lgamma(alpha + 1.0) - lgamma(k + 1.0) - lgamma(alpha - k + 1.0);
        double t = lbin + k * lq + (alpha - k) * l1q + (double)(k * k - k) / (2 * sigma * sigma);
        la = log_add(la, t);
    }
    return la;
}

static double log_a_frac(double q, double sigma, double alpha)
{
    /* Two series over i = 0, 1, ...: the part of the integral below z0
     * (terms in q^i (1-q)^(alpha-i)) and above it (q^(alpha-i) (1-q)^i).
     * C(alpha, i) changes sign once i > alpha: tracked with its sign. */
    double pos0 = -INFINITY, neg0 = -INFINITY, pos1 = -INFINITY, neg1 = -INFINITY;
    double z0 = sigma * sigma * log(1 / q - 1) + 0.5;
    double lq = log(q), l1q = log1p(-q), s2 = sqrt(2.0) * sigma;
    double coef = 1; /* C(alpha, i), built by C(alpha, i+1) = C(alpha, i) (alpha - i) / (i + 1) */
    for (int i = 0; i < 100000; i++) {
        double j = alpha - i;
        double lc = log(fabs(coef));
        double t0 = lc + i * lq + j * l1q + (double)(i * (double)i - i) / (2 * sigma * sigma) +
                    log(0.5) + log_erfc((i - z0) / s2);
        double t1 = lc + j * lq + i * l1q + (j * j - j) / (2 * sigma * sigma) + log(0.5) +
                    log_erfc((z0 - j) / s2);
        if (coef > 0) {
            pos0 = log_add(pos0, t0);
            pos1 = log_add(pos1, t1);
        } else {
            neg0 = log_add(neg0, t0);
            neg1 = log_add(neg1, t1);
        }
        if (i > alpha && (t0 > t1 ? t0 : t1) < -30) break;
        coef *= (alpha - i) / (i + 1.0);
        if (coef == 0) break;
    }
    return log_add(log_sub(pos0, neg0), log_sub(pos1, neg1));
}

double bnc_fed_rdp_sgm(double q, double sigma, double alpha)
{
    if (q == 0) return 0;
    if (q == 1) return alpha / (2 * sigma * sigma);
    double la =
        alpha == floor(alpha) ? log_a_int(q, sigma, (int)alpha) : log_a_frac(q, sigma, alpha);
    return isfinite(la) ? la / (alpha - 1) : INFINITY;
}

int bnc_fed_dp_epsilon(double q, double sigma, int64_t steps, double delta, double *eps,
                       double *order, bnc_err *err)
{
    if (!(q >= 0 && q <= 1) || !(sigma > 0) || steps < 0 || !(delta > 0 && delta < 1))
        return bnc_err_set(err, BNC_EINVAL,
                           "dp accountant: q %g, sigma %g, steps %lld, delta %g out of range", q,
                           sigma, (long long)steps, delta);
    double best = INFINITY, best_a = 0;
    for (int x = 1; x < 100 + 52; x++) {
        double a = x < 100 ? 1 + x / 10.0 : (double)(x - 100 + 12);
        double e = (double)steps * bnc_fed_rdp_sgm(q, sigma, a) + log(1 / delta) / (a - 1);
        if (e < best) {
            best = e;
            best_a = a;
        }
    }
    *eps = best;
    if (order) *order = best_a;
    return 0;
}

int bnc_fed_dp_clip_noise(float *delta, size_t n, double clip, double std, uint64_t seed,
                          uint64_t stream)
{
    double nrm = bnc_fed_l2(delta, n);
    int below = nrm <= clip;
    if (!below) {
        float k = (float)(clip / nrm);
        for (size_t i = 0; i < n; i++)
            delta[i] *= k;
    }
    if (std > 0) {
        bnc_rng r;
        bnc_rng_init(&r, bnc_mix64(seed, 0xd1ff), stream);
        for (size_t i = 0; i < n; i++)
            delta[i] += (float)(std * bnc_rng_normal(&r));
    }
    return below;
}
