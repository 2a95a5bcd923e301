/* A byte-wise rANS entropy coder (Duda's asymmetric numeral systems, in the
 * 32-bit state / 8-bit renormalisation form of ryg_rans) with static
 * frequencies summing to 2^16. Symbols are encoded in reverse order into a
 * buffer that fills from its end, and decoded forward. No allocation. */
#ifndef BNC_RANS_H
#define BNC_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_RANS_SCALE_BITS 16
#define BNC_RANS_M (1u << BNC_RANS_SCALE_BITS)
#define BNC_RANS_L (1u << 23) /* lower bound of the normalised state */

/* Turns the counts of k symbols (1 <= k <= 256, not all zero) into
 * frequencies freq[k] summing to BNC_RANS_M, each present symbol >= 1 and each
 * absent symbol 0, close to proportional (rounded, the remainder given to or
 * taken from the largest). Returns BNC_EINVAL when all counts are zero. */
int bnc_rans_freqs(const uint64_t *counts, int k, uint32_t *freq, bnc_err *err);

typedef struct bnc_rans_enc {
    uint32_t x;
    uint8_t *ptr;   /* next byte is written at ptr[-1] */
    uint8_t *begin; /* lowest byte the encoder may write */
    uint8_t *end;   /* one past the buffer */
    int overflow;   /* set when the buffer was too small */
} bnc_rans_enc;

/* Starts an encoder writing backwards into buf[0..cap). */
void bnc_rans_enc_init(bnc_rans_enc *e, uint8_t *buf, size_t cap);
/* Encodes one symbol of cumulative start and frequency freq (> 0). Encode the
 * message from its last symbol to its first. */
void bnc_rans_enc_put(bnc_rans_enc *e, uint32_t start, uint32_t freq);
/* Writes the final state. Returns 0 and sets *out, *len to the encoded bytes
 * (inside buf, ending at buf + cap), or -1 when buf was too small. */
int bnc_rans_enc_flush(bnc_rans_enc *e, const uint8_t **out, size_t *len);

typedef struct bnc_rans_dec {
    uint32_t x;
    const uint8_t *ptr, *end;
    int bad; /* set when the input ran out or the state is invalid */
} bnc_rans_dec;

/* Starts a decoder on src[0..n) (never reads outside it). */
void bnc_rans_dec_init(bnc_rans_dec *d, const uint8_t *src, size_t n);
/* The slot (x mod M) of the next symbol; the caller maps it to a symbol
 * whose range [start, start + freq) holds it, then calls advance. */
static inline uint32_t bnc_rans_dec_slot(const bnc_rans_dec *d)
{
    return d->x & (BNC_RANS_M - 1);
}
void bnc_rans_dec_advance(bnc_rans_dec *d, uint32_t start, uint32_t freq);
/* Non-zero when the stream decoded cleanly: state back at its initial value,
 * every byte consumed, no error. */
int bnc_rans_dec_done(const bnc_rans_dec *d);

#endif
