/* Synthetic tensors for experiments, generated deterministically from a
 * (tensor seed, task seed) pair with the counter-based generator, so every
 * rank produces the same values. */
#ifndef BNC_SYNTH_H
#define BNC_SYNTH_H

#include <jansson.h>
#include <stdint.h>

#include "bnc_err.h"

typedef struct bnc_synth_tensor {
    int64_t rows, cols;
    const char *distribution; /* normal, uniform, laplace, student_t, llm */
    uint64_t seed;
    double df;               /* student_t degrees of freedom (default 3) */
    double scale;            /* multiplies every value (default 1) */
    double outlier_fraction; /* llm: fraction of outlier columns (default 0.01) */
} bnc_synth_tensor;

/* Reads a tensor definition from the spec's JSON ({rows, cols, ...}). */
int bnc_synth_from_json(const json_t *def, const char *name, bnc_synth_tensor *out, bnc_err *err);

/* Fills x[rows_begin*cols .. rows_end*cols) (x points at row rows_begin)
 * with the tensor's values for task seed `seed`. Row r's values do not depend
 * on which rows are generated, so a row range equals the same rows of the
 * whole tensor. */
int bnc_synth_fill(const bnc_synth_tensor *t, uint64_t seed, int64_t row_begin, int64_t row_end,
                   float *x, bnc_err *err);

#endif
