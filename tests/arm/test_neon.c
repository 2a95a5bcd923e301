/* The NEON kernels against the scalar reference, bitwise: GEMV for every
 * scheme with a kernel (bitnet in its three scale modes, tq2_0, tq1_0,
 * q8_0, q4_0) on random weights and activations, batch 1..64, 1 and 3
 * threads; the bitnet weight quantizer (bytes); the activation quantizer
 * (codes and factors against the formula of bnc_gemv.h). A plain C program
 * (no cmocka for arm64): prints each failure and exits 1, 0 when all pass.
 *   test_neon [--dotprod 0|1]   also fail unless the CPU has (1) or lacks
 *                               (0) the dot product extension, so that the
 *                               qemu runs (QEMU_CPU) cover both paths. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#endif

#include "bnc_gemv.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("out of memory\n");
        exit(1);
    }
    return p;
}

/* An fp16 of a random finite value: normal of either sign, now and then a
 * subnormal or zero. */
static uint16_t rand_h(bnc_rng *r)
{
    uint64_t k = bnc_rng_below(r, 16);
    uint16_t sign = (uint16_t)(bnc_rng_below(r, 2) << 15);
    if (k == 0) return sign;
    if (k == 1) return (uint16_t)(sign | (1 + bnc_rng_below(r, 1023)));
    /* exponents 5..20: magnitudes 2^-10 .. 2^5 */
    return (uint16_t)(sign | ((5 + bnc_rng_below(r, 16)) << 10) | bnc_rng_below(r, 1024));
}

/* Random packed weights for scheme s (rows x cols, wn bytes). ggml blocks
 * are random bytes with random fp16 scales (any byte is a valid q8_0,
 * q4_0, tq1_0 or tq2_0 block); bitnet goes through bnc_bitnet_pack with
 * random ternary values and scales. */
static uint8_t *gen_weights(const char *s, int mode, int64_t group, int64_t rows, int64_t cols,
                            size_t wn, bnc_rng *r)
{
    uint8_t *w = xmalloc(wn);
    if (mode >= 0) {
        int8_t *t = xmalloc((size_t)(rows * cols));
        for (int64_t i = 0; i < rows * cols; i++)
            t[i] = (int8_t)((int)bnc_rng_below(r, 3) - 1);
        int64_t ns = mode == BNC_BITNET_TENSOR ? 1
                     : mode == BNC_BITNET_ROW  ? rows
                                               : rows * ((cols + group - 1) / group);
        float *sc = xmalloc((size_t)ns * sizeof *sc);
        for (int64_t i = 0; i < ns; i++)
            sc[i] = (float)(bnc_rng_normal(r) * 0.05);
        bnc_err err = {0};
        int rc = bnc_bitnet_pack(t, rows, cols, mode, group, sc, w, wn, &err);
        CHECK(rc == 0, "%s pack: %s", s, err.msg);
        free(t);
        free(sc);
        return w;
    }
    for (size_t i = 0; i < wn; i++)
        w[i] = (uint8_t)bnc_rng_below(r, 256);
    int block = 32, bytes = 34, doff = 0;
    if (!strcmp(s, "tq2_0"))
        block = 256, bytes = 66, doff = 64;
    else if (!strcmp(s, "tq1_0"))
        block = 256, bytes = 54, doff = 52;
    else if (!strcmp(s, "q4_0"))
        bytes = 18;
    for (int64_t k = 0; k < rows * cols / block; k++) {
        uint16_t h = rand_h(r);
        w[k * bytes + doff] = (uint8_t)h;
        w[k * bytes + doff + 1] = (uint8_t)(h >> 8);
    }
    return w;
}

/* Activations of batch x cols: normal values with an outlier, one
 * all-zero row when batch > 1. */
static float *gen_x(int64_t batch, int64_t cols, bnc_rng *r)
{
    float *x = xmalloc((size_t)(batch * cols) * sizeof *x);
    for (int64_t i = 0; i < batch * cols; i++)
        x[i] = (float)bnc_rng_normal(r);
    x[bnc_rng_below(r, (uint64_t)(batch * cols))] = 300.0f;
    if (batch > 1) memset(x + cols, 0, (size_t)cols * sizeof *x);
    return x;
}

typedef struct gcase {
    const char *scheme;
    int mode;      /* bitnet mode, -1 for the ggml types */
    int64_t group; /* bitnet-group */
    int64_t rows, cols;
} gcase;

