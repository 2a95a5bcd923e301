/* Loading a journal into PostgreSQL: `bnc db sync` after the database was
 * unreachable during a run, and the backlog of a sink that reconnected. */
#include <stdio.h>
#include <string.h>

#include "bnc_journal.h"
#include "bnc_sink.h"
#include "bnc_store.h"

typedef struct sync_ctx {
    bnc_sink *sink;
    bnc_sync_result *out;
    const char *campaign;
    bnc_err *err;
} sync_ctx;

static int visit(const Bnc__TaskResult *r, void *arg)
{
    sync_ctx *s = arg;
    if (strcmp(r->campaign, s->campaign) != 0)
        return bnc_err_set(s->err, BNC_EFORMAT,
                           "journal holds a result of campaign '%s' in a journal of '%s'",
                           r->campaign, s->campaign);
    int rc = bnc_sink_add(s->sink, r, s->err);
    s->out->results++;
    if (!rc && bnc_sink_pending(s->sink) >= 20000)
        rc = bnc_sink_flush(s->sink, &s->out->new_tasks, &s->out->new_metrics, s->err);
    return rc;
}

int bnc_journal_load(PGconn *c, const char *path, int settle, bnc_sync_result *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    Bnc__JournalHeader *h = NULL;
    int rc = bnc_journal_read(path, &h, NULL, NULL, &out->check, err);
    if (rc) return rc;
    if (!h) return bnc_err_set(err, BNC_EFORMAT, "journal %s: empty (no header)", path);
    bnc_campaign_def d = {
        h->campaign, "", h->spec_text, h->spec_hash, path, (int64_t)h->planned_tasks, "running", 0};
    rc = bnc_store_campaign_ensure(c, &d, err);
    sync_ctx s = {NULL, out, h->campaign, err};
    if (!rc) rc = bnc_sink_new(c, &s.sink, err);
    if (!rc) {
        out->results = 0;
        rc = bnc_journal_read(path, NULL, visit, &s, &out->check, err);
    }
    if (!rc) rc = bnc_sink_flush(s.sink, &out->new_tasks, &out->new_metrics, err);
    if (!rc && settle) rc = bnc_store_campaign_settle(c, h->campaign, out->status, err);
    bnc_sink_free(s.sink);
    bnc__journal_header__free_unpacked(h, NULL);
    return rc;
}

int bnc_journal_sync_db(const char *path, const char *db_url, int salvage, bnc_sync_result *out,
                        bnc_err *err)
{
    memset(out, 0, sizeof *out);
    /* Read the journal first, so a bad file fails before any connection. */
    Bnc__JournalHeader *h = NULL;
    int rc = bnc_journal_read(path, &h, NULL, NULL, &out->check, err);
    if (rc) return rc;
    if (!h) return bnc_err_set(err, BNC_EFORMAT, "journal %s: empty (no header)", path);
    bnc__journal_header__free_unpacked(h, NULL);
    PGconn *c = NULL;
    rc = bnc_db_connect(db_url, &c, err);
    if (!rc) rc = bnc_db_migrate(c, err);
    if (!rc) rc = bnc_journal_load(c, path, 1, out, err);
    bnc_db_close(c);
    if (!rc && out->check.n_damaged && !salvage) {
        char d[700];
        bnc_journal_check_describe(&out->check, d, sizeof d);
        rc = bnc_err_set(err, BNC_EFORMAT,
                         "journal %s is damaged: %s; the %llu results that verify were loaded "
                         "(pass --salvage to accept the loss)",
                         path, d, (unsigned long long)out->results);
    }
    return rc;
}
