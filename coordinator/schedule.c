/* Rank 0's scheduling: hand task batches to workers (about 50 ms of work in
 * flight each), take their result batches, retry failures, journal what is
 * final and hand it to the database sink. Alone, rank 0 runs the tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_time.h"
#include "coord.h"

/* Tasks sent to one worker at most at once. */
#define BATCH_MAX 4096

/* Points r's task fields at the plan (r's own strings stay its owner's). */
static void fill_result(Bnc__TaskResult *r, const bnc_plan_task *t, const char *campaign)
{
    r->task_id = (char *)t->id;
    r->kind = (char *)t->kind;
    r->params_json = t->params_json;
    r->seed = t->seed;
    r->campaign = (char *)campaign;
}

/* Requeues a failed attempt with retries left (returns 0), or journals the
 * final result and hands it to the sink (returns 1). A journal error goes to
 * *rc and err. */
static int handle_result(coord *c, Bnc__TaskResult *r, size_t idx, bnc_err *err, int *rc)
{
    const bnc_plan_task *t = &c->plan.tasks[idx];
    r->attempt = c->attempts[idx];
    if (!r->ok && c->attempts[idx] <= (uint32_t)c->spec->retries) {
        fprintf(stderr,
                "\nbnc: task %s (%s %s seed %llu) failed on rank %d (attempt %u): %s; retrying\n",
                t->id, t->kind, t->params_json, (unsigned long long)t->seed, r->rank,
                c->attempts[idx], r->error ? r->error : "");
        c->attempts[idx]++;
        c->sum->retried++;
        lane *l = &c->lanes[bnc_coord_needs_gpu(c, idx)];
        l->retry[l->nretry++] = idx;
        return 0;
    }
    fill_result(r, t, c->spec->name);
    if (!r->ok)
        fprintf(stderr, "\nbnc: task %s (%s %s seed %llu) failed after %u attempts: %s\n", t->id,
                t->kind, t->params_json, (unsigned long long)t->seed, c->attempts[idx],
                r->error ? r->error : "");
    if (!*rc) *rc = bnc_journal_append(c->journal, r, err);
    if (!*rc && c->sink) bnc_live_sink_add(c->sink, r);
    if (r->ok)
        c->sum->done++;
    else
        c->sum->failed++;
    return 1;
}

int bnc_coord_run_alone(coord *c, bnc_err *err)
{
    bnc_exec_result x = {0};
    int rc = 0;
    double last_sync = bnc_now();
    while (!rc && !(lane_empty(&c->lanes[0]) && lane_empty(&c->lanes[1]))) {
        if ((rc = bnc_coord_orphaned(c, err)) != 0) break;
        size_t idx = lane_pop(lane_empty(&c->lanes[0]) ? &c->lanes[1] : &c->lanes[0]);
        const bnc_plan_task *t = &c->plan.tasks[idx];
        bnc_exec_task(c->o->kinds, &c->ctx, t->kind, t->params_json, t->seed, t->timeout_s, &x);
        Bnc__TaskResult r = BNC__TASK_RESULT__INIT;
        bnc_wire_result(&x, &c->ctx, &r);
        handle_result(c, &r, idx, err, &rc);
        bnc_wire_result_free(&r);
        if (!rc && bnc_now() - last_sync > 0.05) {
            rc = bnc_journal_sync(c->journal, err);
            last_sync = bnc_now();
            bnc_coord_sink_flush(c, 0);
        }
        bnc_coord_progress(c, 0);
    }
    if (!rc) rc = bnc_journal_sync(c->journal, err);
    bnc_exec_result_free(&x);
    return rc;
}

/* ---- rank 0 with workers ---- */

typedef struct sched {
    coord *c;
    MPI_Comm comm;
    int nw;           /* workers: ranks 1..nw */
    size_t *inflight; /* tasks sent and not answered, per rank */
    size_t *batch;    /* plan indices of the batch being sent */
    uint8_t *rbuf;
    size_t rcap;
    bnc_sendq sq;
    double avg_s; /* mean task duration seen so far */
    size_t seen, final;
} sched;

static int send_batch(sched *s, int w, size_t n)
{
    coord *c = s->c;
    Bnc__Task *tasks = calloc(n, sizeof *tasks);
    Bnc__Task **ptrs = calloc(n, sizeof *ptrs);
    int rc = tasks && ptrs ? 0 : BNC_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const bnc_plan_task *t = &c->plan.tasks[s->batch[i]];
        bnc__task__init(&tasks[i]);
        tasks[i].id = (char *)t->id;
        tasks[i].campaign = c->spec->name;
        tasks[i].kind = (char *)t->kind;
        tasks[i].params_json = t->params_json;
        tasks[i].seed = t->seed;
        tasks[i].attempt = c->attempts[s->batch[i]];
        tasks[i].seq = s->batch[i];
        tasks[i].timeout_s = t->timeout_s;
        ptrs[i] = &tasks[i];
    }
    Bnc__TaskBatch b = BNC__TASK_BATCH__INIT;
    b.n_tasks = n;
    b.tasks = ptrs;
    size_t len = rc ? 0 : bnc__task_batch__get_packed_size(&b);
    uint8_t *buf = rc ? NULL : malloc(len ? len : 1);
    if (!rc && !buf) rc = BNC_ENOMEM;
    if (!rc) {
        bnc__task_batch__pack(&b, buf);
        rc = bnc_sendq_isend(&s->sq, s->comm, w, TAG_TASKS, buf, len);
    }
    free(tasks);
    free(ptrs);
    return rc;
}

