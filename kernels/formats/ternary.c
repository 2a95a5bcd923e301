/* BitNet absmean ternary codes (see bnc_ternary.h). */
#include "bnc_ternary.h"

#include <math.h>

#include "bnc_kernels.h"

int bnc_ternary_absmean(const float *x, int64_t n, int8_t *codes, float *gamma, bnc_err *err)
{
    int rc = bnc_check_finite(x, n, err);
    if (rc) return rc;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += fabs((double)x[i]);
    float g = n > 0 ? (float)(sum / (double)n) : 0.0f;
    *gamma = g;
    if (codes) {
        const float inv = 1.0f / (g + BNC_ABSMEAN_EPS);
        for (int64_t i = 0; i < n; i++) {
            float v = roundf(x[i] * inv);
            codes[i] = (int8_t)(v > 1.0f ? 1 : (v < -1.0f ? -1 : (int)v));
        }
    }
    return 0;
}