static const gcase cases[] = {
    {"bitnet", BNC_BITNET_TENSOR, 0, 13, 300},
    {"bitnet", BNC_BITNET_TENSOR, 0, 8, 1024},
    {"bitnet-row", BNC_BITNET_ROW, 0, 9, 640},
    {"bitnet-group", BNC_BITNET_GROUP, 128, 7, 520},
    {"bitnet-group", BNC_BITNET_GROUP, 256, 5, 1024},
    {"tq2_0", -1, 0, 11, 512},
    {"tq1_0", -1, 0, 6, 768},
    {"q8_0", -1, 0, 10, 96},
    {"q8_0", -1, 0, 5, 1024},
    {"q4_0", -1, 0, 12, 160},
    {"q4_0", -1, 0, 5, 1024},
};

static void test_gemv(bnc_isa isa, bnc_pool *pool3)
{
    static const int64_t batches[] = {1, 2, 5, 64};
    bnc_rng r;
    bnc_rng_init(&r, 11, 1);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gcase *g = &cases[c];
        bnc_qparams p;
        memset(&p, 0, sizeof p);
        p.group = g->group;
        const bnc_scheme *sc = bnc_scheme_find(g->scheme);
        CHECK(sc != NULL, "no scheme %s", g->scheme);
        if (!sc) continue;
        size_t wn = bnc_gemv_weight_bytes(sc, &p, g->rows, g->cols);
        CHECK(wn > 0, "%s %lldx%lld: no weight size", g->scheme, (long long)g->rows,
              (long long)g->cols);
        if (!wn) continue;
        uint8_t *w = gen_weights(g->scheme, g->mode, g->group, g->rows, g->cols, wn, &r);
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
            int64_t batch = batches[bi];
            float *x = gen_x(batch, g->cols, &r);
            bnc_act *a = NULL;
            bnc_err err = {0};
            CHECK(bnc_act_new(batch, g->cols, &a, &err) == 0, "act_new: %s", err.msg);
            CHECK(bnc_act_quantize(a, x, &err) == 0, "act_quantize: %s", err.msg);
            size_t yn = (size_t)(batch * g->rows);
            float *ref = xmalloc(yn * sizeof *ref), *y = xmalloc(yn * sizeof *y);
            int rc = bnc_gemv(sc, &p, w, wn, g->rows, a, ref, BNC_ISA_SCALAR, NULL, &err);
            CHECK(rc == 0, "%s scalar: %s", g->scheme, err.msg);
            for (int th = 0; th < 2; th++) {
                memset(y, 0xa5, yn * sizeof *y);
                rc = bnc_gemv(sc, &p, w, wn, g->rows, a, y, isa, th ? pool3 : NULL, &err);
                CHECK(rc == 0, "%s %s: %s", g->scheme, bnc_isa_name(isa), err.msg);
                for (size_t i = 0; i < yn; i++)
                    if (memcmp(&y[i], &ref[i], sizeof y[i]) != 0) {
                        CHECK(0,
                              "%s group %lld %lldx%lld batch %lld %s threads %d: y[%zu] %.9g, "
                              "scalar %.9g",
                              g->scheme, (long long)g->group, (long long)g->rows,
                              (long long)g->cols, (long long)batch, bnc_isa_name(isa), th ? 3 : 1,
                              i, (double)y[i], (double)ref[i]);
                        break;
                    }
            }
            free(ref);
            free(y);
            bnc_act_free(a);
            free(x);
        }
        free(w);
    }
}

/* The bitnet quantizer: same bytes on isa as on scalar, every mode. */
static void test_quantize(bnc_isa isa, bnc_pool *pool3)
{
    bnc_rng r;
    bnc_rng_init(&r, 12, 1);
    const int64_t rows = 9, cols = 700;
    float *x = xmalloc((size_t)(rows * cols) * sizeof *x);
    for (int64_t i = 0; i < rows * cols; i++)
        x[i] = (float)(bnc_rng_normal(&r) * (i % 7 == 0 ? 3.0 : 0.5));
    x[5] = 0.0f;
    x[6] = -0.0f;
    for (int mode = 0; mode < 3; mode++) {
        bnc_qparams p;
        memset(&p, 0, sizeof p);
        p.group = mode == BNC_BITNET_GROUP ? 256 : 0;
        const char *names[3] = {"bitnet", "bitnet-row", "bitnet-group"};
        size_t cap = bnc_gemv_weight_bytes(bnc_scheme_find(names[mode]), &p, rows, cols);
        uint8_t *ref = xmalloc(cap), *got = xmalloc(cap);
        size_t nref = 0, ngot = 0;
        bnc_err err = {0};
        int rc = bnc_bitnet_quantize_ex(x, rows, cols, mode, 256, ref, cap, &nref, BNC_ISA_SCALAR,
                                        NULL, &err);
        CHECK(rc == 0, "quantize scalar mode %d: %s", mode, err.msg);
        for (int th = 0; th < 2; th++) {
            memset(got, 0x5a, cap);
            rc = bnc_bitnet_quantize_ex(x, rows, cols, mode, 256, got, cap, &ngot, isa,
                                        th ? pool3 : NULL, &err);
            CHECK(rc == 0, "quantize %s mode %d: %s", bnc_isa_name(isa), mode, err.msg);
            CHECK(ngot == nref && memcmp(got, ref, nref) == 0,
                  "bitnet quantize mode %d %s threads %d: bytes differ from scalar", mode,
                  bnc_isa_name(isa), th ? 3 : 1);
        }
        free(ref);
        free(got);
    }
    free(x);
}

