/* PostgreSQL access shared by every component (see bnc_db.h). */
#include "bnc_db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_migrations.h"

void bnc_db_default_url(char *buf, size_t n)
{
    const char *env = getenv("BNC_DB");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    char cwd[2048];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    const char *user = geteuid() == 0 ? "postgres" : getenv("USER");
    snprintf(buf, n, "postgresql:///bnc?host=%s/var/pg/run&user=%s", cwd, user ? user : "postgres");
}

/* Drops the password from a URL before it goes into a message. */
static void redact_url(const char *url, char *out, size_t n)
{
    snprintf(out, n, "%s", url);
    char *at = strchr(out, '@');
    char *scheme = strstr(out, "://");
    if (at && scheme && at > scheme) {
        char *colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
        if (colon) memmove(colon, at, strlen(at) + 1);
    }
}

int bnc_db_connect(const char *url, PGconn **out, bnc_err *err)
{
    char defurl[2300];
    /* An empty URL is a mistake (an unset variable in --db "$X"), never a
     * quiet fall-back to the default server. */
    if (url && !*url)
        return bnc_err_set(err, BNC_EINVAL,
                           "the database URL is empty (an unset variable in --db?); give a "
                           "URL, or leave --db out for the default");
    if (!url) {
        bnc_db_default_url(defurl, sizeof defurl);
        url = defurl;
    }
    /* A short connect timeout so an unreachable server fails in seconds. */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "5", "bnc", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    char shown[2300];
    redact_url(url, shown, sizeof shown);
    if (!c) return bnc_err_set(err, BNC_ENOMEM, "database %s: out of memory", shown);
    if (PQstatus(c) != CONNECTION_OK) {
        char reason[700];
        snprintf(reason, sizeof reason, "%s", PQerrorMessage(c));
        size_t l = strlen(reason);
        while (l && (reason[l - 1] == '\n' || reason[l - 1] == ' '))
            reason[--l] = '\0';
        PQfinish(c);
        return bnc_err_set(err, BNC_EDB, "cannot connect to database %s: %s", shown, reason);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    *out = c;
    return 0;
}

void bnc_db_close(PGconn *c)
{
    if (c) PQfinish(c);
}

static int result_err(PGconn *c, PGresult *r, const char *what, bnc_err *err)
{
    char msg[800];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    size_t l = strlen(msg);
    while (l && msg[l - 1] == '\n')
        msg[--l] = '\0';
    if (r) PQclear(r);
    return bnc_err_set(err, BNC_EDB, "database: %s: %s", what, msg);
}

int bnc_db_exec(PGconn *c, const char *sql, bnc_err *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char what[120];
        snprintf(what, sizeof what, "%.100s", sql);
        for (char *p = what; *p; p++)
            if (*p == '\n') *p = ' ';
        return result_err(c, r, what, err);
    }
    PQclear(r);
    return 0;
}

int bnc_db_query(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **out,
                 bnc_err *err)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char what[120];
        snprintf(what, sizeof what, "%.100s", sql);
        return result_err(c, r, what, err);
    }
    *out = r;
    return 0;
}

int bnc_db_copy(PGconn *c, const char *copy_sql, const char *data, size_t n, bnc_err *err)
{
    PGresult *r = PQexec(c, copy_sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) return result_err(c, r, copy_sql, err);
    PQclear(r);
    size_t off = 0;
    while (off < n) {
        size_t chunk = n - off > (1u << 20) ? (1u << 20) : n - off;
        if (PQputCopyData(c, data + off, (int)chunk) != 1) {
            PQputCopyEnd(c, "client failed");
            return result_err(c, NULL, copy_sql, err);
        }
        off += chunk;
    }
    if (PQputCopyEnd(c, NULL) != 1) return result_err(c, NULL, copy_sql, err);
    int rc = 0;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = result_err(c, r, copy_sql, err);
        else
            PQclear(r);
    }
    return rc;
}

int bnc_db_latest_version(void)
{
    int v = 0;
    for (int i = 0; i < bnc_migration_count; i++)
        if (bnc_migrations[i].version > v) v = bnc_migrations[i].version;
    return v;
}

