/* The typed face of the database (see bnc_store.h): every statement that
 * names a column of campaigns, environments, tasks, metrics or analyses. */
#include "bnc_store.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_db.h"
#include "bnc_sink.h"

static const char *val(PGresult *r, int i, int k)
{
    return PQgetvalue(r, i, k);
}
static int64_t ival(PGresult *r, int i, int k)
{
    return PQgetisnull(r, i, k) ? -1 : strtoll(PQgetvalue(r, i, k), NULL, 10);
}
static double dval(PGresult *r, int i, int k)
{
    return PQgetisnull(r, i, k) ? NAN : strtod(PQgetvalue(r, i, k), NULL);
}

static int one_statement(PGconn *c, const char *sql, int np, const char *const *p, bnc_err *err)
{
    PGresult *r;
    int rc = bnc_db_query(c, sql, np, p, &r, err);
    if (!rc) PQclear(r);
    return rc;
}

/* ---- campaigns ------------------------------------------------------------ */

#define CAMPAIGN_COLS                                                                              \
    "SELECT c.name, c.description, c.status, c.spec_hash, c.spec_text,"                            \
    " to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI UTC'),"                         \
    " to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI UTC'), c.total_tasks,"          \
    " count(t.id) FILTER (WHERE t.status = 'done'),"                                               \
    " count(t.id) FILTER (WHERE t.status = 'failed'), "

static int campaigns_from(PGresult *r, bnc_campaign_list *out, bnc_err *err)
{
    size_t n = (size_t)PQntuples(r);
    out->v = calloc(n ? n : 1, sizeof *out->v);
    if (!out->v) {
        PQclear(r);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory for %zu campaigns", n);
    }
    for (size_t i = 0; i < n; i++) {
        bnc_campaign_row *w = &out->v[i];
        int k = (int)i;
        w->name = val(r, k, 0);
        w->description = val(r, k, 1);
        w->status = val(r, k, 2);
        w->spec_hash = val(r, k, 3);
        w->spec_text = val(r, k, 4);
        w->created = val(r, k, 5);
        w->updated = val(r, k, 6);
        w->total_tasks = ival(r, k, 7);
        w->done = ival(r, k, 8);
        w->failed = ival(r, k, 9);
        w->metric_rows = ival(r, k, 10);
    }
    out->n = n;
    out->priv = r;
    return 0;
}

int bnc_store_campaign_list(PGconn *c, bnc_campaign_list *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    PGresult *r;
    int rc =
        bnc_db_query(c,
                     CAMPAIGN_COLS "0 FROM campaigns c LEFT JOIN tasks t ON t.campaign = c.name"
                                   " GROUP BY c.name ORDER BY c.created_at, c.name",
                     0, NULL, &r, err);
    return rc ? rc : campaigns_from(r, out, err);
}

int bnc_store_campaign_get(PGconn *c, const char *name, bnc_campaign_list *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    PGresult *r;
    const char *p[] = {name};
    int rc = bnc_db_query(c,
                          CAMPAIGN_COLS "(SELECT count(*) FROM metrics m JOIN tasks t2 ON t2.id = "
                                        "m.task_id WHERE t2.campaign = c.name)"
                                        " FROM campaigns c LEFT JOIN tasks t ON t.campaign = c.name"
                                        " WHERE c.name = $1 GROUP BY c.name",
                          1, p, &r, err);
    return rc ? rc : campaigns_from(r, out, err);
}

void bnc_campaign_list_free(bnc_campaign_list *l)
{
    if (!l) return;
    free(l->v);
    PQclear(l->priv);
    memset(l, 0, sizeof *l);
}

