/* Unit tests of bnc train's model: the hand-written backward pass against
 * central finite differences (double precision, every parameter tensor,
 * both architectures), the float pass against the double pass, the
 * straight-through path against the f32 path at the quantized weights, the
 * quantizers on hand-computed values, SHA-256 on the FIPS examples, and
 * checkpoints written and read back. */
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

#include "bnc_fp16.h"
#include "bnc_llm.h"
#include "bnc_rng.h"
#include "bnc_train.h"

static bnc_tr_config tiny(int arch)
{
    bnc_tr_config c = {0};
    c.arch = arch;
    c.quant = BNC_TR_QUANT_NONE;
    c.act_quant = 0;
    c.dim = 8;
    c.n_layers = 2;
    c.n_heads = 2;
    c.ff = 12;
    c.vocab = BNC_TR_VOCAB;
    c.ctx = 6;
    c.rope_base = 10000.0f;
    c.norm_eps = 1e-5f;
    return c;
}

/* Weights large enough that every path carries signal. */
static void random_weights(const bnc_tr_layout *L, uint64_t seed, double *w)
{
    bnc_rng r;
    bnc_rng_init(&r, seed, 7);
    for (int i = 0; i < L->n_tensors; i++) {
        const bnc_tr_tensor *t = &L->t[i];
        for (int64_t j = 0; j < t->rows * t->cols; j++)
            w[t->off + (size_t)j] =
                t->rows == 1 ? 1.0 + 0.2 * bnc_rng_normal(&r) : 0.4 * bnc_rng_normal(&r);
    }
}

static const int32_t X[6] = {BNC_TR_BOS, 'I', 'n', ' ', 't', 'h'};
static const int32_t Y[6] = {'I', 'n', ' ', 't', 'h', 'e'};

static void gradcheck(int arch)
{
    bnc_tr_config c = tiny(arch);
    bnc_tr_layout L;
    bnc_err err = {0};
    assert_int_equal(bnc_tr_layout_init(&L, &c, &err), 0);
    size_t n = L.n_params;
    double *w = malloc(n * sizeof *w), *g = calloc(n, sizeof *g);
    assert_non_null(w);
    assert_non_null(g);
    random_weights(&L, 42 + (uint64_t)arch, w);
    bnc_tr_wsd *ws;
    assert_int_equal(bnc_tr_wsd_new(&L, &ws, &err), 0);
    double loss;
    assert_int_equal(bnc_tr_loss_grad_d(&L, w, X, Y, 6, g, &loss, ws, &err), 0);
    assert_true(loss > 0 && isfinite(loss));
    const double h = 1e-5;
    double worst = 0;
    for (int ti = 0; ti < L.n_tensors; ti++) {
        const bnc_tr_tensor *t = &L.t[ti];
        double num = 0, den_a = 0, den_f = 0;
        for (int64_t j = 0; j < t->rows * t->cols; j++) {
            size_t k = t->off + (size_t)j;
            /* the embedding rows of tokens not in the sequence have zero gradient: skip
             * most of them, keep a few to check they stay zero */
            if (ti == 0 && (j / c.dim) % 37 != 0 && (j / c.dim) != 'n' && (j / c.dim) != 256)
                continue;
            double keep = w[k], lp, lm;
            w[k] = keep + h;
            assert_int_equal(bnc_tr_loss_grad_d(&L, w, X, Y, 6, NULL, &lp, ws, &err), 0);
            w[k] = keep - h;
            assert_int_equal(bnc_tr_loss_grad_d(&L, w, X, Y, 6, NULL, &lm, ws, &err), 0);
            w[k] = keep;
            double fd = (lp - lm) / (2 * h);
            num += (g[k] - fd) * (g[k] - fd);
            den_a += g[k] * g[k];
            den_f += fd * fd;
        }
        double den = sqrt(den_a > den_f ? den_a : den_f);
        assert_true(den > 0);
        double rel = sqrt(num) / den;
        if (rel > worst) worst = rel;
        if (rel >= 1e-3) fail_msg("%s: relative error %.3g", t->name, rel);
    }
    printf("gradcheck %s: %d tensors, worst relative error %.3g\n",
           arch == BNC_TR_BITNET ? "bitnet" : "llama", L.n_tensors, worst);
    bnc_tr_wsd_free(ws);
    free(w);
    free(g);
    bnc_tr_layout_free(&L);
}

static void test_gradcheck_llama(void **state)
{
    (void)state;
    gradcheck(BNC_TR_LLAMA);
}

static void test_gradcheck_bitnet(void **state)
{
    (void)state;
    gradcheck(BNC_TR_BITNET);
}

