/* bnc db migrate|version|sync */
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
               "       bnc db sync JOURNAL [--db URL]\n\n"
               "migrate  apply the schema migrations this bnc carries (safe to rerun)\n"
               "version  print the database's schema version and this bnc's\n"
               "sync     load every result of a journal into the database (after a run\n"
               "         whose database went away); rows already stored are skipped\n\n"
               "--db URL defaults to $BNC_DB, else the private server of scripts/pg (./var/pg).\n");
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
    int st = bnc_cli_db_opt(argc - 1, argv + 1, &url, usage);
    if (st >= 0)
        return st;
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    bnc_err err;
    bnc_err_clear(&err);
    if (!strcmp(sub, "sync")) {
        if (rest != 1) {
            usage(stderr);
            return 2;
        }
        uint64_t results = 0, nt = 0, nm = 0;
        int rc = bnc_journal_sync_db(args[0], url, &results, &nt, &nm, &err);
        if (rc)
            return bnc_cli_fail(rc, err.msg);
        printf("journal %s: %llu results read, %llu new task rows, %llu new metric rows\n",
               args[0], (unsigned long long)results, (unsigned long long)nt,
               (unsigned long long)nm);
        return 0;
    }
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
    if (rc)
        return bnc_cli_fail(rc, err.msg);
    int before = 0, after = 0;
    rc = bnc_db_schema_version(db, &before, &err);
    if (!rc && !strcmp(sub, "migrate"))
        rc = bnc_db_migrate(db, &err);
    if (!rc)
        rc = bnc_db_schema_version(db, &after, &err);
    bnc_db_close(db);
    if (rc)
        return bnc_cli_fail(rc, err.msg);
    if (!strcmp(sub, "migrate"))
        printf("schema version %d -> %d (%d migration%s applied)\n", before, after, after - before,
               after - before == 1 ? "" : "s");
    else
        printf("database schema version %d, this bnc's %d\n", after, bnc_db_latest_version());
    return 0;
}
