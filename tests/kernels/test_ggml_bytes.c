/* q8_0, q4_0, tq1_0 and tq2_0 blocks against expected bytes worked out by
 * hand from FORMATS.md (the derivation of each byte is in the comments). The
 * inputs are chosen so that the scales are exact fp16 values (1, 2, 0.5, -2)
 * except where fp16 rounding of the scale is what is tested. */
#include "ktest.h"

#include "bnc_fp16.h"
#include "bnc_ggml.h"

static void check_block(const char *scheme, const float *x, int64_t n, const uint8_t *want,
                        size_t want_n)
{
    const bnc_scheme *s = bnc_scheme_find(scheme);
    assert_non_null(s);
    uint8_t got[256];
    size_t w = 0;
    bnc_err err;
    assert_true(s->qsize(1, n, NULL) == want_n);
    int rc = s->quantize(x, 1, n, NULL, got, sizeof got, &w, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(w, want_n);
    for (size_t i = 0; i < want_n; i++)
        if (got[i] != want[i])
            fail_msg("%s byte %zu: got 0x%02X want 0x%02X", scheme, i, got[i], want[i]);
}

/* ---- q8_0: {fp16 d; int8 qs[32]}, d = amax/127, qs = round(x/d) ---- */
static void test_q8_0(void **state)
{
    (void)state;
    uint8_t want[34];
    float x[32];

    /* amax 127 -> d = 1 (3C00), id = 1: 2.5 -> 3, -2.5 -> -3, 0.5 -> 1,
     * -0.5 -> -1 (half away from zero), 1.4 -> 1, -1.6 -> -2, 100.25 -> 100 */
    memset(x, 0, sizeof x);
    x[0] = 127, x[1] = -127, x[2] = 2.5f, x[3] = -2.5f, x[4] = 0.5f, x[5] = -0.5f;
    x[6] = 1.4f, x[7] = -1.6f, x[31] = 100.25f;
    memset(want, 0, sizeof want);
    const uint8_t h1[] = {0x00, 0x3C, 0x7F, 0x81, 0x03, 0xFD, 0x01, 0xFF, 0x01, 0xFE};
    memcpy(want, h1, sizeof h1);
    want[33] = 0x64;
    check_block("q8_0", x, 32, want, 34);

    /* amax 254 -> d = 2 (4000), id = 0.5: 5 -> 2.5 -> 3, -5 -> -3, 3 -> 1.5 -> 2,
     * 1 -> 0.5 -> 1, -254 -> -127, -1 -> -1, 0.9 -> 0.45 -> 0 */
    memset(x, 0, sizeof x);
    x[0] = 5, x[1] = -5, x[2] = 3, x[3] = 1, x[4] = -254, x[5] = -1, x[6] = 0.9f;
    memset(want, 0, sizeof want);
    const uint8_t h2[] = {0x00, 0x40, 0x03, 0xFD, 0x02, 0x01, 0x81, 0xFF, 0x00};
    memcpy(want, h2, sizeof h2);
    check_block("q8_0", x, 32, want, 34);

    /* amax 63.5 -> d = 0.5 (3800), id = 2: 0.25 -> 1, -0.75 -> -1.5 -> -2,
     * 0.2 -> 0, 63.5 -> 127, -63.5 -> -127, 0.75 -> 2 */
    memset(x, 0, sizeof x);
    x[0] = 0.25f, x[1] = -0.75f, x[2] = 0.2f, x[3] = 63.5f, x[4] = -63.5f, x[5] = 0.75f;
    memset(want, 0, sizeof want);
    const uint8_t h3[] = {0x00, 0x38, 0x01, 0xFE, 0x00, 0x7F, 0x81, 0x02};
    memcpy(want, h3, sizeof h3);
    check_block("q8_0", x, 32, want, 34);

    /* amax 1 -> d = 1/127 = 1.00787 * 2^-7 -> fp16 exponent 8, mantissa
     * round(8.06) = 8: 0x2008; 1 -> 127, -1 -> -127, 0.3 -> 38.1 -> 38 */
    memset(x, 0, sizeof x);
    x[0] = 1, x[1] = -1, x[2] = 0.3f;
    memset(want, 0, sizeof want);
    const uint8_t h4[] = {0x08, 0x20, 0x7F, 0x81, 0x26};
    memcpy(want, h4, sizeof h4);
    check_block("q8_0", x, 32, want, 34);

    /* all zero: d = 0, every code 0 */
    memset(x, 0, sizeof x);
    memset(want, 0, sizeof want);
    check_block("q8_0", x, 32, want, 34);
}

/* ---- q4_0: {fp16 d; uint8 qs[16]}, d = m / -8, code = min(15, (int8)(x/d + 8.5)),
 * byte j = code[j] | code[j+16] << 4 ---- */
static void test_q4_0(void **state)
{
    (void)state;
    float x[32];
    uint8_t want[18];

    /* m = -8 (first of -8 and 8) -> d = 1 (3C00), id = 1. codes: -8 -> 0.5 -> 0;
     * 7 -> 15.5 -> 15; 0.5 -> 9; -0.5 -> 8 (8.0); 1.5 -> 10; -1.5 -> 7; 2.4 ->
     * 10.9 -> 10; -2.6 -> 5.9 -> 5; 8 -> 16.5 -> 16 -> 15; zeros -> 8.
     * x[16] 7.6 -> 16.1 -> 15; x[17] -7.9 -> 0.6 -> 0; x[20] 3 -> 11.5 -> 11;
     * x[31] -1 -> 7.5 -> 7. */
    memset(x, 0, sizeof x);
    x[0] = -8, x[1] = 7, x[2] = 0.5f, x[3] = -0.5f, x[4] = 1.5f, x[5] = -1.5f;
    x[6] = 2.4f, x[7] = -2.6f, x[8] = 8, x[16] = 7.6f, x[17] = -7.9f, x[20] = 3, x[31] = -1;
    const uint8_t w1[18] = {0x00, 0x3C, 0xF0, 0x0F, 0x89, 0x88, 0xBA, 0x87, 0x8A,
                            0x85, 0x8F, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x78};
    check_block("q4_0", x, 32, w1, 18);

    /* m = +16 (x[1], before -16 at x[16]) -> d = -2 (C000), id = -0.5.
     * 1 -> -0.5+8.5 = 8; 16 -> 0.5 -> 0; -14 -> 15.5 -> 15; -15 -> 16 -> 15;
     * -1 -> 9; 3 -> 7; 5 -> 6; x[16] -16 -> 16.5 -> 16 -> 15; zeros 8. */
    memset(x, 0, sizeof x);
    x[0] = 1, x[1] = 16, x[2] = -14, x[3] = -15, x[4] = -1, x[5] = 3, x[6] = 5, x[16] = -16;
    const uint8_t w2[18] = {0x00, 0xC0, 0xF8, 0x80, 0x8F, 0x8F, 0x89, 0x87, 0x86,
                            0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    check_block("q4_0", x, 32, w2, 18);

    /* m = -4 -> d = 0.5 (3800), id = 2: 0.25 -> 9; -0.25 -> 8; 3.75 -> 16 -> 15;
     * -4 -> 0; x[16] 1.1 -> 10.7 -> 10 */
    memset(x, 0, sizeof x);
    x[0] = 0.25f, x[1] = -0.25f, x[2] = 3.75f, x[3] = -4, x[16] = 1.1f;
    const uint8_t w3[18] = {0x00, 0x38, 0xA9, 0x88, 0x8F, 0x80, 0x88, 0x88, 0x88,
                            0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    check_block("q4_0", x, 32, w3, 18);

    /* all zero: m = 0, d = 0 / -8 = -0.0 -> fp16 0x8000; id = 0 -> codes 8 */
    memset(x, 0, sizeof x);
    memset(want, 0x88, sizeof want);
    want[0] = 0x00, want[1] = 0x80;
    check_block("q4_0", x, 32, want, 18);
}

/* ---- tq2_0: {qs[64]; fp16 d}, d = amax, code = lroundf(x/d) + 1; byte 32c+m
 * holds elements 128c + m + 32n at bits 2n. All-1 byte: 0x55. ---- */
static void test_tq2_0(void **state)
{
    (void)state;
    float x[256];
    uint8_t want[66];

    /* d = 1 (3C00). byte 0: x0 1 -> 2, x32 -1 -> 0, x64 0.5 -> 2, x96 -0.5 -> 0:
     * 0b00100010 = 0x22. byte 1: x1 0.49 -> 1, x33 0.51 -> 2, x65 -0.49 -> 1,
     * x97 -0.51 -> 0: 1 | 2<<2 | 1<<4 = 0x19. byte 32: x128 -1 -> 0, rest 1:
     * 0x54. byte 63: x255 (= 128 + 31 + 32*3) 1 -> 2 at bits 6-7: 0x95. */
    memset(x, 0, sizeof x);
    x[0] = 1, x[32] = -1, x[64] = 0.5f, x[96] = -0.5f;
    x[1] = 0.49f, x[33] = 0.51f, x[65] = -0.49f, x[97] = -0.51f;
    x[128] = -1, x[255] = 1;
    memset(want, 0x55, 64);
    want[0] = 0x22, want[1] = 0x19, want[32] = 0x54, want[63] = 0x95;
    want[64] = 0x00, want[65] = 0x3C;
    check_block("tq2_0", x, 256, want, 66);

    /* d = 2 (4000), id = 0.5. byte 5: x5 2 -> 2, x37 1 -> 0.5 -> 2, x69 -1 -> 0,
     * x101 0.98 -> 0.49 -> 1: 2 | 2<<2 | 0<<4 | 1<<6 = 0x4A. x200 = 128 + 8 +
     * 32*2: byte 40, bits 4-5 = 0: 0x45. */
    memset(x, 0, sizeof x);
    x[5] = 2, x[37] = 1, x[69] = -1, x[101] = 0.98f, x[200] = -2;
    memset(want, 0x55, 64);
    want[5] = 0x4A, want[40] = 0x45;
    want[64] = 0x00, want[65] = 0x40;
    check_block("tq2_0", x, 256, want, 66);

    /* d = 0.1 -> fp16 1.6 * 2^-4: exponent 11, mantissa 614.4 -> 614 = 0x266:
     * 0x2E66. id = 10: 0.1 -> 2, -0.1 -> 0, 0.04 -> 0.4 -> 1 */
    memset(x, 0, sizeof x);
    x[0] = 0.1f, x[1] = -0.1f, x[2] = 0.04f;
    memset(want, 0x55, 64);
    want[0] = 0x56, want[1] = 0x54;
    want[64] = 0x66, want[65] = 0x2E;
    check_block("tq2_0", x, 256, want, 66);

    /* all zero: codes 1, d = 0 */
    memset(x, 0, sizeof x);
    memset(want, 0x55, 64);
    want[64] = 0, want[65] = 0;
    check_block("tq2_0", x, 256, want, 66);
}

/* ---- tq1_0: {qs[48]; qh[4]; fp16 d}; byte = ceil(v * 256 / 243).
 * Five trits all 1: v = 121 -> 30976/243 = 127.47 -> 0x80. qh four trits all 1:
 * v = 40*3 = 120 -> 126.4 -> 0x7F. ---- */
static void test_tq1_0(void **state)
{
    (void)state;
    float x[256];
    uint8_t want[54];

    /* d = 1 (3C00).
     * qs[0] = elems 0,32,64,96,128 = (2,0,1,1,1): v = 175, 44800/243 = 184.4 -> 185 = 0xB9
     * qs[1] = elems 1,33,65,97,129 = (2,1,1,1,0): v = 201, 51456/243 = 211.8 -> 212 = 0xD4
     * qs[32] = elems 160,176,..,224 = (0,1,1,1,1): v = 40, 10240/243 = 42.1 -> 43 = 0x2B
     * qs[47] = elems 175,191,207,223,239 = (1,1,1,1,2): v = 122, 31232/243 = 128.5 -> 129
     * qh[0] = elems 240,244,248,252 = (2,1,1,1): v = 67*3 = 201 -> 0xD4
     * qh[3] = elems 243,247,251,255 = (1,1,1,0): v = 39*3 = 117, 29952/243 = 123.3 -> 124 */
    memset(x, 0, sizeof x);
    x[0] = 1, x[32] = -1, x[1] = 0.5f, x[129] = -0.5f, x[160] = -1, x[239] = 1;
    x[240] = 1, x[255] = -1;
    memset(want, 0x80, 48);
    memset(want + 48, 0x7F, 4);
    want[0] = 0xB9, want[1] = 0xD4, want[32] = 0x2B, want[47] = 0x81;
    want[48] = 0xD4, want[51] = 0x7C;
    want[52] = 0x00, want[53] = 0x3C;
    check_block("tq1_0", x, 256, want, 54);

    /* d = 2 (4000). qs[2] all trits 2: v = 242, 61952/243 = 254.9 -> 0xFF.
     * qs[3] all trits 0: 0x00. qs[4] = (x4 1 -> 0.5 -> 2, x36 -1 -> 0,
     * x68 0.98 -> 1, 1, 1) = 175 -> 0xB9 */
    memset(x, 0, sizeof x);
    for (int k = 0; k < 5; k++) {
        x[2 + 32 * k] = 2;
        x[3 + 32 * k] = -2;
    }
    x[4] = 1, x[36] = -1, x[68] = 0.98f;
    memset(want, 0x80, 48);
    memset(want + 48, 0x7F, 4);
    want[2] = 0xFF, want[3] = 0x00, want[4] = 0xB9;
    want[52] = 0x00, want[53] = 0x40;
    check_block("tq1_0", x, 256, want, 54);

    /* all zero */
    memset(x, 0, sizeof x);
    memset(want, 0x80, 48);
    memset(want + 48, 0x7F, 4);
    want[52] = 0, want[53] = 0;
    check_block("tq1_0", x, 256, want, 54);
}

/* The trit read-back formula of FORMATS.md inverts the packing for every
 * byte a quantizer can write, and dequantization gives (code - 1) * d. */
static void test_ternary_dequant(void **state)
{
    (void)state;
    float x[512], y[512];
    bnc_rng r;
    bnc_rng_init(&r, 42, 1);
    for (int i = 0; i < 512; i++)
        x[i] = (float)((int)bnc_rng_below(&r, 3) - 1) * (i < 256 ? 0.5f : 3.0f);
    x[3] = 0.5f, x[300] = -3.0f; /* both blocks have their amax */
    const char *names[2] = {"tq1_0", "tq2_0"};
    for (int s = 0; s < 2; s++) {
        const bnc_scheme *sc = bnc_scheme_find(names[s]);
        size_t w;
        uint8_t *q = quant(sc, x, 2, 256, NULL, &w);
        bnc_err err;
        assert_int_equal(sc->dequantize(q, w, 2, 256, NULL, y, &err), 0);
        assert_memory_equal(x, y, sizeof x);
        free(q);
    }
}

static void test_multi_block_rows(void **state)
{
    (void)state;
    /* A 2x64 q8_0 tensor is 4 blocks in row order; the row function over a
     * row range writes the same bytes as the whole-tensor quantizer. */
    float x[128];
    fill_normal(x, 128, 3);
    const bnc_scheme *s = bnc_scheme_find("q8_0");
    size_t w;
    uint8_t *q = quant(s, x, 2, 64, NULL, &w);
    assert_int_equal(w, 4 * 34);
    uint8_t row[68];
    bnc_err err;
    assert_int_equal(bnc_scheme_find("q8_0")->quantize_row(x + 64, row, 64, &err), 0);
    assert_memory_equal(row, q + 68, 68);
    assert_int_equal(bnc_scheme_find("q8_0")->quantize_row(x, row, 33, &err), BNC_EINVAL);
    free(q);
}

static void test_type_table(void **state)
{
    (void)state;
    struct {
        int id;
        const char *name;
        int64_t block;
        size_t size;
    } want[] = {{0, "f32", 1, 4},      {1, "f16", 1, 2},   {2, "q4_0", 32, 18},
                {8, "q8_0", 32, 34},   {30, "bf16", 1, 2}, {34, "tq1_0", 256, 54},
                {35, "tq2_0", 256, 66}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const bnc_scheme *s = bnc_ggml_scheme(want[i].id);
        assert_non_null(s);
        assert_string_equal(s->name, want[i].name);
        assert_int_equal(s->block, want[i].block);
        assert_int_equal(s->block_bytes, want[i].size);
        assert_int_equal(bnc_ggml_block_size(want[i].id), want[i].block);
        assert_int_equal(bnc_ggml_type_size(want[i].id), want[i].size);
        assert_true(s == bnc_scheme_find(want[i].name));
        assert_true(s->bpw == 8.0 * (double)want[i].size / (double)want[i].block);
    }
    assert_int_equal(bnc_ggml_row_size(34, 4096), 16 * 54);
    assert_int_equal(bnc_ggml_row_size(2, 33), 0);
    assert_int_equal(bnc_ggml_type_size(24), 1);
    assert_null(bnc_ggml_scheme(24));
    /* q4_1: a type GGUF files carry that no scheme quantizes: geometry only */
    assert_null(bnc_ggml_scheme(3));
    assert_non_null(bnc_ggml_type(3));
    assert_string_equal(bnc_ggml_type(3)->name, "q4_1");
    assert_int_equal(bnc_ggml_type_size(3), 20);
    assert_null(bnc_ggml_type(99));
    assert_int_equal(bnc_ggml_block_size(99), 0);
}

static void test_scale_overflow(void **state)
{
    (void)state;
    float x[256] = {0};
    x[40] = 70000.0f; /* tq scale = amax > 65504 */
    uint8_t q[66];
    bnc_err err;
    assert_int_equal(bnc_scheme_find("tq2_0")->quantize_row(x, q, 256, &err), BNC_ERANGE);
    assert_int_equal(bnc_scheme_find("tq1_0")->quantize_row(x, q, 256, &err), BNC_ERANGE);
    assert_int_equal(bnc_scheme_find("q8_0")->quantize_row(x, q, 32, &err), 0); /* 70000/127 fits */
    x[40] = 9e6f;
    assert_int_equal(bnc_scheme_find("q8_0")->quantize_row(x + 32, q, 32, &err), BNC_ERANGE);
    assert_non_null(strstr(err.msg, "index 0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_q4_0),
        cmocka_unit_test(test_tq2_0),
        cmocka_unit_test(test_tq1_0),
        cmocka_unit_test(test_ternary_dequant),
        cmocka_unit_test(test_multi_block_rows),
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_scale_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
