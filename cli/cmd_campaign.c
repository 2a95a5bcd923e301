/* bnc campaign run|status|list|export */
#include <getopt.h>
#include <jansson.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_campaign.h"
#include "bnc_db.h"
#include "bnc_task.h"
#include "commands.h"
#include "kinds_all.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bnc campaign run SPEC [--db URL | --no-db] [--journal PATH] [--inflight K]\n"
            "                       [--threads N] [--progress auto|lines|none] [--dry-run]\n"
            "       bnc campaign status NAME [--db URL]\n"
            "       bnc campaign list [--db URL]\n"
            "       bnc campaign export NAME [--db URL] [--format csv|jsonl] [-o FILE]\n\n"
            "run      expand SPEC into tasks and run them on every MPI rank (rank 0 schedules;\n"
            "         alone, it runs them itself). Results go to a journal and to PostgreSQL;\n"
            "         tasks already stored are skipped, so rerunning resumes. --dry-run\n"
            "         validates the spec and counts its tasks without running or storing.\n"
            "status   progress and failures of a stored campaign\n"
            "list     every stored campaign\n"
            "export   a campaign's results, one row per task and metric (csv) or one object\n"
            "         per task (jsonl)\n\n"
            "--db URL defaults to $BNC_DB, else the private server of scripts/pg (./var/pg).\n");
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},      {"no-db", no_argument, 0, 'n'},
        {"journal", required_argument, 0, 'j'}, {"inflight", required_argument, 0, 'k'},
        {"threads", required_argument, 0, 't'}, {"progress", required_argument, 0, 'p'},
        {"dry-run", no_argument, 0, 'D'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    bnc_run_opts o = {0};
    o.kinds = bnc_cli_kinds();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.db_url = optarg; break;
        case 'n': o.no_db = 1; break;
        case 'D': o.dry_run = 1; break;
        case 'j': o.journal_path = optarg; break;
        case 'k': o.inflight = atoi(optarg); break;
        case 't': o.threads = atoi(optarg); break;
        case 'p':
            o.progress = !strcmp(optarg, "none") ? -1 : !strcmp(optarg, "lines") ? 1 : 0;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    o.spec_path = argv[optind];

    MPI_Init(NULL, NULL);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    bnc_run_summary s;
    bnc_err err;
    bnc_err_clear(&err);
    int rc = bnc_campaign_run(MPI_COMM_WORLD, &o, &s, &err);
    if (s.orphaned) {
        /* mpirun is gone: MPI_Finalize would wait for it; leave at once. */
        fprintf(stderr, "bnc: %s\n", err.msg);
        fflush(NULL);
        _exit(1);
    }
    if (rank == 0 && o.dry_run && rc == 0) {
        printf("campaign %s: spec %s is valid, %zu tasks planned (dry run: nothing run or "
               "stored)\n",
               s.campaign, o.spec_path, s.planned);
    } else if (rank == 0 && s.planned > 0) {
        size_t ran = s.done + s.failed;
        printf("campaign %s: %zu tasks planned, %zu skipped (already stored), %zu run: %zu done, "
               "%zu failed, %zu retried, in %.2f s (%.1f tasks/s)\n",
               s.campaign, s.planned, s.skipped, ran, s.done, s.failed, s.retried, s.seconds,
               s.tasks_per_s);
        if (!o.no_db && !s.db_lost)
            printf("database: %llu new task rows, %llu new metric rows\n",
                   (unsigned long long)s.new_task_rows, (unsigned long long)s.new_metric_rows);
        else if (s.db_lost)
            printf("database: unavailable (%s); results are in the journal: bnc db sync %s\n",
                   s.db_error, s.journal);
        printf("journal: %s\n", s.journal);
    }
    int status = 0;
    if (rc) {
        if (rank == 0)
            fprintf(stderr, "bnc: %s\n", err.msg);
        status = bnc_exit_status(rc);
    }
    MPI_Finalize();
    return status;
}

static int connect(const char *url, PGconn **c)
{
    bnc_err err;
    int rc = bnc_db_connect(url, c, &err);
    if (!rc)
        rc = bnc_db_require_schema(*c, &err);
    if (rc) {
        bnc_db_close(*c);
        return bnc_cli_fail(rc, err.msg);
    }
    return 0;
}

static int cmd_list(const char *url)
{
    PGconn *c = NULL;
    int st = connect(url, &c);
    if (st)
        return st;
    PGresult *r;
    bnc_err err;
    int rc = bnc_db_query(c,
                          "SELECT c.name, c.status, c.total_tasks, "
                          "count(t.id) FILTER (WHERE t.status = 'done'), "
                          "count(t.id) FILTER (WHERE t.status = 'failed'), "
                          "to_char(c.created_at, 'YYYY-MM-DD HH24:MI') "
                          "FROM campaigns c LEFT JOIN tasks t ON t.campaign = c.name "
                          "GROUP BY c.name ORDER BY c.created_at",
                          0, NULL, &r, &err);
    if (rc) {
        bnc_db_close(c);
        return bnc_cli_fail(rc, err.msg);
    }
    printf("%-32s %-8s %8s %8s %8s  %s\n", "campaign", "status", "tasks", "done", "failed",
           "created");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-32s %-8s %8s %8s %8s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    PQclear(r);
    bnc_db_close(c);
    return 0;
}

