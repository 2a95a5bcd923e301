/* The results journal (see bnc_journal.h): framing, damage-tolerant reading,
 * locking, salvage. */
#include "bnc_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct bnc_journal {
    int fd;
    int v2; /* framing with the magic (every journal this bnc creates) */
    char *path;
    uint8_t *buf; /* records not yet written */
    size_t n, cap;
    uint64_t count;
};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t hdr_size(int v2)
{
    return v2 ? 12 : 8;
}

/* The CRC of a frame: of the length field and the payload (v2), of the
 * payload alone in the old framing. */
static uint32_t frame_crc(int v2, const uint8_t *len_field, const uint8_t *payload, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    if (v2) c = crc32(c, len_field, 4);
    return (uint32_t)crc32(c, payload, (uInt)len);
}

/* ---- reading ------------------------------------------------------------ */

enum { FR_OK, FR_SHORT, FR_BADCRC, FR_BAD };

/* Checks the frame at off. FR_OK: *rec owns the unpacked record and *total
 * is the frame's size. Otherwise why says what failed. */
static int frame_at(const uint8_t *p, size_t n, size_t off, int v2, Bnc__JournalRecord **rec,
                    size_t *total, char *why, size_t whyn)
{
    size_t hs = hdr_size(v2);
    *rec = NULL;
    if (n - off < hs) {
        snprintf(why, whyn, "%zu bytes at byte %zu are less than a record header", n - off, off);
        return FR_SHORT;
    }
    const uint8_t *h = p + off;
    if (v2 && get_u32(h) != BNC_JOURNAL_MAGIC) {
        snprintf(why, whyn, "no record magic at byte %zu", off);
        return FR_BAD;
    }
    const uint8_t *lenf = h + (v2 ? 4 : 0);
    uint32_t len = get_u32(lenf), crc = get_u32(lenf + 4);
    if (len > BNC_JOURNAL_MAX_RECORD) {
        snprintf(why, whyn, "record at byte %zu claims %u bytes (corrupt)", off, len);
        return FR_BAD;
    }
    if (len > n - off - hs) {
        snprintf(why, whyn, "record at byte %zu claims %u bytes, past the end of the file", off,
                 len);
        return FR_SHORT;
    }
    *total = hs + len;
    if (frame_crc(v2, lenf, h + hs, len) != crc) {
        snprintf(why, whyn, "CRC mismatch in record at byte %zu", off);
        return FR_BADCRC;
    }
    Bnc__JournalRecord *r = bnc__journal_record__unpack(NULL, len, h + hs);
    if (!r || r->body_case == BNC__JOURNAL_RECORD__BODY__NOT_SET) {
        if (r) bnc__journal_record__free_unpacked(r, NULL);
        snprintf(why, whyn, "malformed record at byte %zu", off);
        return FR_BAD;
    }
    *rec = r;
    return FR_OK;
}

/* The first offset at or after from that holds a frame that verifies; n when
 * none does. */
static size_t find_next(const uint8_t *p, size_t n, size_t from, int v2)
{
    char why[160];
    for (size_t off = from; off + hdr_size(v2) <= n; off++) {
        if (v2) {
            const uint8_t *q = memchr(p + off, 'B', n - off);
            if (!q) return n;
            off = (size_t)(q - p);
            if (off + 12 > n) return n;
            if (get_u32(q) != BNC_JOURNAL_MAGIC) continue;
        } else {
            uint32_t len = get_u32(p + off);
            if (len > BNC_JOURNAL_MAX_RECORD || len > n - off - 8) continue;
        }
        Bnc__JournalRecord *r;
        size_t total;
        if (frame_at(p, n, off, v2, &r, &total, why, sizeof why) == FR_OK) {
            bnc__journal_record__free_unpacked(r, NULL);
            return off;
        }
    }
    return n;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* A list of the frames that verified (for salvage). */
typedef struct frame_list {
    size_t *off, *len;
    size_t n, cap;
} frame_list;

static int frames_push(frame_list *l, size_t off, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        size_t *a = realloc(l->off, cap * sizeof *a);
        if (!a) return BNC_ENOMEM;
        l->off = a;
        size_t *b = realloc(l->len, cap * sizeof *b);
        if (!b) return BNC_ENOMEM;
        l->len = b;
        l->cap = cap;
    }
    l->off[l->n] = off;
    l->len[l->n++] = len;
    return 0;
}

