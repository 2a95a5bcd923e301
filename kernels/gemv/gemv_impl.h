/* Internal to kernels/: the bitnet layout, the per-ISA kernel tables and the
 * GEMV job that the row kernels receive. */
#ifndef BNC_GEMV_IMPL_H
#define BNC_GEMV_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_gemv.h"
#include "bnc_kernels.h"

/* bitnet layout: each row is cols rounded up to 128 weights, 32 bytes per
 * 128; in a 128-block byte m holds the codes (t + 1) of elements m + 32n,
 * n = 0..3, in bits 2n..2n+1 (bitnet.cpp's I2_S interleave, also tq2_0's);
 * padding has code 1 (zero). After the codes: the f32 scales (one, one per
 * row, or rows x ceil(cols / group) row-major). */
#define BNC_BITNET_DEFAULT_GROUP 128
#define BNC_BITNET_CHUNK 65536 /* elements per partial sum of the tensor mean */

/* Row bytes of the codes for cols weights. */
static inline int64_t bnc_bitnet_row_bytes(int64_t cols) { return (cols + 127) / 128 * 32; }

/* Functions behind the bitnet-row and bitnet-group rows of the table. */
size_t bnc_bitnet_row_qsize(int64_t rows, int64_t cols, const bnc_qparams *p);
int bnc_bitnet_row_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                            void *dst, size_t cap, size_t *written, bnc_err *err);
int bnc_bitnet_row_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                              const bnc_qparams *p, float *y, bnc_err *err);
size_t bnc_bitnet_group_qsize(int64_t rows, int64_t cols, const bnc_qparams *p);
int bnc_bitnet_group_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                              void *dst, size_t cap, size_t *written, bnc_err *err);
int bnc_bitnet_group_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                                const bnc_qparams *p, float *y, bnc_err *err);


/* One GEMV call as the row kernels see it. */
typedef struct bnc_gemv_job {
    const uint8_t *w;     /* codes or blocks, row r at w + r * row_bytes */
    int64_t row_bytes;
    const float *scales;  /* bitnet scales (NULL for ggml types) */
    int mode;             /* bitnet: BNC_BITNET_* */
    int64_t group;        /* bitnet-group: columns per scale */
    int64_t ngroups;      /* scales per row in group mode */
    int64_t rows, cols;
    const bnc_act *a;
    const int32_t *xseg;  /* batch x nseg: sum of x over each scale segment
                           * (bitnet: the row or each group; tq*: each block) */
    int64_t nseg;
    float *y;             /* batch x rows */
} bnc_gemv_job;

typedef void (*bnc_rows_fn)(const bnc_gemv_job *j, int64_t r0, int64_t r1);

/* Per-ISA kernels; a NULL entry falls back to the next lower ISA. */
typedef struct bnc_isa_kernels {
    bnc_rows_fn bitnet, tq2_0, tq1_0, q8_0, q4_0;
    /* sum of |x| over n floats in 16 double lanes (lane i % 16), lanes then
     * added in order 0..15; non-finite when x holds a NaN/Inf */
    double (*absum)(const float *x, int64_t n);
    /* codes of min(n, 128) floats scaled by inv into one 32-byte block */
    void (*pack128)(const float *x, int64_t n, float inv, uint8_t *out);
} bnc_isa_kernels;

extern const bnc_isa_kernels bnc_kernels_scalar;
extern const bnc_isa_kernels bnc_kernels_avx2;
extern const bnc_isa_kernels bnc_kernels_avx512;

/* The kernels for isa with NULL entries filled from lower ISAs. */
void bnc_isa_kernels_get(bnc_isa isa, bnc_isa_kernels *out);

/* fp16 -> f32 (exact). */
static inline float bnc_gemv_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    __builtin_memcpy(&f, &bits, sizeof f);
    return f;
}

#endif
