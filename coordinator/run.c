/* Campaign execution: planning and skipping on rank 0, dynamic scheduling of
 * task batches to workers over MPI, the fsync'd journal, and the PostgreSQL
 * sink that loads results while tasks run. */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bnc.pb-c.h"
#include "bnc_campaign.h"
#include "bnc_db.h"
#include "bnc_journal.h"
#include "bnc_mfile.h"
#include "bnc_plan.h"
#include "bnc_sink.h"
#include "bnc_spec.h"
#include "bnc_time.h"

enum { TAG_TASKS = 11, TAG_RESULTS = 12, TAG_STOP = 13 };

/* Flush the database sink at this many buffered results, or this often. */
#define SINK_BATCH 20000
#define SINK_EVERY_S 0.5
/* A worker sends its results at least this often while it has work. */
#define WORKER_FLUSH_S 0.005
#define WORKER_FLUSH_N 512

/* ---- a set of task ids (open addressing; ids are already hashes) ------- */

typedef struct idset {
    char (*slot)[33];
    size_t cap, n;
} idset;

static uint64_t id_key(const char *id)
{
    uint64_t k = 0;
    for (int i = 0; i < 16 && id[i]; i++) {
        char ch = id[i];
        k = k << 4 | (uint64_t)(ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
    }
    return k;
}

static int idset_add(idset *s, const char *id);

static int idset_grow(idset *s)
{
    idset bigger = {calloc(s->cap ? s->cap * 2 : 1024, 33), s->cap ? s->cap * 2 : 1024, 0};
    if (!bigger.slot)
        return BNC_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i][0])
            idset_add(&bigger, s->slot[i]);
    free(s->slot);
    *s = bigger;
    return 0;
}

