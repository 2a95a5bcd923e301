/* GEMV property tests: every fast path (each ISA this CPU has) against the
 * scalar reference on fresh random inputs of several distributions, bitwise
 * (integer sums are exact and the float operations follow the reference's
 * order); independence from the thread count; relative error against an
 * f64 reference (printed); the bitnet quantizer across ISAs and threads. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bitnet_1pass.h"
#include "gemv_impl.h"
#include "bnc_gemv.h"
#include "bnc_fp16.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"

enum { D_NORMAL, D_HEAVY, D_ZERO_ROWS, D_OUTLIER, D_COUNT };
static const char *dist_names[D_COUNT] = {"normal", "heavy", "zero-rows", "outlier"};

/* The row of scheme name (the GEMV takes rows, never names). */
static const bnc_scheme *S(const char *name)
{
    const bnc_scheme *s = bnc_scheme_find(name);
    assert_non_null(s);
    return s;
}

/* rows x cols floats of distribution d, keyed by (seed, stream). */
static float *gen(int d, int64_t rows, int64_t cols, uint64_t seed, uint64_t stream)
{
    float *x = malloc((size_t)(rows * cols) * sizeof *x);
    assert_non_null(x);
    bnc_rng r;
    bnc_rng_init(&r, seed, stream);
    for (int64_t i = 0; i < rows * cols; i++) {
        double v = bnc_rng_normal(&r);
        if (d == D_HEAVY) /* Student t with 2 degrees of freedom */
            v = v / sqrt((pow(bnc_rng_normal(&r), 2) + pow(bnc_rng_normal(&r), 2)) / 2 + 1e-12);
        x[i] = (float)v;
    }
    if (d == D_ZERO_ROWS)
        for (int64_t rr = 0; rr < rows; rr += 2)
            memset(x + rr * cols, 0, (size_t)cols * sizeof *x);
    if (d == D_OUTLIER) x[bnc_rng_below(&r, (uint64_t)(rows * cols))] = 1e4f;
    return x;
}

/* ---- reference packers for the ggml blocks (FORMATS.md) ------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Ternarizes per 256 (absmean) then packs: what FORMATS.md says to do. */
static void ternary_block(const float *x, int n, int8_t *t, float *d)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs(x[i]);
    float g = (float)(s / n);
    for (int i = 0; i < n; i++) {
        float v = roundf(x[i] / (g + 1e-5f));
        t[i] = (int8_t)(v > 1 ? 1 : v < -1 ? -1 : v);
    }
    *d = g;
}

static size_t pack_ggml(const char *s, const float *x, int64_t rows, int64_t cols, uint8_t *out)
{
    uint8_t *o = out;
    for (int64_t i = 0; i < rows * cols;) {
        const float *b = x + i;
        if (!strcmp(s, "tq2_0") || !strcmp(s, "tq1_0")) {
            int8_t t[256];
            float d;
            ternary_block(b, 256, t, &d);
            if (!strcmp(s, "tq2_0")) {
                memset(o, 0, 64);
                for (int e = 0; e < 256; e++)
                    o[32 * (e / 128) + e % 32] |= (uint8_t)((t[e] + 1) << (2 * (e % 128 / 32)));
                put16(o + 64, bnc_f32_to_f16(d));
                o += 66;
            } else {
                for (int m = 0; m < 48; m++) {
                    int v = 0;
                    for (int n = 0; n < 5; n++) {
                        int e = m < 32 ? m + 32 * n : 160 + (m - 32) + 16 * n;
                        v = v * 3 + t[e] + 1;
                    }
                    o[m] = (uint8_t)((v * 256 + 242) / 243);
                }
                for (int j = 0; j < 4; j++) {
                    int v = 0;
                    for (int n = 0; n < 4; n++)
                        v = v * 3 + t[240 + j + 4 * n] + 1;
                    v *= 3;
                    o[48 + j] = (uint8_t)((v * 256 + 242) / 243);
                }
                put16(o + 52, bnc_f32_to_f16(d));
                o += 54;
            }
            i += 256;
        } else {
            float amax = 0, m = 0;
            for (int e = 0; e < 32; e++)
                if (fabsf(b[e]) > amax) {
                    amax = fabsf(b[e]);
                    m = b[e];
                }
            if (!strcmp(s, "q8_0")) {
                float d = amax / 127, id = d ? 1 / d : 0;
                put16(o, bnc_f32_to_f16(d));
                for (int e = 0; e < 32; e++)
                    o[2 + e] = (uint8_t)(int8_t)roundf(b[e] * id);
                o += 34;
            } else {
                float d = m / -8, id = d ? 1 / d : 0;
                put16(o, bnc_f32_to_f16(d));
                for (int e = 0; e < 16; e++) {
                    int lo = (int)(int8_t)(b[e] * id + 8.5f),
                        hi = (int)(int8_t)(b[e + 16] * id + 8.5f);
                    lo = lo > 15 ? 15 : lo;
                    hi = hi > 15 ? 15 : hi;
                    o[2 + e] = (uint8_t)(lo | hi << 4);
                }
                o += 18;
            }
            i += 32;
        }
    }
    return (size_t)(o - out);
}

