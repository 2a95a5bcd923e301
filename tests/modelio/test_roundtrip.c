/* Round trips through bnc_quantize_run (one MPI process): safetensors ->
 * GGUF f32 gives identical values (single file and sharded); GGUF -> GGUF
 * f32 keeps every metadata key and value; every quantized type the kernels
 * provide writes exactly the bytes of the kernels' own quantizer, and
 * bitnet writes absmean-ternarized values packed in tq2_0/tq1_0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bnc_kernels.h"
#include "bnc_model.h"
#include "bnc_model_synth.h"
#include "bnc_quantize.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void synth(const char *name, int format, uint32_t type, int shards)
{
    bnc_synth_opts o = {0};
    o.seed = 11;
    o.dim = 256;
    o.layers = 2;
    o.ff = 768;
    o.vocab = 320;
    o.format = format;
    o.type = type;
    o.shards = shards;
    bnc_err e;
    if (bnc_synth_write(tpath(name), &o, &e)) fail_msg("synth %s: %s", name, e.msg);
}

static void quantize(const char *in, const char *out, const char *type, int metrics,
                     bnc_quant_result *res)
{
    bnc_quant_opts o = {0};
    o.type = type;
    o.metrics = metrics;
    o.version = "test";
    o.split_bytes = 300000;
    bnc_err e;
    bnc_quant_plan *p = NULL;
    int rc = bnc_quantize_run(MPI_COMM_WORLD, tpath(in), tpath(out), &o, &p, res, &e);
    if (rc) fail_msg("quantize %s -> %s (%s): %s", in, out, type, e.msg);
    bnc_quant_plan_free(p);
}

/* Every tensor of a has the same name, shape and f32 values in b. */
static void same_values(const bnc_model *a, const bnc_model *b)
{
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (size_t i = 0; i < a->n_tensors; i++) {
        const bnc_model_tensor *x = &a->tensors[i];
        long j = bnc_model_find(b, x->name);
        assert_true(j >= 0);
        const bnc_model_tensor *y = &b->tensors[j];
        assert_int_equal(x->rows, y->rows);
        assert_int_equal(x->cols, y->cols);
        assert_int_equal(x->n_dims, y->n_dims);
        size_t n = (size_t)(x->rows * x->cols);
        float *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v);
        bnc_err e;
        assert_int_equal(bnc_model_rows_f32(a, i, 0, x->rows, u, &e), 0);
        assert_int_equal(bnc_model_rows_f32(b, (size_t)j, 0, y->rows, v, &e), 0);
        assert_memory_equal(u, v, n * sizeof *u);
        free(u);
        free(v);
    }
}

static void test_st_to_gguf_f32(void **state)
{
    (void)state;
    synth("a.safetensors", BNC_MODEL_SAFETENSORS, 0, 1);
    synth("b16.safetensors", BNC_MODEL_SAFETENSORS, 30, 1);
    bnc_quant_result r;
    quantize("a.safetensors", "a.gguf", "f32", 1, &r);
    for (size_t i = 0; i < r.n; i++)
        assert_true(r.metrics[i].rel_rmse == 0.0);
    bnc_quant_result_free(&r);
    quantize("b16.safetensors", "b16.gguf", "f32", 0, &r);
    bnc_quant_result_free(&r);
    bnc_model *a, *b, *c, *d;
    bnc_err e;
    assert_int_equal(bnc_model_open(tpath("a.safetensors"), NULL, &a, &e), 0);
    assert_int_equal(bnc_model_open(tpath("a.gguf"), NULL, &b, &e), 0);
    assert_int_equal(b->format, BNC_MODEL_GGUF);
    same_values(a, b);
    /* the safetensors metadata travels as safetensors.* keys */
    assert_string_equal(bnc_gguf_get(b->gguf, "safetensors.format")->v.str.s, "pt");
    assert_int_equal(bnc_model_open(tpath("b16.safetensors"), NULL, &c, &e), 0);
    assert_int_equal(bnc_model_open(tpath("b16.gguf"), NULL, &d, &e), 0);
    same_values(c, d);
    /* 2-D matrices became f32, 1-D/embedding/output kept bf16 or f32 */
    assert_int_equal(d->tensors[bnc_model_find(d, "model.layers.0.mlp.up_proj.weight")].type, 0);
    assert_int_equal(d->tensors[bnc_model_find(d, "lm_head.weight")].type, 30);
    bnc_model_free(a);
    bnc_model_free(b);
    bnc_model_free(c);
    bnc_model_free(d);
}

