/* GPTQ against the NumPy reference of gptq_ref.py (same quantized integers
 * for q4_0, q8_0, tq2_0 and bitnet on the same W and H), GPTQ's layer output
 * error below round-to-nearest's on held-out inputs of the calibration
 * distribution, and round-to-nearest packed here byte-identical to the
 * kernels' scheme table. Usage: train_gptq_test DIR (the fixture's output). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnc_kernels.h"
#include "bnc_ptq.h"

static const char *dir;
static int64_t ROWS, COLS, N;
static double *W, *H, *Xt;

static void *slurp(const char *name, size_t bytes)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("cannot open %s", p);
    void *b = malloc(bytes);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, bytes, f), bytes);
    fclose(f);
    return b;
}

static int setup(void **state)
{
    (void)state;
    char p[4096];
    snprintf(p, sizeof p, "%s/meta.txt", dir);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    long long r, c, n;
    int ok = fscanf(f, "%lld %lld %lld", &r, &c, &n) == 3;
    fclose(f);
    if (!ok) return -1;
    ROWS = r;
    COLS = c;
    N = n;
    W = slurp("W.f64", (size_t)(ROWS * COLS) * 8);
    H = slurp("H.f64", (size_t)(COLS * COLS) * 8);
    Xt = slurp("Xtest.f64", (size_t)(N * COLS) * 8);
    return 0;
}

static void same_as_numpy(const char *name)
{
    const bnc_ptq_scheme *s = bnc_ptq_scheme_find(name);
    assert_non_null(s);
    size_t n = (size_t)(ROWS * COLS);
    double *Q = malloc(n * 8);
    int32_t *codes = malloc(n * 4);
    float *scales = malloc(n * 4);
    memcpy(Q, W, n * 8);
    bnc_err err = {0};
    assert_int_equal(bnc_gptq(s, Q, ROWS, COLS, H, 0.01, 128, codes, scales, &err), 0);
    char f[64];
    snprintf(f, sizeof f, "%s.codes.i32", name);
    int32_t *ref = slurp(f, n * 4);
    snprintf(f, sizeof f, "%s.q.f64", name);
    double *refq = slurp(f, n * 8);
    size_t diff = 0, nz = 0;
    double dmax = 0;
    for (size_t i = 0; i < n; i++) {
        diff += codes[i] != ref[i];
        nz += codes[i] != (strcmp(name, "q4_0") == 0 ? 8 : 0);
        double d = fabs(Q[i] - refq[i]);
        if (d > dmax) dmax = d;
    }
    if (diff) fail_msg("%s: %zu of %zu codes differ from NumPy's", name, diff, n);
    assert_true(dmax < 1e-12);
    assert_true(nz > n / 4); /* the codes say something */
    /* GPTQ's layer output error on held-out inputs is below round-to-nearest's */
    double *R = malloc(n * 8);
    memcpy(R, W, n * 8);
    assert_int_equal(bnc_ptq_rtn(s, R, ROWS, COLS, NULL, NULL, &err), 0);
    double eg = bnc_ptq_output_error(Xt, N, COLS, W, Q, ROWS);
    double er = bnc_ptq_output_error(Xt, N, COLS, W, R, ROWS);
    printf("%-6s codes = NumPy's (%zu); relative output error GPTQ %.5f, RTN %.5f (x %.2f)\n", name,
           n, eg, er, eg / er);
    assert_true(eg < er);
    free(Q);
    free(codes);
    free(scales);
    free(ref);
    free(refq);
    free(R);
}

static void test_q4_0(void **state)
{
    (void)state;
    same_as_numpy("q4_0");
}
static void test_q8_0(void **state)
{
    (void)state;
    same_as_numpy("q8_0");
}
static void test_tq2_0(void **state)
{
    (void)state;
    same_as_numpy("tq2_0");
}
static void test_bitnet(void **state)
{
    (void)state;
    same_as_numpy("bitnet");
}

/* Round-to-nearest packed by bnc_ptq_pack is what the scheme table writes. */
static void test_rtn_bytes_match_kernels(void **state)
{
    (void)state;
    const char *names[] = {"q4_0", "q8_0", "tq2_0"};
    size_t n = (size_t)(ROWS * COLS);
    float *wf = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        wf[i] = (float)W[i]; /* W holds f32 values */
    for (int k = 0; k < 3; k++) {
        const bnc_ptq_scheme *s = bnc_ptq_scheme_find(names[k]);
        const bnc_scheme *ks = bnc_scheme_find(names[k]);
        assert_non_null(ks);
        double *R = malloc(n * 8);
        int32_t *codes = malloc(n * 4);
        float *scales = malloc(n * 4);
        for (size_t i = 0; i < n; i++)
            R[i] = wf[i];
        bnc_err err = {0};
        assert_int_equal(bnc_ptq_rtn(s, R, ROWS, COLS, codes, scales, &err), 0);
        size_t nb = bnc_ptq_nbytes(s, ROWS, COLS);
        uint8_t *mine = malloc(nb);
        assert_int_equal(bnc_ptq_pack(s, codes, scales, ROWS, COLS, mine, nb, &err), 0);
        bnc_qparams qp = {0};
        size_t cap = ks->qsize(ROWS, COLS, &qp), wr = 0;
        uint8_t *theirs = malloc(cap);
        assert_int_equal(ks->quantize(wf, ROWS, COLS, &qp, theirs, cap, &wr, &err), 0);
        assert_int_equal(wr, nb);
        assert_memory_equal(mine, theirs, nb);
        /* and the dequantized values agree */
        float *y = malloc(n * 4);
        assert_int_equal(ks->dequantize(theirs, wr, ROWS, COLS, &qp, y, &err), 0);
        for (size_t i = 0; i < n; i++)
            assert_true(fabs((double)y[i] - R[i]) < 1e-7);
        free(R);
        free(codes);
        free(scales);
        free(mine);
        free(theirs);
        free(y);
    }
    free(wf);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q4_0),
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_tq2_0),
        cmocka_unit_test(test_bitnet),
        cmocka_unit_test(test_rtn_bytes_match_kernels),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
