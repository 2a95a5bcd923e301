/* noop: does nothing and returns one metric; measures the scheduler and the
 * results path alone (benchmarks/ and tests use it). Parameter `fail: true`
 * makes it fail (to exercise retries and failure reporting), `sleep_ms`
 * makes it take time (to test killing a job midway). */
#include <time.h>

#include "kinds.h"

static const char *const keys[] = {"i", "fail", "sleep_ms", NULL};

static int validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    (void)ctx;
    return bnc_params_only(params, keys, err);
}

static int run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
               bnc_err *err)
{
    (void)ctx;
    json_t *f = json_object_get(params, "fail");
    if (f && json_is_true(f)) return bnc_err_set(err, BNC_EINVAL, "noop task asked to fail");
    long long ms = json_integer_value(json_object_get(params, "sleep_ms"));
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return bnc_metrics_add(out, "value", (double)(seed % 1000), "");
}

const bnc_task_kind bnc_kind_noop = {"noop", validate, NULL, run};
