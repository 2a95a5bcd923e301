/* `int8`: symmetric absmax int8 with one scale per output channel (row).
 * s_r = max_j |x_rj| / 127, q = lroundf(x * (127 / max)) in [-127, 127]
 * (half away from zero), 0 for an all-zero row.
 * Layout: rows*cols int8 codes (row-major), then rows f32 scales (LE). */
#include <math.h>

#include "qimpl.h"

size_t bnc_int8_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (bnc_qshape("int8", rows, cols, 1, BNC_EINVAL, NULL)) return 0;
    return (size_t)(rows * cols) + (size_t)rows * 4;
}

int bnc_int8_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                      size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape("int8", rows, cols, 1, BNC_EINVAL, err);
    if (rc) return rc;
    size_t need = bnc_int8_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "int8: buffer of %zu bytes, need %zu", cap, need);
    rc = bnc_check_finite(x, rows * cols, err);
    if (rc) return rc;
    uint8_t *q = dst;
    uint8_t *scales = q + rows * cols;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float amax = 0.0f;
        for (int64_t j = 0; j < cols; j++)
            amax = fmaxf(amax, fabsf(xr[j]));
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            long v = lroundf(xr[j] * inv);
            v = v > 127 ? 127 : (v < -127 ? -127 : v);
            q[r * cols + j] = (uint8_t)(int8_t)v;
        }
        bnc_stf32(scales + 4 * r, amax / 127.0f);
    }
    *written = need;
    return 0;
}

int bnc_int8_dequantize(const void *src, size_t n, int64_t rows, int64_t cols, const bnc_qparams *p,
                        float *y, bnc_err *err)
{
    int rc = bnc_qshape("int8", rows, cols, 1, BNC_EFORMAT, err);
    if (rc) return rc;
    size_t need = bnc_int8_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "int8: %zu bytes for %lldx%lld, expected %zu", n,
                           (long long)rows, (long long)cols, need);
    const uint8_t *q = src;
    const uint8_t *scales = q + rows * cols;
    for (int64_t r = 0; r < rows; r++) {
        float s = bnc_ldf32(scales + 4 * r);
        if (!isfinite(s) || s < 0.0f)
            return bnc_err_set(err, BNC_EFORMAT, "int8: invalid scale %g for row %lld", (double)s,
                               (long long)r);
        for (int64_t j = 0; j < cols; j++)
            y[r * cols + j] = (float)(int8_t)q[r * cols + j] * s;
    }
    return 0;
}
