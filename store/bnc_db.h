/* PostgreSQL access for every component: connect (with a short timeout),
 * migrate the schema, run statements, and bulk-load rows with COPY. */
#ifndef BNC_DB_H
#define BNC_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "bnc_err.h"

/* Writes the default URL into buf: $BNC_DB when set, else the private
 * cluster of scripts/pg under ./var/pg (Unix socket, user postgres when
 * running as root, else the current user). */
void bnc_db_default_url(char *buf, size_t n);

/* Connects to url (NULL: the default; "" is refused with BNC_EINVAL) with a
 * 5 s connect timeout.
 * On success *out owns the connection (close with bnc_db_close). On failure
 * returns BNC_EDB with a message naming the URL and the server's reason. */
int bnc_db_connect(const char *url, PGconn **out, bnc_err *err);
void bnc_db_close(PGconn *c);

/* Applies every migration newer than the database's schema version, each in
 * its own transaction, and records it in schema_version. Safe to rerun.
 * Fails with BNC_EVERSION when the database is newer than this binary. */
int bnc_db_migrate(PGconn *c, bnc_err *err);
/* The database's schema version (0 when never migrated) and the binary's. */
int bnc_db_schema_version(PGconn *c, int *version, bnc_err *err);
int bnc_db_latest_version(void);
/* Checks the schema is exactly the binary's: BNC_EVERSION with advice
 * ("run bnc db migrate") when older, refusal when newer. */
int bnc_db_require_schema(PGconn *c, bnc_err *err);

/* Runs one or more statements that return no rows. */
int bnc_db_exec(PGconn *c, const char *sql, bnc_err *err);
/* Runs a parameterised statement; on success *out owns the result
 * (PQclear it). */
int bnc_db_query(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **out,
                 bnc_err *err);
/* Streams n bytes of COPY text-format data through `copy_sql`
 * ("COPY t (a, b) FROM STDIN"). */
int bnc_db_copy(PGconn *c, const char *copy_sql, const char *data, size_t n, bnc_err *err);

/* A growable text buffer for building COPY data. */
typedef struct bnc_buf {
    char *p;
    size_t n, cap;
} bnc_buf;
int bnc_buf_put(bnc_buf *b, const char *s, size_t n);
int bnc_buf_puts(bnc_buf *b, const char *s);
int bnc_buf_printf(bnc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s escaped for COPY text format (backslash, tab, newline, CR). */
int bnc_buf_copy_escaped(bnc_buf *b, const char *s);
void bnc_buf_reset(bnc_buf *b);
void bnc_buf_free(bnc_buf *b);

#endif