int bnc_db_schema_version(PGconn *c, int *version, bnc_err *err)
{
    PGresult *r;
    int rc = bnc_db_query(c, "SELECT to_regclass('public.schema_version') IS NOT NULL", 0, NULL, &r,
                          err);
    if (rc) return rc;
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    *version = 0;
    if (!exists) return 0;
    rc = bnc_db_query(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &r, err);
    if (rc) return rc;
    *version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int bnc_db_migrate(PGconn *c, bnc_err *err)
{
    /* One migrator at a time: concurrent `bnc` processes wait here. */
    int rc = bnc_db_exec(c, "SELECT pg_advisory_lock(7461626)", err);
    if (rc) return rc;
    rc = bnc_db_exec(c,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     err);
    int have = 0;
    if (!rc) rc = bnc_db_schema_version(c, &have, err);
    if (!rc && have > bnc_db_latest_version())
        rc = bnc_err_set(err, BNC_EVERSION,
                         "database schema version %d is newer than this bnc (%d): upgrade bnc",
                         have, bnc_db_latest_version());
    /* Apply every migration not yet recorded (not only those above the
     * maximum), so a migration numbered into a gap is not skipped. */
    PGresult *applied = NULL;
    if (!rc) rc = bnc_db_query(c, "SELECT version FROM schema_version", 0, NULL, &applied, err);
    for (int i = 0; !rc && i < bnc_migration_count; i++) {
        const bnc_migration *m = &bnc_migrations[i];
        int done = 0;
        for (int k = 0; k < PQntuples(applied) && !done; k++)
            done = atoi(PQgetvalue(applied, k, 0)) == m->version;
        if (done) continue;
        rc = bnc_db_exec(c, "BEGIN", err);
        if (!rc) rc = bnc_db_exec(c, m->sql, err);
        if (!rc) {
            char ver[16];
            snprintf(ver, sizeof ver, "%d", m->version);
            const char *params[] = {ver, m->name};
            PGresult *r;
            rc = bnc_db_query(c, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2,
                              params, &r, err);
            if (!rc) PQclear(r);
        }
        if (!rc) rc = bnc_db_exec(c, "COMMIT", err);
        if (rc) {
            bnc_err_prefix(err, "migration %s: ", m->name);
            PQclear(PQexec(c, "ROLLBACK"));
        }
    }
    PQclear(applied);
    bnc_err tmp;
    bnc_db_exec(c, "SELECT pg_advisory_unlock(7461626)", &tmp);
    return rc;
}

int bnc_db_require_schema(PGconn *c, bnc_err *err)
{
    int have = 0;
    int rc = bnc_db_schema_version(c, &have, err);
    if (rc) return rc;
    int want = bnc_db_latest_version();
    if (have > want)
        return bnc_err_set(err, BNC_EVERSION,
                           "database schema version %d is newer than this bnc's (%d): upgrade bnc",
                           have, want);
    int missing = have == 0;
    if (!missing) {
        PGresult *r;
        rc = bnc_db_query(c, "SELECT version FROM schema_version", 0, NULL, &r, err);
        if (rc) return rc;
        for (int i = 0; i < bnc_migration_count && !missing; i++) {
            int found = 0;
            for (int k = 0; k < PQntuples(r) && !found; k++)
                found = atoi(PQgetvalue(r, k, 0)) == bnc_migrations[i].version;
            missing = !found;
        }
        PQclear(r);
    }
    if (missing)
        return bnc_err_set(err, BNC_EVERSION,
                           "database schema version %d is older than this bnc's (%d): run "
                           "`bnc db migrate --db URL` first",
                           have, want);
    return 0;
}

/* ---- growable text buffer ---------------------------------------------- */

static int buf_reserve(bnc_buf *b, size_t extra)
{
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return BNC_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int bnc_buf_put(bnc_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n)) return BNC_ENOMEM;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int bnc_buf_puts(bnc_buf *b, const char *s)
{
    return bnc_buf_put(b, s, strlen(s));
}

int bnc_buf_printf(bnc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || buf_reserve(b, (size_t)need)) return BNC_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
    return 0;
}

int bnc_buf_copy_escaped(bnc_buf *b, const char *s)
{
    if (buf_reserve(b, 2 * strlen(s))) return BNC_ENOMEM;
    for (; *s; s++) {
        char ch = *s;
        const char *esc = NULL;
        switch (ch) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            break;
        }
        if (esc) {
            b->p[b->n++] = esc[0];
            b->p[b->n++] = esc[1];
        } else {
            b->p[b->n++] = ch;
        }
    }
    b->p[b->n] = '\0';
    return 0;
}

void bnc_buf_reset(bnc_buf *b)
{
    b->n = 0;
    if (b->p) b->p[0] = '\0';
}

void bnc_buf_free(bnc_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