/* Adds id; returns 1 when it was new, 0 when present, <0 on ENOMEM. */
static int idset_add(idset *s, const char *id)
{
    if ((s->n + 1) * 2 > s->cap && idset_grow(s))
        return BNC_ENOMEM;
    size_t i = id_key(id) & (s->cap - 1);
    while (s->slot[i][0]) {
        if (strcmp(s->slot[i], id) == 0)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    snprintf(s->slot[i], 33, "%s", id);
    s->n++;
    return 1;
}

static int idset_has(const idset *s, const char *id)
{
    if (!s->cap)
        return 0;
    size_t i = id_key(id) & (s->cap - 1);
    while (s->slot[i][0]) {
        if (strcmp(s->slot[i], id) == 0)
            return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

/* ---- task lanes: CPU tasks and tasks that need a GPU -------------------- */

typedef struct lane {
    size_t *q;     /* plan indices, largest cost first */
    size_t n, head;
    size_t *retry; /* tasks to try again, taken before the queue */
    size_t nretry;
} lane;

static int lane_empty(const lane *l) { return l->head >= l->n && l->nretry == 0; }
static size_t lane_pop(lane *l) { return l->nretry ? l->retry[--l->nretry] : l->q[l->head++]; }

/* ---- shared state of rank 0 ------------------------------------------- */

typedef struct coord {
    const bnc_run_opts *o;
    bnc_spec *spec;
    bnc_plan plan;
    bnc_task_ctx ctx;
    PGconn *db;
    bnc_sink *sink;
    bnc_journal *journal;
    bnc_run_summary *sum;
    uint32_t *attempts; /* per plan task */
    int *has_gpu;       /* per rank, from the gathered provenance */
    lane lanes[2];      /* [0] CPU tasks, [1] GPU tasks */
    double last_flush, last_progress, t0;
    size_t to_run;        /* tasks to run in this run */
    int tty;
} coord;

/* Turns a lost database into a warning: results stay in the journal. */
static void db_lost(coord *c, const bnc_err *e)
{
    if (c->sum->db_lost)
        return;
    c->sum->db_lost = 1;
    snprintf(c->sum->db_error, sizeof c->sum->db_error, "%s", e->msg);
    fprintf(stderr,
            "\nbnc: warning: %s\nbnc: the campaign goes on; every result is in the journal %s; "
            "load it later with `bnc db sync %s --db URL`\n",
            e->msg, c->sum->journal, c->sum->journal);
}

static void sink_flush(coord *c, int force)
{
    if (!c->sink || c->sum->db_lost || bnc_sink_pending(c->sink) == 0)
        return;
    double now = bnc_now();
    if (!force && bnc_sink_pending(c->sink) < SINK_BATCH && now - c->last_flush < SINK_EVERY_S)
        return;
    bnc_err e;
    if (bnc_sink_flush(c->sink, &c->sum->new_task_rows, &c->sum->new_metric_rows, &e))
        db_lost(c, &e);
    c->last_flush = now;
}

static void progress(coord *c, int final)
{
    if (c->o->progress < 0)
        return;
    double now = bnc_now();
    double every = c->tty ? 0.2 : (c->o->progress_every_s > 0 ? c->o->progress_every_s : 5.0);
    if (!final && now - c->last_progress < every)
        return;
    c->last_progress = now;
    size_t fin = c->sum->done + c->sum->failed;
    double el = now - c->t0, rate = el > 0 ? (double)fin / el : 0;
    double eta = rate > 0 ? (double)(c->to_run - fin) / rate : 0;
    if (c->tty) {
        int width = 30, filled = c->to_run ? (int)((double)width * (double)fin / (double)c->to_run) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu  %.1f tasks/s  ETA %.0fs  failed %zu ", bar, fin, c->to_run,
                rate, eta, c->sum->failed);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "bnc: %s: %zu/%zu done, %.1f tasks/s, ETA %.0f s, %zu failed\n",
                c->spec->name, fin, c->to_run, rate, eta, c->sum->failed);
    }
    fflush(stderr);
}

static void fill_result(Bnc__TaskResult *r, const bnc_plan_task *t, const char *campaign)
{
    r->task_id = (char *)t->id;
    r->kind = (char *)t->kind;
    r->params_json = t->params_json;
    r->seed = t->seed;
    r->campaign = (char *)campaign;
}

/* ---- running one task (workers, and rank 0 when alone) ---------------- */

typedef struct exec_state {
    const bnc_task_kind *const *kinds;
    const bnc_task_ctx *ctx;
    bnc_metrics m;
} exec_state;

/* A metric of a result with its own copies of name and unit. Bnc__Metric
 * comes first, so &block[0].m is the start of the allocation. */
typedef struct owned_metric {
    Bnc__Metric m;
    char name[64];
    char unit[16];
} owned_metric;

/* Runs task (kind, params, seed) and fills r; r's strings point into st or
 * into heap memory that free_result releases. */
static void exec_task(exec_state *st, const char *kind, const char *params_json, uint64_t seed,
                      Bnc__TaskResult *r)
{
    bnc_err e;
    bnc_err_clear(&e);
    bnc_metrics_reset(&st->m);
    r->started_at = bnc_wall();
    int rc = 0;
    const bnc_task_kind *k = bnc_task_kind_find(st->kinds, kind);
    json_error_t jerr;
    json_t *params = json_loads(params_json, 0, &jerr);
    if (!k)
        rc = bnc_err_set(&e, BNC_EINVAL, "unknown task kind '%s' on rank %d", kind, st->ctx->rank);
    else if (!params)
        rc = bnc_err_set(&e, BNC_EFORMAT, "malformed parameters: %s", jerr.text);
    else
        rc = k->run(params, seed, st->ctx, &st->m, &e);
    json_decref(params);
    r->finished_at = bnc_wall();
    r->ok = rc == 0;
    r->error = rc ? strdup(e.msg[0] ? e.msg : bnc_strerror(rc)) : NULL;
    r->rank = st->ctx->rank;
    r->host = (char *)st->ctx->host;
    if (rc == 0 && st->m.n) {
        r->n_metrics = st->m.n;
        /* The result owns copies of the names: st->m is reused by the next
         * task while this result waits in the worker's outgoing batch. */
        r->metrics = calloc(st->m.n, sizeof *r->metrics);
        owned_metric *ms = calloc(st->m.n, sizeof *ms);
        for (size_t i = 0; r->metrics && ms && i < st->m.n; i++) {
            bnc__metric__init(&ms[i].m);
            memcpy(ms[i].name, st->m.v[i].name, sizeof ms[i].name);
            memcpy(ms[i].unit, st->m.v[i].unit, sizeof ms[i].unit);
            ms[i].m.name = ms[i].name;
            ms[i].m.unit = ms[i].unit;
            ms[i].m.value = st->m.v[i].value;
            r->metrics[i] = &ms[i].m;
        }
        if (!r->metrics || !ms) {
            free(r->metrics);
            free(ms);
            r->metrics = NULL;
            r->n_metrics = 0;
            r->ok = 0;
            r->error = strdup("out of memory for metrics");
        }
    }
}

/* Copies metrics of an unpacked result into r as owned metrics. */
static void adopt_metrics(Bnc__TaskResult *r, const Bnc__TaskResult *from)
{
    r->n_metrics = 0;
    r->metrics = NULL;
    if (from->n_metrics == 0)
        return;
    owned_metric *ms = calloc(from->n_metrics, sizeof *ms);
    r->metrics = calloc(from->n_metrics, sizeof *r->metrics);
    if (!ms || !r->metrics) {
        free(ms);
        free(r->metrics);
        r->metrics = NULL;
        r->ok = 0;
        r->error = strdup("out of memory for metrics");
        return;
    }
    for (size_t i = 0; i < from->n_metrics; i++) {
        bnc__metric__init(&ms[i].m);
        snprintf(ms[i].name, sizeof ms[i].name, "%s", from->metrics[i]->name);
        snprintf(ms[i].unit, sizeof ms[i].unit, "%s", from->metrics[i]->unit);
        ms[i].m.name = ms[i].name;
        ms[i].m.unit = ms[i].unit;
        ms[i].m.value = from->metrics[i]->value;
        r->metrics[i] = &ms[i].m;
    }
    r->n_metrics = from->n_metrics;
}

/* Runs a task with a time limit: in a child process, so that a task past its
 * limit can be killed (a thread cannot be stopped safely). The child sends
 * its packed result through a pipe and leaves with _exit, touching neither
 * MPI nor the parent's buffers. */
static void exec_task_limited(exec_state *st, const char *kind, const char *params_json,
                              uint64_t seed, double timeout_s, Bnc__TaskResult *r)
{
    int fds[2];
    if (timeout_s <= 0 || pipe(fds) != 0) {
        exec_task(st, kind, params_json, seed, r);
        return;
    }
    fflush(NULL);
    double started = bnc_wall();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        exec_task(st, kind, params_json, seed, r);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        Bnc__TaskResult cr = BNC__TASK_RESULT__INIT;
        exec_task(st, kind, params_json, seed, &cr);
        size_t len = bnc__task_result__get_packed_size(&cr);
        uint8_t *buf = malloc(len + 8);
        if (buf) {
            uint64_t l64 = len;
            memcpy(buf, &l64, 8);
            bnc__task_result__pack(&cr, buf + 8);
            size_t off = 0;
            while (off < len + 8) {
                ssize_t w = write(fds[1], buf + off, len + 8 - off);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
        _exit(0);
    }
    close(fds[1]);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int timed_out = 0;
    for (;;) {
        double left = timeout_s - (bnc_wall() - started);
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(left * 1000.0) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            timed_out = 1;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *p = realloc(buf, cap);
            if (!p)
                break;
            buf = p;
        }
        ssize_t got = read(fds[0], buf + n, cap - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    r->started_at = started;
    r->finished_at = bnc_wall();
    r->rank = st->ctx->rank;
    r->host = (char *)st->ctx->host;
    uint64_t len = 0;
    Bnc__TaskResult *cr = NULL;
    if (!timed_out && n >= 8) {
        memcpy(&len, buf, 8);
        if (len == n - 8)
            cr = bnc__task_result__unpack(NULL, (size_t)len, buf + 8);
    }
    free(buf);
    char msg[200];
    if (cr) {
        r->ok = cr->ok;
        r->error = cr->ok ? NULL : strdup(cr->error);
        if (cr->ok)
            adopt_metrics(r, cr);
        bnc__task_result__free_unpacked(cr, NULL);
        return;
    }
    if (timed_out)
        snprintf(msg, sizeof msg, "timed out after %g s (killed)", timeout_s);
    else if (WIFSIGNALED(status))
        snprintf(msg, sizeof msg, "crashed with signal %d", WTERMSIG(status));
    else
        snprintf(msg, sizeof msg, "ended without a result (exit status %d)", WEXITSTATUS(status));
    r->ok = 0;
    r->error = strdup(msg);
}

/* Frees what exec_task allocated (not the strings it borrowed). */
static void free_result(Bnc__TaskResult *r)
{
    if (r->n_metrics)
        free(r->metrics[0]);
    free(r->metrics);
    free(r->error == protobuf_c_empty_string ? NULL : r->error);
    r->metrics = NULL;
    r->n_metrics = 0;
    r->error = NULL;
}

/* ---- rank 0: handling a finished attempt -------------------------------- */

/* Returns 1 when the task is final (journaled), 0 when it was requeued. */
static int needs_gpu(const coord *c, size_t idx)
{
    return c->spec->groups[c->plan.tasks[idx].group].gpu > 0;
}

static int handle_result(coord *c, Bnc__TaskResult *r, size_t idx, bnc_err *err, int *rc)
{
    const bnc_plan_task *t = &c->plan.tasks[idx];
    r->attempt = c->attempts[idx];
    if (!r->ok && c->attempts[idx] <= (uint32_t)c->spec->retries) {
        fprintf(stderr, "\nbnc: task %s (%s %s seed %llu) failed on rank %d (attempt %u): %s; retrying\n",
                t->id, t->kind, t->params_json, (unsigned long long)t->seed, r->rank,
                c->attempts[idx], r->error ? r->error : "");
        c->attempts[idx]++;
        c->sum->retried++;
        lane *l = &c->lanes[needs_gpu(c, idx)];
        l->retry[l->nretry++] = idx;
        return 0;
    }
    fill_result(r, t, c->spec->name);
    if (!r->ok)
        fprintf(stderr, "\nbnc: task %s (%s %s seed %llu) failed after %u attempts: %s\n", t->id,
                t->kind, t->params_json, (unsigned long long)t->seed, c->attempts[idx],
                r->error ? r->error : "");
    if (!*rc)
        *rc = bnc_journal_append(c->journal, r, err);
    if (!*rc && c->sink && !c->sum->db_lost) {
        bnc_err e;
        if (bnc_sink_add(c->sink, r, &e))
            db_lost(c, &e);
    }
    if (r->ok)
        c->sum->done++;
    else
        c->sum->failed++;
    return 1;
}

/* ---- rank 0 alone -------------------------------------------------------- */

static int run_alone(coord *c, bnc_err *err)
{
    exec_state st = {c->o->kinds, &c->ctx, {0}};
    int rc = 0;
    double last_sync = bnc_now();
    while (!rc && !(lane_empty(&c->lanes[0]) && lane_empty(&c->lanes[1]))) {
        size_t idx = lane_pop(lane_empty(&c->lanes[0]) ? &c->lanes[1] : &c->lanes[0]);
        const bnc_plan_task *t = &c->plan.tasks[idx];
        Bnc__TaskResult r = BNC__TASK_RESULT__INIT;
        exec_task_limited(&st, t->kind, t->params_json, t->seed, t->timeout_s, &r);
        handle_result(c, &r, idx, err, &rc);
        free_result(&r);
        if (!rc && bnc_now() - last_sync > 0.05) {
            rc = bnc_journal_sync(c->journal, err);
            last_sync = bnc_now();
            sink_flush(c, 0);
        }
        progress(c, 0);
    }
    if (!rc)
        rc = bnc_journal_sync(c->journal, err);
    bnc_metrics_free(&st.m);
    return rc;
}

/* ---- rank 0 with workers --------------------------------------------------- */

typedef struct pending_send {
    MPI_Request req;
    uint8_t *buf;
} pending_send;

typedef struct sendq {
    pending_send *v;
    size_t n, cap;
} sendq;

static int isend(sendq *q, MPI_Comm comm, int dest, int tag, uint8_t *buf, size_t len)
{
    /* Reap completed sends first. */
    size_t w = 0;
    for (size_t i = 0; i < q->n; i++) {
        int done = 0;
        MPI_Test(&q->v[i].req, &done, MPI_STATUS_IGNORE);
        if (done)
            free(q->v[i].buf);
        else
            q->v[w++] = q->v[i];
    }
    q->n = w;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        pending_send *v = realloc(q->v, cap * sizeof *v);
        if (!v)
            return BNC_ENOMEM;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n].buf = buf;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, tag, comm, &q->v[q->n].req) != MPI_SUCCESS)
        return BNC_ENET;
    q->n++;
    return 0;
}

