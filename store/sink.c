#include "bnc_sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The metric rows of one buffered result: a slice of the metrics buffer. */
typedef struct chunk {
    char id[72]; /* task id (ids longer than this are hashed by their writers) */
    size_t off, len;
} chunk;

struct bnc_sink {
    PGconn *c;
    int staged; /* the staging table exists on this connection */
    bnc_buf tasks, metrics, out;
    chunk *chunks;
    size_t pending, cap;
};

int bnc_sink_new(PGconn *c, bnc_sink **out, bnc_err *err)
{
    bnc_sink *s = calloc(1, sizeof *s);
    if (!s) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    s->c = c;
    *out = s;
    return 0;
}

void bnc_sink_free(bnc_sink *s)
{
    if (!s) return;
    bnc_buf_free(&s->tasks);
    bnc_buf_free(&s->metrics);
    bnc_buf_free(&s->out);
    free(s->chunks);
    free(s);
}

size_t bnc_sink_pending(const bnc_sink *s)
{
    return s->pending;
}

void bnc_format_timestamp(double epoch_s, char *buf, size_t n)
{
    time_t sec = (time_t)floor(epoch_s);
    long usec = (long)((epoch_s - (double)sec) * 1e6);
    if (usec > 999999) usec = 999999;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char head[40];
    strftime(head, sizeof head, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, n, "%s.%06ld+00", head, usec);
}

static void put_double(bnc_buf *b, double v)
{
    if (isnan(v))
        bnc_buf_puts(b, "NaN");
    else if (isinf(v))
        bnc_buf_puts(b, v > 0 ? "Infinity" : "-Infinity");
    else
        bnc_buf_printf(b, "%.17g", v);
}

int bnc_sink_add(bnc_sink *s, const Bnc__TaskResult *r, bnc_err *err)
{
    bnc_buf *t = &s->tasks;
    char ts[64];
    int rc = 0;
    rc |= bnc_buf_copy_escaped(t, r->task_id);
    rc |= bnc_buf_puts(t, "\t");
    rc |= bnc_buf_copy_escaped(t, r->campaign);
    rc |= bnc_buf_puts(t, "\t");
    rc |= bnc_buf_copy_escaped(t, r->kind);
    rc |= bnc_buf_puts(t, "\t");
    rc |= bnc_buf_copy_escaped(t, r->params_json);
    rc |= bnc_buf_printf(t, "\t%lld\t%s\t%u\t%d\t", (long long)r->seed, r->ok ? "done" : "failed",
                         r->attempt ? r->attempt : 1, r->rank);
    rc |= bnc_buf_copy_escaped(t, r->host);
    bnc_format_timestamp(r->started_at, ts, sizeof ts);
    rc |= bnc_buf_printf(t, "\t%s", ts);
    bnc_format_timestamp(r->finished_at, ts, sizeof ts);
    rc |= bnc_buf_printf(t, "\t%s\t", ts);
    if (r->ok)
        rc |= bnc_buf_puts(t, "\\N");
    else
        rc |= bnc_buf_copy_escaped(t, r->error);
    rc |= bnc_buf_puts(t, "\n");
    if (s->pending == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        chunk *ch = realloc(s->chunks, cap * sizeof *ch);
        if (!ch) return bnc_err_set(err, BNC_ENOMEM, "database sink: out of memory");
        s->chunks = ch;
        s->cap = cap;
    }
    chunk *ch = &s->chunks[s->pending];
    if (strlen(r->task_id) >= sizeof ch->id)
        return bnc_err_set(err, BNC_EINVAL, "database sink: task id '%.80s...' is too long",
                           r->task_id);
    snprintf(ch->id, sizeof ch->id, "%s", r->task_id);
    ch->off = s->metrics.n;
    for (size_t i = 0; r->ok && i < r->n_metrics; i++) {
        const Bnc__Metric *m = r->metrics[i];
        bnc_buf *b = &s->metrics;
        rc |= bnc_buf_copy_escaped(b, r->task_id);
        rc |= bnc_buf_puts(b, "\t");
        rc |= bnc_buf_copy_escaped(b, m->name);
        rc |= bnc_buf_puts(b, "\t");
        put_double(b, m->value);
        rc |= bnc_buf_puts(b, "\t");
        rc |= bnc_buf_copy_escaped(b, m->unit);
        rc |= bnc_buf_puts(b, "\n");
    }
    if (rc) return bnc_err_set(err, BNC_ENOMEM, "database sink: out of memory");
    ch->len = s->metrics.n - ch->off;
    s->pending++;
    return 0;
}

