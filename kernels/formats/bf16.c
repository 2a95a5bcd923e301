/* The `bf16` scheme: each weight stored as bfloat16 (2 bytes, little
 * endian, round to nearest even), ggml's layout. A finite f32 that rounds to
 * inf is reported (BNC_ERANGE) rather than stored. */
#include "bnc_fp16.h"
#include "qimpl.h"

size_t bnc_bf16_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (bnc_qshape("bf16", rows, cols, 1, BNC_EINVAL, NULL)) return 0;
    return (size_t)(rows * cols) * 2;
}

int bnc_bf16_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                      size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape("bf16", rows, cols, 1, BNC_EINVAL, err);
    if (rc) return rc;
    int64_t n = rows * cols;
    size_t need = bnc_bf16_qsize(rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "bf16: buffer of %zu bytes, need %zu", cap, need);
    rc = bnc_check_finite(x, n, err);
    if (rc) return rc;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = bnc_f32_to_bf16(x[i]);
        if (!bnc_bf16_is_finite(h))
            return bnc_err_set(err, BNC_ERANGE, "bf16: value %g at index %lld overflows the format",
                               (double)x[i], (long long)i);
        bnc_st16(d + 2 * i, h);
    }
    *written = need;
    return 0;
}

int bnc_bf16_dequantize(const void *src, size_t n, int64_t rows, int64_t cols, const bnc_qparams *p,
                        float *y, bnc_err *err)
{
    int rc = bnc_qshape("bf16", rows, cols, 1, BNC_EFORMAT, err);
    if (rc) return rc;
    size_t need = bnc_bf16_qsize(rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "bf16: %zu bytes for %lldx%lld, expected %zu", n,
                           (long long)rows, (long long)cols, need);
    const uint8_t *s = src;
    for (int64_t i = 0; i < rows * cols; i++) {
        uint16_t h = bnc_ld16(s + 2 * i);
        if (!bnc_bf16_is_finite(h))
            return bnc_err_set(err, BNC_EFORMAT, "bf16: non-finite value at index %lld",
                               (long long)i);
        y[i] = bnc_bf16_to_f32(h);
    }
    return 0;
}
