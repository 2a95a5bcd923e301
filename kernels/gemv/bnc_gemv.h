/* GEMV and small-batch GEMM (batch 1..64) of packed weights against int8
 * activations, returning f32 (BitNet's W1.58A8 inference shape).
 *
 *   y[b][r] = d_x[b] * sum_g s_g(r) * sum_{j in g} w_q[r][j] * x_q[b][j]
 *
 * The integer sums are exact; the float part follows one fixed order, the
 * scalar reference's: acc = 0; for each scale group g in order,
 * acc += (float)isum_g * s_g; y = acc * d_x (for one group per row:
 * y = (float)isum * s * d_x). Every fast path (AVX2, AVX-512/VNNI) computes
 * the same integer sums and the same float operations in the same order, so
 * its results are bitwise equal to the scalar reference's, on any number of
 * threads (rows are split in a fixed way and each row is computed alone).
 *
 * Schemes with a GEMV: bitnet, bitnet-row, bitnet-group (2-bit codes, see
 * bitnet.c), tq2_0, tq1_0, q8_0, q4_0 (ggml blocks, FORMATS.md): the rows of
 * the scheme table (bnc_scheme_find) whose gemv[BNC_ISA_SCALAR] is set. The
 * GEMV takes the row, never a name: the kernel is the row's gemv[isa]. */
#ifndef BNC_GEMV_H
#define BNC_GEMV_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_isa.h" /* bnc_isa, bnc_isa_select, ... */
#include "bnc_kernels.h"
#include "bnc_bitnet.h" /* bnc_bitnet_quantize_ex, bnc_bitnet_pack */
#include "bnc_pool.h"   /* bnc_pool, bnc_pool_new, ... */

/* ---- activations ----------------------------------------------------------- */

/* Quantized activations: batch rows of int8 with one f32 factor each, laid
 * out for the kernels (zero padded to a multiple of 256 columns, with a copy
 * permuted for the 512-bit kernels and per-32 column sums for the kernels
 * that multiply unsigned codes). Values are in [-127, 127]. */
typedef struct bnc_act {
    int64_t batch, cols;
    int64_t stride; /* cols rounded up to a multiple of 256 */
    int8_t *q;      /* batch x stride, natural order, zero padded */
    int8_t *qp;     /* batch x stride, each 256 columns in the 512-bit order */
    int32_t *sum32; /* batch x stride/32: sum of q over each 32 columns */
    float *d;       /* batch: x ~= d * q */
} bnc_act;

/* Allocates activations for batch x cols (batch 1..64, cols >= 1); free
 * with bnc_act_free. BNC_EINVAL for a bad shape, BNC_ENOMEM. */
int bnc_act_new(int64_t batch, int64_t cols, bnc_act **out, bnc_err *err);
/* Frees a; NULL is a no-op. */
void bnc_act_free(bnc_act *a);
/* BitNet's activation quantizer, per row of x (batch x cols, row-major):
 * d = max|x| / 127, q = clip(round(x * 127 / max|x|), -127, 127) (round half
 * away from zero; an all-zero row gives d = 0 and q = 0). BNC_ERANGE names
 * the first NaN/Inf. */
int bnc_act_quantize(bnc_act *a, const float *x, bnc_err *err);
/* Loads already quantized rows (batch x cols int8 and batch factors);
 * BNC_ERANGE when a value is -128 (the kernels' range is [-127, 127]). */
int bnc_act_set(bnc_act *a, const int8_t *q, const float *d, bnc_err *err);

/* ---- GEMV / GEMM ------------------------------------------------------------- */

/* True when scheme s (may be NULL) has a GEMV kernel. */
int bnc_gemv_supported(const bnc_scheme *s);

/* y (a->batch x rows, row-major: y[b * rows + r]) = W x for the packed
 * tensor w (wbytes bytes, rows x a->cols, laid out as the scheme's quantize
 * writes it, with params p; p may be NULL) on instruction set isa, split
 * over the pool's threads by a fixed row partition (pool may be NULL).
 * Fails with BNC_ENOTSUP for a scheme without GEMV or an ISA the CPU lacks,
 * BNC_EFORMAT when wbytes does not match the shape, BNC_EINVAL for a bad
 * shape (ggml types need cols to be a multiple of their block). */
int bnc_gemv(const bnc_scheme *s, const bnc_qparams *p, const void *w, size_t wbytes, int64_t rows,
             const bnc_act *a, float *y, bnc_isa isa, bnc_pool *pool, bnc_err *err);

/* f64 reference for error reports: y64[b * rows + r] = sum_j W~[r][j] * x[b][j]
 * with the weights W~ decoded from w (exact, in double) and the original
 * f32 activations x (batch x cols), accumulated in double. */
int bnc_gemv_ref_f64(const bnc_scheme *s, const bnc_qparams *p, const void *w, size_t wbytes,
                     int64_t rows, int64_t cols, const float *x, int64_t batch, double *y64,
                     bnc_err *err);

/* Bytes of the packed rows x cols tensor the GEMV reads (codes or blocks
 * plus scales); 0 when the scheme has no GEMV or the shape is invalid. */
size_t bnc_gemv_weight_bytes(const bnc_scheme *s, const bnc_qparams *p, int64_t rows, int64_t cols);

/* The bitnet scale modes BNC_BITNET_TENSOR, _ROW, _GROUP: bnc_kernels.h. */

/* bnc_bitnet_quantize_ex, bnc_bitnet_pack: bnc_bitnet.h (included above). */

/* Lookup-table GEMV (T-MAC style) for bitnet and bitnet-row, AVX-512BW
 * only, measured against the default kernels by `bnc bench kernels`
 * (variant "lut"); it is slower here, so bnc_gemv does not use it.
 * bnc_bitnet_lut_pack converts the bitnet layout (wbytes as bnc_gemv
 * takes) into the LUT layout (bnc_bitnet_lut_bytes); the GEMV's results
 * equal bnc_gemv's bitwise. BNC_ENOTSUP without AVX-512, BNC_EINVAL or
 * BNC_EFORMAT for bad sizes (group mode is not supported). */
size_t bnc_bitnet_lut_bytes(int mode, int64_t rows, int64_t cols);
int bnc_bitnet_lut_pack(const void *w, size_t wbytes, int mode, int64_t rows, int64_t cols,
                        void *dst, size_t cap, bnc_err *err);
int bnc_bitnet_lut_gemv(const void *w, size_t wbytes, int mode, int64_t rows, const bnc_act *a,
                        float *y, bnc_pool *pool, bnc_err *err);

#endif
