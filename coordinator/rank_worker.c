/* A worker rank: take task batches from rank 0, run them one by one with
 * the task runtime (worker/exec.c), send results back in batches at least
 * every 5 ms, stop on rank 0's stop message or when mpirun is gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_time.h"
#include "coord.h"

/* A worker sends its results at least this often while it has work. */
#define WORKER_FLUSH_S 0.005
#define WORKER_FLUSH_N 512

typedef struct outcome {
    const Bnc__Task *t; /* in one of the worker's batches */
    bnc_exec_result x;
} outcome;

typedef struct worker {
    MPI_Comm comm;
    const bnc_run_opts *o;
    const bnc_task_ctx *ctx;
    Bnc__TaskBatch **batches; /* received; the first head_batch are fully run */
    size_t nb, bcap, head_batch, head_task;
    outcome *out; /* run, not yet sent */
    size_t nout, ocap;
    bnc_sendq sq;
    uint8_t *rbuf;
    size_t rcap;
    int stop;
    double last_flush;
} worker;

/* Takes every message from rank 0 that has arrived. */
static int take_messages(worker *w)
{
    for (;;) {
        int flag = 0, len = 0;
        MPI_Status s;
        MPI_Iprobe(0, MPI_ANY_TAG, w->comm, &flag, &s);
        if (!flag) return 0;
        MPI_Get_count(&s, MPI_BYTE, &len);
        if ((size_t)len + 1 > w->rcap) {
            uint8_t *p = realloc(w->rbuf, (size_t)len + 1);
            if (!p) return BNC_ENOMEM;
            w->rbuf = p;
            w->rcap = (size_t)len + 1;
        }
        MPI_Recv(w->rbuf, len, MPI_BYTE, 0, s.MPI_TAG, w->comm, MPI_STATUS_IGNORE);
        if (s.MPI_TAG == TAG_STOP) {
            w->stop = 1;
            continue;
        }
        Bnc__TaskBatch *b = bnc__task_batch__unpack(NULL, (size_t)len, w->rbuf);
        if (!b) {
            fprintf(stderr, "bnc: rank %d: malformed task batch from rank 0\n", w->ctx->rank);
            continue;
        }
        if (w->nb == w->bcap) {
            size_t cap = w->bcap ? w->bcap * 2 : 16;
            Bnc__TaskBatch **p = realloc(w->batches, cap * sizeof *p);
            if (!p) {
                bnc__task_batch__free_unpacked(b, NULL);
                return BNC_ENOMEM;
            }
            w->batches = p;
            w->bcap = cap;
        }
        w->batches[w->nb++] = b;
    }
}

/* Runs the next task of the received batches. */
static int run_next(worker *w)
{
    Bnc__TaskBatch *b = w->batches[w->head_batch];
    const Bnc__Task *t = b->tasks[w->head_task];
    if (w->nout == w->ocap) {
        size_t cap = w->ocap ? w->ocap * 2 : 256;
        outcome *p = realloc(w->out, cap * sizeof *p);
        if (!p) return BNC_ENOMEM;
        memset(p + w->ocap, 0, (cap - w->ocap) * sizeof *p);
        w->out = p;
        w->ocap = cap;
    }
    outcome *oc = &w->out[w->nout++];
    oc->t = t;
    bnc_exec_task(w->o->kinds, w->ctx, t->kind, t->params_json, t->seed, t->timeout_s, &oc->x);
    if (++w->head_task == b->n_tasks) {
        w->head_task = 0;
        w->head_batch++;
    }
    return 0;
}

/* Packs the outcomes into one ResultBatch and sends it. */
static int pack_and_send(worker *w)
{
    Bnc__TaskResult *rs = calloc(w->nout, sizeof *rs);
    Bnc__TaskResult **ptrs = calloc(w->nout, sizeof *ptrs);
    int rc = rs && ptrs ? 0 : BNC_ENOMEM;
    for (size_t i = 0; !rc && i < w->nout; i++) {
        bnc__task_result__init(&rs[i]);
        bnc_wire_result(&w->out[i].x, w->ctx, &rs[i]);
        rs[i].task_id = w->out[i].t->id;
        rs[i].seq = w->out[i].t->seq;
        rs[i].attempt = w->out[i].t->attempt;
        ptrs[i] = &rs[i];
    }
    if (!rc) {
        Bnc__ResultBatch rb = BNC__RESULT_BATCH__INIT;
        rb.n_results = w->nout;
        rb.results = ptrs;
        size_t len = bnc__result_batch__get_packed_size(&rb);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
            rc = BNC_ENOMEM;
        else {
            bnc__result_batch__pack(&rb, buf);
            rc = bnc_sendq_isend(&w->sq, w->comm, 0, TAG_RESULTS, buf, len) ? BNC_ENET : 0;
        }
    }
    for (size_t i = 0; rs && i < w->nout; i++)
        bnc_wire_result_free(&rs[i]);
    free(rs);
    free(ptrs);
    return rc;
}

/* Sends what has run and frees the batches that are fully run. */
static int send_results(worker *w)
{
    int rc = pack_and_send(w);
    for (size_t i = 0; i < w->nout; i++)
        bnc_exec_result_reset(&w->out[i].x);
    w->nout = 0;
    w->last_flush = bnc_now();
    for (size_t i = 0; i < w->head_batch; i++)
        bnc__task_batch__free_unpacked(w->batches[i], NULL);
    memmove(w->batches, w->batches + w->head_batch, (w->nb - w->head_batch) * sizeof *w->batches);
    w->nb -= w->head_batch;
    w->head_batch = 0;
    return rc;
}

static void worker_free(worker *w, int drain)
{
    if (drain) bnc_sendq_drain(&w->sq);
    for (size_t i = 0; i < w->nb; i++)
        bnc__task_batch__free_unpacked(w->batches[i], NULL);
    for (size_t i = 0; i < w->ocap; i++)
        bnc_exec_result_free(&w->out[i].x);
    free(w->batches);
    free(w->out);
    free(w->rbuf);
}

int bnc_worker_loop(MPI_Comm comm, const bnc_run_opts *o, const bnc_task_ctx *ctx,
                    bnc_launcher *launcher, bnc_err *err)
{
    worker w = {.comm = comm, .o = o, .ctx = ctx, .last_flush = bnc_now()};
    int rc = 0, idle = 0, lost = 0;
    while (!rc) {
        if ((lost = bnc_launcher_lost(launcher)) != 0) break;
        rc = take_messages(&w);
        int have = w.head_batch < w.nb;
        if (!rc && have) rc = run_next(&w);
        if (!rc && w.nout &&
            (!have || w.head_batch >= w.nb || w.nout >= WORKER_FLUSH_N ||
             bnc_now() - w.last_flush >= WORKER_FLUSH_S))
            rc = send_results(&w);
        if (rc || have || w.nout) {
            idle = 0;
            continue;
        }
        if (w.stop) break;
        bnc_idle_sleep(&idle); /* wait for work */
        idle = idle > 6 ? 6 : idle;
    }
    worker_free(&w, !lost);
    if (lost)
        return bnc_err_set(err, BNC_ENET, "rank %d: the MPI launcher (pid %d) is gone; stopping",
                           ctx->rank, (int)launcher->pid);
    if (rc) return bnc_err_set(err, rc, "rank %d: lost contact with rank 0", ctx->rank);
    return 0;
}