static void note_damage(bnc_journal_check *c, const uint8_t *p, size_t a, size_t b, int v2)
{
    uint32_t recs = 0;
    if (v2) {
        for (size_t i = a; i + 4 <= b; i++)
            recs += get_u32(p + i) == BNC_JOURNAL_MAGIC;
    }
    if (recs == 0) recs = 1;
    if (c->n_damaged < BNC_JOURNAL_MAX_RANGES)
        c->damaged[c->n_damaged] = (bnc_journal_range){a, b - a, recs, recs};
    c->n_damaged++;
    c->damaged_bytes += b - a;
    c->damaged_records += recs;
}

/* Where the framing itself was wiped, the record starts undercount: estimate
 * from the size of the records that verified. */
static void estimate_damage(bnc_journal_check *c)
{
    if (!c->n_damaged || !c->records) return;
    double mean = (double)(c->size - c->damaged_bytes - c->torn_len) / (double)c->records;
    c->damaged_records = 0;
    for (size_t i = 0; i < c->n_damaged && i < BNC_JOURNAL_MAX_RANGES; i++) {
        bnc_journal_range *r = &c->damaged[i];
        double est = mean > 0 ? (double)r->len / mean + 0.5 : 1;
        r->approx = est > (double)r->records ? (uint32_t)est : r->records;
        c->damaged_records += r->approx;
    }
    if (c->n_damaged > BNC_JOURNAL_MAX_RANGES)
        c->damaged_records += c->n_damaged - BNC_JOURNAL_MAX_RANGES;
}

static int scan_mem(const uint8_t *p, size_t n, const char *name, Bnc__JournalHeader **header_out,
                    bnc_journal_visit_fn visit, void *arg, bnc_journal_check *c, frame_list *frames,
                    bnc_err *err)
{
    memset(c, 0, sizeof *c);
    c->size = n;
    if (header_out) *header_out = NULL;
    /* The framing: the magic at the start, or (its first bytes damaged) a
     * frame with the magic further on. */
    int v2 = n >= 4 && (get_u32(p) == BNC_JOURNAL_MAGIC || find_next(p, n, 0, 1) < n);
    size_t off = 0;
    int rc = 0, have_header = 0;
    char why[160];
    while (off < n && !rc) {
        Bnc__JournalRecord *rec;
        size_t total = 0;
        int st = frame_at(p, n, off, v2, &rec, &total, why, sizeof why);
        if (st != FR_OK) {
            size_t next = find_next(p, n, off + 1, v2);
            if (next == n && (st == FR_SHORT || (st == FR_BADCRC && off + total == n) ||
                              all_zero(p + off, n - off))) {
                c->torn = 1;
                c->torn_off = off;
                c->torn_len = n - off;
                break;
            }
            if (!c->first_reason[0]) snprintf(c->first_reason, sizeof c->first_reason, "%s", why);
            note_damage(c, p, off, next, v2);
            off = next;
            continue;
        }
        if (!have_header) {
            if (off != 0 || rec->body_case != BNC__JOURNAL_RECORD__BODY_HEADER) {
                bnc__journal_record__free_unpacked(rec, NULL);
                return bnc_err_set(err, BNC_EFORMAT,
                                   "journal %s: the first record is not a header that verifies%s%s",
                                   name, c->first_reason[0] ? ": " : "", c->first_reason);
            }
            have_header = 1;
            if (header_out) {
                *header_out = rec->header;
                rec->header = NULL;
                rec->body_case = BNC__JOURNAL_RECORD__BODY__NOT_SET;
            }
        } else if (rec->body_case == BNC__JOURNAL_RECORD__BODY_RESULT) {
            c->results++;
            if (visit) rc = visit(rec->result, arg);
        }
        bnc__journal_record__free_unpacked(rec, NULL);
        if (!rc && frames && frames_push(frames, off, total))
            rc = bnc_err_set(err, BNC_ENOMEM, "journal %s: out of memory", name);
        c->records++;
        off += total;
        c->valid_end = off;
    }
    estimate_damage(c);
    if (!rc && !have_header && c->n_damaged)
        rc = bnc_err_set(err, BNC_EFORMAT, "journal %s: no header that verifies: %s", name,
                         c->first_reason);
    if (rc && header_out && *header_out) {
        bnc__journal_header__free_unpacked(*header_out, NULL);
        *header_out = NULL;
    }
    return rc;
}

int bnc_journal_read_buffer(const uint8_t *data, size_t n, const char *name,
                            Bnc__JournalHeader **header_out, bnc_journal_visit_fn visit, void *arg,
                            bnc_journal_check *check, bnc_err *err)
{
    bnc_journal_check local;
    return scan_mem(data, n, name, header_out, visit, arg, check ? check : &local, NULL, err);
}

