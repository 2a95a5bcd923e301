/* bnc quantize IN OUT.gguf --type T: serial, or under mpirun -np N with the
 * tensors shared among ranks and written in parallel with MPI-IO. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_db.h"
#include "bnc_err.h"
#include "bnc_gpu_quant.h"
#include "bnc_hash.h"
#include "bnc_quantize.h"
#include "bnc_store.h"
#include "bnc_time.h"
#include "bnc_version.h"
#include "commands.h"
#include "quantize_ptq.h"

#define MAX_OVERRIDES 64

static void quantize_usage(FILE *f)
{
    fprintf(f, "usage: [mpirun -np N] bnc quantize IN OUT.gguf --type T [options]\n\n"
               "IN is a GGUF file, a safetensors file or a sharded checkpoint's\n"
               "model.safetensors.index.json. T is one of f32, f16, bf16, q8_0, q4_0, tq1_0,\n"
               "tq2_0, or bitnet (absmean ternarize, then pack as tq2_0 or tq1_0).\n"
               "1-D tensors, norms, embeddings and the output matrix keep their precision\n"
               "unless an override names them. GGUF input keeps all its metadata keys.\n\n"
               "  --type T              target type (required)\n"
               "  --pack tq2_0|tq1_0    bitnet's container (default tq2_0)\n"
               "  --override PAT=TYPE   per-name rule (fnmatch pattern; TYPE a type or keep);\n"
               "                        repeatable, first match wins\n"
               "  --split-mb N          split tensors larger than N MiB by rows across ranks\n"
               "                        (default 64)\n"
               "  --no-metrics          skip the per-tensor error metrics\n"
               "  --db URL              store the metrics in PostgreSQL (URL 'default': $BNC_DB\n"
               "                        or the private cluster of scripts/pg)\n"
               "  --campaign NAME       campaign the stored rows belong to (default quantize)\n"
               "  --quiet               no per-tensor table and no progress\n"
               "  --device cpu|gpu      quantize on this rank's GPU (one rank per GPU, chosen\n"
               "                        by node-local rank; same bytes as the CPU; needs CUDA)\n"
               "  --method rtn|gptq|awq round-to-nearest (default), or GPTQ / AWQ calibrated on\n"
               "                        --calib (q4_0, q8_0, tq2_0, bitnet; models of bnc train's\n"
               "                        layout; serial; docs/train.md)\n"
               "  --calib FILE          calibration text for gptq and awq\n");
}

/* One task per tensor (kind quantize_tensor) and its metrics in long form,
 * stored in one transaction through bnc_store_tasks_add; reruns insert
 * nothing twice. */