/* Packs x (rows x cols) for scheme s with params p; returns malloc'd bytes. */
static uint8_t *make_weights(const char *s, const bnc_qparams *p, const float *x, int64_t rows,
                             int64_t cols, size_t *n)
{
    *n = bnc_gemv_weight_bytes(S(s), p, rows, cols);
    assert_true(*n > 0);
    uint8_t *w = malloc(*n);
    assert_non_null(w);
    const bnc_scheme *sc = bnc_scheme_find(s);
    if (!strncmp(s, "bitnet", 6)) {
        assert_non_null(sc);
        size_t wr = 0;
        bnc_err err;
        assert_int_equal(sc->quantize(x, rows, cols, p, w, *n, &wr, &err), 0);
        assert_int_equal(wr, *n);
    } else {
        assert_int_equal(pack_ggml(s, x, rows, cols, w), *n);
    }
    return w;
}

typedef struct tcase {
    const char *scheme;
    int64_t group;
    int64_t rows, cols;
} tcase;

static const tcase cases[] = {
    {"bitnet", 0, 37, 300},         {"bitnet", 0, 64, 1024},
    {"bitnet", 0, 9, 128},          {"bitnet-row", 0, 40, 640},
    {"bitnet-row", 0, 17, 77},      {"bitnet-group", 128, 33, 1000},
    {"bitnet-group", 256, 24, 768}, {"bitnet-group", 384, 16, 1152},
    {"tq2_0", 0, 41, 512},          {"tq2_0", 0, 8, 2048},
    {"tq1_0", 0, 41, 512},          {"tq1_0", 0, 8, 1280},
    {"q8_0", 0, 39, 288},           {"q8_0", 0, 16, 1024},
    {"q4_0", 0, 39, 288},           {"q4_0", 0, 16, 1024},
};

