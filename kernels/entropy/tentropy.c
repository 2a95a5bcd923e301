/* `ternary-entropy`: BitNet absmean ternary codes (one f32 scale gamma per
 * tensor, codes as bnc_ternary_absmean) entropy-coded with order-0 static
 * rANS (bnc_rans.h), lossless over the codes. The stored size is the codes'
 * empirical entropy plus 20 bytes and a negligible frequency-rounding loss,
 * so it drops below 1.58 bits per weight as zeros dominate.
 * Layout: f32 gamma, u32 freq[3] (codes -1, 0, +1; sum 2^16; 0 for an absent
 * code), then the rANS stream (u32 final state, then renormalisation bytes
 * in decoding order). Quantizing needs no allocation: the coder writes
 * backwards from the end of dst and the result is moved down. */
#include <math.h>

#include "bnc_rans.h"
#include "bnc_ternary.h"
#include "qimpl.h"

#define TE_HDR 16

size_t bnc_tentropy_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    (void)p;
    if (bnc_qshape("ternary-entropy", rows, cols, 1, BNC_EINVAL, NULL)) return 0;
    /* Each code costs at most log2(3) + 1 bits plus 32/2^16 for rare codes
     * (see the frequency rounding in bnc_rans_freqs): 2.625 bits bounds it. */
    return TE_HDR + 8 + (size_t)((rows * cols * 21 + 63) / 64);
}

static int code_of(float x, float inv)
{
    float v = roundf(x * inv);
    return v > 1.0f ? 1 : (v < -1.0f ? -1 : (int)v);
}

int bnc_tentropy_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                          void *dst, size_t cap, size_t *written, bnc_err *err)
{
    int rc = bnc_qshape("ternary-entropy", rows, cols, 1, BNC_EINVAL, err);
    if (rc) return rc;
    const int64_t n = rows * cols;
    float gamma;
    rc = bnc_ternary_absmean(x, n, NULL, &gamma, err);
    if (rc) return rc;
    if (cap < TE_HDR + 4)
        return bnc_err_set(err, BNC_EINVAL, "ternary-entropy: buffer of %zu bytes, need up to %zu",
                           cap, bnc_tentropy_qsize(rows, cols, p));
    const float inv = 1.0f / (gamma + BNC_ABSMEAN_EPS);
    uint64_t counts[3] = {0, n == 0, 0};
    for (int64_t i = 0; i < n; i++)
        counts[code_of(x[i], inv) + 1]++;
    uint32_t freq[3], start[3];
    rc = bnc_rans_freqs(counts, 3, freq, err);
    if (rc) return rc;
    start[0] = 0;
    start[1] = freq[0];
    start[2] = freq[0] + freq[1];

    uint8_t *out = dst;
    bnc_rans_enc enc;
    bnc_rans_enc_init(&enc, out + TE_HDR, cap - TE_HDR);
    for (int64_t i = n - 1; i >= 0; i--) {
        int s = code_of(x[i], inv) + 1;
        bnc_rans_enc_put(&enc, start[s], freq[s]);
    }
    const uint8_t *stream;
    size_t len;
    if (bnc_rans_enc_flush(&enc, &stream, &len) != 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "ternary-entropy: buffer of %zu bytes is too small "
                           "(up to %zu needed)",
                           cap, bnc_tentropy_qsize(rows, cols, p));
    memmove(out + TE_HDR, stream, len);
    bnc_stf32(out, gamma);
    for (int s = 0; s < 3; s++)
        bnc_st32(out + 4 + 4 * s, freq[s]);
    *written = TE_HDR + len;
    return 0;
}

/* Decodes count codes; each one goes to codes[i] and/or y[i] (either NULL). */
static int te_decode(const uint8_t *src, size_t n, int64_t count, int8_t *codes, float *y,
                     float *gamma_out, bnc_err *err)
{
    if (n < TE_HDR)
        return bnc_err_set(err, BNC_EFORMAT,
                           "ternary-entropy: %zu bytes, shorter than the "
                           "header",
                           n);
    const float gamma = bnc_ldf32(src);
    if (!isfinite(gamma) || gamma < 0.0f)
        return bnc_err_set(err, BNC_EFORMAT, "ternary-entropy: invalid scale %g", (double)gamma);
    uint32_t freq[3];
    uint64_t sum = 0;
    for (int s = 0; s < 3; s++) {
        freq[s] = bnc_ld32(src + 4 + 4 * s);
        sum += freq[s];
    }
    if (sum != BNC_RANS_M)
        return bnc_err_set(err, BNC_EFORMAT, "ternary-entropy: frequencies sum to %llu, not %u",
                           (unsigned long long)sum, BNC_RANS_M);
    const uint32_t start[3] = {0, freq[0], freq[0] + freq[1]};
    bnc_rans_dec dec;
    bnc_rans_dec_init(&dec, src + TE_HDR, n - TE_HDR);
    for (int64_t i = 0; i < count && !dec.bad; i++) {
        uint32_t slot = bnc_rans_dec_slot(&dec);
        int s = slot < start[1] ? 0 : (slot < start[2] ? 1 : 2);
        bnc_rans_dec_advance(&dec, start[s], freq[s]);
        if (codes) codes[i] = (int8_t)(s - 1);
        if (y) y[i] = (float)(s - 1) * gamma;
    }
    if (!bnc_rans_dec_done(&dec))
        return bnc_err_set(err, BNC_EFORMAT,
                           "ternary-entropy: corrupt or truncated stream "
                           "(%zu bytes for %lld codes)",
                           n, (long long)count);
    if (gamma_out) *gamma_out = gamma;
    return 0;
}

int bnc_tentropy_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                            const bnc_qparams *p, float *y, bnc_err *err)
{
    (void)p;
    int rc = bnc_qshape("ternary-entropy", rows, cols, 1, BNC_EFORMAT, err);
    if (rc) return rc;
    return te_decode(src, n, rows * cols, NULL, y, NULL, err);
}

int bnc_ternary_entropy_codes(const void *src, size_t nbytes, int64_t n, int8_t *codes,
                              float *gamma, bnc_err *err)
{
    if (n < 0)
        return bnc_err_set(err, BNC_EINVAL, "ternary-entropy: negative count %lld", (long long)n);
    return te_decode(src, nbytes, n, codes, NULL, gamma, err);
}
