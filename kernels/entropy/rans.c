/* rANS (byte-wise renormalisation, 32-bit state), see bnc_rans.h. */
#include "bnc_rans.h"

int bnc_rans_freqs(const uint64_t *counts, int k, uint32_t *freq, bnc_err *err)
{
    if (k < 1 || k > 256) return bnc_err_set(err, BNC_EINVAL, "rans: %d symbols", k);
    uint64_t total = 0;
    for (int s = 0; s < k; s++)
        total += counts[s];
    if (total == 0) return bnc_err_set(err, BNC_EINVAL, "rans: no symbols to code");
    int64_t sum = 0;
    int big = 0;
    for (int s = 0; s < k; s++) {
        if (counts[s] == 0) {
            freq[s] = 0;
            continue;
        }
        double f = (double)counts[s] * (double)BNC_RANS_M / (double)total;
        uint32_t q = (uint32_t)(f + 0.5);
        freq[s] = q < 1 ? 1 : q;
        sum += freq[s];
        if (counts[s] > counts[big]) big = s;
    }
    /* Fix the total on the largest symbol; when that is not enough (many
     * rare symbols forced to 1), take from the others largest first. */
    int64_t diff = (int64_t)BNC_RANS_M - sum;
    while (diff != 0) {
        int s = big;
        if (diff < 0 && freq[s] <= 1) {
            for (int t = 0; t < k; t++)
                if (freq[t] > freq[s]) s = t;
            if (freq[s] <= 1)
                return bnc_err_set(err, BNC_EINTERNAL, "rans: cannot normalise frequencies");
        }
        if (diff > 0) {
            freq[s] += (uint32_t)diff;
            diff = 0;
        } else {
            uint32_t take = (uint32_t)(-diff) < freq[s] - 1 ? (uint32_t)(-diff) : freq[s] - 1;
            freq[s] -= take;
            diff += take;
            big = s;
        }
    }
    return 0;
}

void bnc_rans_enc_init(bnc_rans_enc *e, uint8_t *buf, size_t cap)
{
    e->x = BNC_RANS_L;
    e->ptr = buf + cap;
    e->end = buf + cap;
    e->begin = buf;
    e->overflow = 0;
}

void bnc_rans_enc_put(bnc_rans_enc *e, uint32_t start, uint32_t freq)
{
    /* x_max = ((L >> scale_bits) << 8) * freq keeps the state in [L, 2^32) */
    const uint64_t x_max = (uint64_t)((BNC_RANS_L >> BNC_RANS_SCALE_BITS) << 8) * freq;
    uint32_t x = e->x;
    while (x >= x_max) {
        if (e->ptr == e->begin) {
            e->overflow = 1;
            return;
        }
        *--e->ptr = (uint8_t)(x & 0xff);
        x >>= 8;
    }
    e->x = ((x / freq) << BNC_RANS_SCALE_BITS) + (x % freq) + start;
}

int bnc_rans_enc_flush(bnc_rans_enc *e, const uint8_t **out, size_t *len)
{
    if (e->overflow || e->ptr - e->begin < 4) return -1;
    e->ptr -= 4;
    e->ptr[0] = (uint8_t)e->x;
    e->ptr[1] = (uint8_t)(e->x >> 8);
    e->ptr[2] = (uint8_t)(e->x >> 16);
    e->ptr[3] = (uint8_t)(e->x >> 24);
    *out = e->ptr;
    *len = (size_t)(e->end - e->ptr);
    return 0;
}

void bnc_rans_dec_init(bnc_rans_dec *d, const uint8_t *src, size_t n)
{
    d->ptr = src;
    d->end = src + n;
    d->bad = 0;
    d->x = 0;
    if (n < 4) {
        d->bad = 1;
        return;
    }
    d->x = (uint32_t)src[0] | ((uint32_t)src[1] << 8) | ((uint32_t)src[2] << 16) |
           ((uint32_t)src[3] << 24);
    d->ptr += 4;
    if (d->x < BNC_RANS_L) d->bad = 1;
}

void bnc_rans_dec_advance(bnc_rans_dec *d, uint32_t start, uint32_t freq)
{
    if (d->bad) return;
    const uint32_t mask = BNC_RANS_M - 1;
    uint32_t x = freq * (d->x >> BNC_RANS_SCALE_BITS) + (d->x & mask) - start;
    while (x < BNC_RANS_L) {
        if (d->ptr == d->end) {
            d->bad = 1;
            return;
        }
        x = (x << 8) | *d->ptr++;
    }
    d->x = x;
}

int bnc_rans_dec_done(const bnc_rans_dec *d)
{
    return !d->bad && d->x == BNC_RANS_L && d->ptr == d->end;
}
