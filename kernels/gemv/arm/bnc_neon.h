/* Internal to kernels/: the ARM NEON kernels (kernels/gemv/arm/). NEON
 * (Advanced SIMD) is part of every Armv8-A CPU, so BNC_ISA_NEON needs no
 * detection; the dot product extension (sdot, Armv8.2+) is detected at run
 * time and, where present, the GEMV kernels use it. Every function is
 * bitwise equal to its scalar reference in gemv.c. */
#ifndef BNC_NEON_H
#define BNC_NEON_H

#include <stdint.h>

#include "gemv_impl.h"

/* 1 when this CPU has the dot product extension (and the GEMV kernels
 * below use it), 0 otherwise. */
int bnc_neon_has_dotprod(void);

/* The row kernels bnc_neon_<scheme>_rows (BNC_ROWS_DECL(neon) in
 * gemv_impl.h, named by the scheme table) choose the sdot variant when the
 * CPU has it. bnc_kernels_neon (bitnet_impl.h) holds the bitnet
 * quantizer's helpers. */

/* The activation quantizer for one row of cols finite floats (the
 * reference in bnc_act_quantize): *d = max|x| / 127 and
 * q[j] = clip(round(x[j] * 127 / max|x|), -127, 127), round half away from
 * zero; an all-zero row gives *d = 0 and q = 0. Writes q[0..cols). */
void bnc_neon_act_row(const float *x, int64_t cols, int8_t *q, float *d);

/* The sdot variants (neon_dotprod.c); call only when bnc_neon_has_dotprod. */
void bnc_neondp_bitnet_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1);
void bnc_neondp_tq2_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1);
void bnc_neondp_q8_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1);
void bnc_neondp_q4_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1);
void bnc_neondp_tq1_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1);

#endif
