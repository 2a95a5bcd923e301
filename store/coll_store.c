/* `bnc bench collectives --db`: a run row, then its result rows by COPY. */
#include "bnc_coll_store.h"

#include <math.h>
#include <stdlib.h>

static int put_opt_i64(bnc_buf *b, int64_t v)
{
    return v < 0 ? bnc_buf_puts(b, "\\N") : bnc_buf_printf(b, "%lld", (long long)v);
}

int bnc_coll_store(PGconn *c, const char *backend, int ranks, const char *environment_json,
                   const bnc_coll_result *rows, size_t n, long long *run_id, bnc_err *err)
{
    int rc = bnc_db_exec(c, "BEGIN", err);
    if (rc) return rc;
    char rk[16];
    snprintf(rk, sizeof rk, "%d", ranks);
    const char *p[3] = {backend, rk, environment_json ? environment_json : "{}"};
    PGresult *r = NULL;
    rc = bnc_db_query(c,
                      "INSERT INTO collective_runs (backend, ranks, environment)"
                      " VALUES ($1, $2, $3::jsonb) RETURNING id",
                      3, p, &r, err);
    if (rc) goto fail;
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    bnc_buf b = {0};
    for (size_t i = 0; i < n && !rc; i++) {
        const bnc_coll_result *w = &rows[i];
        rc = bnc_buf_printf(&b, "%lld\t%s\t%llu\t%llu\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\t", id,
                            w->algo, (unsigned long long)w->bytes, (unsigned long long)w->count,
                            w->time_us[0], w->time_us[1], w->algbw[0], w->busbw[0], w->busbw[1]);
        rc = rc ? rc : put_opt_i64(&b, w->wrong[0]);
        rc = rc ? rc : bnc_buf_puts(&b, "\t");
        rc = rc ? rc : put_opt_i64(&b, w->wrong[1]);
        rc = rc ? rc
                : bnc_buf_printf(&b, "\t%llu\t%llu\t", (unsigned long long)w->wire_bytes,
                                 (unsigned long long)w->f32_wire_bytes);
        rc = rc                    ? rc
             : isnan(w->rel_error) ? bnc_buf_puts(&b, "\\N\n")
                                   : bnc_buf_printf(&b, "%.17g\n", w->rel_error);
    }
    if (rc) {
        bnc_buf_free(&b);
        rc = bnc_err_set(err, BNC_ENOMEM, "collective results: out of memory");
        goto fail;
    }
    rc = bnc_db_copy(c,
                     "COPY collective_results (run_id, algo, bytes, count, time_us,"
                     " time_us_in_place, algbw_gbps, busbw_gbps, busbw_in_place, wrong,"
                     " wrong_in_place, wire_bytes, f32_wire_bytes, rel_error) FROM STDIN",
                     b.p ? b.p : "", b.n, err);
    bnc_buf_free(&b);
    if (rc) goto fail;
    rc = bnc_db_exec(c, "COMMIT", err);
    if (rc) goto fail;
    if (run_id) *run_id = id;
    return 0;
fail:
    PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}
