/* Ternary helpers for metrics and task executors: BitNet b1.58's absmean
 * codes, and reading the codes back out of a `ternary-entropy` buffer. */
#ifndef BNC_TERNARY_H
#define BNC_TERNARY_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_ABSMEAN_EPS 1e-5f

/* BitNet b1.58 absmean ternarization of x[0..n): *gamma = mean |x| (f64 sum,
 * stored as f32), codes[i] = clip(roundf(x[i] / (gamma + 1e-5)), -1, 1) in
 * {-1, 0, 1} (computed as x[i] * (1 / (gamma + eps)), as the bitnet row does).
 * codes may be NULL to get gamma only. BNC_ERANGE names the first NaN/Inf. */
int bnc_ternary_absmean(const float *x, int64_t n, int8_t *codes, float *gamma, bnc_err *err);

/* Decodes the n codes (in {-1, 0, 1}) and the scale of a `ternary-entropy`
 * buffer src[0..nbytes). BNC_EFORMAT when the bytes are not a valid stream
 * of exactly n codes. */
int bnc_ternary_entropy_codes(const void *src, size_t nbytes, int64_t n, int8_t *codes,
                              float *gamma, bnc_err *err);

#endif