/* The activation quantizer (whatever ISA bnc_act_quantize picks) against
 * the formula of bnc_gemv.h computed here; lengths that end mid-vector. */
static void test_act(void)
{
    bnc_rng r;
    bnc_rng_init(&r, 13, 1);
    static const int64_t lens[] = {1, 15, 16, 17, 255, 1000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t cols = lens[li], batch = 3;
        float *x = gen_x(batch, cols, &r);
        /* last row: max 127, so the factor is 1 and x.5 are exact halves
         * (round half away from zero, not to even) */
        for (int64_t j = 0; j < cols; j++)
            x[(batch - 1) * cols + j] = j == 0 ? 127.0f : (float)(j % 21) - 10.5f;
        bnc_act *a = NULL;
        bnc_err err = {0};
        CHECK(bnc_act_new(batch, cols, &a, &err) == 0, "act_new: %s", err.msg);
        CHECK(bnc_act_quantize(a, x, &err) == 0, "act_quantize: %s", err.msg);
        for (int64_t b = 0; b < batch; b++) {
            const float *xr = x + b * cols;
            float amax = 0;
            for (int64_t j = 0; j < cols; j++)
                amax = fmaxf(amax, fabsf(xr[j]));
            float d = amax / 127.0f, s = amax > 0 ? 127.0f / amax : 0.0f;
            CHECK(memcmp(&d, &a->d[b], sizeof d) == 0, "act cols %lld row %lld: d %.9g, want %.9g",
                  (long long)cols, (long long)b, (double)a->d[b], (double)d);
            for (int64_t j = 0; j < a->stride; j++) {
                int want = 0;
                if (j < cols) {
                    float v = roundf(xr[j] * s);
                    want = v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v;
                }
                if (a->q[b * a->stride + j] != want) {
                    CHECK(0, "act cols %lld row %lld: q[%lld] %d, want %d", (long long)cols,
                          (long long)b, (long long)j, a->q[b * a->stride + j], want);
                    break;
                }
            }
        }
        bnc_act_free(a);
        free(x);
    }
}

int main(int argc, char **argv)
{
    int want_dp = -1;
    if (argc == 3 && !strcmp(argv[1], "--dotprod"))
        want_dp = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: test_neon [--dotprod 0|1]\n");
        return 2;
    }
    int has_dp = 0;
#if defined(__aarch64__)
    has_dp = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
    printf("cpu: dot product extension %s\n", has_dp ? "present" : "absent");
    CHECK(want_dp < 0 || want_dp == has_dp, "expected dotprod %d on this CPU, found %d", want_dp,
          has_dp);
    bnc_isa neon;
    bnc_err err = {0};
    int rc = bnc_isa_parse("neon", &neon, &err);
    CHECK(rc == 0, "no ISA called neon: %s", err.msg);
#if defined(__aarch64__)
    CHECK(rc != 0 || bnc_isa_supported(neon), "neon not supported on this aarch64 CPU");
    bnc_isa sel;
    CHECK(bnc_isa_select(&sel, &err) == 0 && (rc != 0 || sel == neon),
          "bnc_isa_select does not pick neon");
#endif
    bnc_pool *pool3 = NULL;
    CHECK(bnc_pool_new(3, &pool3, &err) == 0, "pool: %s", err.msg);
    test_act();
    for (int i = 1; i < BNC_ISA_COUNT; i++) {
        if (!bnc_isa_supported((bnc_isa)i)) continue;
        printf("isa %s: GEMV and quantize against scalar\n", bnc_isa_name((bnc_isa)i));
        test_gemv((bnc_isa)i, pool3);
        test_quantize((bnc_isa)i, pool3);
    }
    bnc_pool_free(pool3);
    printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
