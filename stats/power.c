/* Power of t tests from the non-central t distribution, counting both
 * rejection tails of a two-sided test (R's power.t.test(strict = TRUE)). */
#include <math.h>

#include "bnc_stats.h"

static void design_df_ncp(bnc_power_design des, double n, double d, double *df, double *ncp)
{
    if (des == BNC_POWER_TWO_SAMPLE) {
        *df = 2 * (n - 1);
        *ncp = sqrt(n / 2) * d;
    } else {
        *df = n - 1;
        *ncp = sqrt(n) * d;
    }
}

static double power_at(bnc_power_design des, double n, double d, double alpha, bnc_alternative alt)
{
    double df, ncp;
    design_df_ncp(des, n, d, &df, &ncp);
    if (alt == BNC_TWO_SIDED) {
        double q = bnc_t_quantile(1 - alpha / 2, df);
        return (1 - bnc_nct_cdf(q, df, ncp)) + bnc_nct_cdf(-q, df, ncp);
    }
    double q = bnc_t_quantile(1 - alpha, df);
    return alt == BNC_GREATER ? 1 - bnc_nct_cdf(q, df, ncp) : bnc_nct_cdf(-q, df, ncp);
}

static int check(double d, double alpha, bnc_err *err)
{
    if (!isfinite(d)) return bnc_err_set(err, BNC_ERANGE, "power: effect size %g is not finite", d);
    if (!(alpha > 0 && alpha < 1))
        return bnc_err_set(err, BNC_EINVAL, "power: alpha %g is not in (0, 1)", alpha);
    return 0;
}

int bnc_power_t(bnc_power_design des, double n, double d, double alpha, bnc_alternative alt,
                double *power, bnc_err *err)
{
    int rc = check(d, alpha, err);
    if (rc) return rc;
    if (!(n >= 2) || !isfinite(n))
        return bnc_err_set(err, BNC_EINVAL, "power: n = %g, needs n >= 2", n);
    *power = power_at(des, n, d, alpha, alt);
    return 0;
}

int bnc_power_t_n(bnc_power_design des, double d, double alpha, double target, bnc_alternative alt,
                  double *n, int64_t *n_int, bnc_err *err)
{
    int rc = check(d, alpha, err);
    if (rc) return rc;
    if (!(target > alpha && target < 1))
        return bnc_err_set(err, BNC_EINVAL, "power: target power %g must lie in (alpha, 1)",
                           target);
    if (d == 0 || (alt == BNC_GREATER && d < 0) || (alt == BNC_LESS && d > 0))
        return bnc_err_set(err, BNC_EINVAL,
                           "power: effect size %g cannot reach power %g for this alternative", d,
                           target);
    double lo = 2, hi = 4;
    if (power_at(des, lo, d, alpha, alt) >= target) {
        *n = lo;
        *n_int = 2;
        return 0;
    }
    while (power_at(des, hi, d, alpha, alt) < target) {
        lo = hi;
        hi *= 2;
        if (hi > 1e12)
            return bnc_err_set(err, BNC_ERANGE,
                               "power: effect size %g needs more than 1e12 "
                               "observations",
                               d);
    }
    for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (power_at(des, mid, d, alpha, alt) < target)
            lo = mid;
        else
            hi = mid;
    }
    *n = hi;
    *n_int = (int64_t)ceil(hi - 1e-9 * hi);
    return 0;
}
