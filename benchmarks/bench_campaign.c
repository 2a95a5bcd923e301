#include "bnc_bench_campaign.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_campaign.h"
#include "bnc_db.h"
#include "bnc_sink.h"
#include "bnc_store.h"
#include "bnc_time.h"

int bnc_bench_scheduler(long tasks, const char *db_url, const char *workdir,
                        const bnc_task_kind *const *kinds, FILE *out, bnc_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char spec[1024], journal[1024];
    long stamp = (long)bnc_wall();
    MPI_Bcast(&stamp, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    int rc = 0;
    for (int with_db = 0; with_db <= (db_url != NULL) && !rc; with_db++) {
        char name[128];
        snprintf(name, sizeof name, "bench_sched_%ld_%d", stamp, with_db);
        snprintf(spec, sizeof spec, "%s/%s.yaml", workdir, name);
        snprintf(journal, sizeof journal, "%s/%s.journal", workdir, name);
        if (rank == 0) {
            FILE *f = fopen(spec, "w");
            if (!f) return bnc_err_set(err, BNC_EIO, "cannot write %s", spec);
            fprintf(f,
                    "name: %s\nseeds: [1]\nrepetitions: %ld\ngroups:\n  - kind: noop\n"
                    "    grid: {i: 1}\n",
                    name, tasks);
            fclose(f);
        }
        bnc_run_opts o = {0};
        o.spec_path = spec;
        o.db_url = db_url;
        o.no_db = !with_db;
        o.journal_path = journal;
        o.progress = -1;
        o.kinds = kinds;
        bnc_run_summary s;
        rc = bnc_campaign_run(MPI_COMM_WORLD, &o, &s, err);
        if (rank == 0) {
            if (!rc)
                fprintf(out,
                        "{\"bench\":\"scheduler\",\"ranks\":%d,\"workers\":%d,\"tasks\":%zu,"
                        "\"database\":%s,\"seconds\":%.4f,\"tasks_per_s\":%.1f}\n",
                        size, size - 1, s.done, with_db ? "true" : "false", s.seconds,
                        s.tasks_per_s);
            unlink(spec);
            unlink(journal);
        }
        if (with_db && rank == 0 && !rc) {
            PGconn *c;
            if (bnc_db_connect(db_url, &c, err) == 0) {
                bnc_store_campaign_delete(c, name, err);
                bnc_db_close(c);
            }
        }
    }
    return rc;
}

int bnc_bench_ingest(long tasks, int metrics, const char *db_url, FILE *out, bnc_err *err)
{
    PGconn *c = NULL;
    int rc = bnc_db_connect(db_url, &c, err);
    if (!rc) rc = bnc_db_migrate(c, err);
    if (rc) {
        bnc_db_close(c);
        return rc;
    }
    char campaign[64];
    snprintf(campaign, sizeof campaign, "bench_ingest_%d_%ld", (int)getpid(), (long)bnc_wall());
    bnc_campaign_def def = {campaign, "", "", "", NULL, 0, NULL, 0};
    rc = bnc_store_campaign_ensure(c, &def, err);
    if (rc) {
        bnc_db_close(c);
        return rc;
    }
    /* The same results for both paths. */
    Bnc__Metric *ms = calloc((size_t)metrics, sizeof *ms);
    Bnc__Metric **mp = calloc((size_t)metrics, sizeof *mp);
    char(*names)[16] = calloc((size_t)metrics, sizeof *names);
    for (int k = 0; k < metrics; k++) {
        bnc__metric__init(&ms[k]);
        snprintf(names[k], sizeof names[k], "m%02d", k);
        ms[k].name = names[k];
        ms[k].unit = "";
        mp[k] = &ms[k];
    }
    bnc_sink *sink = NULL;
    rc = bnc_sink_new(c, &sink, err);
    double t_sink = 0, t_copy = 0;
    uint64_t nt = 0, nm = 0;
    bnc_buf raw = {0};
    const long batch = 20000;
    for (long t0 = 0; t0 < tasks && !rc; t0 += batch) {
        long t1 = t0 + batch < tasks ? t0 + batch : tasks;
        bnc_buf_reset(&raw);
        for (long t = t0; t < t1 && !rc; t++) {
            char id[40];
            snprintf(id, sizeof id, "%s_%08ld", campaign, t);
            for (int k = 0; k < metrics; k++) {
                ms[k].value = (double)t * 0.001 + k;
                bnc_buf_printf(&raw, "%s\t%s\t%.17g\t\n", id, names[k], ms[k].value);
            }
            Bnc__TaskResult res = BNC__TASK_RESULT__INIT;
            res.task_id = id;
            res.campaign = campaign;
            res.kind = "noop";
            res.params_json = "{\"i\":1}";
            res.ok = 1;
            res.host = "bench";
            res.started_at = res.finished_at = 1.7e9;
            res.n_metrics = (size_t)metrics;
            res.metrics = mp;
            rc = bnc_sink_add(sink, &res, err);
        }
        double a = bnc_now();
        if (!rc) rc = bnc_sink_flush(sink, &nt, &nm, err);
        double b = bnc_now();
        t_sink += b - a;
        /* The ceiling: COPY alone into a table without keys or indexes. */
        if (!rc)
            rc = bnc_db_exec(c,
                             "CREATE TEMP TABLE IF NOT EXISTS bench_raw (task_id text, name text, "
                             "value double precision, unit text)",
                             err);
        a = bnc_now();
        if (!rc) rc = bnc_db_copy(c, "COPY bench_raw FROM STDIN", raw.p, raw.n, err);
        t_copy += bnc_now() - a;
        if (!rc) rc = bnc_db_exec(c, "TRUNCATE bench_raw", err);
    }
    if (!rc) {
        double rows = (double)tasks * metrics;
        double sink_rate = rows / t_sink, copy_rate = rows / t_copy;
        fprintf(out,
                "{\"bench\":\"ingest\",\"path\":\"copy_raw\",\"metric_rows\":%.0f,\"seconds\":%.3f,"
                "\"rows_per_s\":%.0f}\n",
                rows, t_copy, copy_rate);
        fprintf(out,
                "{\"bench\":\"ingest\",\"path\":\"sink\",\"tasks\":%ld,\"metric_rows\":%.0f,"
                "\"new_metric_rows\":%llu,\"seconds\":%.3f,\"rows_per_s\":%.0f,"
                "\"ratio_to_copy\":%.3f}\n",
                tasks, rows, (unsigned long long)nm, t_sink, sink_rate, sink_rate / copy_rate);
        if (nm != (uint64_t)rows)
            rc = bnc_err_set(err, BNC_EINTERNAL, "ingest stored %llu of %.0f metric rows",
                             (unsigned long long)nm, rows);
    }
    bnc_err e2;
    bnc_store_campaign_delete(c, campaign, &e2);
    bnc_sink_free(sink);
    bnc_buf_free(&raw);
    free(ms);
    free(mp);
    free(names);
    bnc_db_close(c);
    return rc;
}