static int cmd_status(const char *name, const char *url)
{
    PGconn *c = NULL;
    int st = connect(url, &c);
    if (st)
        return st;
    PGresult *r;
    bnc_err err;
    const char *p[] = {name};
    int rc = bnc_db_query(c,
                          "SELECT c.status, c.total_tasks, c.spec_hash, "
                          "count(t.id) FILTER (WHERE t.status = 'done'), "
                          "count(t.id) FILTER (WHERE t.status = 'failed'), "
                          "(SELECT count(*) FROM metrics m JOIN tasks t2 ON t2.id = m.task_id "
                          " WHERE t2.campaign = c.name) "
                          "FROM campaigns c LEFT JOIN tasks t ON t.campaign = c.name "
                          "WHERE c.name = $1 GROUP BY c.name",
                          1, p, &r, &err);
    if (!rc && PQntuples(r) == 0) {
        PQclear(r);
        bnc_db_close(c);
        fprintf(stderr, "bnc: no campaign named '%s' in the database\n", name);
        return 2;
    }
    if (rc) {
        bnc_db_close(c);
        return bnc_cli_fail(rc, err.msg);
    }
    printf("campaign %s: %s\n  tasks planned %s, done %s, failed %s\n  metric rows %s\n  spec "
           "hash %s\n",
           name, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 3),
           PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 2));
    PQclear(r);
    rc = bnc_db_query(c,
                      "SELECT id, kind, params::text, seed, attempts, error FROM tasks "
                      "WHERE campaign = $1 AND status = 'failed' ORDER BY id LIMIT 20",
                      1, p, &r, &err);
    if (!rc) {
        for (int i = 0; i < PQntuples(r); i++)
            printf("  failed %s %s %s seed %s after %s attempts: %s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        PQclear(r);
    }
    bnc_db_close(c);
    return 0;
}

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *url = NULL, *format = "csv", *outp = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': url = optarg; break;
        case 'f': format = optarg; break;
        case 'o': outp = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc || (strcmp(format, "csv") && strcmp(format, "jsonl"))) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    PGconn *db = NULL;
    int st = connect(url, &db);
    if (st)
        return st;
    PGresult *r;
    bnc_err err;
    const char *p[] = {name};
    int rc = bnc_db_query(db,
                          "SELECT t.id, t.kind, t.params::text, t.seed, t.status, t.rank, t.host, "
                          "extract(epoch FROM t.finished_at - t.started_at), m.name, m.value, m.unit "
                          "FROM tasks t LEFT JOIN metrics m ON m.task_id = t.id "
                          "WHERE t.campaign = $1 ORDER BY t.id, m.name",
                          1, p, &r, &err);
    if (rc) {
        bnc_db_close(db);
        return bnc_cli_fail(rc, err.msg);
    }
    FILE *f = outp ? fopen(outp, "w") : stdout;
    if (!f) {
        PQclear(r);
        bnc_db_close(db);
        fprintf(stderr, "bnc: cannot write %s\n", outp);
        return 1;
    }
    int n = PQntuples(r);
    if (!strcmp(format, "csv")) {
        fprintf(f, "task_id,kind,params,seed,status,rank,host,seconds,metric,value,unit\n");
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 11; k++) {
                if (k)
                    fputc(',', f);
                csv_field(f, PQgetvalue(r, i, k));
            }
            fputc('\n', f);
        }
    } else {
        for (int i = 0; i < n;) {
            const char *id = PQgetvalue(r, i, 0);
            json_error_t je;
            json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "task_id", id, "kind",
                                  PQgetvalue(r, i, 1), "params",
                                  json_loads(PQgetvalue(r, i, 2), 0, &je), "seed",
                                  (json_int_t)strtoll(PQgetvalue(r, i, 3), NULL, 10), "status",
                                  PQgetvalue(r, i, 4), "host", PQgetvalue(r, i, 6));
            json_t *m = json_object();
            for (; i < n && !strcmp(PQgetvalue(r, i, 0), id); i++)
                if (!PQgetisnull(r, i, 8))
                    json_object_set_new(m, PQgetvalue(r, i, 8),
                                        json_real(strtod(PQgetvalue(r, i, 9), NULL)));
            json_object_set_new(o, "metrics", m);
            char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            fprintf(f, "%s\n", line);
            free(line);
            json_decref(o);
        }
    }
    if (outp)
        fclose(f);
    PQclear(r);
    bnc_db_close(db);
    return 0;
}

int bnc_cmd_campaign(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(sub, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(sub, "list") || !strcmp(sub, "status")) {
        const char *url = NULL;
        int st = bnc_cli_db_opt(argc - 1, argv + 1, &url, usage);
        if (st >= 0)
            return st;
        int want = !strcmp(sub, "status") ? 1 : 0;
        if (argc - 1 - optind != want) {
            usage(stderr);
            return 2;
        }
        return want ? cmd_status(argv[1 + optind], url) : cmd_list(url);
    }
    fprintf(stderr, "bnc campaign: unknown subcommand '%s'\n", sub);
    usage(stderr);
    return 2;
}
