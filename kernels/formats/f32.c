#include <string.h>

#include "schemes_impl.h"

size_t bnc_f32_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    return (size_t)(rows * cols) * sizeof(float);
}

int bnc_f32_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                     size_t cap, size_t *written, bnc_err *err)
{
    size_t need = bnc_f32_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "f32: buffer of %zu bytes, need %zu", cap, need);
    int rc = bnc_check_finite(x, rows * cols, err);
    if (rc)
        return rc;
    memcpy(dst, x, need);
    *written = need;
    return 0;
}

int bnc_f32_dequantize(const void *src, size_t n, int64_t rows, int64_t cols, const bnc_qparams *p,
                       float *y, bnc_err *err)
{
    size_t need = bnc_f32_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "f32: %zu bytes for %lldx%lld", n, (long long)rows,
                           (long long)cols);
    memcpy(y, src, need);
    return 0;
}
