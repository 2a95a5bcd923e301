/* bnc bench kernels: kernel throughput against memory bandwidth. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_bench_kernels.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bnc bench kernels [--quick] [options]\n\n"
            "kernels  quantize and GEMV throughput (GB/s of f32 read / of packed weights read)\n"
            "         against the streaming read bandwidth measured in the same run with the\n"
            "         same thread count; one JSON object per line, then a table ('#' lines)\n\n"
            "options:\n"
            "  --quick              small shapes and footprint, a few seconds (CI)\n"
            "  --threads N          threads 1..N (default: online CPUs)\n"
            "  --schemes LIST       GEMV schemes, comma-separated (default: bitnet,bitnet-row,\n"
            "                       bitnet-group,tq2_0,tq1_0,q8_0,q4_0)\n"
            "  --isa LIST           scalar,avx2,avx512 (default: BNC_ISA or the best here)\n"
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
        {"quick", no_argument, 0, 'q'},          {"threads", required_argument, 0, 't'},
        {"schemes", required_argument, 0, 's'},  {"isa", required_argument, 0, 'i'},
        {"shapes", required_argument, 0, 'S'},   {"footprint-mb", required_argument, 0, 'f'},
        {"batch", required_argument, 0, 'b'},    {"min-seconds", required_argument, 0, 'm'},
        {"reps", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
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
    if (rc)
        return bnc_cli_fail(rc, err.msg);
    return 0;
}

int bnc_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "kernels"))
        return bench_kernels(argc - 1, argv + 1);
    fprintf(stderr, "bnc bench: unknown benchmark '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