static void test_sharded(void **state)
{
    (void)state;
    synth("one.safetensors", BNC_MODEL_SAFETENSORS, 0, 1);
    synth("model.safetensors.index.json", BNC_MODEL_SAFETENSORS, 0, 3);
    bnc_model *a, *b;
    bnc_err e;
    assert_int_equal(bnc_model_open(tpath("one.safetensors"), NULL, &a, &e), 0);
    assert_int_equal(bnc_model_open(tpath("model.safetensors.index.json"), NULL, &b, &e), 0);
    assert_int_equal(b->n_files, 3);
    same_values(a, b);
    bnc_quant_result r;
    quantize("model.safetensors.index.json", "sh.gguf", "f32", 0, &r);
    bnc_quant_result_free(&r);
    bnc_model *c;
    assert_int_equal(bnc_model_open(tpath("sh.gguf"), NULL, &c, &e), 0);
    same_values(a, c);
    bnc_model_free(a);
    bnc_model_free(b);
    bnc_model_free(c);
}

static void test_gguf_keeps_metadata(void **state)
{
    (void)state;
    synth("g.gguf", BNC_MODEL_GGUF, 0, 1);
    bnc_quant_result r;
    quantize("g.gguf", "g2.gguf", "f32", 0, &r);
    bnc_quant_result_free(&r);
    bnc_model *a, *b;
    bnc_err e;
    assert_int_equal(bnc_model_open(tpath("g.gguf"), NULL, &a, &e), 0);
    assert_int_equal(bnc_model_open(tpath("g2.gguf"), NULL, &b, &e), 0);
    for (size_t i = 0; i < a->gguf->n_kv; i++) {
        const bnc_gguf_value *v = bnc_gguf_get(b->gguf, a->gguf->kv[i].key);
        if (!v) fail_msg("key %s lost", a->gguf->kv[i].key);
        if (!bnc_gguf_value_equal(v, &a->gguf->kv[i].value))
            fail_msg("key %s changed", a->gguf->kv[i].key);
        assert_string_equal(b->gguf->kv[i].key, a->gguf->kv[i].key); /* same order */
    }
    assert_int_equal(b->gguf->n_kv, a->gguf->n_kv + 4);
    assert_string_equal(bnc_gguf_get(b->gguf, "bnc.version")->v.str.s, "test");
    assert_string_equal(bnc_gguf_get(b->gguf, "bnc.quantize.scheme")->v.str.s, "f32");
    assert_string_equal(bnc_gguf_get(b->gguf, "bnc.quantize.source_hash")->v.str.s, r.source_hash);
    same_values(a, b);
    bnc_model_free(a);
    bnc_model_free(b);
}

/* What the kernels' reference writes for tensor t of model m as `type`
 * (ternarized first when tern). */
static uint8_t *reference(const bnc_model *m, size_t ti, const bnc_scheme *s, int tern, size_t *n)
{
    const bnc_model_tensor *t = &m->tensors[ti];
    size_t cnt = (size_t)(t->rows * t->cols);
    float *x = malloc(cnt * sizeof *x);
    bnc_err e;
    assert_int_equal(bnc_model_rows_f32(m, ti, 0, t->rows, x, &e), 0);
    if (tern) {
        double sum = 0;
        for (int64_t r = 0; r < t->rows; r++) {
            double rs = 0;
            for (int64_t c = 0; c < t->cols; c++)
                rs += fabs((double)x[r * t->cols + c]);
            sum += rs;
        }
        float gamma = (float)(sum / (double)cnt);
        float inv = 1.0f / (gamma + BNC_QUANT_BITNET_EPS);
        for (size_t k = 0; k < cnt; k++) {
            float v = roundf(x[k] * inv);
            x[k] = gamma * (v > 1 ? 1.0f : (v < -1 ? -1.0f : v));
        }
    }
    bnc_qparams qp = {0};
    size_t cap = s->qsize(t->rows, t->cols, &qp);
    uint8_t *q = malloc(cap);
    assert_int_equal(s->quantize(x, t->rows, t->cols, &qp, q, cap, n, &e), 0);
    free(x);
    return q;
}