static void sendq_drain(sendq *q)
{
    for (size_t i = 0; i < q->n; i++) {
        MPI_Wait(&q->v[i].req, MPI_STATUS_IGNORE);
        free(q->v[i].buf);
    }
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}

static void idle_sleep(int *idle)
{
    /* Back off from 20 us to 1 ms so an idle coordinator leaves the cores
     * to the workers. */
    long ns = 20000L << (*idle < 6 ? *idle : 6);
    if (ns > 1000000L)
        ns = 1000000L;
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
    (*idle)++;
}

static int send_batch(coord *c, MPI_Comm comm, sendq *sq, int w, const size_t *idx, size_t n)
{
    Bnc__Task *tasks = calloc(n, sizeof *tasks);
    Bnc__Task **ptrs = calloc(n, sizeof *ptrs);
    if (!tasks || !ptrs) {
        free(tasks);
        free(ptrs);
        return BNC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const bnc_plan_task *t = &c->plan.tasks[idx[i]];
        bnc__task__init(&tasks[i]);
        tasks[i].id = (char *)t->id;
        tasks[i].campaign = c->spec->name;
        tasks[i].kind = (char *)t->kind;
        tasks[i].params_json = t->params_json;
        tasks[i].seed = t->seed;
        tasks[i].attempt = c->attempts[idx[i]];
        tasks[i].seq = idx[i];
        tasks[i].timeout_s = t->timeout_s;
        ptrs[i] = &tasks[i];
    }
    Bnc__TaskBatch b = BNC__TASK_BATCH__INIT;
    b.n_tasks = n;
    b.tasks = ptrs;
    size_t len = bnc__task_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len ? len : 1);
    int rc = buf ? 0 : BNC_ENOMEM;
    if (buf) {
        bnc__task_batch__pack(&b, buf);
        rc = isend(sq, comm, w, TAG_TASKS, buf, len);
    }
    free(tasks);
    free(ptrs);
    return rc;
}

