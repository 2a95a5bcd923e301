/* bnc campaign run|status|list|export */
#include <errno.h>
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_campaign.h"
#include "bnc_db.h"
#include "bnc_store.h"
#include "report.h"
#include "bnc_out.h"
#include "bnc_task.h"
#include "commands.h"
#include "kinds_all.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc campaign run SPEC [--db URL | --no-db] [--journal PATH] [--inflight K]\n"
               "                       [--threads N] [--progress auto|lines|none] [--dry-run]\n"
               "                       [--salvage] [--max-tasks N]\n"
               "       bnc campaign status NAME [--db URL]\n"
               "       bnc campaign list [--db URL]\n"
               "       bnc campaign export NAME [--db URL] [--format csv|jsonl] [-o FILE]\n\n"
               "run      expand SPEC into tasks and run them on every MPI rank (rank 0 schedules;\n"
               "         alone, it runs them itself). Results go to a journal and to PostgreSQL;\n"
               "         tasks already stored are skipped, so rerunning resumes. --dry-run\n"
               "         validates the spec and counts its tasks without running or storing.\n"
               "         A spec expanding to more than --max-tasks tasks (default 10000000) is\n"
               "         refused before it is planned.\n"
               "         A damaged journal is refused (what is damaged is reported); --salvage\n"
               "         moves it aside and goes on with the results that verify.\n"
               "status   progress and failures of a stored campaign\n"
               "list     every stored campaign\n"
               "export   a campaign's results, one row per task and metric (csv) or one object\n"
               "         per task (jsonl)\n\n"
               "--db URL defaults to $BNC_DB, else the private server of scripts/pg (./var/pg).\n");
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"no-db", no_argument, 0, 'n'},
                                         {"journal", required_argument, 0, 'j'},
                                         {"inflight", required_argument, 0, 'k'},
                                         {"threads", required_argument, 0, 't'},
                                         {"progress", required_argument, 0, 'p'},
                                         {"dry-run", no_argument, 0, 'D'},
                                         {"help", no_argument, 0, 'h'},
                                         {"salvage", no_argument, 0, 'S'},
                                         {"max-tasks", required_argument, 0, 'M'},
                                         {0, 0, 0, 0}};
    bnc_run_opts o = {0};
    o.kinds = bnc_cli_kinds();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.db_url = optarg;
            break;
        case 'n':
            o.no_db = 1;
            break;
        case 'D':
            o.dry_run = 1;
            break;
        case 'S':
            o.salvage = 1;
            break;
        case 'j':
            o.journal_path = optarg;
            break;
        case 'k':
        case 't':
        case 'M': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || !*optarg || errno || v == 0 || optarg[0] == '-' ||
                (c != 'M' && v > 1000000)) {
                fprintf(stderr, "bnc: campaign run: --%s wants a positive integer%s, not '%s'\n",
                        c == 'k'   ? "inflight"
                        : c == 't' ? "threads"
                                   : "max-tasks",
                        c == 'M' ? "" : " up to 1000000", optarg);
                return 2;
            }
            if (c == 'k')
                o.inflight = (int)v;
            else if (c == 't')
                o.threads = (int)v;
            else
                o.max_tasks = v;
            break;
        }
        case 'p':
            o.progress = !strcmp(optarg, "none") ? -1 : !strcmp(optarg, "lines") ? 1 : 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    o.spec_path = argv[optind];
    if (o.db_url && !*o.db_url) {
        fprintf(stderr, "bnc: --db is empty (an unset variable?); give a URL, --no-db, or leave "
                        "--db out for the default\n");
        return 2;
    }

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
    } else if (rank == 0 && s.planned > 0 && (rc == 0 || s.done + s.failed + s.skipped > 0)) {
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
        if (s.journal_note[0]) printf("journal: %s\n", s.journal_note);
    }
    int status = 0;
    if (rc) {
        if (rank == 0) fprintf(stderr, "bnc: %s\n", err.msg);
        status = bnc_exit_status(rc);
    }
    MPI_Finalize();
    return status;
}

