/* fp16 / bf16 conversions against hand-derived bit patterns (IEEE 754
 * binary16: 1 sign, 5 exponent bits (bias 15), 10 mantissa bits). */
#include "ktest.h"

#include <math.h>

#include "bnc_fp16.h"

static float f_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_f32_to_f16(void **state)
{
    (void)state;
    assert_int_equal(bnc_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(bnc_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(bnc_f32_to_f16(0.5f), 0x3800);
    assert_int_equal(bnc_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(bnc_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(bnc_f32_to_f16(65504.0f), 0x7BFF); /* largest finite */
    assert_int_equal(bnc_f32_to_f16(65519.0f), 0x7BFF); /* below the tie */
    assert_int_equal(bnc_f32_to_f16(65520.0f), 0x7C00); /* tie, mantissa odd: to inf */
    assert_int_equal(bnc_f32_to_f16(1e9f), 0x7C00);
    assert_int_equal(bnc_f32_to_f16(0.1f), 0x2E66);          /* 1.6 * 2^-4: 614.4 -> 614 */
    assert_int_equal(bnc_f32_to_f16(1.0f / 127.0f), 0x2008); /* 1.00787 * 2^-7: 8.06 -> 8 */
    /* ties to even in the normal range: 1 + 2^-11 -> 1, 1 + 3*2^-11 -> 1 + 2^-9 */
    assert_int_equal(bnc_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);
    assert_int_equal(bnc_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);
    assert_int_equal(bnc_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01); /* above tie */
    /* subnormals: 2^-24 is the smallest, 2^-25 ties to 0, 3*2^-25 ties to 2 */
    assert_int_equal(bnc_f32_to_f16(0x1p-14f), 0x0400);
    assert_int_equal(bnc_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(bnc_f32_to_f16(0x1p-25f), 0x0000);
    assert_int_equal(bnc_f32_to_f16(1.5f * 0x1p-25f), 0x0001);
    assert_int_equal(bnc_f32_to_f16(3.0f * 0x1p-25f), 0x0002);
    assert_int_equal(bnc_f32_to_f16(-1023.0f * 0x1p-24f), 0x83FF);
    assert_int_equal(bnc_f32_to_f16(1023.5f * 0x1p-24f), 0x0400); /* rounds up into normals */
    assert_int_equal(bnc_f32_to_f16(0x1p-30f), 0x0000);
    assert_int_equal(bnc_f32_to_f16(INFINITY), 0x7C00);
    assert_int_equal(bnc_f32_to_f16(-INFINITY), 0xFC00);
    uint16_t h = bnc_f32_to_f16(NAN);
    assert_true((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0);
}

static void test_f16_to_f32(void **state)
{
    (void)state;
    assert_true(bnc_f16_to_f32(0x3C00) == 1.0f);
    assert_true(bnc_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(bnc_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(bnc_f16_to_f32(0x03FF) == 1023.0f * 0x1p-24f);
    assert_true(bnc_f16_to_f32(0x3555) == 0.333251953125f);
    assert_true(bnc_f16_to_f32(0xC000) == -2.0f);
    float z = bnc_f16_to_f32(0x8000);
    assert_true(z == 0.0f && signbit(z));
    assert_true(isinf(bnc_f16_to_f32(0x7C00)));
    assert_true(isnan(bnc_f16_to_f32(0x7E00)));
    /* every finite fp16 survives f16 -> f32 -> f16 */
    for (uint32_t u = 0; u < 0x10000; u++) {
        if ((u & 0x7C00) == 0x7C00) continue;
        assert_int_equal(bnc_f32_to_f16(bnc_f16_to_f32((uint16_t)u)), u);
    }
}

static void test_bf16(void **state)
{
    (void)state;
    assert_int_equal(bnc_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(bnc_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);        /* tie to even */
    assert_int_equal(bnc_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);    /* tie to even */
    assert_int_equal(bnc_f32_to_bf16(f_of_bits(0x40490FDB)), 0x4049); /* pi */
    assert_int_equal(bnc_f32_to_bf16(f_of_bits(0x3F808000)), 0x3F80);
    assert_int_equal(bnc_f32_to_bf16(f_of_bits(0x3F808001)), 0x3F81);
    assert_int_equal(bnc_f32_to_bf16(-2.0f), 0xC000);
    assert_int_equal(bnc_f32_to_bf16(f_of_bits(0x7F7FFFFF)), 0x7F80); /* FLT_MAX -> inf */
    assert_true(isnan(bnc_bf16_to_f32(bnc_f32_to_bf16(NAN))));
    assert_true(bnc_bf16_to_f32(0x4049) == 3.140625f);
    uint8_t buf[6];
    const float x[3] = {1.0f, -2.0f, 0.5f};
    float y[3];
    bnc_f32_to_bf16_row(x, buf, 3);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(buf[1], 0x3F);
    bnc_bf16_to_f32_row(buf, y, 3);
    assert_memory_equal(x, y, sizeof x);
    bnc_f32_to_f16_row(x, buf, 3);
    assert_int_equal(buf[2], 0x00);
    assert_int_equal(buf[3], 0xC0);
    bnc_f16_to_f32_row(buf, y, 3);
    assert_memory_equal(x, y, sizeof x);
}

static void test_schemes_overflow(void **state)
{
    (void)state;
    const float x[4] = {1.0f, 70000.0f, 2.0f, 3.0f};
    uint8_t buf[8];
    size_t w;
    bnc_err err;
    const bnc_scheme *f16 = bnc_scheme_find("f16");
    assert_non_null(f16);
    assert_int_equal(f16->quantize(x, 1, 4, NULL, buf, sizeof buf, &w, &err), BNC_ERANGE);
    assert_non_null(strstr(err.msg, "index 1"));
    const float ok[4] = {1.0f, 65504.0f, -0.5f, 0.1f};
    assert_int_equal(f16->quantize(ok, 1, 4, NULL, buf, sizeof buf, &w, &err), 0);
    assert_int_equal(w, 8);
    const uint8_t want[8] = {0x00, 0x3C, 0xFF, 0x7B, 0x00, 0xB8, 0x66, 0x2E};
    assert_memory_equal(buf, want, 8);
    const bnc_scheme *bf = bnc_scheme_find("bf16");
    assert_non_null(bf);
    assert_int_equal(bf->quantize(x, 2, 2, NULL, buf, sizeof buf, &w, &err), 0);
    const uint8_t wantb[8] = {0x80, 0x3F, 0x89, 0x47, 0x00, 0x40, 0x40, 0x40};
    assert_memory_equal(buf, wantb, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_to_f16),
        cmocka_unit_test(test_f16_to_f32),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_schemes_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
