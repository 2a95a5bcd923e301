/* Sparse ternary formats: hand-computed bytes for a 3x4 example, round trips,
 * and sparse-auto choosing the smallest format (each format wins once). */
#include "ktest.h"

#include <math.h>

static const char *fmts[4] = {"sparse-csr", "sparse-coo", "sparse-ell", "sparse-dia"};

/* x = [[2, 0, 0, -2], [0, 0.1, 0, 0], [0, 4, 0, 0]]: mean |x| = 8.1/12 = 0.675,
 * threshold 0.5 * 0.675 = 0.3375 drops 0.1; nnz 3, alpha = 8/3 = f32
 * 0x402AAAAB (AB AA 2A 40). Header: fmt, iw, alpha, nnz. */
static const float ex[12] = {2, 0, 0, -2, 0, 0.1f, 0, 0, 0, 4, 0, 0};
#define HDR(f, iw) f, iw, 0xAB, 0xAA, 0x2A, 0x40, 0x03, 0x00, 0x00, 0x00

static void test_example_bytes(void **state)
{
    (void)state;
    /* CSR: row_ptr {0, 2, 2, 3}, cols {0, 3, 1} (u16), signs + - + = 0b010 */
    const uint8_t csr[] = {HDR(1, 2), 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0,
                           0,         3, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0x02};
    /* COO: rows {0, 0, 2}, cols {0, 3, 1}, signs 0b010 */
    const uint8_t coo[] = {HDR(2, 2), 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 0, 0x02};
    /* ELL: K = 2; cols {0,3 | 0,0 | 1,0}; codes {2,0 | 1,1 | 2,1}:
     * 2 | 0<<2 | 1<<4 | 1<<6 = 0x52, 2 | 1<<2 = 0x06 */
    const uint8_t ell[] = {HDR(3, 2), 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x52, 0x06};
    /* DIA: offsets {-1, 0, 3}; lanes (rows 0..2): off -1: {pad, 0, +} = 1,1,2;
     * off 0: {+, 0, 0} = 2,1,1; off 3: {-, pad, pad} = 0,1,1.
     * slots 0-3: 1 | 1<<2 | 2<<4 | 2<<6 = 0xA5; 4-7: 1 | 1<<2 | 0<<4 | 1<<6 =
     * 0x45; 8: 0x01 */
    const uint8_t dia[] = {HDR(4, 0), 3, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0,
                           0,         0, 0, 3, 0, 0,    0,    0xA5, 0x45, 0x01};
    const uint8_t *want[4] = {csr, coo, ell, dia};
    const size_t want_n[4] = {sizeof csr, sizeof coo, sizeof ell, sizeof dia};
    const float a = 8.0f / 3.0f;
    const float wy[12] = {a, 0, 0, -a, 0, 0, 0, 0, 0, a, 0, 0};
    float y[12];
    bnc_err err;
    for (int f = 0; f < 4; f++) {
        const bnc_scheme *s = bnc_scheme_find(fmts[f]);
        assert_non_null(s);
        size_t w;
        uint8_t *q = quant(s, ex, 3, 4, NULL, &w);
        assert_int_equal(w, want_n[f]);
        for (size_t i = 0; i < w; i++)
            if (q[i] != want[f][i])
                fail_msg("%s byte %zu: 0x%02X, want 0x%02X", fmts[f], i, q[i], want[f][i]);
        assert_int_equal(s->dequantize(q, w, 3, 4, NULL, y, &err), 0);
        assert_memory_equal(y, wy, sizeof y);
        /* sparse-auto reads every format by its first byte */
        assert_int_equal(bnc_scheme_find("sparse-auto")->dequantize(q, w, 3, 4, NULL, y, &err), 0);
        assert_memory_equal(y, wy, sizeof y);
        /* and a format does not read another's bytes */
        const bnc_scheme *other = bnc_scheme_find(fmts[(f + 1) % 4]);
        assert_int_equal(other->dequantize(q, w, 3, 4, NULL, y, &err), BNC_EFORMAT);
        free(q);
    }
    size_t w;
    uint8_t *q = quant(bnc_scheme_find("sparse-auto"), ex, 3, 4, NULL, &w);
    assert_int_equal(w, sizeof coo); /* 23 < 28 < 29 < 33 */
    assert_memory_equal(q, coo, w);
    free(q);
}