/* Maps fd's current contents read-only; *p is NULL for an empty file. */
static int map_fd(int fd, const char *path, const uint8_t **p, size_t *n, bnc_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return bnc_err_set(err, BNC_EIO, "journal %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return bnc_err_set(err, BNC_EINVAL, "journal %s: not a regular file", path);
    *p = NULL;
    *n = (size_t)st.st_size;
    if (*n == 0) return 0;
    void *m = mmap(NULL, *n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return bnc_err_set(err, BNC_EIO, "journal %s: mmap: %s", path, strerror(errno));
    *p = m;
    return 0;
}

static void unmap(const uint8_t *p, size_t n)
{
    if (p) munmap((void *)p, n);
}

int bnc_journal_read(const char *path, Bnc__JournalHeader **header_out, bnc_journal_visit_fn visit,
                     void *arg, bnc_journal_check *check, bnc_err *err)
{
    if (header_out) *header_out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bnc_err_set(err, errno == ENOENT ? BNC_EINVAL : BNC_EIO, "journal %s: %s", path,
                           strerror(errno));
    const uint8_t *p;
    size_t n;
    int rc = map_fd(fd, path, &p, &n, err);
    close(fd);
    if (rc) return rc;
    bnc_journal_check local;
    rc = scan_mem(p, n, path, header_out, visit, arg, check ? check : &local, NULL, err);
    unmap(p, n);
    return rc;
}

void bnc_journal_check_describe(const bnc_journal_check *c, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (off < n) off += (size_t)snprintf(buf + off, n - off, __VA_ARGS__);                     \
    } while (0)
    if (c->n_damaged) {
        int about_all = 0;
        for (size_t i = 0; i < c->n_damaged && i < BNC_JOURNAL_MAX_RANGES; i++)
            about_all |= c->damaged[i].approx > c->damaged[i].records;
        PUT("%zu damaged range%s skipped (%llu bytes, %s%llu record%s): %s; ", c->n_damaged,
            c->n_damaged == 1 ? "" : "s", (unsigned long long)c->damaged_bytes,
            about_all ? "about " : "", (unsigned long long)c->damaged_records,
            c->damaged_records == 1 ? "" : "s", c->first_reason);
        for (size_t i = 0; i < c->n_damaged && i < BNC_JOURNAL_MAX_RANGES; i++) {
            const bnc_journal_range *r = &c->damaged[i];
            int about = r->approx > r->records;
            PUT("%sbytes %llu-%llu (%s%u record%s)", i ? ", " : "", (unsigned long long)r->off,
                (unsigned long long)(r->off + r->len - 1), about ? "about " : "",
                about ? r->approx : r->records, (about ? r->approx : r->records) == 1 ? "" : "s");
        }
        if (c->n_damaged > BNC_JOURNAL_MAX_RANGES)
            PUT(", and %zu more", c->n_damaged - BNC_JOURNAL_MAX_RANGES);
    }
    if (c->torn)
        PUT("%storn tail of %llu bytes at byte %llu dropped", c->n_damaged ? "; " : "",
            (unsigned long long)c->torn_len, (unsigned long long)c->torn_off);
    if (!c->n_damaged && !c->torn) PUT("intact");
    PUT("; %llu results verified", (unsigned long long)c->results);
#undef PUT
}

int bnc_journal_scan(const char *path, Bnc__JournalHeader **header_out, bnc_journal_visit_fn visit,
                     void *arg, int *torn, bnc_err *err)
{
    bnc_journal_check c;
    int rc = bnc_journal_read(path, header_out, visit, arg, &c, err);
    if (torn) *torn = rc ? 0 : c.torn;
    if (!rc && c.n_damaged) {
        char d[700];
        bnc_journal_check_describe(&c, d, sizeof d);
        if (header_out && *header_out) {
            bnc__journal_header__free_unpacked(*header_out, NULL);
            *header_out = NULL;
        }
        rc = bnc_err_set(err, BNC_EFORMAT, "journal %s is damaged: %s", path, d);
    }
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

static int append_record(bnc_journal *j, const Bnc__JournalRecord *rec, bnc_err *err)
{
    size_t len = bnc__journal_record__get_packed_size(rec);
    size_t hs = hdr_size(j->v2);
    if (len > BNC_JOURNAL_MAX_RECORD)
        return bnc_err_set(err, BNC_EINVAL, "journal %s: record of %zu bytes is too large", j->path,
                           len);
    if (j->n + len + hs > j->cap) {
        size_t cap = j->cap ? j->cap : 65536;
        while (cap < j->n + len + hs)
            cap *= 2;
        uint8_t *p = realloc(j->buf, cap);
        if (!p) return bnc_err_set(err, BNC_ENOMEM, "journal %s: out of memory", j->path);
        j->buf = p;
        j->cap = cap;
    }
    uint8_t *dst = j->buf + j->n;
    uint8_t *lenf = dst + (j->v2 ? 4 : 0);
    bnc__journal_record__pack(rec, dst + hs);
    if (j->v2) put_u32(dst, BNC_JOURNAL_MAGIC);
    put_u32(lenf, (uint32_t)len);
    put_u32(lenf + 4, frame_crc(j->v2, lenf, dst + hs, len));
    j->n += len + hs;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int bnc_journal_sync(bnc_journal *j, bnc_err *err)
{
    if (j->n && write_all(j->fd, j->buf, j->n) != 0)
        return bnc_err_set(err, BNC_EIO, "journal %s: write: %s", j->path, strerror(errno));
    j->n = 0;
    if (fsync(j->fd) != 0)
        return bnc_err_set(err, BNC_EIO, "journal %s: fsync: %s", j->path, strerror(errno));
    return 0;
}

int bnc_journal_append(bnc_journal *j, const Bnc__TaskResult *r, bnc_err *err)
{
    Bnc__JournalRecord rec = BNC__JOURNAL_RECORD__INIT;
    rec.body_case = BNC__JOURNAL_RECORD__BODY_RESULT;
    rec.result = (Bnc__TaskResult *)r;
    int rc = append_record(j, &rec, err);
    if (!rc) j->count++;
    return rc;
}

uint64_t bnc_journal_count(const bnc_journal *j)
{
    return j->count;
}

const char *bnc_journal_path(const bnc_journal *j)
{
    return j->path;
}

/* An advisory write lock on the whole file, held by this open file
 * description (so closing another descriptor of the file keeps it). */
static int lock_fd(int fd, const char *path, bnc_err *err)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
    int cmd = F_OFD_SETLK;
#else
    int cmd = F_SETLK;
#endif
    if (fcntl(fd, cmd, &fl) == 0) return 0;
    if (errno == EACCES || errno == EAGAIN)
        return bnc_err_set(err, BNC_EIO,
                           "journal %s is in use: another `bnc campaign run` holds its lock "
                           "(wait for it to finish, or give this run its own --journal)",
                           path);
    return bnc_err_set(err, BNC_EIO, "journal %s: cannot lock: %s", path, strerror(errno));
}

int bnc_journal_probe_lock(const char *path, bnc_err *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return 0; /* nothing there yet (or not ours to open: open will say) */
    int rc = lock_fd(fd, path, err);
    close(fd); /* releases the probe's own lock */
    return rc;
}

static void fsync_dir_of(const char *path)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", path);
    int d = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        fsync(d);
        close(d);
    }
}

