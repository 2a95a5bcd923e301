/* The bitnet quantizer with an explicit mode, ISA and pool, and packing of
 * ternary tensors into the bitnet layout (formats/bitnet.c). Included by
 * bnc_gemv.h, where GEMV users have always found them. */
#ifndef BNC_BITNET_H
#define BNC_BITNET_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_isa.h"
#include "bnc_pool.h"

/* The bitnet quantizer of the scheme table (bitnet.c) with an explicit
 * mode, group (multiple of 128; ignored unless mode is BNC_BITNET_GROUP),
 * ISA and pool (the table's functions use bnc_isa_select and one thread).
 * The bytes written do not depend on the ISA or the thread count. Errors:
 * BNC_ERANGE naming the first NaN/Inf, BNC_EINVAL for a bad shape or a
 * small buffer, BNC_ENOTSUP for an ISA the CPU lacks, BNC_ENOMEM. */
int bnc_bitnet_quantize_ex(const float *x, int64_t rows, int64_t cols, int mode, int64_t group,
                           void *dst, size_t cap, size_t *written, bnc_isa isa, bnc_pool *pool,
                           bnc_err *err);

/* Packs an already ternary tensor t (rows x cols, values -1/0/+1) with
 * f32 scales into the bitnet layout: mode 0 one scale, 1 one per row, 2 one
 * per group of p->group columns. Used by tests and benchmarks to build
 * weights without a float tensor. dst must hold bnc_gemv_weight_bytes. */
int bnc_bitnet_pack(const int8_t *t, int64_t rows, int64_t cols, int mode, int64_t group,
                    const float *scales, void *dst, size_t cap, bnc_err *err);

#endif
