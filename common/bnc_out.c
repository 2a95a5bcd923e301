#include "bnc_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bnc_out_is_stdout(const char *path)
{
    return path && strcmp(path, "-") == 0;
}

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

int bnc_out_check(const char *path, const char *const *inputs, bnc_err *err)
{
    if (bnc_out_is_stdout(path)) return 0;
    if (!path || !*path) return bnc_err_set(err, BNC_EINVAL, "empty output path");
    struct stat so;
    if (stat(path, &so) != 0)
        return 0; /* nothing there yet (or a dangling link, which rename replaces) */
    if (!S_ISREG(so.st_mode))
        return bnc_err_set(err, BNC_EINVAL,
                           "%s: is %s; refusing to replace it with an output (give a regular "
                           "file's path; report and export also take '-' for standard output)",
                           path, kind_of(so.st_mode));
    for (; inputs && *inputs; inputs++) {
        struct stat si;
        if (stat(*inputs, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return bnc_err_set(err, BNC_EINVAL,
                               "%s: is the input %s (the same file); refusing to overwrite an "
                               "input, choose another output path",
                               path, *inputs);
    }
    return 0;
}

int bnc_out_temp(const char *path, char *tmp, size_t n, bnc_err *err)
{
    if (bnc_out_is_stdout(path))
        return bnc_err_set(err, BNC_EINVAL,
                           "-: this output cannot go to standard output; give a file path");
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    const char *base = slash ? slash + 1 : path;
    if (slash == path) dirlen = 0; /* "/name": the root folder */
    int len = snprintf(tmp, n, "%.*s/.%s.bnc-XXXXXX", dirlen, dir, base);
    if (len < 0 || (size_t)len >= n)
        return bnc_err_set(err, BNC_EINVAL, "%s: output path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        return bnc_err_set(err, BNC_EIO, "%s: cannot create a file beside it: %s", path,
                           strerror(e));
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return bnc_err_set(err, BNC_EIO, "%s: cannot prepare a file beside it: %s", path,
                           strerror(e));
    }
    return 0;
}

int bnc_out_rename(const char *tmp, const char *path, bnc_err *err)
{
    /* Its bytes on disk first (fsync through any descriptor syncs the file). */
    int tfd = open(tmp, O_RDONLY);
    int bad = tfd < 0 || fsync(tfd) != 0;
    int te = errno;
    if (tfd >= 0) close(tfd);
    if (bad) {
        unlink(tmp);
        return bnc_err_set(err, BNC_EIO, "%s: cannot sync the output: %s", path, strerror(te));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return bnc_err_set(err, BNC_EIO, "%s: cannot put the output in place: %s", path,
                           strerror(e));
    }
    /* The rename is durable once the folder is. */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1,
             slash ? path : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        int dbad = fsync(fd) != 0 && errno != EINVAL;
        int e = errno;
        close(fd);
        if (dbad)
            return bnc_err_set(err, BNC_EIO, "%s: cannot sync its folder: %s", path, strerror(e));
    }
    return 0;
}

int bnc_out_open(bnc_out *o, const char *path, const char *const *inputs, bnc_err *err)
{
    memset(o, 0, sizeof *o);
    int rc = bnc_out_check(path, inputs, err);
    if (rc) return rc;
    if (bnc_out_is_stdout(path)) {
        o->f = stdout;
        return 0;
    }
    size_t n = strlen(path) + 32;
    o->tmp = malloc(n);
    o->path = strdup(path);
    if (!o->tmp || !o->path) {
        bnc_out_abort(o);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    if ((rc = bnc_out_temp(path, o->tmp, n, err)) != 0) {
        free(o->tmp);
        o->tmp = NULL;
        bnc_out_abort(o);
        return rc;
    }
    o->f = fopen(o->tmp, "wb");
    if (!o->f) {
        int e = errno;
        bnc_out_abort(o);
        return bnc_err_set(err, BNC_EIO, "%s: cannot open for writing: %s", path, strerror(e));
    }
    return 0;
}

int bnc_out_commit(bnc_out *o, bnc_err *err)
{
    if (!o->f) return bnc_err_set(err, BNC_EINTERNAL, "output is not open");
    if (!o->tmp) {
        int bad = fflush(o->f) != 0 || ferror(o->f);
        int e = errno;
        o->f = NULL;
        return bad ? bnc_err_set(err, BNC_EIO, "standard output: write error: %s",
                                 strerror(e ? e : EIO))
                   : 0;
    }
    errno = 0;
    int bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
    int e = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    int rc = 0;
    if (bad) {
        unlink(o->tmp);
        rc = bnc_err_set(err, BNC_EIO, "%s: write error: %s", o->path, strerror(e ? e : EIO));
    } else {
        rc = bnc_out_rename(o->tmp, o->path, err);
    }
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return rc;
}

void bnc_out_abort(bnc_out *o)
{
    if (!o) return;
    if (o->f && o->tmp) fclose(o->f);
    if (o->tmp) unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}
