#include "bnc_sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bnc_sink {
    PGconn *c;
    int staged; /* staging tables exist on this connection */
    bnc_buf tasks, metrics;
    size_t pending;
};

int bnc_sink_new(PGconn *c, bnc_sink **out, bnc_err *err)
{
    bnc_sink *s = calloc(1, sizeof *s);
    if (!s)
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    s->c = c;
    *out = s;
    return 0;
}

void bnc_sink_free(bnc_sink *s)
{
    if (!s)
        return;
    bnc_buf_free(&s->tasks);
    bnc_buf_free(&s->metrics);
    free(s);
}

size_t bnc_sink_pending(const bnc_sink *s) { return s->pending; }

void bnc_format_timestamp(double epoch_s, char *buf, size_t n)
{
    time_t sec = (time_t)floor(epoch_s);
    long usec = (long)((epoch_s - (double)sec) * 1e6);
    if (usec > 999999)
        usec = 999999;
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
    if (rc)
        return bnc_err_set(err, BNC_ENOMEM, "database sink: out of memory");
    s->pending++;
    return 0;
}

static uint64_t tuples(PGresult *r)
{
    const char *n = PQcmdTuples(r);
    return n && *n ? strtoull(n, NULL, 10) : 0;
}

int bnc_sink_flush(bnc_sink *s, uint64_t *new_tasks, uint64_t *new_metrics, bnc_err *err)
{
    if (s->pending == 0)
        return 0;
    int rc = 0;
    if (!s->staged) {
        rc = bnc_db_exec(s->c,
                         "CREATE TEMP TABLE IF NOT EXISTS bnc_stage_tasks (LIKE tasks) "
                         "ON COMMIT DELETE ROWS;"
                         "CREATE TEMP TABLE IF NOT EXISTS bnc_stage_metrics (LIKE metrics) "
                         "ON COMMIT DELETE ROWS",
                         err);
        if (rc)
            return rc;
        s->staged = 1;
    }
    rc = bnc_db_exec(s->c, "BEGIN", err);
    if (!rc)
        rc = bnc_db_copy(s->c, "COPY bnc_stage_tasks FROM STDIN", s->tasks.p, s->tasks.n, err);
    if (!rc && s->metrics.n)
        rc = bnc_db_copy(s->c, "COPY bnc_stage_metrics FROM STDIN", s->metrics.p, s->metrics.n,
                         err);
    PGresult *r = NULL;
    uint64_t nt = 0, nm = 0;
    /* A finished task replaces an earlier failure; a done task stays. */
    if (!rc)
        rc = bnc_db_query(s->c,
                          "INSERT INTO tasks SELECT DISTINCT ON (id) * FROM bnc_stage_tasks "
                          "ORDER BY id, (status = 'done') DESC, finished_at DESC "
                          "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                          "attempts = excluded.attempts, rank = excluded.rank, host = excluded.host, "
                          "started_at = excluded.started_at, finished_at = excluded.finished_at, "
                          "error = excluded.error WHERE tasks.status <> 'done'",
                          0, NULL, &r, err);
    if (!rc) {
        nt = tuples(r);
        PQclear(r);
        rc = bnc_db_query(s->c,
                          "INSERT INTO metrics SELECT * FROM bnc_stage_metrics "
                          "ON CONFLICT DO NOTHING",
                          0, NULL, &r, err);
    }
    if (!rc) {
        nm = tuples(r);
        PQclear(r);
        rc = bnc_db_exec(s->c, "COMMIT", err);
    }
    if (rc) {
        PQclear(PQexec(s->c, "ROLLBACK"));
        return rc;
    }
    if (new_tasks)
        *new_tasks += nt;
    if (new_metrics)
        *new_metrics += nm;
    bnc_buf_reset(&s->tasks);
    bnc_buf_reset(&s->metrics);
    s->pending = 0;
    return 0;
}
