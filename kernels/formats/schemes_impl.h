/* Internal: the functions behind the rows of the scheme table. */
#ifndef BNC_SCHEMES_IMPL_H
#define BNC_SCHEMES_IMPL_H

#include "bnc_kernels.h"

size_t bnc_f32_qsize(int64_t rows, int64_t cols, const bnc_qparams *p);
int bnc_f32_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                     size_t cap, size_t *written, bnc_err *err);
int bnc_f32_dequantize(const void *src, size_t n, int64_t rows, int64_t cols, const bnc_qparams *p,
                       float *y, bnc_err *err);

size_t bnc_bitnet_qsize(int64_t rows, int64_t cols, const bnc_qparams *p);
int bnc_bitnet_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                        void *dst, size_t cap, size_t *written, bnc_err *err);
int bnc_bitnet_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                          const bnc_qparams *p, float *y, bnc_err *err);

#endif
