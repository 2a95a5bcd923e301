/* layer_sensitivity and mixed_precision in process on a small synthetic
 * model: plan-time validation messages, per-tensor metric counts, exact <=
 * greedy <= ..., the synthetic-model cache and metric-name truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bnc_kinds.h"
#include "bnc_mfile.h"
#include "model_src.h"

static json_t *models;
static char tmpdir[] = "/tmp/bnc-kinds-test.XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmpdir)) return -1;
    setenv("TMPDIR", tmpdir, 1);
    /* 4 * 256^2 + 3 * 256^2 (ff 256) + 2 * 256^2: 9 matrices, 589,824 weights. */
    models = json_pack("{s:{s:{s:i,s:i,s:i,s:i,s:i}}, s:{s:s}, s:{s:{s:s}}}", "tiny", "synth",
                       "dim", 256, "layers", 1, "ff", 256, "vocab", 256, "seed", 4, "file", "path",
                       "no/such.safetensors", "bad", "synth", "colour", "red");
    return models ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(models);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static double metric(const bnc_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].name, name)) return m->v[i].value;
    fail_msg("no metric %s", name);
    return 0;
}

static size_t count_prefix(const bnc_metrics *m, const char *prefix)
{
    size_t c = 0;
    for (size_t i = 0; i < m->n; i++)
        c += !strncmp(m->v[i].name, prefix, strlen(prefix));
    return c;
}

static void expect_invalid(const bnc_task_kind *k, const char *params, const char *needle)
{
    bnc_task_ctx ctx = {0};
    ctx.models = models;
    json_t *p = json_loads(params, 0, NULL);
    assert_non_null(p);
    bnc_err e = {0};
    assert_int_equal(k->validate(p, &ctx, &e), BNC_EINVAL);
    if (!strstr(e.msg, needle)) fail_msg("'%s' lacks '%s'", e.msg, needle);
    json_decref(p);
}

static void validation_names_the_parameter(void **state)
{
    (void)state;
    const bnc_task_kind *ls = &bnc_kind_layer_sensitivity, *mp = &bnc_kind_mixed_precision;
    expect_invalid(ls, "{\"model\":\"nope\",\"scheme\":\"q4_0\"}",
                   "parameter 'model': unknown model 'nope'");
    expect_invalid(ls, "{\"model\":\"tiny\",\"scheme\":\"q5\"}",
                   "parameter 'scheme': unknown scheme 'q5'");
    expect_invalid(ls, "{\"model\":\"tiny\",\"scheme\":\"q4_0\",\"x\":1}", "unknown parameter 'x'");
    expect_invalid(ls, "{\"model\":\"bad\",\"scheme\":\"q4_0\"}", "unknown synth key 'colour'");
    expect_invalid(ls, "{\"scheme\":\"q4_0\"}", "missing parameter 'model'");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":4,\"schemes\":\"q4_0,q9\"}",
                   "parameter 'schemes': unknown scheme 'q9'");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":4,\"schemes\":\"q4_0,q4_0\"}",
                   "'q4_0' is listed twice");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":\"4\",\"schemes\":\"q4_0\"}",
                   "parameter 'budget' must be a number");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":-1,\"schemes\":\"q4_0\"}",
                   "parameter 'budget' must be a number");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":3,\"schemes\":\"q4_0,q8_0\"}",
                   "parameter 'budget' = 3 bits per weight is below the smallest");
    expect_invalid(mp, "{\"model\":\"tiny\",\"schemes\":\"q4_0\"}", "missing parameter 'budget'");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":4,\"schemes\":\" , \"}",
                   "parameter 'schemes': give comma-separated");
    expect_invalid(mp, "{\"model\":\"tiny\",\"budget\":4,\"schemes\":\"q4_0\",\"colour\":1}",
                   "unknown parameter 'colour'");
    /* A path model is checked for its type only (the file lives on workers). */
    bnc_task_ctx ctx = {0};
    ctx.models = models;
    json_t *p = json_pack("{s:s,s:s}", "model", "file", "scheme", "q8_0");
    assert_int_equal(ls->validate(p, &ctx, NULL), 0);
    json_decref(p);
    /* cost: the number of weights (times the schemes for mixed_precision). */
    p = json_pack("{s:s,s:s}", "model", "tiny", "scheme", "q8_0");
    assert_true(ls->cost(p, &ctx) == 589824.0);
    json_decref(p);
    p = json_pack("{s:s,s:f,s:s}", "model", "tiny", "budget", 4.0, "schemes", "bitnet,q8_0");
    assert_true(mp->cost(p, &ctx) == 2 * 589824.0);
    json_decref(p);
}