static int run_coordinator(coord *c, MPI_Comm comm, int size, size_t nq, bnc_err *err)
{
    int nw = size - 1, rc = 0;
    size_t *inflight = calloc((size_t)size, sizeof *inflight);
    size_t *batch = calloc(4096, sizeof *batch);
    uint8_t *rbuf = NULL;
    size_t rcap = 0;
    sendq sq = {0};
    double avg_s = 0.0; /* mean task duration seen so far */
    size_t seen = 0, final = 0;
    int idle = 0;
    if (!inflight || !batch)
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
    while (!rc && final < nq) {
        /* Keep every worker fed: about 50 ms of work in flight, at least 2. */
        size_t target = (size_t)(c->o->inflight > 0 ? c->o->inflight : 2);
        if (c->o->inflight <= 0 && seen > 0) {
            double k = avg_s > 0 ? 0.05 / avg_s : 4096;
            target = k < 2 ? 2 : k > 4096 ? 4096 : (size_t)k;
        }
        for (int w = 1; w <= nw && !rc; w++) {
            /* A GPU rank takes GPU tasks first, then CPU tasks. */
            lane *gl = c->has_gpu[w] ? &c->lanes[1] : NULL, *cl = &c->lanes[0];
            if (inflight[w] > target / 2 || ((!gl || lane_empty(gl)) && lane_empty(cl)))
                continue;
            size_t n = 0;
            while (inflight[w] + n < target && n < 4096) {
                if (gl && !lane_empty(gl))
                    batch[n++] = lane_pop(gl);
                else if (!lane_empty(cl))
                    batch[n++] = lane_pop(cl);
                else
                    break;
            }
            if (n) {
                if (send_batch(c, comm, &sq, w, batch, n))
                    rc = bnc_err_set(err, BNC_ENET, "cannot send tasks to rank %d", w);
                inflight[w] += n;
            }
        }
        int got = 0;
        for (;;) {
            int flag = 0;
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULTS, comm, &flag, &st);
            if (!flag || rc)
                break;
            int len = 0;
            MPI_Get_count(&st, MPI_BYTE, &len);
            if ((size_t)len > rcap) {
                uint8_t *p = realloc(rbuf, (size_t)len);
                if (!p) {
                    rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
                    break;
                }
                rbuf = p;
                rcap = (size_t)len;
            }
            MPI_Recv(rbuf, len, MPI_BYTE, st.MPI_SOURCE, TAG_RESULTS, comm, MPI_STATUS_IGNORE);
            Bnc__ResultBatch *rb = bnc__result_batch__unpack(NULL, (size_t)len, rbuf);
            if (!rb) {
                rc = bnc_err_set(err, BNC_EFORMAT, "malformed result batch from rank %d",
                                 st.MPI_SOURCE);
                break;
            }
            for (size_t i = 0; i < rb->n_results && !rc; i++) {
                Bnc__TaskResult *r = rb->results[i];
                if (r->seq >= c->plan.n || strcmp(r->task_id, c->plan.tasks[r->seq].id) != 0) {
                    rc = bnc_err_set(err, BNC_EFORMAT,
                                     "rank %d returned a result for an unknown task %s",
                                     st.MPI_SOURCE, r->task_id);
                    break;
                }
                inflight[st.MPI_SOURCE]--;
                double d = r->finished_at - r->started_at;
                avg_s = (avg_s * (double)seen + (d > 0 ? d : 0)) / (double)(seen + 1);
                seen++;
                /* Strings of r belong to rb; fill_result points them at the
                 * plan, so keep rb's own and let free_unpacked free them. */
                Bnc__TaskResult copy = *r;
                final += (size_t)handle_result(c, &copy, (size_t)r->seq, err, &rc);
            }
            bnc__result_batch__free_unpacked(rb, NULL);
            got = 1;
        }
        if (got && !rc) {
            /* Durable before done: fsync the batch, then load it. */
            rc = bnc_journal_sync(c->journal, err);
            idle = 0;
        }
        if (!rc) {
            sink_flush(c, 0);
            progress(c, 0);
        }
        if (!got)
            idle_sleep(&idle);
    }
    for (int w = 1; w <= nw; w++) {
        uint8_t *stop = malloc(1);
        if (stop) {
            stop[0] = 0;
            isend(&sq, comm, w, TAG_STOP, stop, 0);
        }
    }
    sendq_drain(&sq);
    free(inflight);
    free(batch);
    free(rbuf);
    return rc;
}

