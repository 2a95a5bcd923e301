/* Internal: element conversions between f32 and the 16-bit float formats. */
#ifndef BNC_MODELIO_CONVERT_H
#define BNC_MODELIO_CONVERT_H

#include <stddef.h>
#include <stdint.h>

void bnc_mio_f16_to_f32(const void *src, float *dst, size_t n);
void bnc_mio_bf16_to_f32(const void *src, float *dst, size_t n);
void bnc_mio_f32_to_f16(const float *src, void *dst, size_t n);
void bnc_mio_f32_to_bf16(const float *src, void *dst, size_t n);

#endif
