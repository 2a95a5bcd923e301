/* bnc bench kernels: kernel throughput against memory bandwidth. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "bnc_bench_campaign.h"
#include "bnc_bench_kernels.h"
#include "bnc_db.h"
#include "kinds_all.h"
#include "commands.h"
#include "llm_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bnc bench kernels [--quick] [options]\n"
            "       mpirun -np 3 bnc bench scheduler [--tasks N] [--db URL | --no-db]\n"
            "       bnc bench ingest [--tasks N] [--metrics M] [--db URL]\n"
            "       bnc bench llm MODEL [-p 512] [-n 128] [-o md|csv|json|jsonl] (see --help)\n"
            "       mpirun -np N bnc bench collectives [-b 8 -e 32M -f 2] [--db URL]\n\n"
            "collectives  f32 allreduce against compressed allreduce (int8, ternary, sign,\n"
            "           top-k) in nccl-tests' columns, plus JSON lines; see --help there\n"
            "scheduler  no-op tasks per second through the campaign scheduler (journal\n"
            "           fsync'd), without and with the database; JSON lines\n"
            "ingest     metric rows per second into PostgreSQL through the results sink,\n"
            "           against a plain bulk load into an unindexed table in the same run\n\n"
            "kernels  quantize and GEMV throughput (GB/s of f32 read / of packed weights read)\n"
            "         against the streaming read bandwidth measured in the same run with the\n"
            "         same thread count; one JSON object per line, then a table ('#' lines)\n\n"
            "options:\n"
            "  --quick              small shapes and footprint, a few seconds (CI)\n"
            "  --threads N          threads 1..N (default: BNC_THREADS, else the online CPUs\n"
            "                       shared among the MPI ranks on this node)\n"
            "  --schemes LIST       GEMV schemes, comma-separated (default: bitnet,bitnet-row,\n"
            "                       bitnet-group,tq2_0,tq1_0,q8_0,q4_0)\n"
            "  --isa LIST           scalar,avx2,avx512,neon (default: BNC_ISA or the best here)\n"
            "  --shapes LIST        RxC,... (default 4096x4096,11008x4096,4096x11008 and the\n"
            "                       L2-sized 1024x2048, which runs in cache)\n"
            "  --footprint-mb MB    bytes the weights rotate over (default 2 x LLC, 256..1024)\n"
            "  --batch B            activations per GEMV, 1..64 (1)\n"
            "  --min-seconds S      per timed repetition (0.005; quick 0.002)\n"
            "  --reps N             timed repetitions, the best is kept (20; quick 3)\n");
}

static int bench_kernels(int argc, char **argv)
{
    static const struct option lo[] = {
        {"quick", no_argument, 0, 'q'},
        {"threads", required_argument, 0, 't'},
        {"schemes", required_argument, 0, 's'},
        {"isa", required_argument, 0, 'i'},
        {"shapes", required_argument, 0, 'S'},
        {"footprint-mb", required_argument, 0, 'f'},
        {"batch", required_argument, 0, 'b'},
        {"min-seconds", required_argument, 0, 'm'},
        {"reps", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bnc_bench_kernels_opts o = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'q':
            o.quick = 1;
            break;
        case 't':
            o.max_threads = atoi(optarg);
            break;
        case 's':
            o.schemes = optarg;
            break;
        case 'i':
            o.isas = optarg;
            break;
        case 'S':
            o.shapes = optarg;
            break;
        case 'f':
            o.footprint_mb = atol(optarg);
            break;
        case 'b':
            o.batch = atoi(optarg);
            break;
        case 'm':
            o.min_seconds = atof(optarg);
            break;
        case 'r':
            o.reps = atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || o.max_threads < 0 || o.batch < 0 || o.batch > 64) {
        usage(stderr);
        return 2;
    }
    bnc_err err;
    bnc_err_clear(&err);
    int rc = bnc_bench_kernels(&o, stdout, &err);
    if (rc) return bnc_cli_fail(rc, err.msg);
    return 0;
}

/* bnc bench scheduler: no-op tasks through the campaign scheduler under the
 * current mpirun, without and with the database. */
static int bench_scheduler(int argc, char **argv)
{
    static const struct option lo[] = {
        {"tasks", required_argument, 0, 'n'}, {"db", required_argument, 0, 'd'},
        {"no-db", no_argument, 0, 'N'},       {"workdir", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    long tasks = 20000;
    const char *db = NULL, *workdir = "/tmp";
    int no_db = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            tasks = atol(optarg);
            break;
        case 'd':
            db = optarg;
            break;
        case 'N':
            no_db = 1;
            break;
        case 'w':
            workdir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || tasks < 1) {
        usage(stderr);
        return 2;
    }
    char url[2300];
    if (!no_db && !db) {
        bnc_db_default_url(url, sizeof url);
        db = url;
    }
    MPI_Init(NULL, NULL);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    bnc_err err;
    bnc_err_clear(&err);
    int rc = bnc_bench_scheduler(tasks, no_db ? NULL : db, workdir, bnc_cli_kinds(), stdout, &err);
    if (rc && rank == 0) fprintf(stderr, "bnc: %s\n", err.msg);
    MPI_Finalize();
    return rc ? bnc_exit_status(rc) : 0;
}

/* bnc bench ingest: metric rows per second into PostgreSQL through the
 * results sink, against a plain bulk load in the same run. */
static int bench_ingest(int argc, char **argv)
{
    static const struct option lo[] = {{"tasks", required_argument, 0, 'n'},
                                       {"metrics", required_argument, 0, 'm'},
                                       {"db", required_argument, 0, 'd'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    long tasks = 50000;
    int metrics = 20, ch;
    const char *db = NULL;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            tasks = atol(optarg);
            break;
        case 'm':
            metrics = atoi(optarg);
            break;
        case 'd':
            db = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || tasks < 1 || metrics < 1 || metrics > 99) {
        usage(stderr);
        return 2;
    }
    bnc_err err;
    bnc_err_clear(&err);
    int rc = bnc_bench_ingest(tasks, metrics, db, stdout, &err);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}

int bnc_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "kernels")) return bench_kernels(argc - 1, argv + 1);
    if (!strcmp(argv[1], "scheduler")) return bench_scheduler(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ingest")) return bench_ingest(argc - 1, argv + 1);
    if (!strcmp(argv[1], "collectives")) return bnc_cmd_bench_collectives(argc - 1, argv + 1);
    if (!strcmp(argv[1], "llm")) return bnc_cli_bench_llm(argc - 1, argv + 1);
    fprintf(stderr, "bnc bench: unknown benchmark '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