/* ---- workers ------------------------------------------------------------- */

static int run_worker(MPI_Comm comm, const bnc_run_opts *o, const bnc_task_ctx *ctx)
{
    exec_state st = {o->kinds, ctx, {0}};
    Bnc__TaskBatch **batches = NULL;
    size_t nb = 0, bcap = 0, head_batch = 0, head_task = 0;
    Bnc__TaskResult *out = NULL;
    size_t nout = 0, ocap = 0;
    sendq sq = {0};
    int stop = 0, rc = 0;
    double last_flush = bnc_now();
    uint8_t *rbuf = NULL;
    size_t rcap = 0;
    for (;;) {
        /* Take every message that has arrived. */
        for (;;) {
            int flag = 0;
            MPI_Status s;
            MPI_Iprobe(0, MPI_ANY_TAG, comm, &flag, &s);
            if (!flag)
                break;
            int len = 0;
            MPI_Get_count(&s, MPI_BYTE, &len);
            if ((size_t)len + 1 > rcap) {
                rcap = (size_t)len + 1;
                rbuf = realloc(rbuf, rcap);
            }
            MPI_Recv(rbuf, len, MPI_BYTE, 0, s.MPI_TAG, comm, MPI_STATUS_IGNORE);
            if (s.MPI_TAG == TAG_STOP) {
                stop = 1;
                continue;
            }
            Bnc__TaskBatch *b = bnc__task_batch__unpack(NULL, (size_t)len, rbuf);
            if (!b) {
                fprintf(stderr, "bnc: rank %d: malformed task batch from rank 0\n", ctx->rank);
                continue;
            }
            if (nb == bcap) {
                bcap = bcap ? bcap * 2 : 16;
                batches = realloc(batches, bcap * sizeof *batches);
            }
            batches[nb++] = b;
        }
        int have = head_batch < nb;
        if (have) {
            Bnc__TaskBatch *b = batches[head_batch];
            Bnc__Task *t = b->tasks[head_task];
            if (nout == ocap) {
                ocap = ocap ? ocap * 2 : 256;
                out = realloc(out, ocap * sizeof *out);
            }
            Bnc__TaskResult *r = &out[nout++];
            bnc__task_result__init(r);
            exec_task_limited(&st, t->kind, t->params_json, t->seed, t->timeout_s, r);
            r->task_id = t->id;
            r->seq = t->seq;
            r->attempt = t->attempt;
            if (++head_task == b->n_tasks) {
                head_task = 0;
                head_batch++;
            }
        }
        double now = bnc_now();
        if (nout && (!have || head_batch >= nb || nout >= WORKER_FLUSH_N ||
                     now - last_flush >= WORKER_FLUSH_S)) {
            Bnc__TaskResult **ptrs = malloc(nout * sizeof *ptrs);
            for (size_t i = 0; i < nout; i++)
                ptrs[i] = &out[i];
            Bnc__ResultBatch rb = BNC__RESULT_BATCH__INIT;
            rb.n_results = nout;
            rb.results = ptrs;
            size_t len = bnc__result_batch__get_packed_size(&rb);
            uint8_t *buf = malloc(len ? len : 1);
            bnc__result_batch__pack(&rb, buf);
            if (isend(&sq, comm, 0, TAG_RESULTS, buf, len))
                rc = BNC_ENET;
            free(ptrs);
            for (size_t i = 0; i < nout; i++)
                free_result(&out[i]);
            nout = 0;
            last_flush = now;
            /* Batches fully run can go. */
            for (size_t i = 0; i < head_batch; i++)
                bnc__task_batch__free_unpacked(batches[i], NULL);
            memmove(batches, batches + head_batch, (nb - head_batch) * sizeof *batches);
            nb -= head_batch;
            head_batch = 0;
        }
        if (!have && nout == 0) {
            if (stop || rc)
                break;
            MPI_Status s;
            MPI_Probe(0, MPI_ANY_TAG, comm, &s); /* wait for work */
        }
    }
    sendq_drain(&sq);
    for (size_t i = 0; i < nb; i++)
        bnc__task_batch__free_unpacked(batches[i], NULL);
    free(batches);
    free(out);
    free(rbuf);
    bnc_metrics_free(&st.m);
    return rc;
}