/* The stored spec hash of name into hash (empty when there is no row). */
static int stored_hash(PGconn *c, const char *name, char *hash, size_t n, bnc_err *err)
{
    PGresult *r;
    const char *p[] = {name};
    int rc = bnc_db_query(c, "SELECT spec_hash FROM campaigns WHERE name = $1", 1, p, &r, err);
    if (rc) return rc;
    snprintf(hash, n, "%s", PQntuples(r) ? val(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

static int check_hash(PGconn *c, const bnc_campaign_def *d, bnc_err *err)
{
    char have[256];
    int rc = stored_hash(c, d->name, have, sizeof have, err);
    if (!rc && have[0] && strcmp(have, d->spec_hash) != 0)
        rc = bnc_err_set(err, BNC_EINVAL,
                         "%s: campaign '%s' already exists in the database with a different "
                         "spec (hash %s, this spec %s); give the campaign a new name",
                         d->spec_file ? d->spec_file : d->name, d->name, have, d->spec_hash);
    return rc;
}

int bnc_store_campaign_begin(PGconn *c, const bnc_campaign_def *d, bnc_err *err)
{
    int rc = check_hash(c, d, err);
    if (rc) return rc;
    char total[32];
    snprintf(total, sizeof total, "%lld", (long long)d->total_tasks);
    const char *p[] = {d->name, d->description ? d->description : "", d->spec_text, d->spec_hash,
                       total};
    return one_statement(c,
                         "INSERT INTO campaigns (name, description, spec_text, spec_hash, "
                         "total_tasks) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE "
                         "SET status = 'running', updated_at = now()",
                         5, p, err);
}

int bnc_store_campaign_ensure(PGconn *c, const bnc_campaign_def *d, bnc_err *err)
{
    char total[32];
    snprintf(total, sizeof total, "%lld", (long long)d->total_tasks);
    const char *p[] = {d->name, d->description ? d->description : "", d->spec_text, d->spec_hash,
                       total,   d->status ? d->status : "running"};
    int rc = one_statement(c,
                           "INSERT INTO campaigns (name, description, spec_text, spec_hash, "
                           "total_tasks, status) VALUES ($1, $2, $3, $4, $5, $6) "
                           "ON CONFLICT (name) DO UPDATE SET total_tasks = EXCLUDED.total_tasks "
                           "WHERE campaigns.total_tasks = 0 AND EXCLUDED.total_tasks > 0",
                           6, p, err);
    return rc || d->any_spec ? rc : check_hash(c, d, err);
}

int bnc_store_campaign_delete(PGconn *c, const char *name, bnc_err *err)
{
    const char *p[] = {name};
    return one_statement(c, "DELETE FROM campaigns WHERE name = $1", 1, p, err);
}

int bnc_store_campaign_set_status(PGconn *c, const char *name, const char *status, bnc_err *err)
{
    const char *p[] = {name, status};
    return one_statement(c, "UPDATE campaigns SET status = $2, updated_at = now() WHERE name = $1",
                         2, p, err);
}

int bnc_store_campaign_settle(PGconn *c, const char *name, char *status, bnc_err *err)
{
    const char *p[] = {name};
    PGresult *r;
    int rc = bnc_db_query(
        c,
        "WITH s AS (SELECT count(*) FILTER (WHERE status = 'done') AS done,"
        " count(*) FILTER (WHERE status = 'failed') AS failed FROM tasks WHERE campaign = $1),"
        " u AS (UPDATE campaigns SET status = CASE WHEN s.failed > 0 THEN 'failed' ELSE 'done' "
        "END, updated_at = now() FROM s WHERE name = $1 AND (total_tasks = 0 OR s.done + "
        "s.failed >= total_tasks) RETURNING status)"
        " SELECT status FROM u UNION ALL SELECT status FROM campaigns WHERE name = $1 AND NOT "
        "EXISTS (SELECT 1 FROM u)",
        1, p, &r, err);
    if (rc) return rc;
    if (status) snprintf(status, 16, "%s", PQntuples(r) ? val(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

/* ---- environments ------------------------------------------------------------ */

typedef struct env_priv {
    PGresult *r;
    json_t *j;
} env_priv;

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int bnc_env_rows_from_json(const char *json, bnc_env_list *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *envs = json_loads(json, 0, &je);
    if (!json_is_array(envs)) {
        json_decref(envs);
        return bnc_err_set(err, BNC_EFORMAT, "provenance: not a JSON array of rank objects");
    }
    env_priv *pv = calloc(1, sizeof *pv);
    out->v = calloc(json_array_size(envs) + 1, sizeof *out->v);
    if (!pv || !out->v) {
        free(pv);
        free(out->v);
        out->v = NULL;
        json_decref(envs);
        return bnc_err_set(err, BNC_ENOMEM, "provenance: out of memory");
    }
    pv->j = envs;
    out->priv = pv;
    size_t i;
    json_t *e;
    json_array_foreach(envs, i, e)
    {
        const char *host = jstr(e, "host");
        size_t k = 0;
        while (k < out->n && strcmp(out->v[k].host, host) != 0)
            k++;
        if (k < out->n) {
            out->v[k].ranks++;
            continue;
        }
        bnc_env_row *w = &out->v[out->n++];
        w->host = host;
        w->ranks = 1;
        w->cpu_model = jstr(e, "cpu_model");
        w->cpu_flags = jstr(e, "cpu_flags");
        json_t *mem = json_object_get(e, "mem_bytes");
        w->mem_bytes = json_is_integer(mem) ? (int64_t)json_integer_value(mem) : -1;
        w->gpu = jstr(e, "gpu");
        w->gpu_driver = jstr(e, "gpu_driver");
        w->compiler = jstr(e, "compiler");
        w->mpi_version = jstr(e, "mpi_version");
        w->nccl_version = jstr(e, "nccl_version");
        w->libpq_version = jstr(e, "libpq_version");
        w->bnc_version = jstr(e, "bnc_version");
        w->git_rev = jstr(e, "git_rev");
        json_t *dirty = json_object_get(e, "git_dirty");
        w->git_dirty = json_is_boolean(dirty) ? json_is_true(dirty) : -1;
        w->recorded = "";
    }
    return 0;
}

int bnc_store_environments_add(PGconn *c, const char *campaign, const bnc_env_row *rows, size_t n,
                               bnc_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const bnc_env_row *w = &rows[i];
        char ranks[24], mem[24];
        snprintf(ranks, sizeof ranks, "%lld", (long long)w->ranks);
        snprintf(mem, sizeof mem, "%lld", (long long)w->mem_bytes);
        const char *p[] = {campaign,
                           w->host,
                           ranks,
                           w->cpu_model,
                           w->cpu_flags,
                           w->mem_bytes >= 0 ? mem : NULL,
                           w->gpu,
                           w->gpu_driver,
                           w->compiler,
                           w->mpi_version,
                           w->nccl_version,
                           w->libpq_version,
                           w->bnc_version,
                           w->git_rev,
                           w->git_dirty < 0 ? NULL : w->git_dirty ? "true" : "false"};
        rc = one_statement(c,
                           "INSERT INTO environments (campaign, host, ranks, cpu_model, "
                           "cpu_flags, mem_bytes, gpu, gpu_driver, compiler, mpi_version, "
                           "nccl_version, libpq_version, bnc_version, git_rev, git_dirty) VALUES "
                           "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                           15, p, err);
    }
    return rc;
}

int bnc_store_environments(PGconn *c, const char *campaign, bnc_env_list *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {campaign};
    PGresult *r;
    int rc = bnc_db_query(c,
                          "SELECT host, ranks, cpu_model, cpu_flags, mem_bytes, gpu, gpu_driver,"
                          " compiler, mpi_version, nccl_version, libpq_version, bnc_version,"
                          " git_rev, git_dirty,"
                          " to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI UTC')"
                          " FROM environments WHERE campaign = $1 ORDER BY id",
                          1, p, &r, err);
    if (rc) return rc;
    size_t n = (size_t)PQntuples(r);
    env_priv *pv = calloc(1, sizeof *pv);
    out->v = calloc(n + 1, sizeof *out->v);
    if (!pv || !out->v) {
        free(pv);
        free(out->v);
        out->v = NULL;
        PQclear(r);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    pv->r = r;
    out->priv = pv;
    for (size_t i = 0; i < n; i++) {
        int k = (int)i;
        bnc_env_row *w = &out->v[i];
        w->host = val(r, k, 0);
        w->ranks = ival(r, k, 1);
        w->cpu_model = val(r, k, 2);
        w->cpu_flags = val(r, k, 3);
        w->mem_bytes = ival(r, k, 4);
        w->gpu = val(r, k, 5);
        w->gpu_driver = val(r, k, 6);
        w->compiler = val(r, k, 7);
        w->mpi_version = val(r, k, 8);
        w->nccl_version = val(r, k, 9);
        w->libpq_version = val(r, k, 10);
        w->bnc_version = val(r, k, 11);
        w->git_rev = val(r, k, 12);
        w->git_dirty = PQgetisnull(r, k, 13) ? -1 : val(r, k, 13)[0] == 't';
        w->recorded = val(r, k, 14);
    }
    out->n = n;
    return 0;
}

void bnc_env_list_free(bnc_env_list *l)
{
    if (!l) return;
    env_priv *pv = l->priv;
    if (pv) {
        PQclear(pv->r);
        json_decref(pv->j);
        free(pv);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- tasks and metrics --------------------------------------------------------- */

int bnc_store_tasks_add(PGconn *c, const bnc_task_row *rows, size_t n, uint64_t *new_tasks,
                        uint64_t *new_metrics, bnc_err *err)
{
    bnc_sink *s = NULL;
    int rc = bnc_sink_new(c, &s, err);
    size_t cap = 0;
    Bnc__Metric *ms = NULL;
    Bnc__Metric **mp = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        const bnc_task_row *t = &rows[i];
        if (t->n_metrics > cap) {
            cap = t->n_metrics;
            free(ms);
            free(mp);
            ms = calloc(cap, sizeof *ms);
            mp = calloc(cap, sizeof *mp);
            if (!ms || !mp) {
                rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
                break;
            }
        }
        for (size_t k = 0; k < t->n_metrics; k++) {
            bnc__metric__init(&ms[k]);
            ms[k].name = (char *)t->metrics[k].name;
            ms[k].value = t->metrics[k].value;
            ms[k].unit = (char *)(t->metrics[k].unit ? t->metrics[k].unit : "");
            mp[k] = &ms[k];
        }
        Bnc__TaskResult r = BNC__TASK_RESULT__INIT;
        r.task_id = (char *)t->id;
        r.campaign = (char *)t->campaign;
        r.kind = (char *)t->kind;
        r.params_json = (char *)(t->params_json ? t->params_json : "{}");
        r.seed = (uint64_t)t->seed;
        r.ok = t->ok;
        r.attempt = (uint32_t)(t->attempts > 0 ? t->attempts : 1);
        r.rank = t->rank;
        r.host = (char *)(t->host ? t->host : "");
        r.error = (char *)(t->error ? t->error : "");
        r.started_at = t->started_at;
        r.finished_at = t->finished_at;
        r.n_metrics = t->n_metrics;
        r.metrics = mp;
        rc = bnc_sink_add(s, &r, err);
    }
    if (!rc) rc = bnc_sink_flush(s, new_tasks, new_metrics, err);
    free(ms);
    free(mp);
    bnc_sink_free(s);
    return rc;
}

int bnc_store_done_task_ids(PGconn *c, const char *campaign,
                            int (*visit)(const char *id, void *arg), void *arg, bnc_err *err)
{
    const char *p[] = {campaign};
    PGresult *r;
    int rc = bnc_db_query(c, "SELECT id FROM tasks WHERE campaign = $1 AND status = 'done'", 1, p,
                          &r, err);
    if (rc) return rc;
    for (int k = 0; k < PQntuples(r) && !rc; k++)
        rc = visit(val(r, k, 0), arg);
    PQclear(r);
    return rc;
}

int bnc_store_failed_tasks(PGconn *c, const char *campaign, size_t limit, bnc_failed_list *out,
                           bnc_err *err)
{
    memset(out, 0, sizeof *out);
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *p[] = {campaign, lim};
    PGresult *r;
    int rc = bnc_db_query(c,
                          "SELECT id, kind, params::text, seed, attempts, coalesce(error, '')"
                          " FROM tasks WHERE campaign = $1 AND status = 'failed' ORDER BY id"
                          " LIMIT $2::bigint",
                          2, p, &r, err);
    if (rc) return rc;
    size_t n = (size_t)PQntuples(r);
    out->v = calloc(n + 1, sizeof *out->v);
    if (!out->v) {
        PQclear(r);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int k = (int)i;
        out->v[i] = (bnc_failed_task){val(r, k, 0), val(r, k, 1),  val(r, k, 2),
                                      val(r, k, 5), ival(r, k, 3), ival(r, k, 4)};
    }
    out->n = n;
    out->priv = r;
    return 0;
}

void bnc_failed_list_free(bnc_failed_list *l)
{
    if (!l) return;
    free(l->v);
    PQclear(l->priv);
    memset(l, 0, sizeof *l);
}

int bnc_store_task_counts(PGconn *c, const char *campaign, bnc_task_count_list *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {campaign};
    PGresult *r;
    int rc = bnc_db_query(c,
                          "SELECT kind, status, count(*) FROM tasks WHERE campaign = $1"
                          " GROUP BY 1, 2 ORDER BY 1, 2",
                          1, p, &r, err);
    if (rc) return rc;
    size_t n = (size_t)PQntuples(r);
    out->v = calloc(n + 1, sizeof *out->v);
    if (!out->v) {
        PQclear(r);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        out->v[i] = (bnc_task_count){val(r, (int)i, 0), val(r, (int)i, 1), ival(r, (int)i, 2)};
    out->n = n;
    out->priv = r;
    return 0;
}

void bnc_task_count_list_free(bnc_task_count_list *l)
{
    if (!l) return;
    free(l->v);
    PQclear(l->priv);
    memset(l, 0, sizeof *l);
}

int bnc_store_export(PGconn *c, const char *campaign,
                     int (*visit)(const bnc_export_task *t, void *arg), void *arg, bnc_err *err)
{
    const char *p[] = {campaign};
    PGresult *r;
    int rc = bnc_db_query(c,
                          "SELECT t.id, t.kind, t.params::text, t.seed, t.status, t.rank, t.host,"
                          " extract(epoch FROM t.finished_at - t.started_at), m.name, m.value,"
                          " m.unit FROM tasks t LEFT JOIN metrics m ON m.task_id = t.id"
                          " WHERE t.campaign = $1 ORDER BY t.id, m.name",
                          1, p, &r, err);
    if (rc) return rc;
    int n = PQntuples(r);
    bnc_metric_row *ms = calloc((size_t)n + 1, sizeof *ms);
    if (!ms) {
        PQclear(r);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory for %d export rows", n);
    }
    for (int i = 0; i < n && !rc;) {
        bnc_export_task t = {
            val(r, i, 0),  val(r, i, 1),  val(r, i, 2),  val(r, i, 4), val(r, i, 6),
            ival(r, i, 3), ival(r, i, 5), dval(r, i, 7), ms,           0};
        for (; i < n && !strcmp(val(r, i, 0), t.id); i++)
            if (!PQgetisnull(r, i, 8))
                ms[t.n_metrics++] = (bnc_metric_row){val(r, i, 8), dval(r, i, 9), val(r, i, 10)};
        rc = visit(&t, arg);
    }
    free(ms);
    PQclear(r);
    return rc;
}

/* ---- analyses ---------------------------------------------------------------------- */

int bnc_store_observations(PGconn *c, const bnc_obs_query *q, bnc_obs_list *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    const char *params[] = {q->campaign,
                            q->by,
                            q->paired_by,
                            q->metric ? q->metric : "",
                            q->kind ? q->kind : "",
                            q->where ? q->where : ""};
    PGresult *r;
    int rc = bnc_db_query(c, "SELECT 1 FROM campaigns WHERE name = $1", 1, params, &r, err);
    if (rc) return rc;
    int exists = PQntuples(r) > 0;
    PQclear(r);
    if (!exists)
        return bnc_err_set(err, BNC_EINVAL, "campaign '%s' not found in the database", q->campaign);
    /* The pair key: with "seed", every parameter but the grouping one, the
     * kind and the seed, so a pair is the same experiment under two groups. */
    rc = bnc_db_query(c,
                      "SELECT m.name, t.params->>$2,"
                      " CASE WHEN $3 = 'none' THEN ''"
                      "      WHEN $3 = 'seed' THEN t.kind || ' ' || (t.params - $2)::text"
                      "                            || ' seed=' || t.seed"
                      "      ELSE coalesce(t.params->>$3, '') END,"
                      " m.value::text"
                      " FROM tasks t JOIN metrics m ON m.task_id = t.id"
                      " WHERE t.campaign = $1 AND t.status = 'done' AND t.params ? $2"
                      "   AND ($4 = '' OR m.name = $4) AND ($5 = '' OR t.kind = $5)"
                      "   AND ($6 = '' OR t.params @> $6::jsonb)",
                      6, params, &r, err);
    if (rc) return rc;
    size_t n = (size_t)PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return bnc_err_set(
            err, BNC_EINVAL, "campaign '%s' has no finished task with parameter '%s'%s%s%s%s%s%s",
            q->campaign, q->by, q->metric ? " and metric " : "", q->metric ? q->metric : "",
            q->kind ? " of kind " : "", q->kind ? q->kind : "",
            q->where ? " whose parameters contain " : "", q->where ? q->where : "");
    }
    out->v = malloc(n * sizeof *out->v);
    if (!out->v) {
        PQclear(r);
        return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory for %zu results", n);
    }
    for (size_t i = 0; i < n; i++) {
        int k = (int)i;
        out->v[i] = (bnc_obs){val(r, k, 0), val(r, k, 1), val(r, k, 2), strtod(val(r, k, 3), NULL)};
    }
    out->n = n;
    out->priv = r;
    return 0;
}

void bnc_obs_list_free(bnc_obs_list *l)
{
    if (!l) return;
    free(l->v);
    PQclear(l->priv);
    memset(l, 0, sizeof *l);
}

static void put_num(bnc_buf *b, double v)
{
    if (isnan(v))
        bnc_buf_puts(b, "\\N\t");
    else if (isinf(v))
        bnc_buf_puts(b, v > 0 ? "Infinity\t" : "-Infinity\t");
    else
        bnc_buf_printf(b, "%.17g\t", v);
}

static void put_text(bnc_buf *b, const char *s)
{
    bnc_buf_copy_escaped(b, s ? s : "");
    bnc_buf_puts(b, "\t");
}

int bnc_store_analyses_replace(PGconn *c, const char *campaign, const char *by, double alpha,
                               const bnc_analysis_row *rows, size_t n, bnc_err *err)
{
    bnc_buf b = {0};
    int rc = bnc_db_exec(c, "BEGIN", err);
    for (size_t i = 0; !rc && i < n; i++) {
        const bnc_analysis_row *w = &rows[i];
        int first = 1; /* the first row of its metric: clear the metric's old rows */
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(rows[k].metric, w->metric) != 0;
        if (first) {
            const char *params[] = {campaign, w->metric, by};
            rc = one_statement(c,
                               "DELETE FROM analyses WHERE campaign = $1 AND metric = $2 AND "
                               "by_param = $3",
                               3, params, err);
            if (rc) break;
        }
        put_text(&b, campaign);
        put_text(&b, w->metric);
        put_text(&b, by);
        put_text(&b, w->baseline);
        put_text(&b, w->grp);
        bnc_buf_printf(&b, "%lld\t", (long long)w->n);
        put_num(&b, w->mean);
        put_num(&b, w->sd);
        put_num(&b, w->ci_lo);
        put_num(&b, w->ci_hi);
        put_num(&b, w->diff);
        put_num(&b, w->diff_lo);
        put_num(&b, w->diff_hi);
        put_text(&b, w->test);
        put_num(&b, w->statistic);
        put_num(&b, w->df);
        put_num(&b, w->df2);
        put_num(&b, w->p);
        put_num(&b, w->p_adj);
        put_text(&b, w->correction);
        put_num(&b, w->p_rank);
        put_text(&b, w->effect_name);
        put_num(&b, w->effect);
        put_text(&b, w->verdict);
        put_text(&b, w->note);
        bnc_buf_printf(&b, "%.17g\n", alpha);
    }
    if (!rc && b.n)
        rc = bnc_db_copy(c,
                         "COPY analyses (campaign, metric, by_param, baseline, grp, n, mean, sd, "
                         "ci_lo, ci_hi, diff, diff_lo, diff_hi, test, statistic, df, df2, p, "
                         "p_adj, correction, p_rank, effect_name, effect, verdict, note, alpha) "
                         "FROM STDIN",
                         b.p, b.n, err);
    if (!rc)
        rc = bnc_db_exec(c, "COMMIT", err);
    else
        PQclear(PQexec(c, "ROLLBACK"));
    bnc_buf_free(&b);
    return rc;
}