static double rel_err(const float *y, const double *y64, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)y[i] - y64[i]) * ((double)y[i] - y64[i]);
        den += y64[i] * y64[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void test_fast_paths_equal_scalar(void **state)
{
    (void)state;
    bnc_err err;
    bnc_pool *pools[3];
    const int nth[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++)
        assert_int_equal(bnc_pool_new(nth[i], &pools[i], &err), 0);
    const int64_t batches[] = {1, 3, 64};
    uint64_t stream = 1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const tcase *tc = &cases[c];
        bnc_qparams p = {.group = tc->group};
        for (int d = 0; d < D_COUNT; d++) {
            float *wf = gen(d, tc->rows, tc->cols, 42, stream++);
            size_t wn;
            uint8_t *w = make_weights(tc->scheme, &p, wf, tc->rows, tc->cols, &wn);
            for (size_t bi = 0; bi < 3; bi++) {
                int64_t batch = batches[bi];
                int xd = bi == 1 && d == D_NORMAL ? D_NORMAL : (d + (int)bi) % D_COUNT;
                float *xf = gen(xd, batch, tc->cols, 43, stream++);
                bnc_act *a;
                assert_int_equal(bnc_act_new(batch, tc->cols, &a, &err), 0);
                assert_int_equal(bnc_act_quantize(a, xf, &err), 0);
                size_t ny = (size_t)(batch * tc->rows);
                float *ref = malloc(ny * sizeof *ref), *y = malloc(ny * sizeof *y);
                assert_int_equal(bnc_gemv(S(tc->scheme), &p, w, wn, tc->rows, a, ref,
                                          BNC_ISA_SCALAR, NULL, &err),
                                 0);
                for (int isa = 0; isa < BNC_ISA_COUNT; isa++) {
                    if (!bnc_isa_supported((bnc_isa)isa)) continue;
                    for (int t = 0; t < 3; t++) {
                        memset(y, 0xcd, ny * sizeof *y);
                        int rc = bnc_gemv(S(tc->scheme), &p, w, wn, tc->rows, a, y, (bnc_isa)isa,
                                          pools[t], &err);
                        if (rc) fail_msg("%s: %s", tc->scheme, err.msg);
                        if (memcmp(y, ref, ny * sizeof *y) != 0) {
                            for (size_t i = 0; i < ny; i++)
                                if (memcmp(&y[i], &ref[i], sizeof *y))
                                    fail_msg("%s %lldx%lld %s batch %lld isa %s threads %d: "
                                             "y[%zu] = %.9g, scalar %.9g",
                                             tc->scheme, (long long)tc->rows, (long long)tc->cols,
                                             dist_names[d], (long long)batch,
                                             bnc_isa_name((bnc_isa)isa), nth[t], i, (double)y[i],
                                             (double)ref[i]);
                        }
                    }
                }
                if (d == D_NORMAL && bi == 1) {
                    double *y64 = malloc(ny * sizeof *y64);
                    assert_int_equal(bnc_gemv_ref_f64(S(tc->scheme), &p, w, wn, tc->rows, tc->cols,
                                                      xf, batch, y64, &err),
                                     0);
                    double e = rel_err(ref, y64, (int64_t)ny);
                    printf("gemv %-12s %5lldx%-5lld batch %lld: relative error vs f64 %.3e "
                           "(activation int8)\n",
                           tc->scheme, (long long)tc->rows, (long long)tc->cols, (long long)batch,
                           e);
                    /* int8 activations on normal data: about 1% or less */
                    assert_true(e < 0.03);
                    free(y64);
                }
                free(ref);
                free(y);
                free(xf);
                bnc_act_free(a);
            }
            free(w);
            free(wf);
        }
    }
    for (int i = 0; i < 3; i++)
        bnc_pool_free(pools[i]);
}

/* GEMVs large enough for the pool to split them (>= BNC_POOL_MIN_BYTES of
 * weights), on 1..3 threads, equal the scalar single-thread result bitwise
 * whoever runs each task. */
static void test_pool_split_equal(void **state)
{
    (void)state;
    bnc_err err;
    const char *names[] = {"q8_0", "bitnet-row"};
    const int64_t rows[] = {2048, 8200}, cols = 2048;
    for (int k = 0; k < 2; k++) {
        float *wf = gen(D_NORMAL, rows[k], cols, 51, (uint64_t)k);
        size_t wn;
        uint8_t *w = make_weights(names[k], NULL, wf, rows[k], cols, &wn);
        assert_true(wn >= BNC_POOL_MIN_BYTES);
        float *xf = gen(D_NORMAL, 2, cols, 52, (uint64_t)k);
        bnc_act *a;
        assert_int_equal(bnc_act_new(2, cols, &a, &err), 0);
        assert_int_equal(bnc_act_quantize(a, xf, &err), 0);
        size_t ny = (size_t)(2 * rows[k]);
        float *ref = malloc(ny * sizeof *ref), *y = malloc(ny * sizeof *y);
        assert_int_equal(
            bnc_gemv(S(names[k]), NULL, w, wn, rows[k], a, ref, BNC_ISA_SCALAR, NULL, &err), 0);
        for (int t = 1; t <= 3; t++) {
            bnc_pool *pool;
            assert_int_equal(bnc_pool_new(t, &pool, &err), 0);
            for (int rep = 0; rep < 3; rep++) {
                memset(y, 0xcd, ny * sizeof *y);
                assert_int_equal(
                    bnc_gemv(S(names[k]), NULL, w, wn, rows[k], a, y, bnc_isa_best(), pool, &err),
                    0);
                assert_memory_equal(y, ref, ny * sizeof *y);
            }
            bnc_pool_free(pool);
        }
        free(ref);
        free(y);
        bnc_act_free(a);
        free(xf);
        free(w);
        free(wf);
    }
}