/* Tasks to keep in flight per worker: about 50 ms of work, 2 to 4096. */
static size_t inflight_target(const sched *s)
{
    int fixed = s->c->o->inflight;
    if (fixed > 0 || s->seen == 0) return (size_t)(fixed > 0 ? fixed : 2);
    double k = s->avg_s > 0 ? 0.05 / s->avg_s : BATCH_MAX;
    return k < 2 ? 2 : k > BATCH_MAX ? BATCH_MAX : (size_t)k;
}

/* Tops up every worker whose work in flight fell below half the target. A
 * GPU rank takes GPU tasks first, then CPU tasks. */
static int feed_workers(sched *s, bnc_err *err)
{
    size_t target = inflight_target(s);
    for (int w = 1; w <= s->nw; w++) {
        lane *gl = s->c->has_gpu[w] ? &s->c->lanes[1] : NULL, *cl = &s->c->lanes[0];
        if (s->inflight[w] > target / 2 || ((!gl || lane_empty(gl)) && lane_empty(cl))) continue;
        size_t n = 0;
        while (s->inflight[w] + n < target && n < BATCH_MAX) {
            if (gl && !lane_empty(gl))
                s->batch[n++] = lane_pop(gl);
            else if (!lane_empty(cl))
                s->batch[n++] = lane_pop(cl);
            else
                break;
        }
        if (n && send_batch(s, w, n))
            return bnc_err_set(err, BNC_ENET, "cannot send tasks to rank %d", w);
        s->inflight[w] += n;
    }
    return 0;
}

/* Handles every result of one unpacked batch from rank src. */
static int take_batch(sched *s, int src, Bnc__ResultBatch *rb, bnc_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < rb->n_results && !rc; i++) {
        Bnc__TaskResult *r = rb->results[i];
        if (r->seq >= s->c->plan.n || strcmp(r->task_id, s->c->plan.tasks[r->seq].id) != 0)
            return bnc_err_set(err, BNC_EFORMAT, "rank %d returned a result for an unknown task %s",
                               src, r->task_id);
        s->inflight[src]--;
        double d = r->finished_at - r->started_at;
        s->avg_s = (s->avg_s * (double)s->seen + (d > 0 ? d : 0)) / (double)(s->seen + 1);
        s->seen++;
        /* Strings of r belong to rb; fill_result points them at the plan, so
         * keep rb's own and let free_unpacked free them. */
        Bnc__TaskResult copy = *r;
        s->final += (size_t)handle_result(s->c, &copy, (size_t)r->seq, err, &rc);
    }
    return rc;
}

/* Receives every result batch that has arrived; *got says whether any. */
static int take_results(sched *s, int *got, bnc_err *err)
{
    for (;;) {
        int flag = 0, len = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULTS, s->comm, &flag, &st);
        if (!flag) return 0;
        MPI_Get_count(&st, MPI_BYTE, &len);
        if ((size_t)len > s->rcap) {
            uint8_t *p = realloc(s->rbuf, (size_t)len);
            if (!p) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
            s->rbuf = p;
            s->rcap = (size_t)len;
        }
        MPI_Recv(s->rbuf, len, MPI_BYTE, st.MPI_SOURCE, TAG_RESULTS, s->comm, MPI_STATUS_IGNORE);
        Bnc__ResultBatch *rb = bnc__result_batch__unpack(NULL, (size_t)len, s->rbuf);
        if (!rb)
            return bnc_err_set(err, BNC_EFORMAT, "malformed result batch from rank %d",
                               st.MPI_SOURCE);
        int rc = take_batch(s, st.MPI_SOURCE, rb, err);
        bnc__result_batch__free_unpacked(rb, NULL);
        *got = 1;
        if (rc) return rc;
    }
}

static void stop_workers(sched *s)
{
    for (int w = 1; w <= s->nw; w++) {
        uint8_t *stop = malloc(1);
        if (stop) bnc_sendq_isend(&s->sq, s->comm, w, TAG_STOP, stop, 0);
    }
}

int bnc_coord_run_workers(coord *c, MPI_Comm comm, int size, size_t nq, bnc_err *err)
{
    sched s = {.c = c, .comm = comm, .nw = size - 1};
    s.inflight = calloc((size_t)size, sizeof *s.inflight);
    s.batch = calloc(BATCH_MAX, sizeof *s.batch);
    int rc = s.inflight && s.batch ? 0 : bnc_err_set(err, BNC_ENOMEM, "out of memory");
    int idle = 0;
    while (!rc && s.final < nq) {
        if ((rc = bnc_coord_orphaned(c, err)) != 0 || (rc = feed_workers(&s, err)) != 0) break;
        int got = 0;
        rc = take_results(&s, &got, err);
        if (got && !rc) {
            /* Durable before done: fsync the batch, then load it. */
            rc = bnc_journal_sync(c->journal, err);
            idle = 0;
        }
        if (!rc) {
            bnc_coord_sink_flush(c, 0);
            bnc_coord_progress(c, 0);
        }
        if (!got) bnc_idle_sleep(&idle);
    }
    if (!c->sum->orphaned) {
        stop_workers(&s);
        bnc_sendq_drain(&s.sq);
    }
    free(s.inflight);
    free(s.batch);
    free(s.rbuf);
    return rc;
}
