/* mmap or read a model file, and a per-process cache of open files. */
#include "bnc_mfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t stat_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int bnc_mfile_open(const char *path, size_t mmap_threshold, bnc_mfile **out, bnc_err *err)
{
    *out = NULL;
    if (!mmap_threshold) mmap_threshold = BNC_MMAP_THRESHOLD;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno; /* a missing input is bad input (exit 2), not an I/O failure */
        return bnc_err_set(err, e == ENOENT || e == ENOTDIR ? BNC_EINVAL : BNC_EIO,
                           "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return bnc_err_set(err, BNC_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return bnc_err_set(err, BNC_EINVAL, "%s: is %s, not a regular file", path,
                           S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
    }
    bnc_mfile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        close(fd);
        return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
    }
    f->size = (size_t)st.st_size;
    f->mtime_ns = stat_mtime_ns(&st);
    f->dev = (uint64_t)st.st_dev;
    f->ino = (uint64_t)st.st_ino;
    f->refs = 1;
    if (f->size >= mmap_threshold && f->size > 0) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(f->path);
            free(f);
            return bnc_err_set(err, BNC_EIO, "%s: mmap of %zu bytes failed: %s", path,
                               (size_t)st.st_size, strerror(e));
        }
        /* Model loading reads headers then tensors mostly front to back. */
        madvise(p, f->size, MADV_WILLNEED);
        f->data = p;
        f->mapped = 1;
    } else {
        uint8_t *p = malloc(f->size ? f->size : 1);
        size_t got = 0;
        while (p && got < f->size) {
            ssize_t k = read(fd, p + got, f->size - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            got += (size_t)k;
        }
        if (!p || got != f->size) {
            int e = errno;
            free(p);
            close(fd);
            free(f->path);
            free(f);
            return bnc_err_set(err, p ? BNC_EIO : BNC_ENOMEM,
                               "%s: read failed after %zu of %zu bytes%s%s", path, got,
                               (size_t)st.st_size, e ? ": " : "", e ? strerror(e) : "");
        }
        f->data = p;
    }
    close(fd);
    *out = f;
    return 0;
}

void bnc_mfile_release(bnc_mfile *f)
{
    if (!f || --f->refs > 0) return;
    if (f->mapped)
        munmap((void *)f->data, f->size);
    else
        free((void *)f->data);
    free(f->path);
    free(f);
}

static void advise(const bnc_mfile *f, uint64_t off, uint64_t n, int how)
{
    if (!f->mapped || off >= f->size) return;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t start = off / page * page;
    uint64_t end = off + n > f->size ? f->size : off + n;
    if (end > start) madvise((void *)(f->data + start), (size_t)(end - start), how);
}

void bnc_mfile_advise_sequential(const bnc_mfile *f, uint64_t off, uint64_t n)
{
    advise(f, off, n, MADV_SEQUENTIAL);
    advise(f, off, n, MADV_WILLNEED);
}

void bnc_mfile_advise_done(const bnc_mfile *f, uint64_t off, uint64_t n)
{
    /* Only whole pages inside the range, so a neighbour's data stays. */
    if (!f->mapped) return;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t start = (off + page - 1) / page * page;
    uint64_t end = (off + n) / page * page;
    if (end > start && end <= f->size)
        madvise((void *)(f->data + start), (size_t)(end - start), MADV_DONTNEED);
}

/* ---- cache ------------------------------------------------------------------ */

typedef struct entry {
    bnc_mfile *f;
    uint64_t last_use;
} entry;

struct bnc_mcache {
    entry *e;
    size_t n, cap;
    size_t threshold;
    uint64_t clock;
    bnc_mcache_stats stats;
};

bnc_mcache *bnc_mcache_new(size_t max_entries, size_t mmap_threshold)
{
    bnc_mcache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = max_entries ? max_entries : 16;
    c->threshold = mmap_threshold;
    c->e = calloc(c->cap, sizeof *c->e);
    if (!c->e) {
        free(c);
        return NULL;
    }
    return c;
}

void bnc_mcache_free(bnc_mcache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        bnc_mfile_release(c->e[i].f);
    free(c->e);
    free(c);
}

static void drop(bnc_mcache *c, size_t i)
{
    bnc_mfile_release(c->e[i].f);
    c->e[i] = c->e[--c->n];
}

int bnc_mcache_get(bnc_mcache *c, const char *path, bnc_mfile **out, bnc_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return bnc_err_set(err, BNC_EIO, "%s: cannot open: %s", path, strerror(errno));
    for (size_t i = 0; i < c->n; i++) {
        bnc_mfile *f = c->e[i].f;
        if (strcmp(f->path, path) != 0) continue;
        if (f->size == (size_t)st.st_size && f->mtime_ns == stat_mtime_ns(&st) &&
            f->ino == (uint64_t)st.st_ino && f->dev == (uint64_t)st.st_dev) {
            c->e[i].last_use = ++c->clock;
            f->refs++;
            c->stats.hits++;
            *out = f;
            return 0;
        }
        c->stats.stale++;
        drop(c, i);
        break;
    }
    bnc_mfile *f;
    int rc = bnc_mfile_open(path, c->threshold, &f, err);
    if (rc) return rc;
    c->stats.misses++;
    if (c->n == c->cap) {
        size_t lru = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->e[i].last_use < c->e[lru].last_use) lru = i;
        drop(c, lru);
    }
    f->refs++; /* the cache's reference */
    c->e[c->n].f = f;
    c->e[c->n].last_use = ++c->clock;
    c->n++;
    *out = f;
    return 0;
}

void bnc_mcache_stats_get(const bnc_mcache *c, bnc_mcache_stats *out)
{
    *out = c->stats;
    out->entries = c->n;
}