/* The default thread count: BNC_THREADS, else the CPUs shared among the MPI
 * ranks on the node (one thread each when ranks outnumber cores). */
static void test_threads_default(void **state)
{
    (void)state;
    bnc_err err;
    int n = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char buf[32];
    unsetenv("MPI_LOCALNRANKS");
    setenv("BNC_THREADS", "3", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "64", 1);
    assert_int_equal(bnc_threads_default(&n, &err), 0);
    assert_int_equal(n, 3); /* BNC_THREADS wins */
    unsetenv("BNC_THREADS");
    snprintf(buf, sizeof buf, "%ld", 2 * cpus);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", buf, 1);
    assert_int_equal(bnc_threads_default(&n, &err), 0);
    assert_int_equal(n, 1); /* more ranks than cores */
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "1", 1);
    assert_int_equal(bnc_threads_default(&n, &err), 0);
    assert_int_equal(n, cpus);
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    assert_int_equal(bnc_threads_default(&n, &err), 0);
    assert_int_equal(n, cpus);
    setenv("BNC_THREADS", "0", 1);
    assert_int_equal(bnc_threads_default(&n, &err), BNC_EINVAL);
    setenv("BNC_THREADS", "2x", 1);
    assert_int_equal(bnc_threads_default(&n, &err), BNC_EINVAL);
    assert_non_null(strstr(err.msg, "BNC_THREADS=2x"));
    unsetenv("BNC_THREADS");
}

/* A hand-computed GEMV: the values pin the sign and scale conventions. */
static void test_bitnet_hand_values(void **state)
{
    (void)state;
    bnc_err err;
    const int8_t t[2 * 3] = {1, -1, 0, 0, 1, 1};
    const float scales[2] = {0.5f, 2.0f};
    size_t n = bnc_gemv_weight_bytes(S("bitnet-row"), NULL, 2, 3);
    assert_int_equal(n, 2 * 32 + 2 * 4);
    uint8_t w[72];
    assert_int_equal(bnc_bitnet_pack(t, 2, 3, BNC_BITNET_ROW, 0, scales, w, sizeof w, &err), 0);
    /* row 0: elements 0,1,2 in bits 0..1 of bytes 0,1,2: codes 2,0,1; the
     * other fields are padding code 1 */
    assert_int_equal(w[0], 0x56);
    assert_int_equal(w[1], 0x54);
    assert_int_equal(w[2], 0x55);
    bnc_act *a;
    assert_int_equal(bnc_act_new(1, 3, &a, &err), 0);
    const float x[3] = {127.0f, -63.5f, 10.0f}; /* d = 1, q = 127, -64, 10 */
    assert_int_equal(bnc_act_quantize(a, x, &err), 0);
    assert_int_equal(a->q[1], -64);
    float y[2];
    for (int isa = 0; isa < BNC_ISA_COUNT; isa++) {
        if (!bnc_isa_supported((bnc_isa)isa)) continue;
        assert_int_equal(bnc_gemv(S("bitnet-row"), NULL, w, n, 2, a, y, (bnc_isa)isa, NULL, &err),
                         0);
        assert_true(y[0] == 0.5f * (127 + 64)); /* 95.5 */
        assert_true(y[1] == 2.0f * (-64 + 10)); /* -108 */
    }
    bnc_act_free(a);
}

/* When the scheme table has the ggml quantizers: their blocks decode here
 * to exactly their own dequantized values, and every fast path equals the
 * scalar path on them. Skipped while the table lacks them. */
