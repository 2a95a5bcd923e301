/* Element conversions (see convert.h): the kernels' fp16/bf16 helpers. */
#include "convert.h"

#include "bnc_fp16.h"

void bnc_mio_f16_to_f32(const void *src, float *dst, size_t n)
{
    bnc_f16_to_f32_row(src, dst, (int64_t)n);
}

void bnc_mio_bf16_to_f32(const void *src, float *dst, size_t n)
{
    bnc_bf16_to_f32_row(src, dst, (int64_t)n);
}

void bnc_mio_f32_to_f16(const float *src, void *dst, size_t n)
{
    bnc_f32_to_f16_row(src, dst, (int64_t)n);
}

void bnc_mio_f32_to_bf16(const float *src, void *dst, size_t n)
{
    bnc_f32_to_bf16_row(src, dst, (int64_t)n);
}
