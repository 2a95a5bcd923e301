/* `ternary-stochastic`: TernGrad's unbiased stochastic ternarization.
 * s = max |x| over the tensor; element i becomes sign(x_i) * s with
 * probability |x_i| / s and 0 otherwise, so E[y_i] = x_i. The uniform for
 * element i is the i-th 32-bit word of the Philox stream keyed by
 * (p->seed, p->stream): the output depends only on (x, seed, stream).
 * Test: u < |x_i| / s with u = word * 2^-32 (exact in double), so the bias is
 * below 2^-32 * s per element.
 * Layout: 2-bit codes (code = t + 1), element i in bits 2(i%4) of byte i/4,
 * then the f32 s (LE). */
#include <math.h>

#include "bnc_rng.h"
#include "qimpl.h"

size_t bnc_tstoch_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (bnc_qshape("ternary-stochastic", rows, cols, 1, BNC_EINVAL, NULL)) return 0;
    return (size_t)((rows * cols + 3) / 4) + 4;
}

int bnc_tstoch_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                        size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape("ternary-stochastic", rows, cols, 1, BNC_EINVAL, err);
    if (rc) return rc;
    size_t need = bnc_tstoch_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "ternary-stochastic: buffer of %zu bytes, need %zu",
                           cap, need);
    int64_t n = rows * cols;
    rc = bnc_check_finite(x, n, err);
    if (rc) return rc;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s = fmaxf(s, fabsf(x[i]));
    bnc_rng rng;
    bnc_rng_init(&rng, p ? p->seed : 0, p ? p->stream : 0);
    uint8_t *q = dst;
    memset(q, 0, need - 4);
    const double inv = s > 0.0f ? 1.0 / (double)s : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double prob = fabs((double)x[i]) * inv; /* in [0, 1] */
        double u = (double)bnc_rng_u32(&rng) * (1.0 / 4294967296.0);
        int t = u < prob ? (x[i] > 0.0f ? 1 : -1) : 0;
        q[i / 4] |= (uint8_t)((t + 1) << (2 * (i % 4)));
    }
    bnc_stf32(q + need - 4, s);
    *written = need;
    return 0;
}

int bnc_tstoch_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                          const bnc_qparams *p, float *y, bnc_err *err)
{
    int rc = bnc_qshape("ternary-stochastic", rows, cols, 1, BNC_EFORMAT, err);
    if (rc) return rc;
    size_t need = bnc_tstoch_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT,
                           "ternary-stochastic: %zu bytes for %lldx%lld, expected %zu", n,
                           (long long)rows, (long long)cols, need);
    const uint8_t *q = src;
    float s = bnc_ldf32(q + need - 4);
    if (!isfinite(s) || s < 0.0f)
        return bnc_err_set(err, BNC_EFORMAT, "ternary-stochastic: invalid scale %g", (double)s);
    for (int64_t i = 0; i < rows * cols; i++) {
        int code = (q[i / 4] >> (2 * (i % 4))) & 3;
        if (code == 3)
            return bnc_err_set(err, BNC_EFORMAT,
                               "ternary-stochastic: invalid code 3 at index "
                               "%lld",
                               (long long)i);
        y[i] = (float)(code - 1) * s;
    }
    return 0;
}