/* Writes the frames that verified into a new locked file, moves the damaged
 * file aside (a hard link, so nothing is ever overwritten) and puts the new
 * file in its place. On success *fd is the new file's descriptor. */
static int salvage(const char *path, const uint8_t *p, const frame_list *fl, int *fd,
                   char *moved_to, size_t moved_n, bnc_err *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.salvage.%ld", path, (long)getpid());
    int nfd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (nfd < 0)
        return bnc_err_set(err, BNC_EIO, "journal %s: cannot create %s: %s", path, tmp,
                           strerror(errno));
    int rc = lock_fd(nfd, tmp, err);
    for (size_t i = 0; !rc && i < fl->n; i++)
        if (write_all(nfd, p + fl->off[i], fl->len[i]) != 0)
            rc = bnc_err_set(err, BNC_EIO, "journal %s: write: %s", tmp, strerror(errno));
    if (!rc && fsync(nfd) != 0)
        rc = bnc_err_set(err, BNC_EIO, "journal %s: fsync: %s", tmp, strerror(errno));
    char aside[1100] = "";
    for (int k = 0; !rc; k++) {
        if (k == 0)
            snprintf(aside, sizeof aside, "%s.damaged", path);
        else
            snprintf(aside, sizeof aside, "%s.damaged.%d", path, k);
        if (link(path, aside) == 0) break;
        if (errno != EEXIST || k == 999)
            rc = bnc_err_set(err, BNC_EIO, "journal %s: cannot move it aside to %s: %s", path,
                             aside, strerror(errno));
    }
    if (!rc && rename(tmp, path) != 0) {
        rc = bnc_err_set(err, BNC_EIO, "journal %s: cannot replace it with %s: %s", path, tmp,
                         strerror(errno));
        unlink(aside);
    }
    if (rc) {
        close(nfd);
        unlink(tmp);
        return rc;
    }
    fsync_dir_of(path);
    snprintf(moved_to, moved_n, "%s", aside);
    *fd = nfd;
    return 0;
}

