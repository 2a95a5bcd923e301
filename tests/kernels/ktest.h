/* Helpers shared by the kernels_* tests. */
#ifndef KTEST_H
#define KTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnc_kernels.h"
#include "bnc_rng.h"

static inline void fill_normal(float *x, int64_t n, uint64_t seed)
{
    bnc_rng r;
    bnc_rng_init(&r, seed, 7);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)bnc_rng_normal(&r);
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* Quantizes with scheme s into a fresh buffer of qsize bytes; returns it. */
static inline uint8_t *quant(const bnc_scheme *s, const float *x, int64_t rows, int64_t cols,
                             const bnc_qparams *p, size_t *written)
{
    size_t cap = s->qsize(rows, cols, p);
    uint8_t *q = xmalloc(cap);
    bnc_err err;
    bnc_err_clear(&err);
    int rc = s->quantize(x, rows, cols, p, q, cap, written, &err);
    if (rc) fail_msg("%s: %s", s->name, err.msg);
    assert_true(*written <= cap);
    return q;
}

#endif
