/* Internal to kernels/: little-endian byte helpers, shape checks and the
 * functions behind the quantizer rows of the scheme table (block schemes:
 * BNC_BLOCK_DECL; int8/int4/int2, ternary-stochastic, sparse-*,
 * ternary-entropy: BNC_QDECL). */
#ifndef BNC_QIMPL_H
#define BNC_QIMPL_H

#include <stdint.h>
#include <string.h>

#include "bnc_kernels.h"

static inline uint16_t bnc_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline void bnc_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline uint32_t bnc_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void bnc_st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline float bnc_ldf32(const uint8_t *p)
{
    uint32_t u = bnc_ld32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline void bnc_stf32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    bnc_st32(p, u);
}

/* Checks rows, cols >= 0, rows*cols fits, and cols % block == 0; on failure
 * sets err with code (BNC_EINVAL when quantizing, BNC_EFORMAT when
 * dequantizing) and returns it. */
int bnc_qshape(const char *scheme, int64_t rows, int64_t cols, int64_t block, int code,
               bnc_err *err);

#define BNC_QDECL(fn)                                                                              \
    size_t bnc_##fn##_qsize(int64_t rows, int64_t cols, const bnc_qparams *p);                     \
    int bnc_##fn##_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,      \
                            void *dst, size_t cap, size_t *written, bnc_err *err);                 \
    int bnc_##fn##_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,               \
                              const bnc_qparams *p, float *y, bnc_err *err)

BNC_QDECL(int8);
BNC_QDECL(int4);
BNC_QDECL(int2);
BNC_QDECL(tstoch);
BNC_QDECL(sparse_csr);
BNC_QDECL(sparse_coo);
BNC_QDECL(sparse_ell);
BNC_QDECL(sparse_dia);
BNC_QDECL(sparse_auto);
BNC_QDECL(tentropy);

/* The row functions of block scheme T (the table's quantize_row,
 * dequantize_row and check_block), declared by the scheme's file and by
 * the table. */
#define BNC_BLOCK_DECL(T)                                                                          \
    int bnc_quantize_row_##T(const float *x, void *dst, int64_t n, bnc_err *err);                  \
    void bnc_dequantize_row_##T(const void *src, float *y, int64_t n);                             \
    const char *bnc_check_block_##T(const uint8_t *blk)

/* Shared by the block row quantizers: BNC_EINVAL unless n >= 0 is a
 * multiple of the block qk; the largest magnitude of block xb (qk floats
 * starting at index base of the row) as *amax and its first element of that
 * magnitude, sign kept, as *max, BNC_ERANGE naming the first NaN/Inf; the
 * fp16 bits of block scale d, BNC_ERANGE when d overflows fp16. */
int bnc_row_blocks(const char *name, int64_t n, int qk, bnc_err *err);
int bnc_block_absmax(const char *name, const float *xb, int qk, int64_t base, float *amax,
                     float *max, bnc_err *err);
int bnc_block_scale16(const char *name, float d, int64_t base, uint16_t *dh, bnc_err *err);

/* Group-wise symmetric integer quantization shared by int4 and int2. */
size_t bnc_intg_qsize(int bits, int64_t rows, int64_t cols, const bnc_qparams *p);
int bnc_intg_quantize(int bits, const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                      void *dst, size_t cap, size_t *written, bnc_err *err);
int bnc_intg_dequantize(int bits, const void *src, size_t n, int64_t rows, int64_t cols,
                        const bnc_qparams *p, float *y, bnc_err *err);

#endif