static void test_quantized_match_kernels(void **state)
{
    (void)state;
    synth("k.gguf", BNC_MODEL_GGUF, 0, 1);
    const char *types[] = {"f16", "bf16", "q8_0", "q4_0", "tq1_0", "tq2_0", "bitnet"};
    int ran = 0;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const char *ty = strcmp(types[k], "bitnet") ? types[k] : "tq2_0";
        const bnc_scheme *s = NULL;
        for (size_t i = 0; i < bnc_scheme_count(); i++)
            if (bnc_scheme_at(i)->ggml_type >= 0 &&
                (uint32_t)bnc_scheme_at(i)->ggml_type == bnc_gguf_type_by_name(ty)->id)
                s = bnc_scheme_at(i);
        if (!s) {
            printf("SKIP %s: the kernels have no scheme for %s yet\n", types[k], ty);
            continue;
        }
        char out[64];
        snprintf(out, sizeof out, "k-%s.gguf", types[k]);
        bnc_quant_result r;
        quantize("k.gguf", out, types[k], 1, &r);
        bnc_model *a, *b;
        bnc_err e;
        assert_int_equal(bnc_model_open(tpath("k.gguf"), NULL, &a, &e), 0);
        assert_int_equal(bnc_model_open(tpath(out), NULL, &b, &e), 0);
        int quantized = 0;
        for (size_t i = 0; i < a->n_tensors; i++) {
            if (b->tensors[i].type == a->tensors[i].type) {
                assert_memory_equal(a->tensors[i].data, b->tensors[i].data, a->tensors[i].nbytes);
                continue;
            }
            size_t n;
            uint8_t *q = reference(a, i, s, strcmp(types[k], "bitnet") == 0, &n);
            assert_int_equal(n, b->tensors[i].nbytes);
            if (memcmp(q, b->tensors[i].data, n) != 0)
                fail_msg("%s: tensor %s differs from the kernels' reference", types[k],
                         a->tensors[i].name);
            free(q);
            assert_true(r.metrics[i].rel_rmse > 0 && r.metrics[i].rel_rmse < 1.0);
            quantized++;
        }
        assert_int_equal(quantized, 2 * 7); /* 7 matrices per layer */
        bnc_quant_result_free(&r);
        bnc_model_free(a);
        bnc_model_free(b);
        ran++;
    }
    printf("quantized types checked against the kernels: %d\n", ran);
}

/* A quantized GGUF back to f32 gives exactly the kernels' dequantized
 * values, and to another block type is requantized. */
static void test_requantize(void **state)
{
    (void)state;
    synth("r.gguf", BNC_MODEL_GGUF, 0, 1);
    bnc_quant_result r;
    quantize("r.gguf", "r8.gguf", "q8_0", 0, &r);
    bnc_quant_result_free(&r);
    quantize("r8.gguf", "r8f.gguf", "f32", 0, &r);
    bnc_quant_result_free(&r);
    quantize("r8.gguf", "r84.gguf", "q4_0", 0, &r);
    bnc_quant_result_free(&r);
    bnc_model *a, *b, *c;
    bnc_err e;
    assert_int_equal(bnc_model_open(tpath("r8.gguf"), NULL, &a, &e), 0);
    assert_int_equal(bnc_model_open(tpath("r8f.gguf"), NULL, &b, &e), 0);
    assert_int_equal(bnc_model_open(tpath("r84.gguf"), NULL, &c, &e), 0);
    long q = bnc_model_find(a, "blk.1.ffn_up.weight");
    assert_int_equal(a->tensors[q].type, 8);
    assert_int_equal(b->tensors[q].type, 0);
    assert_int_equal(c->tensors[q].type, 2);
    same_values(a, b);
    assert_int_equal(bnc_gguf_get(c->gguf, "general.file_type")->v.u, 2);
    bnc_model_free(a);
    bnc_model_free(b);
    bnc_model_free(c);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bnc_modelio_rt_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_to_gguf_f32),      cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_gguf_keeps_metadata), cmocka_unit_test(test_quantized_match_kernels),
        cmocka_unit_test(test_requantize),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) rc = 1;
    MPI_Finalize();
    return rc;
}
