/* Fuzz-ish robustness of every dequantizer: truncated buffers, random byte
 * corruption and random garbage must give 0 or BNC_EFORMAT, never a crash
 * or a read outside the input (the inputs live in exactly-sized heap blocks,
 * so an ASan build, -DBNC_SANITIZE=address, catches any overrun). */
#include "ktest.h"

#define ROWS 4
#define COLS 256
#define MUTATIONS 1500

static void test_truncated(void **state)
{
    (void)state;
    float x[ROWS * COLS];
    float *y = xmalloc(sizeof x);
    fill_normal(x, ROWS * COLS, 51);
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        size_t w;
        uint8_t *q = quant(s, x, ROWS, COLS, NULL, &w);
        for (size_t len = 0; len < w; len++) {
            uint8_t *t = xmalloc(len);
            memcpy(t, q, len);
            bnc_err err;
            int rc = s->dequantize(t, len, ROWS, COLS, NULL, y, &err);
            if (rc != BNC_EFORMAT) fail_msg("%s: %zu of %zu bytes gave %d", s->name, len, w, rc);
            free(t);
        }
        free(q);
    }
    free(y);
}

static void test_mutated(void **state)
{
    (void)state;
    float x[ROWS * COLS];
    float *y = xmalloc(sizeof x);
    fill_normal(x, ROWS * COLS, 52);
    x[3] = 0, x[100] = 0, x[700] = 9.0f;
    bnc_rng r;
    bnc_rng_init(&r, 53, 0);
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        size_t w;
        uint8_t *q = quant(s, x, ROWS, COLS, NULL, &w);
        int ok = 0, bad = 0;
        for (int m = 0; m < MUTATIONS; m++) {
            uint8_t *t = xmalloc(w);
            memcpy(t, q, w);
            int flips = 1 + (int)bnc_rng_below(&r, 4);
            for (int f = 0; f < flips; f++) {
                /* favour the first bytes, where headers live */
                size_t at = (m & 1) ? (size_t)bnc_rng_below(&r, w < 24 ? w : 24)
                                    : (size_t)bnc_rng_below(&r, w);
                t[at] = (m & 2) ? (uint8_t)bnc_rng_u32(&r) : (uint8_t)(t[at] ^ (1u << (m % 8)));
            }
            bnc_err err;
            int rc = s->dequantize(t, w, ROWS, COLS, NULL, y, &err);
            if (rc != 0 && rc != BNC_EFORMAT)
                fail_msg("%s: corrupted input gave %d (%s)", s->name, rc, err.msg);
            rc == 0 ? ok++ : bad++;
            free(t);
        }
        print_message("%-20s %4d decoded, %4d rejected\n", s->name, ok, bad);
        free(q);
    }
    free(y);
}

static void test_garbage(void **state)
{
    (void)state;
    float *y = xmalloc(sizeof(float) * ROWS * COLS);
    bnc_rng r;
    bnc_rng_init(&r, 54, 0);
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        size_t full = s->qsize(ROWS, COLS, NULL);
        for (int m = 0; m < 300; m++) {
            size_t len = (size_t)bnc_rng_below(&r, full + 16);
            uint8_t *t = xmalloc(len);
            for (size_t k = 0; k < len; k++)
                t[k] = (uint8_t)bnc_rng_u32(&r);
            bnc_err err;
            int rc = s->dequantize(t, len, ROWS, COLS, NULL, y, &err);
            if (rc != 0 && rc != BNC_EFORMAT)
                fail_msg("%s: garbage gave %d (%s)", s->name, rc, err.msg);
            free(t);
        }
    }
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_mutated),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
