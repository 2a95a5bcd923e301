/* Spec parsing, validation messages and plan expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bnc_kinds.h"
#include "bnc_plan.h"
#include "bnc_spec.h"

static const bnc_task_kind *const kinds[] = {&bnc_kind_quant_error, &bnc_kind_noop, NULL};

static int parse(const char *text, bnc_spec **s, bnc_err *e)
{
    bnc_err_clear(e);
    return bnc_spec_parse(text, strlen(text), "t.yaml", s, e);
}

static void expect_error(const char *text, const char *msg)
{
    bnc_spec *s = NULL;
    bnc_err e;
    int rc = parse(text, &s, &e);
    if (rc == 0) {
        bnc_plan p;
        bnc_task_ctx ctx = {0};
        ctx.tensors = s->tensors;
        rc = bnc_plan_build(s, kinds, &ctx, &p, &e);
        if (rc == 0) bnc_plan_free(&p);
        bnc_spec_free(s);
    }
    assert_int_equal(rc, BNC_EINVAL);
    if (!strstr(e.msg, msg)) fail_msg("message '%s' lacks '%s'", e.msg, msg);
}

static void test_errors_name_line_and_key(void **state)
{
    (void)state;
    expect_error("name: a\nseeds: [1]\nfoo: 1\ngroups: [{kind: noop}]\n",
                 "t.yaml:3: unknown key 'foo'");
    expect_error("name: a\nseeds: x\ngroups: []\n", "t.yaml:2: key 'seeds' must be a list");
    expect_error("name: a\ngroups: [{kind: noop, grid: {i: 1}}]\n",
                 "t.yaml:1: missing required key 'seeds'");
    expect_error("name: a\nseeds: [1, 1]\ngroups: [{kind: noop, grid: {i: 1}}]\n",
                 "t.yaml:2: seed 1 is listed twice");
    expect_error(
        "name: a\nseeds: [1]\ngroups:\n  - kind: noop\n    grid: {i: 1}\n    colour: red\n",
        "t.yaml:6: unknown key 'colour' in group 1");
    expect_error("name: a\nseeds: [1]\nname: b\ngroups: []\n", "t.yaml:3: duplicate key 'name'");
    expect_error("name: a\nseeds: [1]\ngroups:\n  - kind: nope\n    grid: {i: 1}\n",
                 "t.yaml:4: unknown task kind 'nope'");
    expect_error("name: a\nseeds: [1]\ngroups:\n  - kind: noop\n    grid: {j: 1}\n",
                 "t.yaml:5: group 1 (kind noop, parameters {\"j\":1}): unknown parameter 'j'");
    expect_error("name: a\nseeds: [1]\ngroups:\n  - kind: noop\n    grid: {i: [1]}\n"
                 "    exclude: [{i: 1}]\n",
                 "t.yaml:4: group 1 (kind noop) expands to no tasks");
    expect_error("name: a b\nseeds: [1]\ngroups: [{kind: noop, grid: {i: 1}}]\n",
                 "t.yaml:1: key 'name' may hold only");
    expect_error("- 1\n- 2\n", "a campaign spec must be a mapping");
}

static void test_grid_exclude_include(void **state)
{
    (void)state;
    const char *text = "name: g\nseeds: [7, 8]\nrepetitions: 2\n"
                       "groups:\n"
                       "  - kind: noop\n"
                       "    grid: {i: [1, 2, 3], fail: [false]}\n"
                       "    exclude: [{i: 2}]\n"
                       "    include: [{i: 10, fail: false}, {i: 1, fail: false}]\n";
    bnc_spec *s;
    bnc_err e;
    assert_int_equal(parse(text, &s, &e), 0);
    bnc_plan p;
    bnc_task_ctx ctx = {0};
    assert_int_equal(bnc_plan_build(s, kinds, &ctx, &p, &e), 0);
    /* {1, 3} from the grid, 10 from include (1 again is a duplicate), times
     * 2 repetitions times 2 seeds. */
    assert_int_equal(p.n, 3 * 2 * 2);
    int reps1 = 0;
    for (size_t i = 0; i < p.n; i++) {
        assert_null(strstr(p.tasks[i].params_json, "\"i\":2"));
        reps1 += strstr(p.tasks[i].params_json, "\"rep\":1") != NULL;
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(p.tasks[i].id, p.tasks[k].id);
    }
    assert_int_equal(reps1, 6);
    /* Canonical parameters: sorted keys, compact. */
    int found = 0;
    for (size_t i = 0; i < p.n; i++)
        found += strcmp(p.tasks[i].params_json, "{\"fail\":false,\"i\":10,\"rep\":0}") == 0;
    assert_int_equal(found, 2);
    bnc_plan_free(&p);
    bnc_spec_free(s);
}

static void test_task_id_is_stable(void **state)
{
    (void)state;
    char id[33], id2[33];
    bnc_task_id("hello", "quant_error", "{\"scheme\":\"bitnet\",\"tensor\":\"gauss\"}", 1, id);
    /* Pinned (computed independently in Python from the algorithm in
     * common/bnc_hash.c): a change here would make every stored campaign rerun. */
    assert_string_equal(id, "471574899aaeeea565161d8951a34f5a");
    bnc_task_id("hello", "quant_error", "{\"scheme\":\"bitnet\",\"tensor\":\"gauss\"}", 2, id2);
    assert_string_not_equal(id, id2);
    bnc_task_id("hellp", "quant_error", "{\"scheme\":\"bitnet\",\"tensor\":\"gauss\"}", 1, id2);
    assert_string_not_equal(id, id2);
}

static void test_scalars_are_typed(void **state)
{
    (void)state;
    const char *text = "name: t\nseeds: [1]\ngroups:\n  - kind: noop\n"
                       "    grid: {i: [3, '3', 2.5, true, x]}\n";
    bnc_spec *s;
    bnc_err e;
    assert_int_equal(parse(text, &s, &e), 0);
    json_t *vals = json_object_get(s->groups[0].grid, "i");
    assert_int_equal(json_array_size(vals), 5);
    assert_true(json_is_integer(json_array_get(vals, 0)));
    assert_true(json_is_string(json_array_get(vals, 1)));
    assert_true(json_is_real(json_array_get(vals, 2)));
    assert_true(json_is_true(json_array_get(vals, 3)));
    assert_true(json_is_string(json_array_get(vals, 4)));
    bnc_spec_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_grid_exclude_include),
        cmocka_unit_test(test_task_id_is_stable),
        cmocka_unit_test(test_scalars_are_typed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
