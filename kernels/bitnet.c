/* BitNet b1.58 absmean ternary with one scale per tensor (the paper's
 * formula): gamma = mean |W|, W_t = clip(round(W / (gamma + eps)), -1, 1).
 * Layout: 2-bit codes (code = t + 1), 4 per byte, element i in bits
 * 2(i%4)..2(i%4)+1 of byte i/4, then the f32 gamma at the end. */
#include <math.h>
#include <string.h>

#include "schemes_impl.h"

#define BITNET_EPS 1e-5f

size_t bnc_bitnet_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    return (size_t)((rows * cols + 3) / 4) + sizeof(float);
}

int bnc_bitnet_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                        void *dst, size_t cap, size_t *written, bnc_err *err)
{
    int64_t n = rows * cols;
    size_t need = bnc_bitnet_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "bitnet: buffer of %zu bytes, need %zu", cap, need);
    int rc = bnc_check_finite(x, n, err);
    if (rc)
        return rc;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += fabs((double)x[i]);
    float gamma = n > 0 ? (float)(sum / (double)n) : 0.0f;
    float inv = 1.0f / (gamma + BITNET_EPS);
    uint8_t *q = dst;
    memset(q, 0, need);
    for (int64_t i = 0; i < n; i++) {
        float v = roundf(x[i] * inv);
        int t = v > 1.0f ? 1 : (v < -1.0f ? -1 : (int)v);
        q[i / 4] |= (uint8_t)((t + 1) << (2 * (i % 4)));
    }
    memcpy(q + need - sizeof(float), &gamma, sizeof gamma);
    *written = need;
    return 0;
}

int bnc_bitnet_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                          const bnc_qparams *p, float *y, bnc_err *err)
{
    size_t need = bnc_bitnet_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "bitnet: %zu bytes for %lldx%lld", n,
                           (long long)rows, (long long)cols);
    const uint8_t *q = src;
    float gamma;
    memcpy(&gamma, q + need - sizeof(float), sizeof gamma);
    for (int64_t i = 0; i < rows * cols; i++) {
        int code = (q[i / 4] >> (2 * (i % 4))) & 3;
        if (code == 3)
            return bnc_err_set(err, BNC_EFORMAT, "bitnet: invalid code 3 at index %lld",
                               (long long)i);
        y[i] = (float)(code - 1) * gamma;
    }
    return 0;
}
