/* The results journal: an append-only file of framed protobuf records
 * (JournalRecord):
 *
 *   [u32 le magic "BNJ1"][u32 le length][u32 le crc32 of length and payload][payload]
 *
 * The first record is a JournalHeader naming the campaign. The coordinator
 * appends results, fsyncs a batch, and only then treats them as done, so an
 * acknowledged result survives a crash of the whole job. (Journals written
 * before the magic existed, [u32 length][u32 crc32 of payload][payload], are
 * still read and appended to in their own framing.)
 *
 * Damage: a reader that meets a record that does not verify resynchronises
 * on the next offset holding a record that does (magic, length, CRC and a
 * JournalRecord that unpacks), so every record that verifies is kept, before
 * and after the damage; the skipped byte ranges are reported. A torn record
 * at the very end (a crash mid-write) is reported as a torn tail and cut off
 * when the journal is reopened for appending. A journal with damage anywhere
 * else is never truncated: opening it for appending is refused, or with
 * salvage the damaged file is moved aside and a new journal holding the
 * records that verify takes its place.
 *
 * A journal open for appending holds an advisory write lock (fcntl, on the
 * open file description), so a second writer is refused. */
#ifndef BNC_JOURNAL_H
#define BNC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bnc.pb-c.h"
#include "bnc_err.h"

#define BNC_JOURNAL_MAX_RECORD (64u << 20)
#define BNC_JOURNAL_MAGIC 0x314a4e42u /* the bytes "BNJ1" */
/* Damaged ranges a check keeps (more are counted, not listed). */
#define BNC_JOURNAL_MAX_RANGES 32

typedef struct bnc_journal bnc_journal;

/* A run of bytes that held no record that verifies. */
typedef struct bnc_journal_range {
    uint64_t off, len;
    uint32_t records; /* record starts (magics) seen in it (at least 1) */
    uint32_t approx;  /* records its size suggests (the mean verified record size) */
} bnc_journal_range;

/* What a read of a journal found. */
typedef struct bnc_journal_check {
    uint64_t size;      /* bytes in the file */
    uint64_t records;   /* records that verified (the header included) */
    uint64_t results;   /* results among them */
    uint64_t valid_end; /* end of the last record that verified */
    int torn;           /* the file ends in a torn record: */
    uint64_t torn_off, torn_len;
    size_t n_damaged; /* damaged ranges (before the torn tail, if any) */
    bnc_journal_range damaged[BNC_JOURNAL_MAX_RANGES];
    uint64_t damaged_bytes;
    uint64_t damaged_records; /* the larger of records and approx, summed */
    char first_reason[160];   /* why the first damaged range failed to verify */
} bnc_journal_check;

/* Writes what c found in one line ("2 damaged ranges skipped: bytes
 * 120-183 (1 record), ...; torn tail of 6 bytes at byte 9000 dropped"), or
 * "intact" when nothing was skipped. */
void bnc_journal_check_describe(const bnc_journal_check *c, char *buf, size_t n);

/* Opens path for appending, creating it with a header when it does not exist.
 * An existing journal must belong to the same campaign and spec hash
 * (BNC_EINVAL otherwise); a torn tail is cut off. A journal locked by another
 * writer is refused (BNC_EIO, "in use"). A damaged journal (see above) is
 * refused with BNC_EFORMAT describing the damage and left as it is. *out owns
 * the journal (bnc_journal_close). */
int bnc_journal_open(const char *path, const char *campaign, const char *spec_hash,
                     const char *spec_text, bnc_journal **out, bnc_err *err);

/* BNC_EIO ("in use") when another writer holds the lock of the journal at
 * path; 0 when it is free or does not exist. Lets a run refuse before it
 * writes anywhere else; bnc_journal_open takes the lock itself. */
int bnc_journal_probe_lock(const char *path, bnc_err *err);

/* What bnc_journal_open_salvage did. */
typedef struct bnc_journal_opened {
    bnc_journal_check check; /* what the existing file held */
    char moved_to[1100];     /* where a damaged file went ("" when it was not moved) */
} bnc_journal_opened;

/* bnc_journal_open; with salvage, a damaged journal is moved aside to
 * PATH.damaged (PATH.damaged.N when taken; never over an existing file) and
 * replaced, atomically, by a journal holding every record that verified; the
 * new file is locked before it takes PATH's place. info (may be NULL) tells
 * what was found and done. */
int bnc_journal_open_salvage(const char *path, const char *campaign, const char *spec_hash,
                             const char *spec_text, int salvage, bnc_journal_opened *info,
                             bnc_journal **out, bnc_err *err);
/* bnc_journal_open_salvage that records, in a new journal's header, the
 * number of tasks the campaign's plan holds (bnc db sync settles the
 * campaign's status against it). */
int bnc_journal_open_planned(const char *path, const char *campaign, const char *spec_hash,
                             const char *spec_text, uint64_t planned, int salvage,
                             bnc_journal_opened *info, bnc_journal **out, bnc_err *err);
/* Buffers one result; it is durable only after bnc_journal_sync. */
int bnc_journal_append(bnc_journal *j, const Bnc__TaskResult *r, bnc_err *err);
/* Writes the buffered records and fsyncs the file. */
int bnc_journal_sync(bnc_journal *j, bnc_err *err);
/* Records appended since open (synced or not). */
uint64_t bnc_journal_count(const bnc_journal *j);
/* The path the journal was opened with (borrowed). */
const char *bnc_journal_path(const bnc_journal *j);
/* Syncs, unlocks and closes; NULL is a no-op. */
void bnc_journal_close(bnc_journal *j);

/* Called for each result of a journal; a non-zero return stops the scan and
 * is returned by the reader. The result is freed after the call. */
typedef int (*bnc_journal_visit_fn)(const Bnc__TaskResult *r, void *arg);

/* Reads the journal at path, skipping damage: fills *header_out (caller
 * frees with bnc__journal_header__free_unpacked) when not NULL, calls visit
 * on every result that verifies, in file order, and fills *check (may be
 * NULL) with what was skipped. Damage is not an error here: the caller reads
 * check. Fails on an unreadable file (BNC_EIO; BNC_EINVAL when missing), on
 * a journal whose first record is not a header that verifies (BNC_EFORMAT),
 * or with visit's status. */
int bnc_journal_read(const char *path, Bnc__JournalHeader **header_out, bnc_journal_visit_fn visit,
                     void *arg, bnc_journal_check *check, bnc_err *err);
/* bnc_journal_read on n bytes in memory; name is used in messages. */
int bnc_journal_read_buffer(const uint8_t *data, size_t n, const char *name,
                            Bnc__JournalHeader **header_out, bnc_journal_visit_fn visit, void *arg,
                            bnc_journal_check *check, bnc_err *err);

/* bnc_journal_read, strict: every record that verifies is visited, and then
 * damage anywhere but a torn tail is BNC_EFORMAT naming the file and the
 * skipped byte ranges. A torn tail sets *torn (may be NULL). */
int bnc_journal_scan(const char *path, Bnc__JournalHeader **header_out, bnc_journal_visit_fn visit,
                     void *arg, int *torn, bnc_err *err);

#endif
