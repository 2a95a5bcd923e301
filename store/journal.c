#include "bnc_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct bnc_journal {
    int fd;
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

static int append_record(bnc_journal *j, const Bnc__JournalRecord *rec, bnc_err *err)
{
    size_t len = bnc__journal_record__get_packed_size(rec);
    if (len > BNC_JOURNAL_MAX_RECORD)
        return bnc_err_set(err, BNC_EINVAL, "journal %s: record of %zu bytes is too large",
                           j->path, len);
    if (j->n + len + 8 > j->cap) {
        size_t cap = j->cap ? j->cap : 65536;
        while (cap < j->n + len + 8)
            cap *= 2;
        uint8_t *p = realloc(j->buf, cap);
        if (!p)
            return bnc_err_set(err, BNC_ENOMEM, "journal %s: out of memory", j->path);
        j->buf = p;
        j->cap = cap;
    }
    uint8_t *dst = j->buf + j->n;
    bnc__journal_record__pack(rec, dst + 8);
    put_u32(dst, (uint32_t)len);
    put_u32(dst + 4, (uint32_t)crc32(0L, dst + 8, (uInt)len));
    j->n += len + 8;
    return 0;
}

int bnc_journal_sync(bnc_journal *j, bnc_err *err)
{
    size_t off = 0;
    while (off < j->n) {
        ssize_t w = write(j->fd, j->buf + off, j->n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return bnc_err_set(err, BNC_EIO, "journal %s: write: %s", j->path, strerror(errno));
        }
        off += (size_t)w;
    }
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
    if (!rc)
        j->count++;
    return rc;
}

uint64_t bnc_journal_count(const bnc_journal *j) { return j->count; }

/* Scans a journal, returning the byte length of its valid prefix in *valid. */
static int scan_fd(int fd, const char *path, Bnc__JournalHeader **header_out,
                   bnc_journal_visit_fn visit, void *arg, int *torn, off_t *valid, bnc_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return bnc_err_set(err, BNC_EIO, "journal %s: %s", path, strerror(errno));
    off_t size = st.st_size, off = 0;
    uint8_t *payload = NULL;
    size_t pcap = 0;
    int rc = 0, nrec = 0;
    if (torn)
        *torn = 0;
    if (header_out)
        *header_out = NULL;
    while (off < size) {
        uint8_t hdr[8];
        if (size - off < 8 || pread(fd, hdr, 8, off) != 8) {
            if (torn)
                *torn = 1;
            break;
        }
        uint32_t len = get_u32(hdr), crc = get_u32(hdr + 4);
        if (len > BNC_JOURNAL_MAX_RECORD) {
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "journal %s: record at byte %lld claims %u bytes (corrupt)", path,
                             (long long)off, len);
            break;
        }
        if ((off_t)len > size - off - 8) {
            if (torn)
                *torn = 1; /* the last write was cut short */
            break;
        }
        if (len > pcap) {
            uint8_t *p = realloc(payload, len ? len : 1);
            if (!p) {
                rc = bnc_err_set(err, BNC_ENOMEM, "journal %s: out of memory", path);
                break;
            }
            payload = p;
            pcap = len;
        }
        if (pread(fd, payload, len, off + 8) != (ssize_t)len) {
            rc = bnc_err_set(err, BNC_EIO, "journal %s: read error at byte %lld", path,
                             (long long)off);
            break;
        }
        if ((uint32_t)crc32(0L, payload, len) != crc) {
            /* A bad CRC on the very last record is a torn write too. */
            if (off + 8 + (off_t)len == size) {
                if (torn)
                    *torn = 1;
                break;
            }
            rc = bnc_err_set(err, BNC_EFORMAT, "journal %s: CRC mismatch in record at byte %lld",
                             path, (long long)off);
            break;
        }
        Bnc__JournalRecord *rec = bnc__journal_record__unpack(NULL, len, payload);
        if (!rec) {
            rc = bnc_err_set(err, BNC_EFORMAT, "journal %s: malformed record at byte %lld", path,
                             (long long)off);
            break;
        }
        if (nrec == 0 && rec->body_case != BNC__JOURNAL_RECORD__BODY_HEADER) {
            bnc__journal_record__free_unpacked(rec, NULL);
            rc = bnc_err_set(err, BNC_EFORMAT, "journal %s: first record is not a header", path);
            break;
        }
        if (rec->body_case == BNC__JOURNAL_RECORD__BODY_HEADER) {
            if (header_out && !*header_out) {
                *header_out = rec->header;
                rec->header = NULL;
                rec->body_case = BNC__JOURNAL_RECORD__BODY__NOT_SET;
            }
        } else if (rec->body_case == BNC__JOURNAL_RECORD__BODY_RESULT && visit) {
            rc = visit(rec->result, arg);
        }
        bnc__journal_record__free_unpacked(rec, NULL);
        nrec++;
        off += 8 + (off_t)len;
        if (rc)
            break;
    }
    free(payload);
    if (valid)
        *valid = off;
    return rc;
}