#define QUANT_METRICS 9
static int store_db(const char *url, const char *campaign, const char *in, const char *out,
                    const char *cmdline, const bnc_model *m, const bnc_quant_plan *p,
                    const bnc_quant_result *r, const char *scheme, int ranks, bnc_err *err)
{
    PGconn *c;
    int rc = bnc_db_connect(url, &c, err);
    if (rc) return rc;
    char spec_hash[33];
    bnc_hash128_hex(cmdline, strlen(cmdline), spec_hash);
    /* Every quantize run may add to its campaign, whatever its command line. */
    bnc_campaign_def def = {campaign, "bnc quantize", cmdline, spec_hash, NULL, 0, "done", 1};
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    bnc_task_row *rows = calloc(p->n + 1, sizeof *rows);
    bnc_metric_row *ms = calloc(QUANT_METRICS * (p->n + 1), sizeof *ms);
    char(*ids)[33] = calloc(p->n + 1, sizeof *ids);
    char **pjs = calloc(p->n + 1, sizeof *pjs);
    if (!rows || !ms || !ids || !pjs) rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
    if (!rc) rc = bnc_db_require_schema(c, err);
    if (!rc) rc = bnc_store_campaign_ensure(c, &def, err);
    double now = bnc_wall();
    for (size_t i = 0; i < p->n && !rc; i++) {
        const bnc_quant_item *it = &p->items[i];
        const bnc_model_tensor *t = &m->tensors[it->src];
        const bnc_gguf_type_info *ti = bnc_gguf_type(it->out_type);
        json_t *shape = json_array();
        for (int d = (int)t->n_dims - 1; d >= 0; d--)
            json_array_append_new(shape, json_integer(t->ne[d]));
        json_t *params =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "tensor", t->name, "type",
                      ti ? ti->name : "?", "scheme", scheme, "source", in, "source_hash",
                      r->source_hash, "output", out, "shape", shape, "reason", it->reason);
        pjs[i] = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(params);
        char key[1200];
        snprintf(key, sizeof key, "%s|quantize_tensor|%s|%s|%s|%s", campaign, r->source_hash,
                 scheme, t->name, ti ? ti->name : "?");
        bnc_hash128_hex(key, strlen(key), ids[i]);
        const bnc_quant_metric *q = &r->metrics[i];
        uint64_t ob = (uint64_t)it->rows * it->out_row_bytes;
        double n = (double)it->rows * (double)it->cols;
        bnc_metric_row *mr = &ms[QUANT_METRICS * i];
        const bnc_metric_row vals[QUANT_METRICS] = {
            {"mse", q->mse, ""},
            {"rel_rmse", q->rel_rmse, ""},
            {"sqnr_db", q->sqnr_db, "dB"},
            {"cosine", q->cosine, ""},
            {"max_abs_err", q->max_abs, ""},
            {"sparsity", q->sparsity, ""},
            {"bytes_in", (double)it->in_bytes, "B"},
            {"bytes_out", (double)ob, "B"},
            {"bits_per_weight", n > 0 ? 8.0 * (double)ob / n : 0.0, "bit"}};
        memcpy(mr, vals, sizeof vals);
        rows[i] = (bnc_task_row){.id = ids[i],
                                 .campaign = campaign,
                                 .kind = "quantize_tensor",
                                 .params_json = pjs[i] ? pjs[i] : "{}",
                                 .ok = 1,
                                 .attempts = 1,
                                 .rank = ranks,
                                 .host = host,
                                 .started_at = now,
                                 .finished_at = now,
                                 .metrics = mr,
                                 .n_metrics = QUANT_METRICS};
    }
    if (!rc) rc = bnc_store_tasks_add(c, rows, p->n, NULL, NULL, err);
    for (size_t i = 0; pjs && i < p->n; i++)
        free(pjs[i]);
    free(pjs);
    free(ids);
    free(ms);
    free(rows);
    bnc_db_close(c);
    return rc;
}

static void print_table(const bnc_model *m, const bnc_quant_plan *p, const bnc_quant_result *r)
{
    int w = 6;
    for (size_t i = 0; i < p->n; i++)
        if ((int)strlen(m->tensors[p->items[i].src].name) > w)
            w = (int)strlen(m->tensors[p->items[i].src].name);
    printf("%-*s %-6s %-6s %5s %10s %10s %8s %9s %s\n", w, "tensor", "in", "out", "rank",
           "bytes_out", "rel_rmse", "sqnr_dB", "cosine", "note");
    for (size_t i = 0; i < p->n; i++) {
        const bnc_quant_item *it = &p->items[i];
        const bnc_model_tensor *t = &m->tensors[it->src];
        const bnc_gguf_type_info *a = bnc_gguf_type(t->type), *b = bnc_gguf_type(it->out_type);
        char owner[16];
        if (it->owner < 0)
            snprintf(owner, sizeof owner, "all");
        else
            snprintf(owner, sizeof owner, "%d", it->owner);
        printf("%-*s %-6s %-6s %5s %10llu", w, t->name, a ? a->name : "?", b ? b->name : "?", owner,
               (unsigned long long)((uint64_t)it->rows * it->out_row_bytes));
        if (r->metrics)
            printf(" %10.6f %8.2f %9.6f", r->metrics[i].rel_rmse, r->metrics[i].sqnr_db,
                   r->metrics[i].cosine);
        else
            printf(" %10s %8s %9s", "-", "-", "-");
        printf(" %s\n", it->reason);
    }
}

/* --device gpu: every rank opens its GPU (by node-local rank) before any
 * output exists; one rank's failure stops all of them with its message. */
