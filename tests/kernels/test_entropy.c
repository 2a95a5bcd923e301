/* ternary-entropy and the rANS coder: exact decoding, size within 2% of the
 * codes' empirical entropy for >= 1M weights, and the entropy/compression
 * metrics against values computed by hand. */
#include "ktest.h"

#include <math.h>

#include "bnc_metrics.h"
#include "bnc_rans.h"
#include "bnc_ternary.h"

#define R 1024
#define C 1024

static void check_tensor(const float *x, double max_bits)
{
    const int64_t n = (int64_t)R * C;
    const bnc_scheme *s = bnc_scheme_find("ternary-entropy");
    assert_non_null(s);
    size_t w;
    uint8_t *q = quant(s, x, R, C, NULL, &w);
    int8_t *codes = xmalloc((size_t)n), *back = xmalloc((size_t)n);
    float gamma, gamma2;
    bnc_err err;
    assert_int_equal(bnc_ternary_absmean(x, n, codes, &gamma, &err), 0);
    assert_int_equal(bnc_ternary_entropy_codes(q, w, n, back, &gamma2, &err), 0);
    assert_memory_equal(codes, back, (size_t)n); /* lossless over the codes */
    assert_true(gamma == gamma2);
    float *y = xmalloc(sizeof(float) * (size_t)n);
    assert_int_equal(s->dequantize(q, w, R, C, NULL, y, &err), 0);
    for (int64_t i = 0; i < n; i++)
        assert_true(y[i] == (float)codes[i] * gamma);
    double h = bnc_entropy_i8(codes, n);
    double bits = 8.0 * (double)w;
    print_message("entropy %.5f bits/weight, stored %.5f (%.3f%% over)\n", h, bits / (double)n,
                  100.0 * (bits / ((double)n * h) - 1.0));
    assert_true(bits <= 1.02 * h * (double)n);
    assert_true(bits >= h * (double)n); /* an order-0 code cannot beat it */
    assert_true(bits / (double)n < max_bits);
    /* the same codes and scale as the bitnet row (the paper's formula) */
    const bnc_scheme *bn = bnc_scheme_find("bitnet");
    if (bn) {
        size_t wb;
        uint8_t *qb = quant(bn, x, R, C, NULL, &wb);
        float *yb = xmalloc(sizeof(float) * (size_t)n);
        assert_int_equal(bn->dequantize(qb, wb, R, C, NULL, yb, &err), 0);
        assert_memory_equal(y, yb, sizeof(float) * (size_t)n);
        free(yb);
        free(qb);
    }
    free(y);
    free(codes);
    free(back);
    free(q);
}

static void test_normal_1m(void **state)
{
    (void)state;
    float *x = xmalloc(sizeof(float) * R * C);
    fill_normal(x, (int64_t)R * C, 41);
    check_tensor(x, 1.585); /* ~31% zeros: about 1.5 bits */
    free(x);
}

static void test_sparse_1m(void **state)
{
    (void)state;
    /* 95% exact zeros, the rest N(0,1): zeros dominate, well below 1.58 bits */
    float *x = xmalloc(sizeof(float) * R * C);
    fill_normal(x, (int64_t)R * C, 42);
    bnc_rng r;
    bnc_rng_init(&r, 43, 0);
    for (int64_t i = 0; i < (int64_t)R * C; i++)
        if (bnc_rng_uniform(&r) < 0.95) x[i] = 0.0f;
    check_tensor(x, 0.5);
    free(x);
}

static void test_small_and_degenerate(void **state)
{
    (void)state;
    const bnc_scheme *s = bnc_scheme_find("ternary-entropy");
    float x[300], y[300];
    bnc_err err;
    size_t w;
    /* all zero: one symbol, the stream is just the final state */
    memset(x, 0, sizeof x);
    uint8_t *q = quant(s, x, 3, 100, NULL, &w);
    assert_int_equal(w, 16 + 4);
    assert_int_equal(s->dequantize(q, w, 3, 100, NULL, y, &err), 0);
    for (int i = 0; i < 300; i++)
        assert_true(y[i] == 0.0f);
    free(q);
    /* empty tensor */
    q = quant(s, x, 0, 5, NULL, &w);
    assert_int_equal(s->dequantize(q, w, 0, 5, NULL, y, &err), 0);
    free(q);
    /* a single outlier among small values */
    fill_normal(x, 300, 44);
    x[17] = 1e6f;
    q = quant(s, x, 1, 300, NULL, &w);
    assert_int_equal(s->dequantize(q, w, 1, 300, NULL, y, &err), 0);
    int8_t codes[300];
    float g;
    assert_int_equal(bnc_ternary_absmean(x, 300, codes, &g, &err), 0);
    for (int i = 0; i < 300; i++)
        assert_true(y[i] == (float)codes[i] * g);
    free(q);
}

