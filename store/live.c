/* A results sink that outlives an outage of the server (see bnc_sink.h):
 * while the database is away the journal keeps every result; the sink
 * reconnects with backoff and loads the journal's backlog when it is back.
 * Loading is idempotent, so the backlog may overlap what was stored. */
#include <stdlib.h>
#include <string.h>

#include "bnc_sink.h"

#define LIVE_BATCH 20000
#define LIVE_EVERY_S 0.5
#define LIVE_BACKOFF_MIN_S 0.5
#define LIVE_BACKOFF_MAX_S 5.0

struct bnc_live_sink {
    char *url, *journal;
    PGconn *c;
    bnc_sink *sink; /* NULL while down */
    double last_flush, next_try, backoff;
    unsigned outages;
    char error[BNC_ERR_MSG_MAX];
};

int bnc_live_sink_new(PGconn *c, const char *url, const char *journal, bnc_live_sink **out,
                      bnc_err *err)
{
    bnc_live_sink *s = calloc(1, sizeof *s);
    if (!s || (url && !(s->url = strdup(url))) || !(s->journal = strdup(journal))) {
        if (s) free(s->url);
        free(s);
        bnc_db_close(c);
        return bnc_err_set(err, BNC_ENOMEM, "database sink: out of memory");
    }
    s->c = c;
    s->backoff = LIVE_BACKOFF_MIN_S;
    int rc = bnc_sink_new(c, &s->sink, err);
    if (rc) {
        bnc_live_sink_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void bnc_live_sink_free(bnc_live_sink *s)
{
    if (!s) return;
    bnc_sink_free(s->sink);
    bnc_db_close(s->c);
    free(s->url);
    free(s->journal);
    free(s);
}

void bnc_live_sink_add(bnc_live_sink *s, const Bnc__TaskResult *r)
{
    if (!s->sink) return;
    bnc_err e;
    /* Only memory can fail here; the journal still has r, so treat it as
     * an outage and let the backlog load bring r in. */
    if (bnc_sink_add(s->sink, r, &e)) {
        snprintf(s->error, sizeof s->error, "%s", e.msg);
        bnc_sink_free(s->sink);
        s->sink = NULL;
        s->outages++;
    }
}

static void go_down(bnc_live_sink *s, double now, const bnc_err *e)
{
    snprintf(s->error, sizeof s->error, "%s", e->msg);
    bnc_sink_free(s->sink);
    s->sink = NULL;
    bnc_db_close(s->c);
    s->c = NULL;
    s->outages++;
    s->backoff = LIVE_BACKOFF_MIN_S;
    s->next_try = now + s->backoff;
}

int bnc_live_sink_poll(bnc_live_sink *s, double now, int force, uint64_t *nt, uint64_t *nm,
                       uint64_t *loaded)
{
    bnc_err e;
    if (s->sink) {
        size_t pending = bnc_sink_pending(s->sink);
        if (!pending || (!force && pending < LIVE_BATCH && now - s->last_flush < LIVE_EVERY_S))
            return BNC_LIVE_QUIET;
        s->last_flush = now;
        if (bnc_sink_flush(s->sink, nt, nm, &e) == 0) return BNC_LIVE_QUIET;
        go_down(s, now, &e);
        return BNC_LIVE_LOST;
    }
    if (!force && now < s->next_try) return BNC_LIVE_QUIET;
    bnc_sync_result res;
    bnc_db_close(s->c); /* a connection left from an outage the add saw */
    s->c = NULL;
    int rc = bnc_db_connect(s->url, &s->c, &e);
    if (!rc) rc = bnc_journal_load(s->c, s->journal, 0, &res, &e);
    if (!rc) rc = bnc_sink_new(s->c, &s->sink, &e);
    if (rc) {
        /* Still away (or not ready): try again later, less often. */
        bnc_db_close(s->c);
        s->c = NULL;
        s->backoff = s->backoff * 2 > LIVE_BACKOFF_MAX_S ? LIVE_BACKOFF_MAX_S : s->backoff * 2;
        s->next_try = now + s->backoff;
        return BNC_LIVE_QUIET;
    }
    if (nt) *nt += res.new_tasks;
    if (nm) *nm += res.new_metrics;
    if (loaded) *loaded = res.results;
    s->last_flush = now;
    return BNC_LIVE_BACK;
}

int bnc_live_sink_up(const bnc_live_sink *s)
{
    return s->sink != NULL;
}

const char *bnc_live_sink_error(const bnc_live_sink *s)
{
    return s->error;
}

PGconn *bnc_live_sink_conn(bnc_live_sink *s)
{
    return s->sink ? s->c : NULL;
}

unsigned bnc_live_sink_outages(const bnc_live_sink *s)
{
    return s->outages;
}