static void test_ggml_table_crosscheck(void **state)
{
    (void)state;
    const char *names[] = {"tq2_0", "tq1_0", "q8_0", "q4_0"};
    const int64_t rows = 12, cols = 768;
    bnc_err err;
    int ran = 0;
    for (int k = 0; k < 4; k++) {
        const bnc_scheme *sc = bnc_scheme_find(names[k]);
        if (!sc || !sc->quantize || !sc->dequantize || !sc->qsize) continue;
        ran++;
        for (int d = 0; d < D_COUNT; d++) {
            float *x = gen(d, rows, cols, 31, (uint64_t)(k * 10 + d));
            size_t cap = sc->qsize(rows, cols, NULL), wr = 0;
            uint8_t *w = malloc(cap);
            float *deq = malloc((size_t)(rows * cols) * sizeof *deq);
            assert_int_equal(sc->quantize(x, rows, cols, NULL, w, cap, &wr, &err), 0);
            assert_int_equal(wr, bnc_gemv_weight_bytes(S(names[k]), NULL, rows, cols));
            assert_int_equal(sc->dequantize(w, wr, rows, cols, NULL, deq, &err), 0);
            /* decode column j through the f64 reference with a unit vector */
            float *e = calloc((size_t)cols, sizeof *e);
            double y64[12];
            for (int64_t j = 0; j < cols; j += 7) {
                memset(e, 0, (size_t)cols * sizeof *e);
                e[j] = 1;
                assert_int_equal(
                    bnc_gemv_ref_f64(S(names[k]), NULL, w, wr, rows, cols, e, 1, y64, &err), 0);
                for (int64_t i = 0; i < rows; i++)
                    if (y64[i] != (double)deq[i * cols + j])
                        fail_msg("%s %s: row %lld col %lld decodes to %g, dequantize %g", names[k],
                                 dist_names[d], (long long)i, (long long)j, y64[i],
                                 (double)deq[i * cols + j]);
            }
            bnc_act *a;
            assert_int_equal(bnc_act_new(2, cols, &a, &err), 0);
            float *xf = gen(D_NORMAL, 2, cols, 32, (uint64_t)d);
            assert_int_equal(bnc_act_quantize(a, xf, &err), 0);
            float ref[24], y[24];
            assert_int_equal(
                bnc_gemv(S(names[k]), NULL, w, wr, rows, a, ref, BNC_ISA_SCALAR, NULL, &err), 0);
            for (int isa = 1; isa < BNC_ISA_COUNT; isa++) {
                if (!bnc_isa_supported((bnc_isa)isa)) continue;
                assert_int_equal(
                    bnc_gemv(S(names[k]), NULL, w, wr, rows, a, y, (bnc_isa)isa, NULL, &err), 0);
                assert_memory_equal(y, ref, sizeof y);
            }
            bnc_act_free(a);
            free(xf);
            free(e);
            free(w);
            free(deq);
            free(x);
        }
    }
    printf("ggml cross-check against the scheme table: %d of 4 schemes present\n", ran);
    if (!ran) skip();
}

/* The LUT kernel (AVX-512 only) equals the scalar reference bitwise. */
static void test_bitnet_lut(void **state)
{
    (void)state;
    if (!bnc_isa_supported(BNC_ISA_AVX512)) {
        skip();
        return;
    }
    bnc_err err;
    const int64_t shapes[][2] = {{64, 256}, {70, 300}, {130, 1030}, {9, 17000}};
    for (int mode = 0; mode < 2; mode++)
        for (int h = 0; h < 4; h++)
            for (int d = 0; d < D_COUNT; d++) {
                int64_t rows = shapes[h][0], cols = shapes[h][1];
                const char *sc = mode ? "bitnet-row" : "bitnet";
                float *wf = gen(d, rows, cols, 21, (uint64_t)(h * 10 + d));
                size_t wn;
                uint8_t *w = make_weights(sc, NULL, wf, rows, cols, &wn);
                size_t ln = bnc_bitnet_lut_bytes(mode, rows, cols);
                uint8_t *lw = malloc(ln);
                assert_int_equal(bnc_bitnet_lut_pack(w, wn, mode, rows, cols, lw, ln, &err), 0);
                for (int64_t batch = 1; batch <= 3; batch += 2) {
                    float *xf = gen((d + 1) % D_COUNT, batch, cols, 22, (uint64_t)h);
                    bnc_act *a;
                    assert_int_equal(bnc_act_new(batch, cols, &a, &err), 0);
                    assert_int_equal(bnc_act_quantize(a, xf, &err), 0);
                    size_t ny = (size_t)(batch * rows);
                    float *ref = malloc(ny * sizeof *ref), *y = malloc(ny * sizeof *y);
                    assert_int_equal(
                        bnc_gemv(S(sc), NULL, w, wn, rows, a, ref, BNC_ISA_SCALAR, NULL, &err), 0);
                    assert_int_equal(bnc_bitnet_lut_gemv(lw, ln, mode, rows, a, y, NULL, &err), 0);
                    if (memcmp(y, ref, ny * sizeof *y))
                        fail_msg("lut %s %lldx%lld %s batch %lld differs", sc, (long long)rows,
                                 (long long)cols, dist_names[d], (long long)batch);
                    free(ref);
                    free(y);
                    free(xf);
                    bnc_act_free(a);
                }
                free(lw);
                free(w);
                free(wf);
            }
}

