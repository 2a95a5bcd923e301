/* bnc bench collectives: options (nccl-tests' -b -e -f -n -w -c), the run,
 * and --db storage through store/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "bnc_bench_collectives.h"
#include "bnc_campaign.h"
#include "bnc_coll_store.h"
#include "bnc_db.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -np N bnc bench collectives [options]\n\n"
               "allreduce of an f32 vector against compressed allreduce of the same vector, in\n"
               "nccl-tests' columns (one table per algorithm), then one JSON line per size with\n"
               "the bytes on the wire and the relative error against the exact sum\n\n"
               "options:\n"
               "  -b, --minbytes SIZE   smallest size (8; K, M, G suffixes)\n"
               "  -e, --maxbytes SIZE   largest size (32M; up to 1G and more)\n"
               "  -f, --stepfactor F    multiply the size by F each step (2)\n"
               "  -n, --iters N         timed calls per size (20)\n"
               "  -w, --warmup_iters N  untimed calls first (5)\n"
               "  -c, --check 0|1       count wrong elements against the host reference (1)\n"
               "  --check-max SIZE      sizes above are not checked (64M; #wrong shows N/A)\n"
               "  --algos LIST          f32,int8,ternary,sign,topk (all, in this order)\n"
               "  --topk FRAC           fraction top-k keeps (0.01)\n"
               "  --no-error-feedback   compress without residuals\n"
               "  --backend mpi|nccl    host buffers over MPI, or device buffers over NCCL\n"
               "                        (NCCL: f32 only; needs a build with CUDA and NCCL)\n"
               "  --db URL              store the rows in PostgreSQL (collective_results)\n");
}

/* "8", "64K", "32M", "1G" -> bytes; 0 on a malformed size. */
static uint64_t parse_size(const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || end == s || v <= 0) return 0;
    double m = 1;
    if (*end == 'K' || *end == 'k')
        m = 1024.0, end++;
    else if (*end == 'M' || *end == 'm')
        m = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        m = 1024.0 * 1024 * 1024, end++;
    return *end ? 0 : (uint64_t)(v * m);
}

static int parse_algos(const char *list, bnc_bench_coll_opts *o, bnc_err *err)
{
    o->nalgos = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bnc_car_algo a;
        int rc = bnc_car_parse(t, &a, err);
        if (rc) return rc;
        if (o->nalgos == BNC_CAR_COUNT)
            return bnc_err_set(err, BNC_EINVAL, "--algos: at most %d algorithms", BNC_CAR_COUNT);
        o->algos[o->nalgos++] = (int)a;
    }
    return o->nalgos ? 0 : bnc_err_set(err, BNC_EINVAL, "--algos: empty list");
}

int bnc_cmd_bench_collectives(int argc, char **argv)
{
    static const struct option lo[] = {
        {"minbytes", required_argument, 0, 'b'},
        {"maxbytes", required_argument, 0, 'e'},
        {"stepfactor", required_argument, 0, 'f'},
        {"iters", required_argument, 0, 'n'},
        {"warmup_iters", required_argument, 0, 'w'},
        {"check", required_argument, 0, 'c'},
        {"check-max", required_argument, 0, 'C'},
        {"algos", required_argument, 0, 'a'},
        {"topk", required_argument, 0, 'k'},
        {"no-error-feedback", no_argument, 0, 'E'},
        {"backend", required_argument, 0, 'B'},
        {"db", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bnc_bench_coll_opts o = {.min_bytes = 8,
                             .max_bytes = 32u << 20,
                             .factor = 2,
                             .iters = 20,
                             .warmup = 5,
                             .check = 1,
                             .check_max_bytes = 64u << 20};
    bnc_err err;
    bnc_err_clear(&err);
    const char *db = NULL, *algos = "f32,int8,ternary,sign,topk";
    int ch, bad = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:e:f:n:w:c:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'b':
            bad |= !(o.min_bytes = parse_size(optarg));
            break;
        case 'e':
            bad |= !(o.max_bytes = parse_size(optarg));
            break;
        case 'f':
            o.factor = atof(optarg);
            bad |= !(o.factor > 1);
            break;
        case 'n':
            o.iters = atoi(optarg);
            bad |= o.iters < 1;
            break;
        case 'w':
            o.warmup = atoi(optarg);
            bad |= o.warmup < 0;
            break;
        case 'c':
            o.check = atoi(optarg);
            bad |= o.check != 0 && o.check != 1;
            break;
        case 'C':
            bad |= !(o.check_max_bytes = parse_size(optarg));
            break;
        case 'a':
            algos = optarg;
            break;
        case 'k':
            o.car.topk_frac = atof(optarg);
            bad |= !(o.car.topk_frac > 0 && o.car.topk_frac <= 1);
            break;
        case 'E':
            o.car.error_feedback = -1;
            break;
        case 'B':
            if (bnc_comm_backend_parse(optarg, &o.backend, &err))
                return bnc_cli_fail(BNC_EINVAL, err.msg);
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
    if (bad || optind != argc || o.min_bytes > o.max_bytes) {
        fprintf(stderr, "bnc bench collectives: bad option value (sizes like 8, 64K, 32M, 1G; "
                        "-b <= -e; -f > 1; --topk in (0, 1])\n");
        usage(stderr);
        return 2;
    }
    if (parse_algos(algos, &o, &err)) return bnc_cli_fail(BNC_EINVAL, err.msg);
    if (db && !*db) return bnc_cli_fail(BNC_EINVAL, "--db: empty URL");
    if (!bnc_comm_backend_built(o.backend))
        return bnc_cli_fail(BNC_ENOTSUP, "--backend nccl: this bnc was built without CUDA/NCCL");

    MPI_Init(NULL, NULL);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* Rank 0 connects before the run, so a bad URL costs no benchmark. */
    PGconn *pg = NULL;
    int rc = 0;
    if (db && rank == 0) {
        rc = bnc_db_connect(db, &pg, &err);
        if (!rc) rc = bnc_db_migrate(pg, &err);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    bnc_bench_coll_row *rows = NULL;
    size_t nrows = 0;
    if (!rc) rc = bnc_bench_collectives(&o, stdout, rank == 0 && db ? &rows : NULL, &nrows, &err);
    if (!rc && pg) {
        char *env = bnc_environment_json();
        long long id = 0;
        rc =
            bnc_coll_store(pg, bnc_comm_backend_name(o.backend), size, env, rows, nrows, &id, &err);
        free(env);
        if (!rc) printf("# stored %zu rows in collective_results (run %lld)\n", nrows, id);
    }
    free(rows);
    bnc_db_close(pg);
    if (rc && (rank == 0 || rc != BNC_EDB))
        fprintf(stderr, "bnc bench collectives: rank %d: %s\n", rank, err.msg);
    MPI_Finalize();
    return rc ? bnc_exit_status(rc) : 0;
}
