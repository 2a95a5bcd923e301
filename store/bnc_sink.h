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

/* Loads every result of the journal at path into the database at db_url
 * (NULL: the default), creating the campaign row from the journal's header
 * when missing; idempotent. Sets the number of results read and the rows
 * that were new (any pointer may be NULL). */
int bnc_journal_sync_db(const char *path, const char *db_url, uint64_t *results,
                        uint64_t *new_tasks, uint64_t *new_metrics, bnc_err *err);

/* Formats wall-clock seconds as a timestamptz literal in UTC. */
void bnc_format_timestamp(double epoch_s, char *buf, size_t n);

#endif