int bnc_journal_scan(const char *path, Bnc__JournalHeader **header_out,
                     bnc_journal_visit_fn visit, void *arg, int *torn, bnc_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bnc_err_set(err, errno == ENOENT ? BNC_EINVAL : BNC_EIO, "journal %s: %s", path,
                           strerror(errno));
    int rc = scan_fd(fd, path, header_out, visit, arg, torn, NULL, err);
    close(fd);
    return rc;
}

int bnc_journal_open(const char *path, const char *campaign, const char *spec_hash,
                     const char *spec_text, bnc_journal **out, bnc_err *err)
{
    bnc_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return bnc_err_set(err, BNC_ENOMEM, "journal %s: out of memory", path);
    }
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        int e = errno;
        free(j->path);
        free(j);
        return bnc_err_set(err, BNC_EIO, "journal %s: %s", path, strerror(e));
    }
    Bnc__JournalHeader *h = NULL;
    off_t valid = 0;
    int rc = scan_fd(j->fd, path, &h, NULL, NULL, NULL, &valid, err);
    if (!rc && h) {
        if (strcmp(h->campaign, campaign) != 0)
            rc = bnc_err_set(err, BNC_EINVAL, "journal %s belongs to campaign '%s', not '%s'",
                             path, h->campaign, campaign);
        else if (strcmp(h->spec_hash, spec_hash) != 0)
            rc = bnc_err_set(err, BNC_EINVAL,
                             "journal %s was written for a different spec of campaign '%s' "
                             "(hash %s, now %s)",
                             path, campaign, h->spec_hash, spec_hash);
    }
    if (h)
        bnc__journal_header__free_unpacked(h, NULL);
    /* Cut a torn tail so new records follow the last complete one. */
    if (!rc && ftruncate(j->fd, valid) != 0)
        rc = bnc_err_set(err, BNC_EIO, "journal %s: truncate: %s", path, strerror(errno));
    if (!rc && lseek(j->fd, valid, SEEK_SET) < 0)
        rc = bnc_err_set(err, BNC_EIO, "journal %s: seek: %s", path, strerror(errno));
    if (!rc && valid == 0) {
        Bnc__JournalHeader hdr = BNC__JOURNAL_HEADER__INIT;
        hdr.campaign = (char *)campaign;
        hdr.spec_hash = (char *)spec_hash;
        hdr.spec_text = (char *)spec_text;
        Bnc__JournalRecord rec = BNC__JOURNAL_RECORD__INIT;
        rec.body_case = BNC__JOURNAL_RECORD__BODY_HEADER;
        rec.header = &hdr;
        rc = append_record(j, &rec, err);
        if (!rc)
            rc = bnc_journal_sync(j, err);
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

void bnc_journal_close(bnc_journal *j)
{
    if (!j)
        return;
    bnc_err e;
    bnc_journal_sync(j, &e);
    close(j->fd);
    free(j->buf);
    free(j->path);
    free(j);
}