/* ---- rank 0: setting up ---------------------------------------------------- */

typedef struct scan_ctx {
    coord *c;
    idset *done;
    idset *in_db;
    size_t replayed;
    int rc;
    bnc_err *err;
} scan_ctx;

static int scan_visit(const Bnc__TaskResult *r, void *arg)
{
    scan_ctx *s = arg;
    if (!r->ok)
        return 0;
    if (idset_add(s->done, r->task_id) < 0)
        return BNC_ENOMEM;
    if (s->c->sink && !idset_has(s->in_db, r->task_id)) {
        bnc_err e;
        if (bnc_sink_add(s->c->sink, r, &e))
            return BNC_ENOMEM;
        s->replayed++;
    }
    return 0;
}

static int db_prepare(coord *c, const char *env_json_all, int size, idset *in_db, bnc_err *err)
{
    int rc = bnc_db_migrate(c->db, err);
    if (rc)
        return rc;
    PGresult *r;
    const char *p1[] = {c->spec->name};
    rc = bnc_db_query(c->db, "SELECT spec_hash FROM campaigns WHERE name = $1", 1, p1, &r, err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), c->spec->hash) != 0) {
        rc = bnc_err_set(err, BNC_EINVAL,
                         "%s: campaign '%s' already exists in the database with a different "
                         "spec (hash %s, this spec %s); give the campaign a new name",
                         c->spec->file, c->spec->name, PQgetvalue(r, 0, 0), c->spec->hash);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    char total[32];
    snprintf(total, sizeof total, "%zu", c->plan.n);
    const char *p2[] = {c->spec->name, c->spec->description, c->spec->text, c->spec->hash, total};
    rc = bnc_db_query(c->db,
                      "INSERT INTO campaigns (name, description, spec_text, spec_hash, total_tasks) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
                      "status = 'running', updated_at = now()",
                      5, p2, &r, err);
    if (rc)
        return rc;
    PQclear(r);
    /* One environment row per distinct host of this run. */
    json_error_t je;
    json_t *envs = json_loads(env_json_all, 0, &je);
    json_t *hosts = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(envs, i, e)
    {
        const char *host = json_string_value(json_object_get(e, "host"));
        json_t *h = json_object_get(hosts, host ? host : "");
        if (h) {
            json_object_set_new(h, "ranks", json_integer(json_integer_value(json_object_get(h, "ranks")) + 1));
            continue;
        }
        json_object_set_new(e, "ranks", json_integer(1));
        json_object_set(hosts, host ? host : "", e);
    }
    const char *hk;
    json_t *h;
    json_object_foreach(hosts, hk, h)
    {
        char ranks[16], mem[32];
        snprintf(ranks, sizeof ranks, "%lld", (long long)json_integer_value(json_object_get(h, "ranks")));
        snprintf(mem, sizeof mem, "%lld", (long long)json_integer_value(json_object_get(h, "mem_bytes")));
#define S(k) (json_string_value(json_object_get(h, k)) ? json_string_value(json_object_get(h, k)) : "")
        const char *pe[] = {c->spec->name, hk, ranks, S("cpu_model"), S("cpu_flags"), mem, S("gpu"),
                            S("gpu_driver"), S("compiler"), S("mpi_version"), S("nccl_version"),
                            S("libpq_version"), S("bnc_version"), S("git_rev"),
                            json_is_true(json_object_get(h, "git_dirty")) ? "true" : "false"};
#undef S
        rc = bnc_db_query(c->db,
                          "INSERT INTO environments (campaign, host, ranks, cpu_model, cpu_flags, "
                          "mem_bytes, gpu, gpu_driver, compiler, mpi_version, nccl_version, "
                          "libpq_version, bnc_version, git_rev, git_dirty) VALUES ($1, $2, $3, $4, "
                          "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                          15, pe, &r, err);
        if (rc)
            break;
        PQclear(r);
    }
    json_decref(hosts);
    json_decref(envs);
    (void)size;
    if (rc)
        return rc;
    rc = bnc_db_query(c->db, "SELECT id FROM tasks WHERE campaign = $1 AND status = 'done'", 1, p1,
                      &r, err);
    if (rc)
        return rc;
    for (int k = 0; k < PQntuples(r); k++)
        if (idset_add(in_db, PQgetvalue(r, k, 0)) < 0) {
            PQclear(r);
            return bnc_err_set(err, BNC_ENOMEM, "out of memory");
        }
    PQclear(r);
    return bnc_sink_new(c->db, &c->sink, err);
}

static int mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return 0;
}

