#include "bnc_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bnc_qerr_compute(const float *x, const float *y, int64_t n, bnc_qerr *out)
{
    double se = 0, sx = 0, sy = 0, sxy = 0, mx = 0;
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = x[i], b = y[i], d = a - b;
        se += d * d;
        sx += a * a;
        sy += b * b;
        sxy += a * b;
        if (fabs(d) > mx) mx = fabs(d);
        zeros += (y[i] == 0.0f);
    }
    out->mse = n > 0 ? se / (double)n : 0.0;
    out->rel_rmse = sx > 0 ? sqrt(se / sx) : (se > 0 ? INFINITY : 0.0);
    out->sqnr_db = se > 0 ? 10.0 * log10(sx / se) : INFINITY;
    out->cosine = (sx > 0 && sy > 0) ? sxy / sqrt(sx * sy) : (sx == sy ? 1.0 : 0.0);
    out->max_abs = mx;
    out->sparsity = n > 0 ? (double)zeros / (double)n : 0.0;
}

double bnc_entropy_counts(const uint64_t *counts, size_t k)
{
    uint64_t total = 0;
    for (size_t i = 0; i < k; i++)
        total += counts[i];
    if (total == 0) return 0.0;
    double h = 0.0;
    for (size_t i = 0; i < k; i++)
        if (counts[i]) {
            double p = (double)counts[i] / (double)total;
            h -= p * log2(p);
        }
    return h;
}

double bnc_entropy_i8(const int8_t *codes, int64_t n)
{
    uint64_t counts[256] = {0};
    for (int64_t i = 0; i < n; i++)
        counts[(uint8_t)codes[i]]++;
    return bnc_entropy_counts(counts, 256);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int bnc_entropy_values(const float *y, int64_t n, double *bits, bnc_err *err)
{
    *bits = 0.0;
    if (n <= 0) return 0;
    uint32_t *v = malloc(sizeof *v * (size_t)n);
    if (!v)
        return bnc_err_set(err, BNC_ENOMEM, "entropy: out of memory for %lld values", (long long)n);
    memcpy(v, y, sizeof *v * (size_t)n);
    qsort(v, (size_t)n, sizeof *v, cmp_u32);
    double h = 0.0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j] == v[i])
            j++;
        double p = (double)(j - i) / (double)n;
        h -= p * log2(p);
        i = j;
    }
    free(v);
    *bits = h;
    return 0;
}

double bnc_bits_per_weight(size_t bytes, int64_t n)
{
    return n > 0 ? 8.0 * (double)bytes / (double)n : 0.0;
}

double bnc_compression_ratio(int64_t n, size_t bytes)
{
    return bytes > 0 ? 4.0 * (double)n / (double)bytes : 0.0;
}