/* An open-addressing set of the task ids the insert returned. */
typedef struct idtab {
    const char **slot;
    size_t cap;
} idtab;

static size_t id_hash(const char *id)
{
    size_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

/* Looks id up; with take, removes it (each task's metrics go in once). */
static int idtab_take(idtab *t, const char *id)
{
    for (size_t i = id_hash(id) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slot[i]) return 0;
        if (t->slot[i] != (const char *)t && strcmp(t->slot[i], id) == 0) {
            t->slot[i] = (const char *)t; /* tombstone */
            return 1;
        }
    }
}

int bnc_sink_flush(bnc_sink *s, uint64_t *new_tasks, uint64_t *new_metrics, bnc_err *err)
{
    if (s->pending == 0) return 0;
    int rc = 0;
    if (!s->staged) {
        rc = bnc_db_exec(s->c,
                         "CREATE TEMP TABLE IF NOT EXISTS bnc_stage_tasks (LIKE tasks) "
                         "ON COMMIT DELETE ROWS",
                         err);
        if (rc) return rc;
        s->staged = 1;
    }
    rc = bnc_db_exec(s->c, "BEGIN", err);
    if (!rc) rc = bnc_db_copy(s->c, "COPY bnc_stage_tasks FROM STDIN", s->tasks.p, s->tasks.n, err);
    PGresult *r = NULL;
    /* A finished task replaces an earlier failure; a done task stays. The
     * rows returned are the tasks this transaction stored as new. */
    if (!rc)
        rc = bnc_db_query(
            s->c,
            "INSERT INTO tasks SELECT DISTINCT ON (id) * FROM bnc_stage_tasks "
            "ORDER BY id, (status = 'done') DESC, finished_at DESC "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
            "attempts = excluded.attempts, rank = excluded.rank, host = excluded.host, "
            "started_at = excluded.started_at, finished_at = excluded.finished_at, "
            "error = excluded.error WHERE tasks.status <> 'done' "
            "RETURNING id, status = 'done'",
            0, NULL, &r, err);
    uint64_t nt = 0, nm = 0;
    if (!rc) {
        /* Metrics only of the tasks just stored as done: a replayed result
         * finds its task already done and adds no row. */
        int n = PQntuples(r);
        nt = (uint64_t)n;
        idtab t = {NULL, 64};
        while (t.cap < 2 * (size_t)n + 2)
            t.cap *= 2;
        t.slot = calloc(t.cap, sizeof *t.slot);
        if (!t.slot) rc = bnc_err_set(err, BNC_ENOMEM, "database sink: out of memory");
        for (int i = 0; !rc && i < n; i++) {
            if (PQgetvalue(r, i, 1)[0] != 't') continue;
            const char *id = PQgetvalue(r, i, 0);
            size_t k = id_hash(id) & (t.cap - 1);
            while (t.slot[k])
                k = (k + 1) & (t.cap - 1);
            t.slot[k] = id;
        }
        bnc_buf_reset(&s->out);
        for (size_t i = 0; !rc && i < s->pending; i++) {
            const chunk *ch = &s->chunks[i];
            if (ch->len && idtab_take(&t, ch->id)) {
                if (bnc_buf_put(&s->out, s->metrics.p + ch->off, ch->len))
                    rc = bnc_err_set(err, BNC_ENOMEM, "database sink: out of memory");
                for (size_t k = ch->off; k < ch->off + ch->len; k++)
                    nm += s->metrics.p[k] == '\n';
            }
        }
        free(t.slot);
        PQclear(r);
    }
    if (!rc && s->out.n)
        rc = bnc_db_copy(s->c, "COPY metrics (task_id, name, value, unit) FROM STDIN", s->out.p,
                         s->out.n, err);
    if (!rc) rc = bnc_db_exec(s->c, "COMMIT", err);
    if (rc) {
        PQclear(PQexec(s->c, "ROLLBACK"));
        return rc;
    }
    if (new_tasks) *new_tasks += nt;
    if (new_metrics) *new_metrics += nm;
    bnc_buf_reset(&s->tasks);
    bnc_buf_reset(&s->metrics);
    s->pending = 0;
    return 0;
}
