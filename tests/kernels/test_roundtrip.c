/* Every row of the scheme table: round trip error on N(0,1) within the
 * scheme's expected bound, exact sizes, NaN/Inf rejected with the index of
 * the first bad value, short buffers refused, wrong sizes refused. */
#include "ktest.h"

#include <math.h>
#include <stdio.h>

#include "bnc_metrics.h"

#define ROWS 8
#define COLS 256

/* Upper bounds of the relative RMSE on N(0,1) 8x256 for our rows. The
 * figures: fp16/bf16 half an ulp (2^-11, 2^-8 relative); q8_0/int8 ~
 * amax/127/sqrt(12); 4-bit ~ amax/8/sqrt(12) per 32-group; ternary ~0.51
 * (absmean), 0.81 for tq*_0 on raw weights (FORMATS.md); stochastic ternary
 * has variance s|x| - x^2: ~1.5 relative for N(0,1) with s = max|x| ~ 3. */
static double bound_for(const char *name)
{
    static const struct {
        const char *name;
        double bound;
    } b[] = {{"f32", 0.0},
             {"f16", 4e-4},
             {"bf16", 3e-3},
             {"q8_0", 0.012},
             {"int8", 0.015},
             {"q4_0", 0.13},
             {"int4", 0.12},
             {"int2", 0.6},
             {"tq1_0", 0.88},
             {"tq2_0", 0.88},
             {"ternary-stochastic", 1.9},
             {"sparse-csr", 0.53},
             {"sparse-coo", 0.53},
             {"sparse-ell", 0.53},
             {"sparse-dia", 0.53},
             {"sparse-auto", 0.53},
             {"ternary-entropy", 0.53}};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (strcmp(b[i].name, name) == 0) return b[i].bound;
    return -1.0; /* another area's row: checked for the contract only */
}

static void test_error_bounds(void **state)
{
    (void)state;
    float *x = xmalloc(sizeof(float) * ROWS * COLS);
    float *y = xmalloc(sizeof(float) * ROWS * COLS);
    fill_normal(x, ROWS * COLS, 11);
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        bnc_qparams p = {.seed = 5, .stream = 9};
        size_t w;
        uint8_t *q = quant(s, x, ROWS, COLS, &p, &w);
        bnc_err err;
        if (s->dequantize(q, w, ROWS, COLS, &p, y, &err) != 0) fail_msg("%s: %s", s->name, err.msg);
        if (s->block_bytes) assert_int_equal(w, (size_t)(ROWS * COLS / s->block) * s->block_bytes);
        bnc_qerr e;
        bnc_qerr_compute(x, y, ROWS * COLS, &e);
        double bound = bound_for(s->name);
        print_message("%-20s rel_rmse %.5f  bpw %.3f\n", s->name, e.rel_rmse,
                      bnc_bits_per_weight(w, ROWS * COLS));
        if (bound >= 0.0 && e.rel_rmse > bound)
            fail_msg("%s: relative RMSE %g above %g", s->name, e.rel_rmse, bound);
        free(q);
    }
    free(x);
    free(y);
}

static void test_nonfinite_index(void **state)
{
    (void)state;
    float *x = xmalloc(sizeof(float) * ROWS * COLS);
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const int64_t at[3] = {0, 777, ROWS * COLS - 1};
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        size_t cap = s->qsize(ROWS, COLS, NULL);
        uint8_t *q = xmalloc(cap);
        for (int k = 0; k < 3; k++) {
            fill_normal(x, ROWS * COLS, 12);
            x[at[k]] = bad[k];
            if (k == 2) x[at[k] - 5] = NAN; /* the first bad one is named */
            bnc_err err;
            bnc_err_clear(&err);
            size_t w = 0;
            int rc = s->quantize(x, ROWS, COLS, NULL, q, cap, &w, &err);
            if (rc != BNC_ERANGE) fail_msg("%s: non-finite value accepted (rc %d)", s->name, rc);
            char want[64];
            snprintf(want, sizeof want, "index %lld", (long long)(k == 2 ? at[k] - 5 : at[k]));
            if (!strstr(err.msg, want))
                fail_msg("%s: message '%s' does not name %s", s->name, err.msg, want);
        }
        free(q);
    }
    free(x);
}