/* Rank 0's part before scheduling: plan, database, journal, skip set. On
 * success the lanes hold the plan indices still to run and *nq their count. */
static int prepare(coord *c, const char *env_all, int size, size_t *nq, bnc_err *err)
{
    int rc = bnc_plan_build(c->spec, c->o->kinds, &c->ctx, &c->plan, err);
    if (rc)
        return rc;
    c->sum->planned = c->plan.n;
    if (c->o->dry_run)
        return 0;
    /* Which ranks have a GPU, from their provenance. */
    c->has_gpu = calloc((size_t)size, sizeof *c->has_gpu);
    if (!c->has_gpu)
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    json_error_t je;
    json_t *envs = json_loads(env_all, 0, &je);
    int gpu_ranks = 0;
    for (int r = 0; r < size; r++) {
        c->has_gpu[r] = json_integer_value(json_object_get(json_array_get(envs, (size_t)r), "gpus")) > 0;
        gpu_ranks += r > 0 || size == 1 ? c->has_gpu[r] : 0;
    }
    json_decref(envs);
    size_t gpu_tasks = 0;
    for (size_t i = 0; i < c->plan.n; i++)
        gpu_tasks += (size_t)needs_gpu(c, i);
    if (gpu_tasks && !gpu_ranks)
        return bnc_err_set(err, BNC_EINVAL,
                           "%s: %zu tasks need a GPU (resources: {gpu: ...}) but no %s has one",
                           c->spec->file, gpu_tasks, size == 1 ? "rank" : "worker rank");
    if (c->o->journal_path)
        snprintf(c->sum->journal, sizeof c->sum->journal, "%s", c->o->journal_path);
    else
        snprintf(c->sum->journal, sizeof c->sum->journal, "var/journal/%s.journal", c->spec->name);
    idset in_db = {0}, done = {0};
    if (!c->o->no_db) {
        rc = bnc_db_connect(c->o->db_url, &c->db, err);
        if (!rc)
            rc = db_prepare(c, env_all, size, &in_db, err);
    }
    if (!rc && mkdirs(c->sum->journal) != 0)
        rc = bnc_err_set(err, BNC_EIO, "cannot create the folder of journal %s: %s",
                         c->sum->journal, strerror(errno));
    if (!rc)
        rc = bnc_journal_open(c->sum->journal, c->spec->name, c->spec->hash, c->spec->text,
                              &c->journal, err);
    scan_ctx sc = {c, &done, &in_db, 0, 0, err};
    if (!rc)
        rc = bnc_journal_scan(c->sum->journal, NULL, scan_visit, &sc, NULL, err);
    if (!rc && sc.replayed)
        fprintf(stderr, "bnc: loading %zu results from the journal that were not in the database\n",
                sc.replayed);
    if (!rc) {
        sink_flush(c, 1);
        c->attempts = calloc(c->plan.n + 1, sizeof *c->attempts);
        for (int l = 0; l < 2; l++) {
            c->lanes[l].q = calloc(c->plan.n + 1, sizeof *c->lanes[l].q);
            c->lanes[l].retry = calloc(c->plan.n + 1, sizeof *c->lanes[l].retry);
            if (!c->lanes[l].q || !c->lanes[l].retry)
                rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        }
        if (!c->attempts)
            rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < c->plan.n; i++) {
        c->attempts[i] = 1;
        if (idset_has(&done, c->plan.tasks[i].id) || idset_has(&in_db, c->plan.tasks[i].id)) {
            c->sum->skipped++;
        } else {
            lane *l = &c->lanes[needs_gpu(c, i)];
            l->q[l->n++] = i;
            (*nq)++;
        }
    }
    free(in_db.slot);
    free(done.slot);
    return rc;
}

static int finish_db(coord *c)
{
    if (!c->db || c->sum->db_lost)
        return 0;
    sink_flush(c, 1);
    if (c->sum->db_lost)
        return 0;
    bnc_err e;
    PGresult *r;
    const char *p[] = {c->spec->name, c->sum->failed ? "failed" : "done"};
    if (bnc_db_query(c->db, "UPDATE campaigns SET status = $2, updated_at = now() WHERE name = $1", 2,
                     p, &r, &e) == 0)
        PQclear(r);
    else
        db_lost(c, &e);
    return 0;
}

