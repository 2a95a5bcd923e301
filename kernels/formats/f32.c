/* The `f32` scheme: each weight as an IEEE single (4 bytes, host order,
 * which is little endian on every machine we build for), ggml's f32. */
#include <string.h>

#include "qimpl.h"

int bnc_quantize_row_f32(const float *x, void *dst, int64_t n, bnc_err *err);
void bnc_dequantize_row_f32(const void *src, float *y, int64_t n);

int bnc_quantize_row_f32(const float *x, void *dst, int64_t n, bnc_err *err)
{
    int rc = bnc_check_finite(x, n, err);
    if (rc) return rc;
    memcpy(dst, x, (size_t)n * sizeof *x);
    return 0;
}

void bnc_dequantize_row_f32(const void *src, float *y, int64_t n)
{
    memcpy(y, src, (size_t)n * sizeof *y);
}