static void test_bitnet_quantize_isa_threads(void **state)
{
    (void)state;
    bnc_err err;
    const int64_t rows = 70, cols = 1000;
    for (int d = 0; d < D_COUNT; d++) {
        float *x = gen(d, rows, cols, 7, (uint64_t)d);
        for (int mode = 0; mode < 3; mode++) {
            int64_t group = mode == BNC_BITNET_GROUP ? 256 : 0;
            uint8_t *ref = NULL;
            size_t nref = 0;
            for (int isa = 0; isa < BNC_ISA_COUNT; isa++) {
                if (!bnc_isa_supported((bnc_isa)isa)) continue;
                for (int th = 1; th <= 3; th++) {
                    bnc_pool *pool;
                    assert_int_equal(bnc_pool_new(th, &pool, &err), 0);
                    size_t cap = 200000, wr = 0;
                    uint8_t *buf = malloc(cap);
                    assert_int_equal(bnc_bitnet_quantize_ex(x, rows, cols, mode, group, buf, cap,
                                                            &wr, (bnc_isa)isa, pool, &err),
                                     0);
                    if (!ref) {
                        ref = buf;
                        nref = wr;
                    } else {
                        assert_int_equal(wr, nref);
                        if (memcmp(buf, ref, wr))
                            fail_msg("bitnet mode %d %s isa %s threads %d differs from scalar",
                                     mode, dist_names[d], bnc_isa_name((bnc_isa)isa), th);
                        free(buf);
                    }
                    bnc_pool_free(pool);
                }
            }
            free(ref);
        }
        free(x);
    }
}

/* Relative RMSE and non-zero fraction of bitnet on N(0,1) against the
 * analytic values: with gamma = E|W| = sqrt(2/pi) and a = gamma / 2,
 * nz = 2 (1 - Phi(a)), rel^2 = 1 - 4 gamma phi(a) + gamma^2 nz. */
/* The tensor-scale quantizer's one-pass path (bitnet_1pass.h, ISAs with a
 * kernel, cols a multiple of 128): the same bytes as the scalar two-pass
 * quantizer when the estimated band holds (normal, rows of different
 * scales), when a value sits at the threshold in most places (the chunks
 * overflow their kept-aside lists and are coded again) and when the sample
 * misleads (the band misses: the second pass runs); the path itself is
 * checked to have run and to have finished or fallen back as stated. */
