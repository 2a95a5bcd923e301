/* Compressors: exact payload sizes, round trips, unbiasedness of the
 * stochastic ones, error feedback's invariant, malformed payloads, and the
 * exact bytes of an Update message on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fed_compress.h"
#include "bnc_fed_model.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"
#include "fed.pb-c.h"
#include "fed_wire.h"

static void fill(float *x, int64_t n, uint64_t seed)
{
    bnc_rng r;
    bnc_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)bnc_rng_normal(&r) * 0.01f;
}

static const bnc_fed_codec *codec(const char *name)
{
    const bnc_fed_codec *c = bnc_fed_codec_find(name);
    assert_non_null(c);
    return c;
}

static int available(const bnc_fed_codec *c)
{
    return !c->scheme || bnc_scheme_find(c->scheme) != NULL;
}

/* Encodes x, checks the size, decodes into y. */
static size_t roundtrip(const bnc_fed_codec *c, const bnc_fed_cparams *p, const float *x, int64_t n,
                        float *y, uint64_t stream)
{
    size_t cap = c->bound(n, p), w = 0;
    uint8_t *buf = malloc(cap);
    bnc_err e;
    float *tmp = malloc((size_t)n * sizeof *tmp);
    memcpy(tmp, x, (size_t)n * sizeof *tmp);
    int rc = bnc_fed_encode(c, p, tmp, n, NULL, NULL, 42, stream, buf, cap, &w, &e);
    if (rc) fprintf(stderr, "%s: %s\n", c->name, e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(c->decode(buf, w, n, p, y, &e), 0);
    /* One byte short is rejected. */
    if (w > 0) assert_int_equal(c->decode(buf, w - 1, n, p, y + 0, &e), BNC_EFORMAT);
    assert_int_equal(c->decode(buf, w, n, p, y, &e), 0);
    free(buf);
    free(tmp);
    return w;
}

static void test_exact_sizes(void **state)
{
    (void)state;
    bnc_fed_cparams p = {0};
    bnc_err e;
    assert_int_equal(bnc_fed_cparams_check(&p, &e), 0);
    assert_true(p.k_frac == 0.01 && p.qsgd_levels == 16);
    const int64_t n = 1003;
    float x[1003], y[1003];
    fill(x, n, 1);
    assert_int_equal(roundtrip(codec("none"), &p, x, n, y, 0), 4 * 1003);
    assert_memory_equal(x, y, sizeof x);
    /* kernels' bitnet: 2-bit codes (rows possibly padded to the kernel's
     * block) and one f32 gamma; the codec sends exactly the kernel's bytes. */
    {
        const bnc_scheme *bn = bnc_scheme_find("bitnet");
        bnc_qparams qp = {0};
        size_t want = bn->qsize(1, n, &qp);
        assert_true(want >= 251 + 4 && want <= 8 * 32 + 4);
        assert_int_equal(roundtrip(codec("ternary"), &p, x, n, y, 0), want);
    }
    assert_int_equal(roundtrip(codec("sign"), &p, x, n, y, 0), 4 + 126);
    assert_int_equal(roundtrip(codec("topk"), &p, x, n, y, 0), 4 + 8 * 11); /* k = ceil(10.03) */
    assert_int_equal(roundtrip(codec("randk"), &p, x, n, y, 0), 8 + 4 * 11);
    /* QSGD s=16: 5 level bits + sign = 6 bits a value. */
    assert_int_equal(roundtrip(codec("qsgd"), &p, x, n, y, 0), 4 + (6 * 1003 + 7) / 8);
    p.qsgd_levels = 1; /* 1 level bit + sign */
    assert_int_equal(roundtrip(codec("qsgd"), &p, x, n, y, 0), 4 + (2 * 1003 + 7) / 8);
    p.qsgd_levels = 16;
    if (available(codec("f16")))
        assert_int_equal(roundtrip(codec("f16"), &p, x, n, y, 0), 2 * 1003);
    /* kernels' int8: one byte a value and one f32 scale per row; TernGrad:
     * 2-bit codes and the f32 max. */
    if (available(codec("int8")))
        assert_int_equal(roundtrip(codec("int8"), &p, x, n, y, 0), 1003 + 4);
    if (available(codec("terngrad")))
        assert_int_equal(roundtrip(codec("terngrad"), &p, x, n, y, 0), 251 + 4);
    const char *kern[] = {"int8", "terngrad"};
    for (int i = 0; i < 2; i++) {
        const bnc_fed_codec *c = codec(kern[i]);
        if (!available(c)) continue;
        const bnc_scheme *s = bnc_scheme_find(c->scheme);
        bnc_qparams qp = {0};
        int64_t np = (n + s->block - 1) / s->block * s->block;
        assert_int_equal(roundtrip(c, &p, x, n, y, 0), s->qsize(1, np, &qp));
    }
}

static void test_values(void **state)
{
    (void)state;
    bnc_fed_cparams p = {0};
    bnc_err e;
    bnc_fed_cparams_check(&p, &e);
    enum { N = 4096 };
    static float x[N], y[N];
    fill(x, N, 2);
    /* ternary: {-g, 0, g}, g = mean |x| */
    roundtrip(codec("ternary"), &p, x, N, y, 0);
    double g = 0;
    for (int i = 0; i < N; i++)
        g += fabs(x[i]);
    g /= N;
    for (int i = 0; i < N; i++) {
        assert_true(y[i] == 0 || fabs(fabs(y[i]) - g) < 1e-6);
        if (y[i] != 0) assert_true((y[i] > 0) == (x[i] > 0));
    }
    /* sign: every value is +-mean|x| with x's sign */
    roundtrip(codec("sign"), &p, x, N, y, 0);
    for (int i = 0; i < N; i++)
        assert_true(fabs(fabs(y[i]) - g) < 1e-6 && (y[i] < 0) == (x[i] < 0));
    /* top-k keeps the 41 largest magnitudes exactly */
    roundtrip(codec("topk"), &p, x, N, y, 0);
    int kept = 0;
    float minkept = INFINITY, maxdropped = 0;
    for (int i = 0; i < N; i++) {
        if (y[i] != 0) {
            kept++;
            assert_true(y[i] == x[i]);
            minkept = fminf(minkept, fabsf(x[i]));
        } else {
            maxdropped = fmaxf(maxdropped, fabsf(x[i]));
        }
    }
    assert_int_equal(kept, 41);
    assert_true(minkept >= maxdropped);
    /* random-k keeps 41 values scaled by n/k */
    roundtrip(codec("randk"), &p, x, N, y, 7);
    kept = 0;
    for (int i = 0; i < N; i++)
        if (y[i] != 0) {
            kept++;
            assert_true(fabsf(y[i] - x[i] * (float)N / 41.0f) < 1e-6f);
        }
    assert_int_equal(kept, 41);
    if (available(codec("f16"))) {
        roundtrip(codec("f16"), &p, x, N, y, 0);
        for (int i = 0; i < N; i++)
            assert_true(fabsf(y[i] - x[i]) <= 1e-3f * fabsf(x[i]) + 1e-7f);
    }
}

/* mean over T encodings with different streams is x within 5 standard
 * errors, for every coordinate. */
static void check_unbiased(const bnc_fed_codec *c, const bnc_fed_cparams *p, int expect_unbiased)
{
    enum { N = 64, T = 3000 };
    float x[N], y[N];
    double s[N] = {0}, s2[N] = {0};
    fill(x, N, 3);
    for (int t = 0; t < T; t++) {
        roundtrip(c, p, x, N, y, (uint64_t)t + 1);
        for (int i = 0; i < N; i++) {
            s[i] += y[i];
            s2[i] += (double)y[i] * y[i];
        }
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        double mean = s[i] / T, var = s2[i] / T - mean * mean;
        double se = sqrt(var > 0 ? var / T : 0);
        bad += fabs(mean - x[i]) > 5 * se + 1e-7;
    }
    if (expect_unbiased)
        assert_int_equal(bad, 0);
    else
        assert_true(bad > N / 4);
}

static void test_unbiased(void **state)
{
    (void)state;
    bnc_fed_cparams p = {0};
    bnc_err e;
    bnc_fed_cparams_check(&p, &e);
    p.qsgd_levels = 4;
    check_unbiased(codec("qsgd"), &p, 1);
    p.k_frac = 0.25;
    check_unbiased(codec("randk"), &p, 1);
    if (available(codec("terngrad"))) check_unbiased(codec("terngrad"), &p, 1);
    /* The deterministic BitNet ternary is biased: the check can fail. */
    check_unbiased(codec("ternary"), &p, 0);
}

static void test_error_feedback_invariant(void **state)
{
    (void)state;
    /* With error feedback, the sum of what was sent plus the residual equals
     * the sum of the inputs: nothing is lost, only delayed. */
    bnc_fed_cparams p = {0};
    bnc_err e;
    bnc_fed_cparams_check(&p, &e);
    const char *names[] = {"topk", "ternary", "sign"};
    for (int k = 0; k < 3; k++) {
        const bnc_fed_codec *c = codec(names[k]);
        enum { N = 500 };
        float x[N], res[N] = {0}, scratch[N], y[N];
        double sent[N] = {0}, in[N] = {0};
        uint8_t buf[8192];
        for (int r = 0; r < 20; r++) {
            fill(x, N, 100 + (uint64_t)r);
            for (int i = 0; i < N; i++)
                in[i] += x[i];
            size_t w;
            assert_int_equal(
                bnc_fed_encode(c, &p, x, N, res, scratch, 1, (uint64_t)r, buf, sizeof buf, &w, &e),
                0);
            assert_int_equal(c->decode(buf, w, N, &p, y, &e), 0);
            for (int i = 0; i < N; i++)
                sent[i] += y[i];
        }
        for (int i = 0; i < N; i++)
            assert_true(fabs(sent[i] + res[i] - in[i]) < 1e-4);
    }
}

static void test_malformed_payloads(void **state)
{
    (void)state;
    bnc_fed_cparams p = {0};
    bnc_err e;
    bnc_fed_cparams_check(&p, &e);
    float y[100];
    uint8_t buf[1024];
    memset(buf, 0xff, sizeof buf);
    /* ternary code 3 */
    assert_int_equal(codec("ternary")->decode(buf, 29, 100, &p, y, &e), BNC_EFORMAT);
    /* qsgd: level 31 > 16 with all bits set (norm is NaN first: bad norm) */
    assert_int_equal(codec("qsgd")->decode(buf, 4 + 75, 100, &p, y, &e), BNC_EFORMAT);
    float one = 1.0f;
    memcpy(buf, &one, 4);
    assert_int_equal(codec("qsgd")->decode(buf, 4 + 75, 100, &p, y, &e), BNC_EFORMAT);
    assert_non_null(strstr(e.msg, "level"));
    /* top-k: indices out of range */
    memset(buf, 0, sizeof buf);
    buf[0] = 1;   /* k = 1 */
    buf[4] = 200; /* index 200 >= 100 */
    assert_int_equal(codec("topk")->decode(buf, 12, 100, &p, y, &e), BNC_EFORMAT);
    buf[4] = 5;
    assert_int_equal(codec("topk")->decode(buf, 12, 100, &p, y, &e), 0);
    buf[0] = 2; /* k disagrees with the fraction */
    assert_int_equal(codec("topk")->decode(buf, 12, 100, &p, y, &e), BNC_EFORMAT);
    assert_null(bnc_fed_codec_find("zstd"));
    assert_ptr_equal(bnc_fed_codec_find("f32"), bnc_fed_codec_find("none"));
    for (int id = 0; id < BNC_FED_CODEC_COUNT; id++)
        assert_int_equal(bnc_fed_codec_by_id(id)->id, id);
}

static size_t vsize(uint64_t v)
{
    size_t n = 1;
    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}

static void test_update_message_bytes(void **state)
{
    (void)state;
    /* The bytes counted are protobuf's: check the encoder's size against the
     * wire format computed by hand for a ternary softmax update. */
    bnc_fed_arch a;
    bnc_err e;
    assert_int_equal(bnc_fed_arch_init(&a, "softmax", 784, 10, &e), 0);
    const bnc_fed_codec *c = codec("ternary");
    bnc_fed_cparams p = {0};
    bnc_fed_cparams_check(&p, &e);
    float *x = malloc((size_t)a.nparams * sizeof *x);
    fill(x, a.nparams, 9);
    size_t cap = bnc_fed_tensors_bound(&a, c, &p);
    const bnc_scheme *bn = bnc_scheme_find("bitnet");
    bnc_qparams qp = {0};
    size_t pw = bn->qsize(1, 7840, &qp), pb = bn->qsize(1, 10, &qp);
    assert_true(pw >= 7840 / 4 + 4 && pb >= 3 + 4);
    assert_int_equal(cap, pw + pb);
    uint8_t *buf = malloc(cap);
    Bnc__Fed__Tensor ts[BNC_FED_MAX_TENSORS], *tp[BNC_FED_MAX_TENSORS];
    assert_int_equal(bnc_fed_tensors_encode(&a, c, &p, x, NULL, NULL, 1, 1, buf, cap, ts, tp, &e),
                     0);
    Bnc__Fed__Update u = BNC__FED__UPDATE__INIT;
    u.round = 3;
    u.client_id = 130;
    u.examples = 6000;
    u.n_delta = 2;
    u.delta = tp;
    u.train_loss = 0.5;
    u.train_acc = 0.8;
    u.compute_s = 0.01;
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    m.body_case = BNC__FED__MSG__BODY_UPDATE;
    m.update = &u;
    size_t t0 = 0 /* index 0 omitted */ + 2 /* codec */ + 1 + vsize(7840) + 1 + vsize(pw) + pw;
    size_t t1 = 2 /* index 1 */ + 2 + 2 /* n = 10 */ + 1 + vsize(pb) + pb;
    size_t upd = 2 /* round */ + 1 + vsize(130) + 1 + vsize(6000) + (1 + vsize(t0) + t0) +
                 (1 + vsize(t1) + t1) + 3 * 9;
    size_t want = 1 + vsize(upd) + upd;
    assert_int_equal(bnc__fed__msg__get_packed_size(&m), want);
    /* ... and decoding the tensors gives the ternary model back. */
    float *y = malloc((size_t)a.nparams * sizeof *y);
    Bnc__Fed__Tensor *const *cp = tp;
    assert_int_equal(bnc_fed_tensors_decode(&a, c, &p, cp, 2, y, &e), 0);
    /* A wrong codec id or count is rejected. */
    ts[1].codec = 0;
    assert_int_equal(bnc_fed_tensors_decode(&a, c, &p, cp, 2, y, &e), BNC_EFORMAT);
    assert_int_equal(bnc_fed_tensors_decode(&a, c, &p, cp, 1, y, &e), BNC_EFORMAT);
    free(x);
    free(y);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_sizes),        cmocka_unit_test(test_values),
        cmocka_unit_test(test_unbiased),           cmocka_unit_test(test_error_feedback_invariant),
        cmocka_unit_test(test_malformed_payloads), cmocka_unit_test(test_update_message_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
