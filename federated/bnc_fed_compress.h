/* Update compressors (client to server, and optionally server to client):
 * one table, a codec per row, as the kernels' scheme table. A tensor of n
 * f32 values is encoded into a byte payload and decoded back; rows backed
 * by a kernels/ scheme (f32, f16, int8, bitnet, ternary-stochastic) call it
 * through bnc_scheme_find, the others (QSGD, sign, top-k, random-k) live
 * here because the kernels table has no such scheme. */
#ifndef BNC_FED_COMPRESS_H
#define BNC_FED_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

enum {
    BNC_FED_CODEC_NONE = 0,
    BNC_FED_CODEC_F16 = 1,
    BNC_FED_CODEC_INT8 = 2,
    BNC_FED_CODEC_TERNARY = 3,  /* BitNet absmean, deterministic */
    BNC_FED_CODEC_TERNGRAD = 4, /* stochastic ternary, unbiased */
    BNC_FED_CODEC_QSGD = 5,     /* s levels, unbiased */
    BNC_FED_CODEC_SIGN = 6,     /* scaled sign, majority vote at the server */
    BNC_FED_CODEC_TOPK = 7,
    BNC_FED_CODEC_RANDK = 8, /* scaled by n/k, unbiased */
    BNC_FED_CODEC_COUNT,
    /* Wire id of secure-aggregation tensors: n uint32 (little endian), the
     * integer update plus masks mod 2^32; not a row of the codec table. */
    BNC_FED_CODEC_SECAGG = 100
};

typedef struct bnc_fed_cparams {
    double k_frac;   /* top-k / random-k: fraction kept (default 0.01) */
    int qsgd_levels; /* QSGD s (default 16) */
} bnc_fed_cparams;

typedef struct bnc_fed_codec {
    const char *name;
    int id;             /* wire id (FedTensor.codec) */
    int biased;         /* deterministic and biased: error feedback applies */
    int stochastic;     /* needs (seed, stream) */
    int vote;           /* aggregated by majority vote of signs */
    const char *scheme; /* kernels/ scheme used, or NULL */
    /* Upper bound of the payload for n values. */
    size_t (*bound)(int64_t n, const bnc_fed_cparams *p);
    int (*encode)(const float *x, int64_t n, const bnc_fed_cparams *p, uint64_t seed,
                  uint64_t stream, uint8_t *dst, size_t cap, size_t *written, bnc_err *err);
    /* Rejects (BNC_EFORMAT) a payload that is not exactly what encode of n
     * values writes, or holds an out-of-range code or index. */
    int (*decode)(const uint8_t *src, size_t len, int64_t n, const bnc_fed_cparams *p, float *y,
                  bnc_err *err);
} bnc_fed_codec;

/* Codec by name ("none", "f32" is an alias, "f16", "int8", "ternary",
 * "terngrad", "qsgd", "sign", "topk", "randk") or NULL. */
const bnc_fed_codec *bnc_fed_codec_find(const char *name);
/* Codec by wire id or NULL. */
const bnc_fed_codec *bnc_fed_codec_by_id(int id);
/* Fills defaults for zero fields and checks ranges (BNC_EINVAL). */
int bnc_fed_cparams_check(bnc_fed_cparams *p, bnc_err *err);

/* BNC_ERANGE naming the first NaN or Inf of x[0..n), else 0. */
int bnc_fed_check_finite(const float *x, int64_t n, bnc_err *err);

/* Encodes x[0..n) with codec c into dst (cap bytes), sets *written.
 * residual (NULL: none) is the client's error-feedback memory for this
 * tensor (Seide et al.; Karimireddy et al.), zero at start and kept across
 * rounds: x += residual before encoding, then residual = x - decode(payload),
 * using scratch (n floats). x is modified in place when residual is given.
 * Stochastic codecs draw from (seed, stream). */
int bnc_fed_encode(const bnc_fed_codec *c, const bnc_fed_cparams *p, float *x, int64_t n,
                   float *residual, float *scratch, uint64_t seed, uint64_t stream, uint8_t *dst,
                   size_t cap, size_t *written, bnc_err *err);

#endif