static int connect(const char *url, PGconn **c)
{
    bnc_err err;
    *c = NULL;
    int rc = bnc_db_connect(url, c, &err);
    if (!rc) rc = bnc_db_require_schema(*c, &err);
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
    if (st) return st;
    bnc_campaign_list l;
    bnc_err err;
    int rc = bnc_store_campaign_list(c, &l, &err);
    bnc_db_close(c);
    if (rc) return bnc_cli_fail(rc, err.msg);
    printf("%-32s %-8s %8s %8s %8s  %s\n", "campaign", "status", "tasks", "done", "failed",
           "created");
    for (size_t i = 0; i < l.n; i++)
        printf("%-32s %-8s %8lld %8lld %8lld  %s\n", l.v[i].name, l.v[i].status,
               (long long)l.v[i].total_tasks, (long long)l.v[i].done, (long long)l.v[i].failed,
               l.v[i].created);
    bnc_campaign_list_free(&l);
    return 0;
}

static int cmd_status(const char *name, const char *url)
{
    PGconn *c = NULL;
    int st = connect(url, &c);
    if (st) return st;
    bnc_campaign_list l;
    bnc_failed_list fl = {0};
    bnc_err err;
    int rc = bnc_store_campaign_get(c, name, &l, &err);
    if (!rc && l.n) rc = bnc_store_failed_tasks(c, name, 20, &fl, &err);
    bnc_db_close(c);
    if (!rc && l.n == 0) {
        bnc_campaign_list_free(&l);
        fprintf(stderr, "bnc: no campaign named '%s' in the database\n", name);
        return 2;
    }
    if (rc) {
        bnc_campaign_list_free(&l);
        return bnc_cli_fail(rc, err.msg);
    }
    const bnc_campaign_row *r = &l.v[0];
    printf("campaign %s: %s\n  tasks planned %lld, done %lld, failed %lld\n  metric rows %lld\n"
           "  spec hash %s\n",
           name, r->status, (long long)r->total_tasks, (long long)r->done, (long long)r->failed,
           (long long)r->metric_rows, r->spec_hash);
    for (size_t i = 0; i < fl.n; i++)
        printf("  failed %s %s %s seed %lld after %lld attempts: %s\n", fl.v[i].id, fl.v[i].kind,
               fl.v[i].params_json, (long long)fl.v[i].seed, (long long)fl.v[i].attempts,
               fl.v[i].error);
    bnc_failed_list_free(&fl);
    bnc_campaign_list_free(&l);
    return 0;
}

typedef struct export_ctx {
    FILE *f;
    int jsonl;
} export_ctx;

static int export_task(const bnc_export_task *t, void *arg)
{
    export_ctx *x = arg;
    if (!x->jsonl) {
        bnc_export_csv_task(x->f, t);
        return 0;
    }
    return bnc_export_jsonl_task(x->f, t);
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
        case 'd':
            if (!*optarg)
                return bnc_cli_fail(BNC_EINVAL, "--db is empty (an unset variable?); give a URL");
            url = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || (strcmp(format, "csv") && strcmp(format, "jsonl"))) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    bnc_err err;
    /* A temporary file beside the output, renamed into place when every
     * byte is written; a device or FIFO is refused (use -o - and redirect),
     * before the database is asked for anything. */
    bnc_out out;
    int rc = bnc_out_open(&out, outp ? outp : "-", NULL, &err);
    if (rc) return bnc_cli_fail(rc, err.msg);
    PGconn *db = NULL;
    int st = connect(url, &db);
    if (st) {
        bnc_out_abort(&out);
        return st;
    }
    export_ctx x = {out.f, strcmp(format, "jsonl") == 0};
    if (!x.jsonl) bnc_export_csv_header(out.f);
    rc = bnc_store_export(db, name, export_task, &x, &err);
    bnc_db_close(db);
    if (rc == BNC_ENOMEM) bnc_err_set(&err, rc, "export: out of memory");
    if (rc) {
        bnc_out_abort(&out);
        return bnc_cli_fail(rc, err.msg);
    }
    if ((rc = bnc_out_commit(&out, &err)) != 0) return bnc_cli_fail(rc, err.msg);
    return 0;
}

int bnc_cmd_campaign(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(sub, "export")) return cmd_export(argc - 1, argv + 1);
    if (!strcmp(sub, "list") || !strcmp(sub, "status")) {
        const char *url = NULL;
        int st = bnc_cli_db_opt(argc - 1, argv + 1, &url, usage);
        if (st >= 0) return st;
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
