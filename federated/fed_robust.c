/* Robust aggregation rules and simulated attacks. */
#include "bnc_fed_robust.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fed.h"
#include "bnc_rng.h"

double bnc_fed_l2(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return sqrt(s);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void coordinatewise(int agg, const float *const *u, int k, size_t n, double trim_frac,
                           float *col, float *out)
{
    int t = agg == BNC_FED_AGG_TRIMMED ? (int)floor(trim_frac * k) : 0;
    if (2 * t >= k) t = (k - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            col[j] = u[j][i];
        qsort(col, (size_t)k, sizeof *col, cmp_float);
        if (agg == BNC_FED_AGG_MEDIAN) {
            out[i] =
                k % 2 ? col[k / 2] : (float)(((double)col[k / 2 - 1] + (double)col[k / 2]) * 0.5);
        } else {
            double s = 0;
            for (int j = t; j < k - t; j++)
                s += col[j];
            out[i] = (float)(s / (k - 2 * t));
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Krum scores: for each update the sum of squared distances to its
 * k - f - 2 nearest others (at least 1). */
static void krum_scores(const float *const *u, int k, size_t n, int f, double *dist, double *row,
                        double *score)
{
    for (int a = 0; a < k; a++) {
        dist[a * k + a] = 0;
        for (int b = a + 1; b < k; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) {
                double d = (double)u[a][i] - (double)u[b][i];
                s += d * d;
            }
            dist[a * k + b] = dist[b * k + a] = s;
        }
    }
    int near = k - f - 2;
    if (near < 1) near = 1;
    if (near > k - 1) near = k - 1;
    for (int a = 0; a < k; a++) {
        int r = 0;
        for (int b = 0; b < k; b++)
            if (b != a) row[r++] = dist[a * k + b];
        qsort(row, (size_t)r, sizeof *row, cmp_double);
        double s = 0;
        for (int j = 0; j < near && j < r; j++)
            s += row[j];
        score[a] = s;
    }
}

int bnc_fed_robust_aggregate(int agg, const float *const *u, int k, size_t n, double trim_frac,
                             int f, int m, float *out, uint8_t *chosen, bnc_err *err)
{
    if (k < 1) return bnc_err_set(err, BNC_EINVAL, "robust aggregation of %d updates", k);
    if (chosen) memset(chosen, 0, (size_t)k);
    if (agg == BNC_FED_AGG_MEDIAN || agg == BNC_FED_AGG_TRIMMED) {
        float *col = malloc((size_t)k * sizeof *col);
        if (!col) return bnc_err_set(err, BNC_ENOMEM, "robust aggregation: out of memory");
        coordinatewise(agg, u, k, n, trim_frac, col, out);
        free(col);
        return 0;
    }
    if (agg != BNC_FED_AGG_KRUM && agg != BNC_FED_AGG_MULTIKRUM)
        return bnc_err_set(err, BNC_EINVAL, "robust aggregation: unknown rule %d", agg);
    if (k == 1) {
        memcpy(out, u[0], n * sizeof *out);
        if (chosen) chosen[0] = 1;
        return 0;
    }
    double *dist = malloc((size_t)k * (size_t)k * sizeof *dist);
    double *row = malloc((size_t)k * sizeof *row);
    double *score = malloc((size_t)k * sizeof *score);
    int *order = malloc((size_t)k * sizeof *order);
    if (!dist || !row || !score || !order) {
        free(dist);
        free(row);
        free(score);
        free(order);
        return bnc_err_set(err, BNC_ENOMEM, "robust aggregation: out of memory");
    }
    krum_scores(u, k, n, f, dist, row, score);
    /* Order by score, ties by index (a stable, arrival-independent pick). */
    for (int a = 0; a < k; a++)
        order[a] = a;
    for (int a = 1; a < k; a++)
        for (int b = a; b > 0 && score[order[b]] < score[order[b - 1]]; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    int keep = agg == BNC_FED_AGG_KRUM ? 1 : (m < 1 ? 1 : (m > k ? k : m));
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < keep; j++)
            s += u[order[j]][i];
        out[i] = (float)(s / keep);
    }
    if (chosen)
        for (int j = 0; j < keep; j++)
            chosen[order[j]] = 1;
    free(dist);
    free(row);
    free(score);
    free(order);
    return 0;
}

void bnc_fed_attack_apply(int attack, double scale, float *delta, size_t n, uint64_t seed,
                          uint64_t stream)
{
    switch (attack) {
    case BNC_FED_ATTACK_SIGNFLIP:
        for (size_t i = 0; i < n; i++)
            delta[i] = (float)(-scale * delta[i]);
        break;
    case BNC_FED_ATTACK_SCALED:
        for (size_t i = 0; i < n; i++)
            delta[i] = (float)(scale * delta[i]);
        break;
    case BNC_FED_ATTACK_NOISE: {
        bnc_rng r;
        bnc_rng_init(&r, bnc_mix64(seed, 0x4015e), stream);
        for (size_t i = 0; i < n; i++)
            delta[i] = (float)(scale * bnc_rng_normal(&r));
        break;
    }
    case BNC_FED_ATTACK_POISON:
        for (size_t i = 0; i < n; i++)
            delta[i] = (float)scale;
        break;
    default:
        break;
    }
}