int bnc_journal_open_salvage(const char *path, const char *campaign, const char *spec_hash,
                             const char *spec_text, int salvage_ok, bnc_journal_opened *info,
                             bnc_journal **out, bnc_err *err)
{
    return bnc_journal_open_planned(path, campaign, spec_hash, spec_text, 0, salvage_ok, info, out,
                                    err);
}

int bnc_journal_open_planned(const char *path, const char *campaign, const char *spec_hash,
                             const char *spec_text, uint64_t planned, int salvage_ok,
                             bnc_journal_opened *info, bnc_journal **out, bnc_err *err)
{
    bnc_journal_opened local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    bnc_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return bnc_err_set(err, BNC_ENOMEM, "journal %s: out of memory", path);
    }
    j->v2 = 1;
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        int e = errno;
        free(j->path);
        free(j);
        return bnc_err_set(err, BNC_EIO, "journal %s: %s", path, strerror(e));
    }
    int rc = lock_fd(j->fd, path, err);
    const uint8_t *p = NULL;
    size_t n = 0;
    if (!rc) rc = map_fd(j->fd, path, &p, &n, err);
    Bnc__JournalHeader *h = NULL;
    frame_list fl = {0};
    bnc_journal_check *c = &info->check;
    if (!rc) rc = scan_mem(p, n, path, &h, NULL, NULL, c, &fl, err);
    if (!rc && n >= 4) j->v2 = get_u32(p) == BNC_JOURNAL_MAGIC || find_next(p, n, 0, 1) < n;
    if (!rc && h) {
        if (strcmp(h->campaign, campaign) != 0)
            rc = bnc_err_set(err, BNC_EINVAL, "journal %s belongs to campaign '%s', not '%s'", path,
                             h->campaign, campaign);
        else if (strcmp(h->spec_hash, spec_hash) != 0)
            rc = bnc_err_set(err, BNC_EINVAL,
                             "journal %s was written for a different spec of campaign '%s' "
                             "(hash %s, now %s)",
                             path, campaign, h->spec_hash, spec_hash);
    }
    if (h) bnc__journal_header__free_unpacked(h, NULL);
    if (!rc && c->n_damaged) {
        char d[700];
        bnc_journal_check_describe(c, d, sizeof d);
        if (!salvage_ok) {
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "journal %s is damaged: %s. It was left as it is; rerun with "
                             "--salvage to move it aside and go on with the results that "
                             "verify",
                             path, d);
        } else {
            int nfd = -1;
            rc = salvage(path, p, &fl, &nfd, info->moved_to, sizeof info->moved_to, err);
            if (!rc) {
                close(j->fd); /* the damaged file, now only at moved_to */
                j->fd = nfd;
            }
        }
    } else if (!rc && c->torn) {
        /* Cut a torn tail so new records follow the last complete one. */
        if (ftruncate(j->fd, (off_t)c->valid_end) != 0)
            rc = bnc_err_set(err, BNC_EIO, "journal %s: truncate: %s", path, strerror(errno));
    }
    unmap(p, n);
    free(fl.off);
    free(fl.len);
    if (!rc && lseek(j->fd, 0, SEEK_END) < 0)
        rc = bnc_err_set(err, BNC_EIO, "journal %s: seek: %s", path, strerror(errno));
    if (!rc && c->records == 0) {
        Bnc__JournalHeader hdr = BNC__JOURNAL_HEADER__INIT;
        hdr.campaign = (char *)campaign;
        hdr.spec_hash = (char *)spec_hash;
        hdr.spec_text = (char *)spec_text;
        hdr.planned_tasks = planned;
        Bnc__JournalRecord rec = BNC__JOURNAL_RECORD__INIT;
        rec.body_case = BNC__JOURNAL_RECORD__BODY_HEADER;
        rec.header = &hdr;
        j->v2 = 1;
        rc = append_record(j, &rec, err);
        if (!rc) rc = bnc_journal_sync(j, err);
    }
    if (rc) {
        close(j->fd);
        free(j->buf);
        free(j->path);
        free(j);
        return rc;
    }
    *out = j;
    return 0;
}

int bnc_journal_open(const char *path, const char *campaign, const char *spec_hash,
                     const char *spec_text, bnc_journal **out, bnc_err *err)
{
    return bnc_journal_open_salvage(path, campaign, spec_hash, spec_text, 0, NULL, out, err);
}

void bnc_journal_close(bnc_journal *j)
{
    if (!j) return;
    bnc_err e;
    bnc_journal_sync(j, &e);
    close(j->fd);
    free(j->buf);
    free(j->path);
    free(j);
}
