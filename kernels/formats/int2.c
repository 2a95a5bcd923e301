/* `int2`: group-wise signed 2-bit integers with one fp16 scale per group
 * (group size p->group, default 32); the shared code and the layout are in
 * intgroup.c. */
#include "qimpl.h"

size_t bnc_int2_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    return bnc_intg_qsize(2, rows, cols, p);
}

int bnc_int2_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                      size_t cap, size_t *written, bnc_err *err)
{
    return bnc_intg_quantize(2, x, rows, cols, p, dst, cap, written, err);
}

int bnc_int2_dequantize(const void *src, size_t n, int64_t rows, int64_t cols, const bnc_qparams *p,
                        float *y, bnc_err *err)
{
    return bnc_intg_dequantize(2, src, n, rows, cols, p, y, err);
}
