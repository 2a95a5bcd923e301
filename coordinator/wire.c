/* A runtime result (worker/bnc_exec.h) as a protobuf TaskResult. */
#include <stdlib.h>

#include "coord.h"

int bnc_wire_result(const bnc_exec_result *x, const bnc_task_ctx *ctx, Bnc__TaskResult *r)
{
    r->ok = x->ok;
    r->error = x->ok ? NULL : x->error;
    r->started_at = x->started_at;
    r->finished_at = x->finished_at;
    r->rank = ctx->rank;
    r->host = (char *)ctx->host;
    r->n_metrics = 0;
    r->metrics = NULL;
    size_t n = x->ok ? x->m.n : 0;
    if (n == 0) return 0;
    /* One block: the pointer array, then the metrics it points at. */
    Bnc__Metric **ptrs = malloc(n * (sizeof *ptrs + sizeof(Bnc__Metric)));
    if (!ptrs) {
        r->ok = 0;
        r->error = "out of memory for metrics";
        return BNC_ENOMEM;
    }
    Bnc__Metric *ms = (Bnc__Metric *)(void *)(ptrs + n);
    for (size_t i = 0; i < n; i++) {
        bnc__metric__init(&ms[i]);
        ms[i].name = (char *)x->m.v[i].name;
        ms[i].unit = (char *)x->m.v[i].unit;
        ms[i].value = x->m.v[i].value;
        ptrs[i] = &ms[i];
    }
    r->metrics = ptrs;
    r->n_metrics = n;
    return 0;
}

void bnc_wire_result_free(Bnc__TaskResult *r)
{
    free(r->metrics);
    r->metrics = NULL;
    r->n_metrics = 0;
}
