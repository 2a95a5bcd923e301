#include "bnc_synth.h"

#include <math.h>
#include <string.h>

#include "bnc_rng.h"

int bnc_synth_from_json(const json_t *def, const char *name, bnc_synth_tensor *out, bnc_err *err)
{
    if (!json_is_object(def))
        return bnc_err_set(err, BNC_EINVAL, "tensor '%s' is not defined in the spec's tensors",
                           name);
    memset(out, 0, sizeof *out);
    out->rows = json_integer_value(json_object_get(def, "rows"));
    out->cols = json_integer_value(json_object_get(def, "cols"));
    out->distribution = json_string_value(json_object_get(def, "distribution"));
    out->seed = (uint64_t)json_integer_value(json_object_get(def, "seed"));
    json_t *v;
    out->df = (v = json_object_get(def, "df")) ? json_number_value(v) : 3.0;
    out->scale = (v = json_object_get(def, "scale")) ? json_number_value(v) : 1.0;
    out->outlier_fraction =
        (v = json_object_get(def, "outlier_fraction")) ? json_number_value(v) : 0.01;
    if (out->rows <= 0 || out->cols <= 0 || !out->distribution)
        return bnc_err_set(err, BNC_EINVAL, "tensor '%s' needs rows, cols and distribution", name);
    if (out->rows * out->cols > (1LL << 32))
        return bnc_err_set(err, BNC_EINVAL, "tensor '%s': %lld x %lld is too large", name,
                           (long long)out->rows, (long long)out->cols);
    return 0;
}

int bnc_synth_fill(const bnc_synth_tensor *t, uint64_t seed, int64_t row_begin, int64_t row_end,
                   float *x, bnc_err *err)
{
    const char *d = t->distribution;
    uint64_t key = bnc_mix64(t->seed, seed);
    /* llm: per-output-channel scales spread log-normally, and a few input
     * columns carry outliers, as real LLM weight matrices do. */
    for (int64_t r = row_begin; r < row_end; r++) {
        bnc_rng rng;
        bnc_rng_init(&rng, key, (uint64_t)r);
        double row_scale = t->scale;
        if (!strcmp(d, "llm")) {
            bnc_rng srng;
            bnc_rng_init(&srng, bnc_mix64(key, 0x5CA1Eull), (uint64_t)r);
            row_scale *= exp(0.5 * bnc_rng_normal(&srng)) * 0.02;
        }
        float *row = x + (r - row_begin) * t->cols;
        for (int64_t c = 0; c < t->cols; c++) {
            double v;
            if (!strcmp(d, "normal") || !strcmp(d, "llm")) {
                v = bnc_rng_normal(&rng);
            } else if (!strcmp(d, "uniform")) {
                v = 2.0 * bnc_rng_uniform(&rng) - 1.0;
            } else if (!strcmp(d, "laplace")) {
                double u = bnc_rng_uniform(&rng) - 0.5;
                v = (u < 0 ? 1.0 : -1.0) * log(1.0 - 2.0 * fabs(u));
            } else if (!strcmp(d, "student_t")) {
                /* t = Z / sqrt(chi2_df / df), chi2 as a sum of squares for
                 * integer df, else through a gamma-free approximation. */
                double z = bnc_rng_normal(&rng), chi = 0;
                int k = (int)t->df;
                if (k < 1) k = 1;
                for (int i = 0; i < k; i++) {
                    double g = bnc_rng_normal(&rng);
                    chi += g * g;
                }
                v = z / sqrt(chi / k);
            } else {
                return bnc_err_set(err, BNC_EINVAL, "unknown distribution '%s'", d);
            }
            row[c] = (float)(v * row_scale);
        }
        if (!strcmp(d, "llm")) {
            /* Outlier columns: the same columns in every row (a hash of the
             * column index decides), 20x larger. */
            for (int64_t c = 0; c < t->cols; c++) {
                uint64_t h = bnc_mix64(key ^ 0x0071ull, (uint64_t)c);
                if ((double)(h >> 11) * (1.0 / 9007199254740992.0) < t->outlier_fraction)
                    row[c] *= 20.0f;
            }
        }
    }
    return 0;
}