static void test_bitnet_tensor_one_pass(void **state)
{
    (void)state;
    bnc_err err;
    enum { P_NORMAL, P_ROWS, P_THRESHOLD, P_SAMPLE, P_BIG, P_COUNT };
    static const char *names[P_COUNT] = {"normal", "row scales", "at threshold", "bad sample",
                                         "4 MiB normal"};
    for (int d = 0; d < P_COUNT; d++) {
        int64_t rows = d == P_BIG ? 1024 : d == P_SAMPLE ? 256 : 96, cols = 1024, n = rows * cols;
        float *x = gen(D_NORMAL, rows, cols, 8, (uint64_t)d);
        bnc_rng r;
        bnc_rng_init(&r, 9, (uint64_t)d);
        for (int64_t i = 0; i < n; i++) {
            if (d == P_ROWS) x[i] *= (float)(i / cols % 7 + 1);
            if (d == P_THRESHOLD) /* mean |x| 2: |x| = 1 sits at the threshold */
                x[i] = (bnc_rng_below(&r, 2) ? 1.0f : -1.0f) * (i % 2 ? 3.0f : 1.0f);
            /* what the sample reads (16 floats every n / 4096: every 64 here) */
            if (d == P_SAMPLE && i % 64 < 16) x[i] *= 50.0f;
        }
        size_t cap = (size_t)(n / 4 + 4), wr = 0, nref = 0;
        uint8_t *ref = malloc(cap), *buf = malloc(cap);
        assert_int_equal(bnc_bitnet_quantize_ex(x, rows, cols, BNC_BITNET_TENSOR, 0, ref, cap,
                                                &nref, BNC_ISA_SCALAR, NULL, &err),
                         0);
        for (int isa = 1; isa < BNC_ISA_COUNT; isa++) {
            if (!bnc_isa_supported((bnc_isa)isa)) continue;
            double sum = 0;
            bnc_bitnet_1pass *one =
                bnc_bitnet_1pass_run(x, rows, cols, (bnc_isa)isa, NULL, buf, &sum);
            if (one) { /* the path ran: finished, or fell back exactly when expected */
                float inv = 1.0f / ((float)(sum / (double)n) + 1e-5f);
                int fin = bnc_bitnet_1pass_finish(one, inv);
                if (fin != (d == P_SAMPLE ? 0 : 1))
                    fail_msg("bitnet one pass, %s, isa %s: finished %d", names[d],
                             bnc_isa_name((bnc_isa)isa), fin);
            }
            for (int th = 1; th <= 2; th++) {
                bnc_pool *pool;
                assert_int_equal(bnc_pool_new(th, &pool, &err), 0);
                memset(buf, 0xa5, cap);
                assert_int_equal(bnc_bitnet_quantize_ex(x, rows, cols, BNC_BITNET_TENSOR, 0, buf,
                                                        cap, &wr, (bnc_isa)isa, pool, &err),
                                 0);
                assert_int_equal(wr, nref);
                if (memcmp(buf, ref, wr))
                    fail_msg("bitnet one pass, %s, isa %s, threads %d: differs from scalar",
                             names[d], bnc_isa_name((bnc_isa)isa), th);
                bnc_pool_free(pool);
            }
        }
        /* a NaN is still named, whichever path runs */
        x[n - 3] = NAN;
        for (int isa = 0; isa < BNC_ISA_COUNT; isa++)
            if (bnc_isa_supported((bnc_isa)isa))
                assert_int_equal(bnc_bitnet_quantize_ex(x, rows, cols, BNC_BITNET_TENSOR, 0, buf,
                                                        cap, &wr, (bnc_isa)isa, NULL, &err),
                                 BNC_ERANGE);
        free(ref);
        free(buf);
        free(x);
    }
}

static void test_bitnet_normal_analytic(void **state)
{
    (void)state;
    const int64_t rows = 1024, cols = 1024;
    float *x = gen(D_NORMAL, rows, cols, 11, 0);
    const bnc_scheme *s = bnc_scheme_find("bitnet");
    assert_non_null(s);
    size_t cap = s->qsize(rows, cols, NULL), wr;
    uint8_t *w = malloc(cap);
    float *y = malloc((size_t)(rows * cols) * sizeof *y);
    bnc_err err;
    assert_int_equal(s->quantize(x, rows, cols, NULL, w, cap, &wr, &err), 0);
    assert_int_equal(s->dequantize(w, wr, rows, cols, NULL, y, &err), 0);
    double num = 0, den = 0, nz = 0;
    for (int64_t i = 0; i < rows * cols; i++) {
        num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        den += (double)x[i] * x[i];
        nz += y[i] != 0;
    }
    double g = sqrt(2 / M_PI), a = g / 2;
    double phi = exp(-a * a / 2) / sqrt(2 * M_PI), Phi = 0.5 * erfc(-a / sqrt(2));
    double nz_th = 2 * (1 - Phi), rel_th = sqrt(1 - 4 * g * phi + g * g * nz_th);
    double rel = sqrt(num / den);
    nz /= (double)(rows * cols);
    printf("bitnet N(0,1): rel RMSE %.5f (analytic %.5f), non-zero %.5f (analytic %.5f)\n", rel,
           rel_th, nz, nz_th);
    assert_true(fabs(rel / rel_th - 1) < 0.005);
    assert_true(fabs(nz / nz_th - 1) < 0.005);
    free(x);
    free(w);
    free(y);
}

