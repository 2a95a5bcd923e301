/* Loading model files: files of BNC_MMAP_THRESHOLD bytes or more are
 * memory-mapped read-only (zero copy, madvise hints), smaller ones are read
 * into memory. A bnc_mcache lets one process (a worker running many tasks)
 * reuse an open file across tasks, keyed by path, size and mtime, so a file
 * rewritten in place is never served stale. No global state: the cache is an
 * object the caller owns. Not thread-safe: one cache per thread. */
#ifndef BNC_MFILE_H
#define BNC_MFILE_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_MMAP_THRESHOLD ((size_t)64 << 20)

typedef struct bnc_mfile {
    char *path;
    const uint8_t *data; /* size bytes, read-only */
    size_t size;
    int mapped; /* 1: mmap'd, 0: read into a malloc'd buffer */
    int64_t mtime_ns;
    uint64_t dev, ino;
    int refs; /* owners: callers holding it plus the cache */
} bnc_mfile;

/* Opens path: mmap when its size >= mmap_threshold (0: BNC_MMAP_THRESHOLD),
 * else reads it. *out is owned by the caller (bnc_mfile_release). Fails with
 * BNC_EIO naming the path. An empty file is allowed (data non-NULL). */
int bnc_mfile_open(const char *path, size_t mmap_threshold, bnc_mfile **out, bnc_err *err);
/* Drops one reference; unmaps or frees at the last. NULL is a no-op. */
void bnc_mfile_release(bnc_mfile *f);
/* Hints the kernel about an upcoming access pattern of [off, off+n) of a
 * mapped file (sequential read-ahead); no-op for read files. */
void bnc_mfile_advise_sequential(const bnc_mfile *f, uint64_t off, uint64_t n);
/* Tells the kernel [off, off+n) will not be needed again soon. */
void bnc_mfile_advise_done(const bnc_mfile *f, uint64_t off, uint64_t n);

typedef struct bnc_mcache bnc_mcache;

/* A cache holding at most max_entries open files (0: 16). NULL on OOM. */
bnc_mcache *bnc_mcache_new(size_t max_entries, size_t mmap_threshold);
/* Releases the cache's references (files still held by callers live on). */
void bnc_mcache_free(bnc_mcache *c);
/* Returns a reference to path's contents: the cached one when path, size and
 * mtime (and device/inode) still match, else a fresh open that replaces the
 * stale entry (evicting the least recently used one when full). The caller
 * releases *out with bnc_mfile_release. */
int bnc_mcache_get(bnc_mcache *c, const char *path, bnc_mfile **out, bnc_err *err);
/* Counters for tests and progress lines. */
typedef struct bnc_mcache_stats {
    uint64_t hits, misses, stale;
    size_t entries;
} bnc_mcache_stats;
void bnc_mcache_stats_get(const bnc_mcache *c, bnc_mcache_stats *out);

#endif