static void test_rans_alphabet(void **state)
{
    (void)state;
    /* 200k symbols over 256 values with a skewed distribution, plus one very
     * rare symbol: decodes exactly and lands near the entropy. */
    const int64_t n = 200000;
    uint8_t *sym = xmalloc((size_t)n), *buf = xmalloc((size_t)n * 2 + 16);
    uint64_t counts[256] = {0};
    bnc_rng r;
    bnc_rng_init(&r, 45, 0);
    for (int64_t i = 0; i < n; i++) {
        double u = bnc_rng_uniform(&r);
        sym[i] = (uint8_t)(u * u * u * 255.0);
    }
    sym[n / 2] = 255;
    for (int64_t i = 0; i < n; i++)
        counts[sym[i]]++;
    uint32_t freq[256], start[257];
    bnc_err err;
    assert_int_equal(bnc_rans_freqs(counts, 256, freq, &err), 0);
    start[0] = 0;
    for (int k = 0; k < 256; k++) {
        assert_true((counts[k] == 0) == (freq[k] == 0));
        start[k + 1] = start[k] + freq[k];
    }
    assert_int_equal(start[256], BNC_RANS_M);
    bnc_rans_enc e;
    bnc_rans_enc_init(&e, buf, (size_t)n * 2 + 16);
    for (int64_t i = n - 1; i >= 0; i--)
        bnc_rans_enc_put(&e, start[sym[i]], freq[sym[i]]);
    const uint8_t *out;
    size_t len;
    assert_int_equal(bnc_rans_enc_flush(&e, &out, &len), 0);
    double h = bnc_entropy_counts(counts, 256);
    assert_true(8.0 * (double)len <= 1.01 * h * (double)n + 64);
    bnc_rans_dec d;
    bnc_rans_dec_init(&d, out, len);
    for (int64_t i = 0; i < n; i++) {
        uint32_t slot = bnc_rans_dec_slot(&d);
        int k = 0;
        while (start[k + 1] <= slot)
            k++;
        assert_int_equal(k, sym[i]);
        bnc_rans_dec_advance(&d, start[k], freq[k]);
    }
    assert_true(bnc_rans_dec_done(&d));
    /* a buffer too small is reported, not overrun */
    bnc_rans_enc_init(&e, buf, 100);
    for (int64_t i = n - 1; i >= 0; i--)
        bnc_rans_enc_put(&e, start[sym[i]], freq[sym[i]]);
    assert_int_equal(bnc_rans_enc_flush(&e, &out, &len), -1);
    free(sym);
    free(buf);
}

static void test_rans_freqs(void **state)
{
    (void)state;
    uint32_t f[3];
    bnc_err err;
    /* {1, 10^6, 1}: the rare symbols keep frequency 1 */
    const uint64_t c1[3] = {1, 1000000, 1};
    assert_int_equal(bnc_rans_freqs(c1, 3, f, &err), 0);
    assert_int_equal(f[0], 1);
    assert_int_equal(f[2], 1);
    assert_int_equal(f[1], 65534);
    /* exact proportions: {1, 2, 1} -> {16384, 32768, 16384} */
    const uint64_t c2[3] = {1, 2, 1};
    assert_int_equal(bnc_rans_freqs(c2, 3, f, &err), 0);
    assert_int_equal(f[0], 16384);
    assert_int_equal(f[1], 32768);
    assert_int_equal(f[2], 16384);
    const uint64_t c3[3] = {0, 0, 0};
    assert_int_equal(bnc_rans_freqs(c3, 3, f, &err), BNC_EINVAL);
    /* 256 symbols of count 1 and one huge: all >= 1, sum exact */
    uint64_t c4[256];
    uint32_t f4[256];
    for (int k = 0; k < 256; k++)
        c4[k] = 1;
    c4[7] = 1u << 30;
    assert_int_equal(bnc_rans_freqs(c4, 256, f4, &err), 0);
    uint64_t sum = 0;
    for (int k = 0; k < 256; k++) {
        assert_true(f4[k] >= 1);
        sum += f4[k];
    }
    assert_int_equal(sum, BNC_RANS_M);
}

static void test_metrics(void **state)
{
    (void)state;
    const uint64_t a[2] = {5, 5}, b[4] = {1, 1, 1, 1}, c[2] = {3, 1}, z[3] = {0, 7, 0};
    assert_true(fabs(bnc_entropy_counts(a, 2) - 1.0) < 1e-12);
    assert_true(fabs(bnc_entropy_counts(b, 4) - 2.0) < 1e-12);
    /* -(3/4 log2 3/4 + 1/4 log2 1/4) = 0.811278124459 */
    assert_true(fabs(bnc_entropy_counts(c, 2) - 0.811278124459) < 1e-9);
    assert_true(bnc_entropy_counts(z, 3) == 0.0);
    const int8_t codes[6] = {-1, 0, 1, -1, 0, 1};
    assert_true(fabs(bnc_entropy_i8(codes, 6) - log2(3.0)) < 1e-12);
    const float v[4] = {0.5f, 0.5f, -0.5f, 2.0f};
    double h;
    bnc_err err;
    assert_int_equal(bnc_entropy_values(v, 4, &h, &err), 0);
    assert_true(fabs(h - 1.5) < 1e-12);
    assert_true(bnc_compression_ratio(1024, 256) == 16.0);
    assert_true(bnc_bits_per_weight(66, 256) == 2.0625);
    assert_true(bnc_compression_ratio(10, 0) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_1m),
        cmocka_unit_test(test_sparse_1m),
        cmocka_unit_test(test_small_and_degenerate),
        cmocka_unit_test(test_rans_alphabet),
        cmocka_unit_test(test_rans_freqs),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
