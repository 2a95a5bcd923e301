/* The results journal: an append-only file of length-prefixed protobuf
 * records (JournalRecord), each with a CRC32:
 *
 *   [u32 le length][u32 le crc32 of the payload][payload]
 *
 * The first record is a JournalHeader naming the campaign. The coordinator
 * appends results, fsyncs a batch, and only then treats them as done, so an
 * acknowledged result survives a crash of the whole job. A torn record at the
 * end (crash mid-write) is ignored by readers and cut off when the journal is
 * reopened for appending. */
#ifndef BNC_JOURNAL_H
#define BNC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bnc.pb-c.h"
#include "bnc_err.h"

#define BNC_JOURNAL_MAX_RECORD (64u << 20)

typedef struct bnc_journal bnc_journal;

/* Opens path for appending, creating it with a header when it does not exist.
 * An existing journal must belong to the same campaign and spec hash
 * (BNC_EINVAL otherwise). *out owns the journal (bnc_journal_close). */
int bnc_journal_open(const char *path, const char *campaign, const char *spec_hash,
                     const char *spec_text, bnc_journal **out, bnc_err *err);
/* Buffers one result; it is durable only after bnc_journal_sync. */
int bnc_journal_append(bnc_journal *j, const Bnc__TaskResult *r, bnc_err *err);
/* Writes the buffered records and fsyncs the file. */
int bnc_journal_sync(bnc_journal *j, bnc_err *err);
/* Records appended since open (synced or not). */
uint64_t bnc_journal_count(const bnc_journal *j);
/* Syncs and closes; NULL is a no-op. */
void bnc_journal_close(bnc_journal *j);

/* Called for each result of a journal; a non-zero return stops the scan and
 * is returned by bnc_journal_scan. The result is freed after the call. */
typedef int (*bnc_journal_visit_fn)(const Bnc__TaskResult *r, void *arg);

/* Reads the journal at path: fills *header_out (caller frees with
 * bnc__journal_header__free_unpacked) when not NULL, and calls visit on
 * every complete result. A torn tail is skipped and counted in *torn (may
 * be NULL); a bad CRC or malformed record elsewhere is BNC_EFORMAT naming the
 * file and byte offset. */
int bnc_journal_scan(const char *path, Bnc__JournalHeader **header_out,
                     bnc_journal_visit_fn visit, void *arg, int *torn, bnc_err *err);

#endif
