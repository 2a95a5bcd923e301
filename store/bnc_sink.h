/* The PostgreSQL sink for task results: rows are buffered as COPY text. A
 * flush, in one transaction, COPYs the task rows into a staging table, moves
 * them into `tasks` with INSERT ... ON CONFLICT ... RETURNING, and COPYs
 * straight into `metrics` the metric rows of the tasks that insert stored as
 * new, so a replayed result never makes a duplicate row. */
#ifndef BNC_SINK_H
#define BNC_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "bnc.pb-c.h"
#include "bnc_db.h"
#include "bnc_err.h"
#include "bnc_journal.h"

typedef struct bnc_sink bnc_sink;

/* Creates a sink writing through c (borrowed; must outlive the sink). */
int bnc_sink_new(PGconn *c, bnc_sink **out, bnc_err *err);
void bnc_sink_free(bnc_sink *s);
/* Buffers one result (its task row and its metric rows). */
int bnc_sink_add(bnc_sink *s, const Bnc__TaskResult *r, bnc_err *err);
/* Results buffered and not yet flushed. */
size_t bnc_sink_pending(const bnc_sink *s);
/* Loads the buffered rows. Adds the rows that were new to *new_tasks and
 * *new_metrics (either may be NULL). On failure the buffer is kept, so a
 * later flush (or `bnc db sync` from the journal) can load it. */
int bnc_sink_flush(bnc_sink *s, uint64_t *new_tasks, uint64_t *new_metrics, bnc_err *err);

/* What loading a journal did. */
typedef struct bnc_sync_result {
    uint64_t results;                /* results read (that verified) */
    uint64_t new_tasks, new_metrics; /* rows that were new */
    bnc_journal_check check;         /* what was skipped */
    char status[16];                 /* the campaign's status afterwards (when settled) */
} bnc_sync_result;

/* Loads every result of the journal at path that verifies through c,
 * creating the campaign row from the journal's header when missing (a stored
 * campaign with another spec hash is BNC_EINVAL); idempotent. With settle,
 * the campaign's status is then set from its task rows
 * (bnc_store_campaign_settle). Damage is reported in out->check, not as an
 * error. */
int bnc_journal_load(PGconn *c, const char *path, int settle, bnc_sync_result *out, bnc_err *err);

/* `bnc db sync`: connects to db_url (NULL: the default), migrates, and loads
 * the journal with settle. A damaged journal has every result that verifies
 * loaded and then fails with BNC_EFORMAT describing what was skipped, unless
 * salvage accepts the loss. */
int bnc_journal_sync_db(const char *path, const char *db_url, int salvage, bnc_sync_result *out,
                        bnc_err *err);

/* ---- a sink that outlives an outage of the server ---------------------- */

typedef struct bnc_live_sink bnc_live_sink;

/* What bnc_live_sink_poll saw happen. */
enum { BNC_LIVE_QUIET = 0, BNC_LIVE_LOST = 1, BNC_LIVE_BACK = 2 };

/* Creates a sink loading results through c, which it owns from now on (also
 * on failure). url (NULL: the default) is where it reconnects after an
 * outage; journal is the path of the journal every result also goes to,
 * whose backlog it loads when the server is back. */
int bnc_live_sink_new(PGconn *c, const char *url, const char *journal, bnc_live_sink **out,
                      bnc_err *err);
/* Closes the connection and frees; NULL is a no-op. */
void bnc_live_sink_free(bnc_live_sink *s);
/* Buffers r while the database is up; while it is down, does nothing (the
 * journal holds r and is loaded when the server is back). */
void bnc_live_sink_add(bnc_live_sink *s, const Bnc__TaskResult *r);
/* Call after the journal was synced. While up: flushes when force, at 20000
 * buffered results or every 0.5 s; a failed flush drops the connection and
 * the buffer (BNC_LIVE_LOST; bnc_live_sink_error says why). While down: tries
 * to reconnect when the backoff allows it (0.5 s, doubling to 5 s) or with
 * force, and on success loads the journal's backlog (BNC_LIVE_BACK; *loaded,
 * may be NULL, is the results read). New rows are added to *nt and *nm. */
int bnc_live_sink_poll(bnc_live_sink *s, double now, int force, uint64_t *nt, uint64_t *nm,
                       uint64_t *loaded);
/* 1 while the database is reachable. */
int bnc_live_sink_up(const bnc_live_sink *s);
/* The reason of the last outage ("" when none). */
const char *bnc_live_sink_error(const bnc_live_sink *s);
/* The current connection (borrowed), NULL while down. */
PGconn *bnc_live_sink_conn(bnc_live_sink *s);
/* Outages seen so far. */
unsigned bnc_live_sink_outages(const bnc_live_sink *s);

/* Formats wall-clock seconds as a timestamptz literal in UTC. */
void bnc_format_timestamp(double epoch_s, char *buf, size_t n);

#endif
