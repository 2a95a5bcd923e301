/* `bnc db sync`: replaying a journal into PostgreSQL after the database was
 * unreachable during a run. */
#include <stdio.h>
#include <string.h>

#include "bnc_journal.h"
#include "bnc_sink.h"

typedef struct sync_ctx {
    bnc_sink *sink;
    uint64_t results, new_tasks, new_metrics;
    const char *campaign;
    bnc_err *err;
} sync_ctx;

static int visit(const Bnc__TaskResult *r, void *arg)
{
    sync_ctx *s = arg;
    if (strcmp(r->campaign, s->campaign) != 0)
        return bnc_err_set(s->err, BNC_EFORMAT, "journal holds a result of campaign '%s' in a "
                           "journal of '%s'", r->campaign, s->campaign);
    int rc = bnc_sink_add(s->sink, r, s->err);
    s->results++;
    if (!rc && bnc_sink_pending(s->sink) >= 20000)
        rc = bnc_sink_flush(s->sink, &s->new_tasks, &s->new_metrics, s->err);
    return rc;
}

int bnc_journal_sync_db(const char *path, const char *db_url, uint64_t *results,
                        uint64_t *new_tasks, uint64_t *new_metrics, bnc_err *err)
{
    Bnc__JournalHeader *h = NULL;
    int torn = 0;
    /* Read the header first, so a bad file fails before any connection. */
    int rc = bnc_journal_scan(path, &h, NULL, NULL, &torn, err);
    if (rc)
        return rc;
    if (!h)
        return bnc_err_set(err, BNC_EFORMAT, "journal %s: empty (no header)", path);
    PGconn *c = NULL;
    rc = bnc_db_connect(db_url, &c, err);
    if (!rc)
        rc = bnc_db_migrate(c, err);
    PGresult *r = NULL;
    if (!rc) {
        const char *p[] = {h->campaign, h->spec_text, h->spec_hash};
        rc = bnc_db_query(c,
                          "INSERT INTO campaigns (name, spec_text, spec_hash) VALUES ($1, $2, $3) "
                          "ON CONFLICT (name) DO NOTHING",
                          3, p, &r, err);
        if (!rc)
            PQclear(r);
    }
    if (!rc) {
        const char *p[] = {h->campaign};
        rc = bnc_db_query(c, "SELECT spec_hash FROM campaigns WHERE name = $1", 1, p, &r, err);
        if (!rc) {
            if (strcmp(PQgetvalue(r, 0, 0), h->spec_hash) != 0)
                rc = bnc_err_set(err, BNC_EINVAL,
                                 "journal %s: campaign '%s' in the database has a different spec "
                                 "(hash %s, journal %s)",
                                 path, h->campaign, PQgetvalue(r, 0, 0), h->spec_hash);
            PQclear(r);
        }
    }
    sync_ctx s = {NULL, 0, 0, 0, h->campaign, err};
    if (!rc)
        rc = bnc_sink_new(c, &s.sink, err);
    if (!rc)
        rc = bnc_journal_scan(path, NULL, visit, &s, &torn, err);
    if (!rc)
        rc = bnc_sink_flush(s.sink, &s.new_tasks, &s.new_metrics, err);
    if (results)
        *results = s.results;
    if (new_tasks)
        *new_tasks = s.new_tasks;
    if (new_metrics)
        *new_metrics = s.new_metrics;
    bnc_sink_free(s.sink);
    bnc_db_close(c);
    bnc__journal_header__free_unpacked(h, NULL);
    return rc;
}
