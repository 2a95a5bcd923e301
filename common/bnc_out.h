/* Writing an output file atomically and safely: the bytes go to a temporary
 * file in the same directory, every write, fflush, fsync and fclose is
 * checked, and a rename puts the file in place only when all of it is on
 * disk. An output that is one of the inputs (same device and inode, however
 * the path is spelled: ./a, an absolute path, a symlink) is refused, and so
 * is replacing anything but a regular file (a device node, FIFO, socket or
 * directory): to write to a device, ask for standard output with "-". */
#ifndef BNC_OUT_H
#define BNC_OUT_H

#include <stdio.h>

#include "bnc_err.h"

typedef struct bnc_out {
    FILE *f;    /* write here */
    char *path; /* the final path (owned), NULL for standard output */
    char *tmp;  /* the temporary file (owned), NULL for standard output */
} bnc_out;

/* 1 when path names standard output ("-"). */
int bnc_out_is_stdout(const char *path);

/* Checks that path may be replaced by an output of inputs (a NULL-terminated
 * list of paths, NULL for none): "-" always may; otherwise BNC_EINVAL naming
 * path when it resolves to the same file as an input, or when it exists and
 * is not a regular file. A path that does not exist yet is fine. */
int bnc_out_check(const char *path, const char *const *inputs, bnc_err *err);

/* A fresh temporary file beside path (created empty, mode 0666 less the
 * umask) whose name is written into tmp (n bytes); for writers with their
 * own I/O (MPI-IO) that then call bnc_out_rename. BNC_EIO naming the folder
 * when it cannot be created; BNC_EINVAL for "-" (such a writer needs a file,
 * and "-" would otherwise become a file named "-"). */
int bnc_out_temp(const char *path, char *tmp, size_t n, bnc_err *err);

/* Moves the finished temporary file tmp over path and fsyncs the folder;
 * removes tmp and returns BNC_EIO naming path on failure. */
int bnc_out_rename(const char *tmp, const char *path, bnc_err *err);

/* Checks path (bnc_out_check) and opens o for writing: standard output for
 * "-", else a temporary file beside path. On error nothing is created. */
int bnc_out_open(bnc_out *o, const char *path, const char *const *inputs, bnc_err *err);

/* Finishes o: checks the stream, fsyncs and closes the temporary file and
 * renames it over the path (standard output: flushed and checked). On any
 * error the temporary file is removed and BNC_EIO names the path. o is
 * released either way. */
int bnc_out_commit(bnc_out *o, bnc_err *err);

/* Abandons o: closes and removes the temporary file (NULL-safe; a no-op
 * after bnc_out_commit). */
void bnc_out_abort(bnc_out *o);

#endif
