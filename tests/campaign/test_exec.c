/* The task runtime (worker/exec.c) on its own: in process and in a forked
 * child, metrics carried through the pipe bit for bit, failures, crashes and
 * timeouts recorded as failed tasks, and results reusable across tasks. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bnc_exec.h"

/* Kind "probe": params {"what": "ok"|"fail"|"crash"|"sleep"|"many"}. */
static int probe_run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
                     bnc_err *err)
{
    (void)ctx;
    const char *what = json_string_value(json_object_get(params, "what"));
    if (!strcmp(what, "fail"))
        return bnc_err_set(err, BNC_EINVAL, "probe asked to fail (seed %llu)",
                           (unsigned long long)seed);
    if (!strcmp(what, "crash")) {
        signal(SIGSEGV, SIG_DFL); /* cmocka catches it otherwise */
        raise(SIGSEGV);
    }
    if (!strcmp(what, "sleep")) {
        struct timespec ts = {5, 0};
        nanosleep(&ts, NULL);
    }
    int n = !strcmp(what, "many") ? 300 : 2;
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "m%03d", i);
        bnc_metrics_add(out, name, (double)seed / 3.0 + i, i % 2 ? "s" : "");
    }
    return 0;
}

static const bnc_task_kind probe = {"probe", NULL, NULL, probe_run};
static const bnc_task_kind *const kinds[] = {&probe, NULL};
static const bnc_task_ctx ctx = {.rank = 3, .host = "h"};

static void run(const char *what, double timeout, bnc_exec_result *r)
{
    char params[64];
    snprintf(params, sizeof params, "{\"what\": \"%s\"}", what);
    bnc_exec_task(kinds, &ctx, "probe", params, 7, timeout, r);
}

/* The same metrics in process and through the child's pipe. */
static void test_ok_both_ways(void **state)
{
    (void)state;
    bnc_exec_result a = {0}, b = {0};
    run("many", 0, &a);
    run("many", 30, &b);
    assert_true(a.ok);
    assert_true(b.ok);
    assert_null(a.error);
    assert_null(b.error);
    assert_int_equal(a.m.n, 300);
    assert_int_equal(b.m.n, 300);
    for (size_t i = 0; i < a.m.n; i++) {
        assert_string_equal(a.m.v[i].name, b.m.v[i].name);
        assert_string_equal(a.m.v[i].unit, b.m.v[i].unit);
        assert_memory_equal(&a.m.v[i].value, &b.m.v[i].value, sizeof(double));
    }
    assert_string_equal(b.m.v[299].name, "m299");
    assert_true(b.m.v[299].value == 7.0 / 3.0 + 299);
    assert_true(b.finished_at >= b.started_at);
    bnc_exec_result_free(&a);
    bnc_exec_result_free(&b);
}

static void test_failures(void **state)
{
    (void)state;
    bnc_exec_result r = {0};
    run("fail", 0, &r);
    assert_false(r.ok);
    assert_string_equal(r.error, "probe asked to fail (seed 7)");
    assert_int_equal(r.m.n, 0);
    run("fail", 30, &r); /* reused without a reset: the old error is freed */
    assert_false(r.ok);
    assert_string_equal(r.error, "probe asked to fail (seed 7)");
    run("crash", 30, &r);
    assert_false(r.ok);
    assert_string_equal(r.error, "crashed with signal 11");
    double t0 = (double)time(NULL);
    run("sleep", 0.3, &r);
    assert_false(r.ok);
    assert_string_equal(r.error, "timed out after 0.3 s (killed)");
    assert_true((double)time(NULL) - t0 < 4.0);
    bnc_exec_task(kinds, &ctx, "nosuch", "{}", 1, 0, &r);
    assert_false(r.ok);
    assert_string_equal(r.error, "unknown task kind 'nosuch' on rank 3");
    bnc_exec_task(kinds, &ctx, "probe", "{oops", 1, 0, &r);
    assert_false(r.ok);
    assert_non_null(strstr(r.error, "malformed parameters"));
    run("ok", 30, &r); /* and back to a success: no stale error */
    assert_true(r.ok);
    assert_null(r.error);
    assert_int_equal(r.m.n, 2);
    bnc_exec_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_both_ways),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
