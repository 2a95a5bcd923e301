/* Non-cryptographic 128-bit hashing for stable identifiers (task ids, spec
 * hashes) and CRC32C-free checksums (zlib's crc32 is used for journals). */
#ifndef BNC_HASH_H
#define BNC_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 128-bit hash of data as two 64-bit halves; stable across platforms. */
void bnc_hash128(const void *data, size_t n, uint64_t out[2]);
/* The same hash written as 32 lowercase hex digits plus NUL into hex[33]. */
void bnc_hash128_hex(const void *data, size_t n, char hex[33]);
/* 64-bit FNV-1a followed by a finalizer. */
uint64_t bnc_hash64(const void *data, size_t n, uint64_t seed);

#endif