static void test_sizes(void **state)
{
    (void)state;
    float *x = xmalloc(sizeof(float) * ROWS * COLS);
    float *y = xmalloc(sizeof(float) * ROWS * COLS);
    fill_normal(x, ROWS * COLS, 13);
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        size_t w;
        uint8_t *q = quant(s, x, ROWS, COLS, NULL, &w);
        bnc_err err;
        /* one byte short of what it wrote: refused, nothing written past cap */
        uint8_t *small = xmalloc(w);
        size_t w2 = 0;
        assert_int_not_equal(s->quantize(x, ROWS, COLS, NULL, small, w - 1, &w2, &err), 0);
        /* exactly what it needs: accepted, same bytes (deterministic) */
        assert_int_equal(s->quantize(x, ROWS, COLS, NULL, small, w, &w2, &err), 0);
        assert_int_equal(w2, w);
        assert_memory_equal(small, q, w);
        /* one byte less or more than written: a format error */
        uint8_t *big = xmalloc(w + 1);
        memcpy(big, q, w);
        big[w] = 0;
        if (s->dequantize(q, w - 1, ROWS, COLS, NULL, y, &err) != BNC_EFORMAT)
            fail_msg("%s: truncated input accepted", s->name);
        if (s->dequantize(big, w + 1, ROWS, COLS, NULL, y, &err) != BNC_EFORMAT)
            fail_msg("%s: trailing byte accepted", s->name);
        free(big);
        free(small);
        free(q);
    }
    free(x);
    free(y);
}

static void test_shapes(void **state)
{
    (void)state;
    /* Block schemes refuse rows that are not a multiple of the block; the
     * others take any length, including empty tensors and odd lengths. */
    float x[3 * 37], y[3 * 37];
    fill_normal(x, 3 * 37, 14);
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        if (bound_for(s->name) < 0) continue;
        size_t w;
        bnc_err err;
        uint8_t buf[4096];
        int rc = s->quantize(x, 3, 37, NULL, buf, sizeof buf, &w, &err);
        if (s->block > 1) {
            assert_int_equal(rc, BNC_EINVAL);
            continue;
        }
        if (rc) fail_msg("%s 3x37: %s", s->name, err.msg);
        assert_int_equal(s->dequantize(buf, w, 3, 37, NULL, y, &err), 0);
        bnc_qerr e;
        bnc_qerr_compute(x, y, 3 * 37, &e);
        assert_true(e.rel_rmse <= bound_for(s->name) * 1.5 + 1e-9);
        rc = s->quantize(x, 0, 37, NULL, buf, sizeof buf, &w, &err);
        if (rc) fail_msg("%s 0x37: %s", s->name, err.msg);
        assert_int_equal(s->dequantize(buf, w, 0, 37, NULL, y, &err), 0);
        assert_int_equal(s->quantize(x, -1, 37, NULL, buf, sizeof buf, &w, &err), BNC_EINVAL);
    }
}

static void test_int_levels(void **state)
{
    (void)state;
    /* int4 group 4: group {1, -8, 2, 0.4}: m = -8, d = 1, codes exact;
     * group {4, 2, -1, 0}: m = 4, d = -0.5, q = round(x / d) clamped to
     * [-8, 7]: 4 -> -8, 2 -> -4, -1 -> 2 */
    const float x[8] = {1, -8, 2, 0.4f, 4, 2, -1, 0};
    bnc_qparams p = {.group = 4};
    const bnc_scheme *s = bnc_scheme_find("int4");
    size_t w;
    uint8_t *q = quant(s, x, 1, 8, &p, &w);
    assert_int_equal(w, 4 + 2 * 2);
    /* codes q + 8: {9, 0, 10, 8}, {0, 4, 10, 8}; low nibble first */
    const uint8_t want[8] = {0x09, 0x8A, 0x40, 0x8A, 0x00, 0x3C, 0x00, 0xB8};
    assert_memory_equal(q, want, 8);
    float y[8];
    bnc_err err;
    assert_int_equal(s->dequantize(q, w, 1, 8, &p, y, &err), 0);
    const float wy[8] = {1, -8, 2, 0, 4, 2, -1, -0.0f}; /* 0 * d, d < 0 */
    assert_memory_equal(y, wy, sizeof y);
    free(q);
    /* int2: levels {-2,-1,0,1} * d with d = m / -2 */
    const float x2[4] = {0.9f, -2, 1.4f, 0.2f};
    s = bnc_scheme_find("int2");
    q = quant(s, x2, 1, 4, NULL, &w);
    assert_int_equal(w, 1 + 2);
    /* d = 1: 0.9 -> 1 (code 3), -2 -> -2 (0), 1.4 -> 1 (3), 0.2 -> 0 (2) */
    assert_int_equal(q[0], 3 | 0 << 2 | 3 << 4 | 2 << 6);
    assert_int_equal(q[1], 0x00);
    assert_int_equal(q[2], 0x3C);
    free(q);
    /* int8 per row: row {127, -63.5, 0.5} -> s = 1, q = {127, -64, 1} */
    const float x3[6] = {127, -63.5f, 0.5f, 0, 0, 0};
    s = bnc_scheme_find("int8");
    q = quant(s, x3, 2, 3, NULL, &w);
    assert_int_equal(w, 6 + 8);
    const uint8_t want3[14] = {0x7F, 0xC0, 0x01, 0, 0, 0, 0x00, 0x00, 0x80, 0x3F, 0, 0, 0, 0};
    assert_memory_equal(q, want3, 14);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_bounds), cmocka_unit_test(test_nonfinite_index),
        cmocka_unit_test(test_sizes),        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_int_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
