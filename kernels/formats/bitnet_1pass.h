/* Internal to kernels/: the bitnet tensor-scale quantizer in one pass over
 * the input (bitnet_1pass.c), used by bnc_bitnet_quantize_ex (bitnet.c).
 *
 * The tensor scale needs the mean |x| of the whole tensor before any code
 * is known, so the plain quantizer reads x twice (sums, then codes). This
 * one reads it once: it estimates the inverse scale from a strided sample,
 * and while it sums |x| it writes each code under every inverse in a band
 * [lo, hi] around the estimate. A code is the same for every inverse in
 * the band unless fl(|x| * lo) < 0.5 <= fl(|x| * hi) (float products are
 * monotone in the inverse); those few values are kept aside. When the
 * exact inverse falls in the band, only they are coded again; when it does
 * not, the caller runs its second pass. Either way the bytes are those of
 * the two-pass quantizer. */
#ifndef BNC_BITNET_1PASS_H
#define BNC_BITNET_1PASS_H

#include <stdint.h>

#include "bnc_isa.h"
#include "bnc_pool.h"

/* One chunk (n floats, a multiple of 128): returns sum |x| as the absum
 * helpers do (16 double lanes, lane i % 16, lanes added in order); writes
 * n / 128 blocks of codes (bitnet layout, 32 bytes each): t + 1 with
 * t = sign(x) where |x| >= tlo, t = 0 where |x| < thi (thi <= tlo), and
 * lists the elements in between: their offsets in the chunk in uidx and
 * values in uval, at most cap of them (their codes are left 1); *nunc gets
 * their count, or cap + 1 when there were more (then the chunk must be
 * coded again). tlo and thi are the least |x| whose code is non-zero under
 * the inverses lo and hi (fl(|x| * inv) >= 0.5), so the codes written hold
 * for every inverse in [lo, hi]. */
typedef double (*bnc_bitnet_spec_fn)(const float *x, int64_t n, float tlo, float thi,
                                     uint8_t *codes, uint32_t *uidx, float *uval, int64_t cap,
                                     int64_t *nunc);
double bnc_avx2_bitnet_spec_chunk(const float *x, int64_t n, float tlo, float thi, uint8_t *codes,
                                  uint32_t *uidx, float *uval, int64_t cap, int64_t *nunc);

typedef struct bnc_bitnet_1pass bnc_bitnet_1pass;

/* First part: codes of the rows x cols tensor x into codes (rows * cols / 4
 * bytes) and *sum = the two-pass quantizer's sum of |x| (its chunks of
 * BNC_BITNET_CHUNK, added in order). Returns NULL (nothing done, the
 * caller runs both of its passes) when isa has no one-pass kernel, cols is
 * not a multiple of 128, the tensor is small, memory is short, or the
 * sample's mean is 0. */
bnc_bitnet_1pass *bnc_bitnet_1pass_run(const float *x, int64_t rows, int64_t cols, bnc_isa isa,
                                       bnc_pool *pool, uint8_t *codes, double *sum);
/* Second part, with the exact inverse scale inv: fixes the kept-aside
 * codes and frees s. Returns 1 when the codes are final, 0 when inv fell
 * outside the band (the caller codes the tensor again). */
int bnc_bitnet_1pass_finish(bnc_bitnet_1pass *s, float inv);

#endif