static void layer_sensitivity_runs(void **state)
{
    (void)state;
    bnc_mcache *cache = bnc_mcache_new(0, 0);
    bnc_task_ctx ctx = {0};
    ctx.models = models;
    ctx.cache = cache;
    const char *schemes[] = {"q8_0", "tq2_0", "bitnet"};
    double rel[3];
    for (int s = 0; s < 3; s++) {
        json_t *p = json_pack("{s:s,s:s}", "model", "tiny", "scheme", schemes[s]);
        bnc_metrics m = {0};
        bnc_err e = {0};
        int rc = bnc_kind_layer_sensitivity.run(p, 1, &ctx, &m, &e);
        if (rc) fail_msg("%s", e.msg);
        assert_true(metric(&m, "tensors") == 9);
        assert_true(metric(&m, "skipped_tensors") == 0);
        assert_true(metric(&m, "params") == 589824);
        assert_int_equal(count_prefix(&m, "rel_rmse@"), 9);
        assert_int_equal(count_prefix(&m, "sse@"), 9);
        double r = metric(&m, "rel_rmse@model.layers.0.self_attn.q_proj.weight");
        assert_true(r > 0 && r < 1);
        rel[s] = metric(&m, "rel_rmse");
        if (s == 0) assert_true(metric(&m, "bits_per_weight") == 8.5);
        bnc_metrics_free(&m);
        json_decref(p);
    }
    assert_true(rel[0] < rel[1] && rel[0] < 0.02);
    /* The model file was written once and opened once. */
    bnc_mcache_stats st;
    bnc_mcache_stats_get(cache, &st);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.hits, 2);
    bnc_mcache_free(cache);
}

static void mixed_precision_runs(void **state)
{
    (void)state;
    bnc_task_ctx ctx = {0}; /* no cache: opens the file each time */
    ctx.models = models;
    double prev = 1e9;
    for (double budget = 2.5; budget <= 8.5; budget += 1.5) {
        json_t *p = json_pack("{s:s,s:f,s:s}", "model", "tiny", "budget", budget, "schemes",
                              "bitnet,int4,q4_0,q8_0,f16");
        bnc_metrics m = {0};
        bnc_err e = {0};
        int rc = bnc_kind_mixed_precision.run(p, 1, &ctx, &m, &e);
        if (rc) fail_msg("%s", e.msg);
        double ex = metric(&m, "exact_rel_err"), gr = metric(&m, "greedy_rel_err");
        assert_true(ex <= gr);
        assert_true(ex <= metric(&m, "best_uniform_rel_err"));
        assert_true(ex <= metric(&m, "uniform_rel_err@bitnet"));
        assert_true(metric(&m, "exact_bits_per_weight") <= budget);
        assert_true(metric(&m, "greedy_bits_per_weight") <= budget);
        assert_true(ex < prev); /* more bits, less error */
        prev = ex;
        assert_int_equal(count_prefix(&m, "exact_bpw@"), 9);
        double chosen = 0;
        const char *names[] = {"bitnet", "int4", "q4_0", "q8_0", "f16"};
        for (int s = 0; s < 5; s++) {
            char n[64];
            snprintf(n, sizeof n, "exact_tensors@%s", names[s]);
            chosen += metric(&m, n);
        }
        assert_true(chosen == 9);
        bnc_metrics_free(&m);
        json_decref(p);
    }
    /* A budget below every assignment's size fails with the smallest size. */
    json_t *p = json_pack("{s:s,s:f,s:s}", "model", "tiny", "budget", 2.0, "schemes", "bitnet");
    bnc_metrics m = {0};
    bnc_err e = {0};
    assert_int_equal(bnc_kind_mixed_precision.run(p, 1, &ctx, &m, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "below the smallest assignment"));
    bnc_metrics_free(&m);
    json_decref(p);
}

static void metric_names_fit(void **state)
{
    (void)state;
    char out[64];
    bnc_metric_name_at(out, "rel_rmse", "model.layers.3.mlp.down_proj.weight");
    assert_string_equal(out, "rel_rmse@model.layers.3.mlp.down_proj.weight");
    bnc_metric_name_at(out, "rel_rmse",
                       "transformer.encoder.layers.117.self_attention.query_key_value.weight");
    assert_string_equal(out, "rel_rmse@~layers.117.self_attention.query_key_value.weight");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validation_names_the_parameter),
        cmocka_unit_test(layer_sensitivity_runs),
        cmocka_unit_test(mixed_precision_runs),
        cmocka_unit_test(metric_names_fit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