static void test_errors(void **state)
{
    (void)state;
    bnc_err err;
    float x[256] = {0};
    x[77] = NAN;
    uint8_t w[200];
    size_t wr;
    const char *names[] = {"bitnet", "bitnet-row", "bitnet-group"};
    for (int i = 0; i < 3; i++) {
        const bnc_scheme *s = bnc_scheme_find(names[i]);
        assert_non_null(s);
        assert_int_equal(s->quantize(x, 2, 128, NULL, w, sizeof w, &wr, &err), BNC_ERANGE);
        assert_non_null(strstr(err.msg, "index 77"));
    }
    bnc_qparams p = {.group = 100};
    const bnc_scheme *g = bnc_scheme_find("bitnet-group");
    x[77] = 0;
    assert_int_equal(g->quantize(x, 2, 128, &p, w, sizeof w, &wr, &err), BNC_EINVAL);
    bnc_act *a;
    assert_int_equal(bnc_act_new(1, 300, &a, &err), 0);
    float y[4];
    assert_int_equal(bnc_gemv(S("q8_0"), NULL, w, 10, 1, a, y, BNC_ISA_SCALAR, NULL, &err),
                     BNC_EINVAL);
    assert_int_equal(bnc_gemv(S("bitnet"), NULL, w, 10, 1, a, y, BNC_ISA_SCALAR, NULL, &err),
                     BNC_EFORMAT);
    assert_int_equal(bnc_gemv(S("f32"), NULL, w, 10, 1, a, y, BNC_ISA_SCALAR, NULL, &err),
                     BNC_ENOTSUP);
    assert_int_equal(bnc_gemv(NULL, NULL, w, 10, 1, a, y, BNC_ISA_SCALAR, NULL, &err), BNC_ENOTSUP);
    assert_false(bnc_gemv_supported(S("int8")));
    assert_false(bnc_isa_supported((bnc_isa)BNC_ISA_COUNT));
    int8_t q[300] = {0};
    q[5] = -128;
    float d = 1;
    assert_int_equal(bnc_act_set(a, q, &d, &err), BNC_ERANGE);
    bnc_act_free(a);
    assert_int_equal(bnc_act_new(65, 10, &a, &err), BNC_EINVAL);
    bnc_isa isa;
    assert_int_equal(bnc_isa_parse("sse9", &isa, &err), BNC_EINVAL);
}

int main(void)
{
    /* A forced ISA this CPU lacks: nothing to test here (exit 77: skipped). */
    bnc_isa forced;
    bnc_err e;
    if (bnc_isa_select(&forced, &e) == BNC_ENOTSUP) {
        printf("SKIP: %s, so the tests that force it are skipped\n", e.msg);
        return 77;
    }
    for (int i = 0; i < BNC_ISA_COUNT; i++)
        printf("isa %s: %s\n", bnc_isa_name((bnc_isa)i),
               bnc_isa_supported((bnc_isa)i) ? "tested" : "not on this CPU");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitnet_hand_values),
        cmocka_unit_test(test_fast_paths_equal_scalar),
        cmocka_unit_test(test_pool_split_equal),
        cmocka_unit_test(test_threads_default),
        cmocka_unit_test(test_ggml_table_crosscheck),
        cmocka_unit_test(test_bitnet_lut),
        cmocka_unit_test(test_bitnet_quantize_isa_threads),
        cmocka_unit_test(test_bitnet_tensor_one_pass),
        cmocka_unit_test(test_bitnet_normal_analytic),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
