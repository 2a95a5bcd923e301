/* Secure aggregation of quantized updates (after Bonawitz et al., "Practical
 * Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017):
 * each client adds to its integer update, modulo 2^32, a self mask expanded
 * from a secret seed and one pairwise mask per other client expanded from an
 * X25519 key agreement (signs chosen so that the pairwise masks cancel in
 * the sum). The self-mask seed is Shamir-shared (t of n) with the other
 * clients, encrypted to each; the server learns only the sum. Masks are
 * ChaCha20 keystreams (libsodium), the sharing is over GF(2^61 - 1). */
#ifndef BNC_FED_SECAGG_H
#define BNC_FED_SECAGG_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_SECAGG_PK 32
#define BNC_SECAGG_SEED 32
/* One Shamir share of a 32-byte seed: 8 words of GF(2^61 - 1), 8 bytes each. */
#define BNC_SECAGG_SHARE 64
/* An encrypted share: secretbox MAC (16 bytes) + share. */
#define BNC_SECAGG_BOX (16 + BNC_SECAGG_SHARE)

/* Initialises libsodium (idempotent). BNC_EINTERNAL when it cannot. */
int bnc_secagg_init(bnc_err *err);

/* A client's X25519 key pair (sk secret, pk public). */
void bnc_secagg_keypair(uint8_t pk[BNC_SECAGG_PK], uint8_t sk[BNC_SECAGG_PK]);

/* Fresh random seed (the self mask) from the operating system's CSPRNG. */
void bnc_secagg_random_seed(uint8_t seed[BNC_SECAGG_SEED]);

/* The pairwise seed of clients a and b for a round: a hash of X25519(sk_a,
 * pk_b) (= X25519(sk_b, pk_a)), the round and the ordered pair of ids; a
 * second key for encrypting shares from `from` to `to`. BNC_EFORMAT for an
 * invalid public key. */
int bnc_secagg_pair_seed(const uint8_t sk[BNC_SECAGG_PK], const uint8_t pk_other[BNC_SECAGG_PK],
                         uint32_t round, uint32_t me, uint32_t other, uint8_t seed[BNC_SECAGG_SEED],
                         bnc_err *err);
int bnc_secagg_box_key(const uint8_t sk[BNC_SECAGG_PK], const uint8_t pk_other[BNC_SECAGG_PK],
                       uint32_t round, uint32_t from, uint32_t to, uint8_t key[32], bnc_err *err);

/* y[i] += sign * PRG(seed)[i] (mod 2^32) for i < n, the stream keyed by seed
 * with nonce `round` (sign +1 or -1). */
void bnc_secagg_add_mask(uint32_t *y, size_t n, const uint8_t seed[BNC_SECAGG_SEED], uint32_t round,
                         int sign);

/* Sign of the pairwise mask of client me with other: +1 when me < other. */
int bnc_secagg_pair_sign(uint32_t me, uint32_t other);

/* Shamir: splits seed into n shares (x = 1..n), any t of which recover it.
 * out holds n * BNC_SECAGG_SHARE bytes. BNC_EINVAL unless 1 <= t <= n. */
int bnc_secagg_split(const uint8_t seed[BNC_SECAGG_SEED], int t, int n, uint8_t *out, bnc_err *err);
/* Recovers the seed from k >= t shares with distinct x values xs[0..k)
 * (shares[j] is the share of x = xs[j]). The result is wrong, not an error,
 * with fewer than t shares. BNC_EINVAL for repeated or zero x. */
int bnc_secagg_combine(const uint8_t *shares, const uint32_t *xs, int k,
                       uint8_t seed[BNC_SECAGG_SEED], bnc_err *err);

/* Encrypts a share with key (nonce from round) into box (BNC_SECAGG_BOX
 * bytes) and back; open fails with BNC_EFORMAT when the box was altered. */
void bnc_secagg_seal(const uint8_t share[BNC_SECAGG_SHARE], const uint8_t key[32], uint32_t round,
                     uint8_t box[BNC_SECAGG_BOX]);
int bnc_secagg_open(const uint8_t box[BNC_SECAGG_BOX], const uint8_t key[32], uint32_t round,
                    uint8_t share[BNC_SECAGG_SHARE], bnc_err *err);

/* The integer alphabet of an uplink codec under secure aggregation: x / step
 * rounded (stochastically for f32, from (seed, stream)) and clamped to
 * [-qmax, qmax] (ternary 1, int8 127, f32 32767), as two's complement
 * uint32. residual (NULL: none): error feedback, x += residual first, then
 * residual = x - step * q. */
void bnc_secagg_quantize(const float *x, size_t n, double step, int qmax, int stochastic,
                         uint64_t seed, uint64_t stream, float *residual, uint32_t *q);

#endif