/* The float instantiation computes what the double one does. */
static void test_float_matches_double(void **state)
{
    (void)state;
    bnc_tr_config c = tiny(BNC_TR_BITNET);
    bnc_tr_layout L;
    bnc_err err = {0};
    assert_int_equal(bnc_tr_layout_init(&L, &c, &err), 0);
    size_t n = L.n_params;
    double *wd = malloc(n * sizeof *wd), *gd = calloc(n, sizeof *gd);
    float *wf = malloc(n * sizeof *wf), *gf = calloc(n, sizeof *gf);
    random_weights(&L, 5, wd);
    for (size_t i = 0; i < n; i++)
        wf[i] = (float)wd[i];
    for (size_t i = 0; i < n; i++)
        wd[i] = (double)wf[i];
    bnc_tr_wsd *wsd;
    bnc_tr_ws *wsf;
    assert_int_equal(bnc_tr_wsd_new(&L, &wsd, &err), 0);
    assert_int_equal(bnc_tr_ws_new(&L, &wsf, &err), 0);
    double ld, lf;
    assert_int_equal(bnc_tr_loss_grad_d(&L, wd, X, Y, 6, gd, &ld, wsd, &err), 0);
    assert_int_equal(bnc_tr_loss_grad(&L, wf, X, Y, 6, gf, &lf, wsf, &err), 0);
    assert_true(fabs(ld - lf) < 1e-4 * fabs(ld));
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)gf[i] - gd[i]) * ((double)gf[i] - gd[i]);
        den += gd[i] * gd[i];
    }
    assert_true(sqrt(num / den) < 1e-4);
    bnc_tr_wsd_free(wsd);
    bnc_tr_ws_free(wsf);
    free(wd);
    free(gd);
    free(wf);
    free(gf);
    bnc_tr_layout_free(&L);
}

/* The test's own absmean ternarizer (fp16 scale, as a tq2_0 block stores it). */
static void ternarize(const float *w, size_t n, float *q)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)w[i]);
    float gamma = bnc_f16_to_f32(bnc_f32_to_f16((float)(s / (double)n)));
    for (size_t i = 0; i < n; i++) {
        float c = roundf(w[i] / (gamma + 1e-8f));
        q[i] = (c > 1 ? 1 : c < -1 ? -1 : c) * gamma;
    }
}

/* STE: the QAT step's gradient (f32 activations) equals the f32 model's
 * gradient evaluated at the ternarized weights, bit for bit; with int8
 * activations it stays close. */
static void test_ste_equals_f32_at_quantized(void **state)
{
    (void)state;
    bnc_tr_config cq = tiny(BNC_TR_BITNET), cf = tiny(BNC_TR_BITNET);
    cq.quant = BNC_TR_QUANT_BITNET;
    cq.act_quant = 0;
    bnc_tr_layout Lq, Lf;
    bnc_err err = {0};
    assert_int_equal(bnc_tr_layout_init(&Lq, &cq, &err), 0);
    assert_int_equal(bnc_tr_layout_init(&Lf, &cf, &err), 0);
    assert_int_equal(Lq.n_params, Lf.n_params);
    size_t n = Lq.n_params;
    double *wd = malloc(n * sizeof *wd);
    float *w = malloc(n * sizeof *w), *wq = malloc(n * sizeof *wq), *scratch = malloc(n * 4);
    float *g1 = calloc(n, 4), *g2 = calloc(n, 4), *g3 = calloc(n, 4);
    random_weights(&Lq, 9, wd);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)wd[i];
    memcpy(wq, w, n * 4);
    int linear = 0;
    for (int i = 0; i < Lq.n_tensors; i++) {
        const bnc_tr_tensor *t = &Lq.t[i];
        if (!t->linear) continue;
        linear++;
        ternarize(w + t->off, (size_t)(t->rows * t->cols), wq + t->off);
    }
    assert_int_equal(linear, 14); /* 7 BitLinear matrices per layer */
    bnc_tr_ws *ws;
    assert_int_equal(bnc_tr_ws_new(&Lq, &ws, &err), 0);
    double l1, l2, l3;
    assert_int_equal(bnc_tr_step_grad(&Lq, w, scratch, X, Y, 6, g1, &l1, ws, &err), 0);
    assert_memory_equal(scratch, wq, n * 4); /* the step used exactly these weights */
    assert_int_equal(bnc_tr_loss_grad(&Lf, wq, X, Y, 6, g2, &l2, ws, &err), 0);
    assert_true(l1 == l2);
    assert_memory_equal(g1, g2, n * 4);
    /* not the gradient at the unquantized weights */
    float *g0 = calloc(n, 4);
    double l0;
    assert_int_equal(bnc_tr_loss_grad(&Lf, w, X, Y, 6, g0, &l0, ws, &err), 0);
    assert_true(memcmp(g0, g1, n * 4) != 0);
    /* int8 activations: the same within a few percent */
    bnc_tr_layout_free(&Lq);
    cq.act_quant = 1;
    assert_int_equal(bnc_tr_layout_init(&Lq, &cq, &err), 0);
    assert_int_equal(bnc_tr_step_grad(&Lq, w, scratch, X, Y, 6, g3, &l3, ws, &err), 0);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)g3[i] - g2[i]) * ((double)g3[i] - g2[i]);
        den += (double)g2[i] * g2[i];
    }
    assert_true(sqrt(num / den) < 0.05);
    assert_true(fabs(l3 - l2) < 0.02 * l2);
    bnc_tr_ws_free(ws);
    free(wd);
    free(w);
    free(wq);
    free(scratch);
    free(g0);
    free(g1);
    free(g2);
    free(g3);
    bnc_tr_layout_free(&Lq);
    bnc_tr_layout_free(&Lf);
}

