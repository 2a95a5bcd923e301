#include "bnc_metrics.h"

#include <math.h>

void bnc_qerr_compute(const float *x, const float *y, int64_t n, bnc_qerr *out)
{
    double se = 0, sx = 0, sy = 0, sxy = 0, mx = 0;
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = x[i], b = y[i], d = a - b;
        se += d * d;
        sx += a * a;
        sy += b * b;
        sxy += a * b;
        if (fabs(d) > mx)
            mx = fabs(d);
        zeros += (y[i] == 0.0f);
    }
    out->mse = n > 0 ? se / (double)n : 0.0;
    out->rel_rmse = sx > 0 ? sqrt(se / sx) : (se > 0 ? INFINITY : 0.0);
    out->sqnr_db = se > 0 ? 10.0 * log10(sx / se) : INFINITY;
    out->cosine = (sx > 0 && sy > 0) ? sxy / sqrt(sx * sy) : (sx == sy ? 1.0 : 0.0);
    out->max_abs = mx;
    out->sparsity = n > 0 ? (double)zeros / (double)n : 0.0;
}