/* Builds the auto choice for x and checks it is the smallest format. */
static int auto_choice(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p)
{
    size_t best = SIZE_MAX;
    int best_f = -1;
    float *y0 = xmalloc(sizeof(float) * (size_t)(rows * cols));
    float *y = xmalloc(sizeof(float) * (size_t)(rows * cols));
    bnc_err err;
    for (int f = 0; f < 4; f++) {
        const bnc_scheme *s = bnc_scheme_find(fmts[f]);
        size_t w;
        uint8_t *q = quant(s, x, rows, cols, p, &w);
        assert_int_equal(q[0], f + 1);
        assert_int_equal(s->dequantize(q, w, rows, cols, p, f ? y : y0, &err), 0);
        if (f) assert_memory_equal(y, y0, sizeof(float) * (size_t)(rows * cols));
        if (w < best) {
            best = w;
            best_f = f + 1;
        }
        free(q);
    }
    size_t w;
    uint8_t *q = quant(bnc_scheme_find("sparse-auto"), x, rows, cols, p, &w);
    assert_int_equal(w, best);
    assert_int_equal(q[0], best_f);
    assert_int_equal(bnc_scheme_find("sparse-auto")->dequantize(q, w, rows, cols, p, y, &err), 0);
    assert_memory_equal(y, y0, sizeof(float) * (size_t)(rows * cols));
    free(q);
    free(y);
    free(y0);
    return best_f;
}

static void test_auto_picks_smallest(void **state)
{
    (void)state;
    float *x = xmalloc(sizeof(float) * 4096 * 4);
    /* diagonal 64x64: DIA needs one lane (34 bytes) */
    memset(x, 0, sizeof(float) * 64 * 64);
    for (int i = 0; i < 64; i++)
        x[i * 64 + i] = (i % 3) ? 1.0f : -1.0f;
    assert_int_equal(auto_choice(x, 64, 64, NULL), 4);
    /* one non-zero per row on scattered diagonals, 256x256: ELL with K = 1 */
    float *x2 = xmalloc(sizeof(float) * 256 * 256);
    memset(x2, 0, sizeof(float) * 256 * 256);
    for (int i = 0; i < 256; i++)
        x2[i * 256 + (i * 37) % 256] = (i & 1) ? 2.0f : -2.0f;
    assert_int_equal(auto_choice(x2, 256, 256, NULL), 3);
    /* N(0,1) 64x256 with a high threshold (3 * mean|x|): ~1% kept, CSR */
    fill_normal(x2, 64 * 256, 31);
    bnc_qparams p = {.threshold = 3.0};
    assert_int_equal(auto_choice(x2, 64, 256, &p), 1);
    /* three non-zeros in 4096x4: COO (CSR pays 4 bytes per row) */
    memset(x, 0, sizeof(float) * 4096 * 4);
    x[5] = 1, x[4000] = -1, x[16000] = 1;
    assert_int_equal(auto_choice(x, 4096, 4, NULL), 2);
    /* dense N(0,1) at the default threshold: every format agrees on values */
    fill_normal(x2, 256 * 256, 32);
    (void)auto_choice(x2, 128, 512, NULL);
    free(x);
    free(x2);
}

static void test_threshold(void **state)
{
    (void)state;
    float x[4096], y[4096];
    fill_normal(x, 4096, 33);
    const bnc_scheme *s = bnc_scheme_find("sparse-csr");
    double mean = 0;
    for (int i = 0; i < 4096; i++)
        mean += fabs((double)x[i]);
    mean /= 4096;
    const double ts[3] = {0.25, 0.5, 1.5};
    int64_t prev = 4097;
    for (int k = 0; k < 3; k++) {
        bnc_qparams p = {.threshold = ts[k]};
        size_t w;
        uint8_t *q = quant(s, x, 16, 256, &p, &w);
        bnc_err err;
        assert_int_equal(s->dequantize(q, w, 16, 256, &p, y, &err), 0);
        int64_t nnz = 0;
        double kept = 0;
        for (int i = 0; i < 4096; i++) {
            int zero = fabs((double)x[i]) <= ts[k] * mean;
            assert_int_equal(y[i] == 0.0f, zero);
            if (!zero) {
                nnz++;
                kept += fabs((double)x[i]);
                assert_true((y[i] > 0) == (x[i] > 0));
            }
        }
        float alpha = (float)(kept / (double)nnz);
        for (int i = 0; i < 4096; i++)
            assert_true(y[i] == 0.0f || fabsf(y[i]) == alpha);
        assert_true(nnz < prev);
        prev = nnz;
        free(q);
    }
    bnc_qparams bad = {.threshold = -1.0};
    uint8_t buf[64];
    size_t w;
    bnc_err err;
    assert_int_equal(s->quantize(x, 1, 4, &bad, buf, sizeof buf, &w, &err), BNC_EINVAL);
}

static void test_all_zero(void **state)
{
    (void)state;
    float x[40] = {0}, y[40];
    for (int f = 0; f < 4; f++) {
        const bnc_scheme *s = bnc_scheme_find(fmts[f]);
        size_t w;
        uint8_t *q = quant(s, x, 5, 8, NULL, &w);
        bnc_err err;
        y[3] = 7;
        assert_int_equal(s->dequantize(q, w, 5, 8, NULL, y, &err), 0);
        for (int i = 0; i < 40; i++)
            assert_true(y[i] == 0.0f);
        free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_bytes),
        cmocka_unit_test(test_auto_picks_smallest),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_all_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