static void test_quantizers_by_hand(void **state)
{
    (void)state;
    /* int8 absmax: max 2.54 -> s = 50; 1.0 -> 50/50 = 1.0, 0.013 -> round(0.65) = 1 -> 0.02 */
    float x[4] = {2.54f, -1.0f, 0.013f, 0.0f};
    bnc_tr_act_quant(x, 4);
    assert_float_equal(x[0], 2.54f, 1e-6);
    assert_float_equal(x[1], -1.0f, 1e-6);
    assert_float_equal(x[2], 0.02f, 1e-6);
    assert_float_equal(x[3], 0.0f, 0);
    /* absmean ternary on one 1x4 linear: mean|w| = 0.5 (exact in fp16) */
    bnc_tr_config c = tiny(BNC_TR_LLAMA);
    bnc_tr_layout L;
    bnc_err err = {0};
    assert_int_equal(bnc_tr_layout_init(&L, &c, &err), 0);
    float *w = calloc(L.n_params, 4), *q = calloc(L.n_params, 4);
    int iq = bnc_tr_layout_find(&L, "blk.0.attn_q.weight");
    assert_true(iq > 0);
    float *wq0 = w + L.t[iq].off;
    /* 64 values: 16 each of 1.2, -0.7, 0.2, -0.1 -> mean 0.55 -> fp16 0.55004883 */
    for (int j = 0; j < 64; j++)
        wq0[j] = (float[]){1.2f, -0.7f, 0.2f, -0.1f}[j % 4];
    bnc_tr_quantize_weights(&L, w, q);
    float gamma = bnc_f16_to_f32(bnc_f32_to_f16(0.55f));
    const float *qq = q + L.t[iq].off;
    assert_float_equal(qq[0], gamma, 0);
    assert_float_equal(qq[1], -gamma, 0);
    assert_float_equal(qq[2], 0.0f, 0);
    assert_float_equal(qq[3], 0.0f, 0);
    /* norms are left alone */
    int in = bnc_tr_layout_find(&L, "blk.0.attn_norm.weight");
    assert_float_equal(q[L.t[in].off], 0.0f, 0);
    free(w);
    free(q);
    bnc_tr_layout_free(&L);
}

