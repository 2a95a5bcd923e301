/* Errors as values: every library function returns an int status (0 ok,
 * negative BNC_E* code) and writes a human message into a caller-provided
 * bnc_err. Only cli/ prints messages and turns codes into exit statuses. */
#ifndef BNC_ERR_H
#define BNC_ERR_H

#include <stddef.h>

enum {
    BNC_OK = 0,
    BNC_EINVAL = -1,   /* bad argument or spec value (usage/input: exit 2) */
    BNC_EFORMAT = -2,  /* malformed file or message (input: exit 2) */
    BNC_EIO = -3,      /* file system error */
    BNC_ENOMEM = -4,   /* allocation failed */
    BNC_EDB = -5,      /* database unreachable or query failed */
    BNC_ENET = -6,     /* network / MPI / ZeroMQ failure */
    BNC_ERANGE = -7,   /* value out of range (NaN/Inf in a tensor, ...) */
    BNC_ETIMEOUT = -8, /* a deadline passed */
    BNC_EVERSION = -9, /* incompatible schema or file version */
    BNC_ENOTSUP = -10, /* feature not available in this build or on this CPU */
    BNC_EINTERNAL = -11,
};

#define BNC_ERR_MSG_MAX 1024

typedef struct bnc_err {
    int code;
    char msg[BNC_ERR_MSG_MAX];
} bnc_err;

/* Clears *e (NULL is allowed). */
void bnc_err_clear(bnc_err *e);

/* Records code and a printf-style message in *e (NULL allowed) and returns
 * code, so callers can write `return bnc_err_set(err, BNC_EINVAL, ...)`. */
int bnc_err_set(bnc_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in *e with a context string ("file.yaml: ").
 * Returns e->code (or BNC_EINTERNAL when e is NULL). */
int bnc_err_prefix(bnc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Short name of a status code ("EINVAL"). */
const char *bnc_strerror(int code);

/* The process exit status a CLI uses for a status: 0 ok, 2 usage or input
 * error (EINVAL, EFORMAT, ERANGE, EVERSION), 1 any other runtime failure. */
int bnc_exit_status(int code);

#endif
