/* Internal to kernels/: the bitnet layout (read by the GEMV kernels) and
 * the per-ISA helpers of the bitnet quantizer. */
#ifndef BNC_BITNET_IMPL_H
#define BNC_BITNET_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_kernels.h"
#include "qimpl.h"

/* bitnet layout: each row is cols rounded up to 128 weights, 32 bytes per
 * 128; in a 128-block byte m holds the codes (t + 1) of elements m + 32n,
 * n = 0..3, in bits 2n..2n+1 (bitnet.cpp's I2_S interleave, also tq2_0's);
 * padding has code 1 (zero). After the codes: the f32 scales (one, one per
 * row, or rows x ceil(cols / group) row-major). */
#define BNC_BITNET_DEFAULT_GROUP 128
#define BNC_BITNET_CHUNK 65536 /* elements per partial sum of the tensor mean */

/* Row bytes of the codes for cols weights. */
static inline int64_t bnc_bitnet_row_bytes(int64_t cols)
{
    return (cols + 127) / 128 * 32;
}

/* Functions behind the three bitnet rows of the table. */
BNC_QDECL(bitnet);
BNC_QDECL(bitnet_row);
BNC_QDECL(bitnet_group);

/* The bitnet quantizer's helpers for one instruction set; a NULL entry
 * falls back to bnc_isa_fallback's. */
typedef struct bnc_isa_kernels {
    /* sum of |x| over n floats in 16 double lanes (lane i % 16), lanes then
     * added in order 0..15; non-finite when x holds a NaN/Inf */
    double (*absum)(const float *x, int64_t n);
    /* codes of min(n, 128) floats scaled by inv into one 32-byte block */
    void (*pack128)(const float *x, int64_t n, float inv, uint8_t *out);
} bnc_isa_kernels;

/* Defined by the ISA's file (gemv/x86/, gemv/arm/), all zero where the
 * build has no such file (bitnet.c). */
extern const bnc_isa_kernels bnc_kernels_scalar;
extern const bnc_isa_kernels bnc_kernels_avx2;
extern const bnc_isa_kernels bnc_kernels_avx512;
extern const bnc_isa_kernels bnc_kernels_neon;

/* The helpers for isa with NULL entries filled from its fallbacks. */
void bnc_isa_kernels_get(bnc_isa isa, bnc_isa_kernels *out);

#endif