int bnc_campaign_run(MPI_Comm comm, const bnc_run_opts *o, bnc_run_summary *sum, bnc_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(sum, 0, sizeof *sum);
    double t0 = bnc_now();

    /* Rank 0 reads the spec and shares its text: every rank parses the
     * same bytes, so workers need no shared file system. */
    char *text = NULL;
    size_t n = 0;
    long long len = -1;
    int rc = 0;
    if (rank == 0) {
        rc = bnc_read_file(o->spec_path, &text, &n, err);
        len = rc ? -1 : (long long)n;
    }
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm);
    if (len < 0) {
        if (rank != 0)
            bnc_err_set(err, BNC_EINVAL, "rank 0 could not read the spec");
        return rank == 0 ? rc : BNC_EINVAL;
    }
    if (rank != 0)
        text = malloc((size_t)len + 1);
    MPI_Bcast(text, (int)len, MPI_CHAR, 0, comm);
    text[len] = '\0';
    bnc_spec *spec = NULL;
    rc = bnc_spec_parse(text, (size_t)len, o->spec_path, &spec, err);
    free(text);

    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char spec_dir[1024];
    snprintf(spec_dir, sizeof spec_dir, "%s", o->spec_path);
    coord c = {0};
    c.o = o;
    c.spec = spec;
    c.sum = sum;
    c.t0 = t0;
    c.tty = o->progress == 0 && isatty(2);
    c.ctx.rank = rank;
    c.ctx.local_rank = rank;
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (lr)
        c.ctx.local_rank = atoi(lr);
    c.ctx.threads = o->threads > 0 ? o->threads : 1;
    /* One cache of open model files per process, reused across tasks. */
    c.ctx.cache = bnc_mcache_new(0, 0);
    /* Device by local rank: ranks on a node share its GPUs round-robin. */
    int ngpu = bnc_gpu_count();
    c.ctx.gpu = ngpu > 0 ? c.ctx.local_rank % ngpu : -1;
    c.ctx.host = host;
    c.ctx.spec_dir = dirname(spec_dir);
    if (spec) {
        c.ctx.tensors = spec->tensors;
        c.ctx.models = spec->models;
        snprintf(sum->campaign, sizeof sum->campaign, "%s", spec->name);
    }

    /* Provenance of every rank, gathered on rank 0. */
    enum { ENV_MAX = 8192 };
    char *env = bnc_environment_json();
    char mine[ENV_MAX] = "";
    snprintf(mine, sizeof mine, "%s", env ? env : "{}");
    free(env);
    char *all = rank == 0 ? calloc((size_t)size, ENV_MAX) : NULL;
    MPI_Gather(mine, ENV_MAX, MPI_CHAR, all, ENV_MAX, MPI_CHAR, 0, comm);
    char *env_all = NULL;
    if (rank == 0) {
        bnc_buf b = {0};
        bnc_buf_puts(&b, "[");
        for (int i = 0; i < size; i++) {
            bnc_buf_puts(&b, i ? "," : "");
            bnc_buf_puts(&b, all + (size_t)i * ENV_MAX);
        }
        bnc_buf_puts(&b, "]");
        env_all = b.p;
    }
    free(all);

    size_t nq = 0;
    if (rank == 0 && !rc)
        rc = prepare(&c, env_all, size, &nq, err);
    free(env_all);
    /* go: 0 schedule, a negative status: stop with it, 1: stop (dry run). */
    int go = rc ? rc : (o->dry_run ? 1 : 0);
    MPI_Bcast(&go, 1, MPI_INT, 0, comm);
    if (go == 1)
        goto out;
    if (go != 0) {
        if (rank != 0 && !rc)
            rc = bnc_err_set(err, go, "rank 0 stopped before scheduling");
        goto out;
    }
    if (rank == 0) {
        c.to_run = nq;
        c.t0 = bnc_now();
        c.last_flush = c.last_progress = c.t0;
        if (size == 1)
            rc = run_alone(&c, err);
        else
            rc = run_coordinator(&c, comm, size, nq, err);
        progress(&c, 1);
        if (!rc)
            rc = bnc_journal_sync(c.journal, err);
        finish_db(&c);
        sum->seconds = bnc_now() - c.t0;
        sum->tasks_per_s = sum->seconds > 0 ? (double)(sum->done + sum->failed) / sum->seconds : 0;
        if (!rc && sum->failed)
            rc = bnc_err_set(err, BNC_EINTERNAL, "%zu of %zu tasks failed after %d retries",
                             sum->failed, nq, spec->retries);
    } else {
        int wrc = run_worker(comm, o, &c.ctx);
        if (wrc)
            rc = bnc_err_set(err, wrc, "rank %d: lost contact with rank 0", rank);
    }
out:
    free(c.attempts);
    free(c.has_gpu);
    bnc_mcache_free(c.ctx.cache);
    for (int l = 0; l < 2; l++) {
        free(c.lanes[l].q);
        free(c.lanes[l].retry);
    }
    bnc_journal_close(c.journal);
    bnc_sink_free(c.sink);
    bnc_db_close(c.db);
    bnc_plan_free(&c.plan);
    bnc_spec_free(spec);
    return rc;
}