static int gpu_open(int rank, bnc_quant_opts *o, bnc_gpu_quant **gq, bnc_err *err)
{
    MPI_Comm node;
    int local = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    int rc = bnc_gpu_quant_new(rank, local, stderr, gq, err);
    int first = rc ? rank : 1 << 30, who = first;
    MPI_Allreduce(&first, &who, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (who != 1 << 30) {
        MPI_Bcast(err->msg, (int)sizeof err->msg, MPI_CHAR, who, MPI_COMM_WORLD);
        MPI_Bcast(&rc, 1, MPI_INT, who, MPI_COMM_WORLD);
        bnc_gpu_quant_free(*gq);
        *gq = NULL;
        return rc ? rc : BNC_ENOTSUP;
    }
    bnc_gpu_quant_attach(*gq, o);
    /* Larger slabs than the CPU's 8 MiB: fewer, longer transfers. */
    if (!o->chunk_bytes) o->chunk_bytes = (uint64_t)256 << 20;
    return 0;
}

/* One JSON line per rank (printed by rank 0): GB/s of f32 input through the
 * GPU and the host-to-device bandwidth measured now on the same GPU. */
static void gpu_report(bnc_gpu_quant *gq, int rank, int size)
{
    bnc_gpu_quant_stats st;
    bnc_gpu_quant_stats_get(gq, &st);
    double h2d = 0, v[5];
    bnc_err e;
    bnc_gpu_quant_h2d(gq, &h2d, &e);
    v[0] = st.f32_bytes, v[1] = st.seconds, v[2] = h2d, v[3] = (double)st.slabs_cpu,
    v[4] = (double)st.device;
    double *all = rank == 0 ? malloc(sizeof v * (size_t)size) : NULL;
    MPI_Gather(v, 5, MPI_DOUBLE, all, 5, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank != 0) return;
    for (int r = 0; all && r < size; r++) {
        double *w = all + 5 * r, gbps = w[1] > 0 ? w[0] / w[1] / 1e9 : 0;
        printf("{\"event\":\"quantize_gpu\",\"rank\":%d,\"device\":%d,\"f32_bytes\":%.0f,"
               "\"gpu_seconds\":%.4f,\"f32_GBps\":%.3f,\"h2d_pinned_GBps\":%.3f,"
               "\"fraction_of_h2d\":%.3f,\"slabs_on_cpu\":%.0f}\n",
               r, (int)w[4], w[0], w[1], gbps, w[2], w[2] > 0 ? gbps / w[2] : 0.0, w[3]);
    }
    free(all);
}

int bnc_cmd_quantize(int argc, char **argv)
{
    static const struct option opts[] = {{"type", required_argument, NULL, 't'},
                                         {"pack", required_argument, NULL, 'p'},
                                         {"override", required_argument, NULL, 'o'},
                                         {"split-mb", required_argument, NULL, 's'},
                                         {"no-metrics", no_argument, NULL, 'M'},
                                         {"db", required_argument, NULL, 'd'},
                                         {"campaign", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"device", required_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"method", required_argument, NULL, 'W'},
                                         {"calib", required_argument, NULL, 'C'},
                                         {NULL, 0, NULL, 0}};
    int method = 0;
    const char *calib = NULL;
    bnc_quant_opts o = {0};
    int gpu = 0;
    o.metrics = 1;
    o.progress = 1;
    o.version = BNC_VERSION;
    const char *pat[MAX_OVERRIDES], *typ[MAX_OVERRIDES];
    char *ov_copy[MAX_OVERRIDES];
    size_t nov = 0;
    int use_db = 0, quiet = 0, c, status = 0;
    const char *db_url = NULL, *campaign = "quantize";
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            o.type = optarg;
            break;
        case 'p':
            o.pack = optarg;
            break;
        case 'o': {
            char *eq = strrchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || nov == MAX_OVERRIDES) {
                fprintf(stderr, "bnc: quantize: --override wants PATTERN=TYPE, got '%s'\n", optarg);
                status = 2;
                goto out;
            }
            ov_copy[nov] = strdup(optarg);
            ov_copy[nov][eq - optarg] = '\0';
            pat[nov] = ov_copy[nov];
            typ[nov] = ov_copy[nov] + (eq - optarg) + 1;
            nov++;
            break;
        }
        case 's': {
            char *end;
            double mb = strtod(optarg, &end);
            if (*end || mb <= 0) {
                fprintf(stderr, "bnc: quantize: --split-mb: '%s' is not a positive number\n",
                        optarg);
                status = 2;
                goto out;
            }
            o.split_bytes = (uint64_t)(mb * 1048576.0);
            break;
        }
        case 'M':
            o.metrics = 0;
            break;
        case 'd':
            if (!*optarg) {
                status = bnc_cli_fail(BNC_EINVAL, "quantize: --db is empty (an unset "
                                                  "variable?); give a URL or 'default'");
                goto out;
            }
            use_db = 1;
            db_url = strcmp(optarg, "default") == 0 ? NULL : optarg;
            break;
        case 'c':
            campaign = optarg;
            break;
        case 'q':
            quiet = 1;
            o.progress = 0;
            break;
        case 'D':
            if (strcmp(optarg, "cpu") && strcmp(optarg, "gpu")) {
                fprintf(stderr, "bnc: quantize: --device wants cpu or gpu, got '%s'\n", optarg);
                status = 2;
                goto out;
            }
            gpu = !strcmp(optarg, "gpu");
            break;
        case 'W':
            if ((method = bnc_cli_ptq_method(optarg)) < 0) {
                fprintf(stderr, "bnc: quantize: --method: '%s' (rtn, gptq or awq)\n", optarg);
                status = 2;
                goto out;
            }
            break;
        case 'C':
            calib = optarg;
            break;
        case 'h':
            quantize_usage(stdout);
            goto out;
        default:
            status = 2;
            goto out;
        }
    }
    if (optind != argc - 2 || !o.type) {
        quantize_usage(stderr);
        status = 2;
        goto out;
    }
    if (method && !calib) {
        status = bnc_cli_fail(BNC_EINVAL, "quantize: --method gptq/awq needs --calib FILE");
        goto out;
    }
    if (method && bnc_cli_ptq_handles(o.type)) {
        status = bnc_cli_quantize_ptq(argv[optind], argv[optind + 1], o.type, method, calib, quiet);
        goto out;
    }
    if (use_db && !o.metrics) {
        status = bnc_cli_fail(BNC_EINVAL, "quantize: --db stores metrics; drop --no-metrics");
        goto out;
    }
    o.n_overrides = nov;
    o.ov_pattern = pat;
    o.ov_type = typ;
    const char *in = argv[optind], *outp = argv[optind + 1];
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(NULL, NULL);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank != 0) o.progress = 0;
    bnc_quant_plan *plan = NULL;
    bnc_quant_result res = {0};
    bnc_err err;
    bnc_err_clear(&err);
    bnc_gpu_quant *gq = NULL;
    int rc = gpu ? gpu_open(rank, &o, &gq, &err) : 0;
    if (!rc) rc = bnc_quantize_run(MPI_COMM_WORLD, in, outp, &o, &plan, &res, &err);
    if (!rc && gq) gpu_report(gq, rank, size);
    bnc_gpu_quant_free(gq);
    if (rc) {
        if (rank == 0) bnc_cli_fail(rc, err.msg);
        status = bnc_exit_status(rc);
    } else if (rank == 0) {
        bnc_model *m = NULL;
        /* The plan names tensors by index; reopen the header for names. */
        if (bnc_model_open(in, NULL, &m, &err) == 0) {
            if (!quiet) print_table(m, plan, &res);
            char scheme[64];
            snprintf(scheme, sizeof scheme, "%s%s%s", o.type, strcmp(o.type, "bitnet") ? "" : "/",
                     strcmp(o.type, "bitnet") ? "" : (o.pack ? o.pack : "tq2_0"));
            if (use_db) {
                char cmdline[4096] = "bnc";
                size_t len = 3;
                for (int i = 0; i < argc && len < sizeof cmdline; i++)
                    len += (size_t)snprintf(cmdline + len, sizeof cmdline - len, " %s", argv[i]);
                rc = store_db(db_url, campaign, in, outp, cmdline, m, plan, &res, scheme, size,
                              &err);
                if (rc) {
                    bnc_cli_fail(rc, err.msg);
                    status = bnc_exit_status(rc);
                } else {
                    printf("stored %zu tensors' metrics in campaign %s\n", plan->n, campaign);
                }
            }
            bnc_model_free(m);
        }
        printf("{\"event\":\"quantize\",\"type\":\"%s\",\"ranks\":%d,\"tensors\":%zu,"
               "\"in_bytes\":%llu,\"out_bytes\":%llu,\"seconds\":%.3f,\"gb_per_s\":%.3f,"
               "\"source_hash\":\"%s\",\"output\":\"%s\"}\n",
               o.type, size, res.n, (unsigned long long)res.in_bytes,
               (unsigned long long)res.out_bytes, res.seconds,
               res.seconds > 0 ? (double)res.in_bytes / res.seconds / 1e9 : 0.0, res.source_hash,
               outp);
    }
    /* Every rank leaves with rank 0's verdict (a DB failure happens there). */
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    bnc_quant_plan_free(plan);
    bnc_quant_result_free(&res);
    if (!inited) MPI_Finalize();
out:
    for (size_t i = 0; i < nov; i++)
        free(ov_copy[i]);
    return status;
}
