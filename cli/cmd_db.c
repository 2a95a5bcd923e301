/* bnc db migrate|version|sync */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "bnc_db.h"
#include "bnc_sink.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc db migrate [--db URL]\n"
               "       bnc db version [--db URL]\n"
               "       bnc db sync JOURNAL [--db URL] [--salvage]\n\n"
               "migrate  apply the schema migrations this bnc carries (safe to rerun)\n"
               "version  print the database's schema version and this bnc's\n"
               "sync     load every result of a journal into the database (after a run\n"
               "         whose database went away); rows already stored are skipped. A\n"
               "         damaged journal has every record that verifies loaded and what was\n"
               "         skipped reported, with exit status 2 unless --salvage accepts it\n\n"
               "--db URL defaults to $BNC_DB, else the private server of scripts/pg (./var/pg).\n");
}

static int cmd_sync(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"salvage", no_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *url = NULL;
    int salvage = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            url = optarg;
            break;
        case 's':
            salvage = 1;
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
    if (url && !*url)
        return bnc_cli_fail(BNC_EINVAL, "--db is empty (an unset variable?); give a URL");
    const char *path = argv[optind];
    bnc_err err;
    bnc_err_clear(&err);
    bnc_sync_result r;
    int rc = bnc_journal_sync_db(path, url, salvage, &r, &err);
    if (rc && r.results == 0) return bnc_cli_fail(rc, err.msg);
    printf("journal %s: %llu results read, %llu new task rows, %llu new metric rows\n", path,
           (unsigned long long)r.results, (unsigned long long)r.new_tasks,
           (unsigned long long)r.new_metrics);
    if (r.check.torn || r.check.n_damaged) {
        char d[700];
        bnc_journal_check_describe(&r.check, d, sizeof d);
        printf("journal %s: %s%s\n", path, d,
               r.check.n_damaged && salvage ? " (salvaged: the loss accepted)" : "");
    }
    if (r.status[0]) printf("campaign status: %s\n", r.status);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}

int bnc_cmd_db(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    const char *sub = argv[1];
    const char *url = NULL;
    bnc_err err;
    bnc_err_clear(&err);
    if (!strcmp(sub, "sync")) return cmd_sync(argc - 1, argv + 1);
    int st = bnc_cli_db_opt(argc - 1, argv + 1, &url, usage);
    if (st >= 0) return st;
    int rest = argc - 1 - optind;
    if (strcmp(sub, "migrate") && strcmp(sub, "version")) {
        fprintf(stderr, "bnc db: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    if (rest != 0) {
        usage(stderr);
        return 2;
    }
    PGconn *db = NULL;
    int rc = bnc_db_connect(url, &db, &err);
    if (rc) return bnc_cli_fail(rc, err.msg);
    int before = 0, after = 0;
    rc = bnc_db_schema_version(db, &before, &err);
    if (!rc && !strcmp(sub, "migrate")) rc = bnc_db_migrate(db, &err);
    if (!rc) rc = bnc_db_schema_version(db, &after, &err);
    bnc_db_close(db);
    if (rc) return bnc_cli_fail(rc, err.msg);
    if (!strcmp(sub, "migrate"))
        printf("schema version %d -> %d (%d migration%s applied)\n", before, after, after - before,
               after - before == 1 ? "" : "s");
    else
        printf("database schema version %d, this bnc's %d\n", after, bnc_db_latest_version());
    return 0;
}