static void test_sha256_fips(void **state)
{
    (void)state;
    char h[65];
    bnc_sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bnc_sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    bnc_sha256_hex(m, strlen(m), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_layout_names(void **state)
{
    (void)state;
    bnc_tr_config c = tiny(BNC_TR_BITNET);
    bnc_tr_layout L;
    bnc_err err = {0};
    assert_int_equal(bnc_tr_layout_init(&L, &c, &err), 0);
    assert_int_equal(L.n_tensors, 3 + 2 * 11);
    assert_string_equal(L.t[0].name, "token_embd.weight");
    assert_string_equal(L.t[6].name, "blk.0.attn_sub_norm.weight");
    assert_string_equal(L.t[11].name, "blk.0.ffn_sub_norm.weight");
    assert_int_equal(L.t[11].cols, 12);
    assert_string_equal(L.t[L.n_tensors - 1].name, "output.weight");
    /* 2*258*8 + 2*(4*64 + 3*96 + 8+8+8+12) + 8 */
    assert_int_equal(L.n_params, 2 * 258 * 8 + 2 * (4 * 64 + 3 * 96 + 36) + 8);
    bnc_tr_layout_free(&L);
    c.n_heads = 3;
    assert_int_equal(bnc_tr_layout_init(&L, &c, &err), BNC_EINVAL);
    assert_non_null(strstr(err.msg, "heads"));
}

/* The checkpoint bnc train writes, loaded by llm/ (bnc_llm_load) and run by
 * its forward pass (llm/forward.c, written separately), gives the loss the
 * training forward pass computes: same names, layout, RoPE convention, norms
 * and FFN, the QAT model's tq2_0 weights and per-token int8 activations
 * (measured: equal to 7 digits in both modes). */
static void cross_check(int quant)
{
    bnc_tr_config c = tiny(quant ? BNC_TR_BITNET : BNC_TR_LLAMA);
    c.quant = quant;
    c.act_quant = 1;
    c.dim = 256;
    c.n_heads = 4;
    c.n_layers = 2;
    c.ff = 256;
    c.ctx = 24;
    bnc_tr_layout L;
    bnc_err err = {0};
    assert_int_equal(bnc_tr_layout_init(&L, &c, &err), 0);
    size_t n = L.n_params;
    bnc_tr_state st = {0};
    st.w = malloc(n * 4);
    st.m = calloc(n, 4);
    st.v = calloc(n, 4);
    /* larger than the initial 0.02 so that the comparison sees every layer */
    bnc_rng r;
    bnc_rng_init(&r, 77, 1);
    for (int i = 0; i < L.n_tensors; i++) {
        const bnc_tr_tensor *t = &L.t[i];
        for (int64_t j = 0; j < t->rows * t->cols; j++)
            st.w[t->off + (size_t)j] = t->rows == 1 ? (float)(1 + 0.1 * bnc_rng_normal(&r))
                                                    : (float)(0.08 * bnc_rng_normal(&r));
    }
    bnc_train_opts o;
    bnc_train_opts_default(&o);
    o.cfg = c;
    char path[] = "/tmp/bnc-train-xcheck-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(bnc_tr_save(path, &L, &o, &st, "test", &err), 0);
    const char *text = "In the beginning God created the heaven and";
    int32_t x[24], y[24];
    x[0] = BNC_TR_BOS;
    for (int t = 0; t < 24; t++) {
        y[t] = (unsigned char)text[t];
        if (t + 1 < 24) x[t + 1] = y[t];
    }
    bnc_tr_ws *ws;
    assert_int_equal(bnc_tr_ws_new(&L, &ws, &err), 0);
    float *wq = malloc(n * 4);
    double mine;
    assert_int_equal(bnc_tr_step_grad(&L, st.w, wq, x, y, 24, NULL, &mine, ws, &err), 0);
    bnc_llm_model *m = NULL;
    if (bnc_llm_load(path, NULL, &m, &err)) fail_msg("bnc_llm_load: %s", err.msg);
    assert_int_equal(m->cfg.vocab, BNC_TR_VOCAB);
    bnc_llm_state *ls;
    assert_int_equal(bnc_llm_state_new(m, 24, NULL, &ls, &err), 0);
    float *logits = malloc(24 * BNC_TR_VOCAB * sizeof *logits);
    assert_int_equal(bnc_llm_forward(ls, x, 24, logits, 0, &err), 0);
    double theirs = 0;
    for (int t = 0; t < 24; t++) {
        const float *z = logits + t * BNC_TR_VOCAB;
        double mx = z[0], s = 0;
        for (int j = 1; j < BNC_TR_VOCAB; j++)
            mx = fmax(mx, z[j]);
        for (int j = 0; j < BNC_TR_VOCAB; j++)
            s += exp(z[j] - mx);
        theirs += mx + log(s) - z[y[t]];
    }
    printf("%s: training forward %.6f, llm/ forward %.6f nats over 24 bytes\n",
           quant ? "qat" : "f32", mine, theirs);
    assert_true(fabs(mine - theirs) < 1e-5 * fabs(mine));
    assert_true(mine > 24 * 3.0); /* not a trivial model */
    free(logits);
    bnc_llm_state_free(ls);
    bnc_llm_free(m);
    bnc_tr_ws_free(ws);
    free(wq);
    bnc_tr_state_free(&st);
    bnc_tr_layout_free(&L);
    char sp[64];
    snprintf(sp, sizeof sp, "%s.train", path);
    remove(path);
    remove(sp);
}

static void test_llm_loads_and_agrees_f32(void **state)
{
    (void)state;
    cross_check(0);
}

static void test_llm_loads_and_agrees_qat(void **state)
{
    (void)state;
    cross_check(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_llama),
        cmocka_unit_test(test_gradcheck_bitnet),
        cmocka_unit_test(test_float_matches_double),
        cmocka_unit_test(test_ste_equals_f32_at_quantized),
        cmocka_unit_test(test_quantizers_by_hand),
        cmocka_unit_test(test_sha256_fips),
        cmocka_unit_test(test_layout_names),
        cmocka_unit_test(test_llm_loads_and_agrees_f32),
        cmocka_unit_test(test_llm_loads_and_agrees_qat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
