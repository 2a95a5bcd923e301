/* bnc bench llm: prompt processing and generation speed of a model, in the
 * style of llama-bench (pp512 / tg128, repetitions, mean +/- sd tokens/s),
 * next to the weight bytes each generated token reads and the streaming
 * read bandwidth measured in the same run: tg t/s x bytes/token / bandwidth
 * is the fraction of the memory-bound limit batch-1 generation reaches. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_gemv.h"
#include "bnc_llm.h"
#include "bnc_stream.h"
#include "bnc_time.h"
#include "commands.h"
#include "llm_cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc bench llm MODEL [options]\n\n"
               "pp N: N prompt tokens in one pass from an empty context (tokens/s); tg N: N\n"
               "tokens generated one at a time (batch 1) from an empty context. Each test runs\n"
               "--reps times after one warm-up; mean +/- sd and the best. Also: the weight bytes\n"
               "one token reads, the streaming read bandwidth measured in this run with the same\n"
               "threads (best of its repetitions, over a buffer of 2 x LLC, 256 MiB..1 GiB), and\n"
               "the best repetition's GB/s of weights as a fraction of it.\n\n"
               "options:\n"
               "  -p N             prompt tokens (512; 0 skips pp)\n"
               "  -n N             generated tokens (128; 0 skips tg)\n"
               "  -r, --reps N     repetitions (5)\n"
               "  --threads N      threads (default: online CPUs)\n"
               "  --quant SCHEME   quantize the weight matrices in memory first\n"
               "  --head SCHEME    also quantize the output head (default: kept)\n"
               "  -o FMT           md (default), csv, json or jsonl\n");
}

typedef struct res {
    const char *test;
    int64_t n;
    double mean, sd, best;
} res;

static void stats(const double *v, int n, double *mean, double *sd, double *best)
{
    double s = 0, s2 = 0;
    *best = 0;
    for (int i = 0; i < n; i++) {
        s += v[i];
        if (v[i] > *best) *best = v[i];
    }
    *mean = s / n;
    for (int i = 0; i < n; i++)
        s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

/* One timed run: tokens/s of pp (n tokens at once) or tg (n single steps). */
static int one(const bnc_llm_model *m, bnc_llm_state *s, int tg, int64_t n, const int32_t *tok,
               float *logits, double *tps, bnc_err *err)
{
    bnc_llm_state_reset(s);
    double t0 = bnc_now();
    int rc = 0;
    if (!tg) {
        rc = bnc_llm_forward(s, tok, n, logits, 1, err);
    } else {
        int32_t t = tok[0];
        for (int64_t i = 0; i < n && !rc; i++) {
            rc = bnc_llm_forward(s, &t, 1, logits, 1, err);
            t = (int32_t)((t * 7919 + 13) % m->cfg.vocab);
        }
    }
    double dt = bnc_now() - t0;
    *tps = dt > 0 ? (double)n / dt : 0;
    return rc;
}

int bnc_cli_bench_llm(int argc, char **argv)
{
    static const struct option lo[] = {
        {"reps", required_argument, 0, 'r'},  {"threads", required_argument, 0, 'j'},
        {"quant", required_argument, 0, 'q'}, {"head", required_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    long long np = 512, ng = 128, reps = 5, threads = 0;
    const char *quant = NULL, *head = NULL, *fmt = "md";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hp:n:r:o:", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (!bnc_cli_count("-p", optarg, 0, 1 << 16, &np)) return 2;
            break;
        case 'n':
            if (!bnc_cli_count("-n", optarg, 0, 1 << 16, &ng)) return 2;
            break;
        case 'r':
            if (!bnc_cli_count("--reps", optarg, 1, 1000, &reps)) return 2;
            break;
        case 'j':
            if (!bnc_cli_count("--threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case 'q':
            quant = optarg;
            break;
        case 'H':
            head = optarg;
            break;
        case 'o':
            fmt = optarg;
            if (strcmp(fmt, "md") && strcmp(fmt, "csv") && strcmp(fmt, "json") &&
                strcmp(fmt, "jsonl")) {
                fprintf(stderr, "bnc: bench llm: -o must be md, csv, json or jsonl\n");
                return 2;
            }
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
    const char *path = argv[optind];
    bnc_err err = {0};
    bnc_llm_model *base = NULL, *m = NULL;
    int rc = bnc_llm_load(path, NULL, &base, &err);
    if (!rc && (quant || head)) {
        const char *pat[1] = {"output.weight"}, *sch[1] = {head};
        bnc_llm_quant_opts qo = {0};
        qo.scheme = quant ? quant : head;
        if (!quant) {
            /* only the head: every other matrix kept */
            static const char *kp[2] = {"blk.*", NULL};
            static const char *ks[2] = {"keep", NULL};
            kp[1] = pat[0];
            ks[1] = head;
            qo.n_overrides = 2;
            qo.ov_pattern = kp;
            qo.ov_scheme = ks;
        } else if (head) {
            qo.n_overrides = 1;
            qo.ov_pattern = pat;
            qo.ov_scheme = sch;
        }
        rc = bnc_llm_quantize(base, &qo, &m, NULL, &err);
        if (rc) bnc_err_prefix(&err, "--quant/--head: ");
    } else if (!rc) {
        m = base;
        base = NULL;
    }
    bnc_pool *pool = NULL;
    bnc_llm_state *s = NULL;
    int32_t *tok = NULL;
    float *logits = NULL;
    uint8_t *buf = NULL;
    if (!rc) rc = bnc_pool_new((int)threads, &pool, &err);
    int64_t ctx = np > ng ? np : ng;
    if (!rc && ctx > m->cfg.ctx)
        rc = bnc_err_set(&err, BNC_EINVAL, "bench llm: %lld tokens exceed context_length %lld",
                         (long long)ctx, (long long)m->cfg.ctx);
    if (!rc) rc = bnc_llm_state_new(m, ctx > 0 ? ctx : 1, pool, &s, &err);
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = 32L << 20;
    size_t fp = 2 * (size_t)llc;
    fp = fp < (256u << 20) ? (256u << 20) : fp > (1u << 30) ? (1u << 30) : fp;
    if (!rc) {
        tok = malloc((size_t)(ctx > 0 ? ctx : 1) * sizeof *tok);
        logits = malloc((size_t)m->cfg.vocab * sizeof *logits);
        buf = aligned_alloc(64, fp);
        if (!tok || !logits || !buf) rc = bnc_err_set(&err, BNC_ENOMEM, "out of memory");
    }
    if (rc) goto done;
    memset(buf, 1, fp);
    for (int64_t i = 0; i < ctx; i++)
        tok[i] = (int32_t)((i * 7919 + 13) % m->cfg.vocab);
    res r[2];
    int nr = 0;
    double *v = malloc((size_t)reps * sizeof *v);
    double bw = bnc_stream_read_gbps(pool, buf, fp, 0.01, 5);
    for (int tg = 0; tg < 2 && !rc; tg++) {
        int64_t n = tg ? ng : np;
        if (n == 0) continue;
        double w;
        rc = one(m, s, tg, n, tok, logits, &w, &err); /* warm-up */
        for (long long i = 0; i < reps && !rc; i++)
            rc = one(m, s, tg, n, tok, logits, &v[i], &err);
        if (rc) break;
        r[nr].test = tg ? "tg" : "pp";
        r[nr].n = n;
        stats(v, (int)reps, &r[nr].mean, &r[nr].sd, &r[nr].best);
        nr++;
    }
    double bw2 = bnc_stream_read_gbps(pool, buf, fp, 0.01, 5);
    if (bw2 > bw) bw = bw2; /* best of before and after, as the kernels bench */
    free(v);
    if (rc) goto done;
    double bpt = bnc_llm_bytes_per_token(m);
    double embd_bytes = (double)m->w.tok_embd.nbytes;
    double total = bpt + (m->w.tied ? 0 : embd_bytes);
    int64_t params = m->cfg.vocab * m->cfg.dim * (m->w.tied ? 1 : 2);
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        const bnc_llm_layer *y = &m->w.layers[l];
        params += y->wq.rows * y->wq.cols + y->wk.rows * y->wk.cols + y->wv.rows * y->wv.cols +
                  y->wo.rows * y->wo.cols + 3 * y->w_up.rows * y->w_up.cols;
    }
    const char *qn = quant ? quant : "as stored";
    int nthr = bnc_pool_threads(pool);
    if (!strcmp(fmt, "md")) {
        printf(
            "| model | size MiB | params | quant | threads | test | t/s | best t/s | GB/s read | "
            "of bw (%.1f GB/s) |\n| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | "
            "---: |\n",
            bw);
    } else if (!strcmp(fmt, "csv")) {
        printf(
            "model,size_bytes,params,quant,threads,test,n,tps_mean,tps_sd,tps_best,bytes_per_token,"
            "read_gbps,bw_gbps,bw_fraction,llc_bytes,llc_exceeded\n");
    } else if (!strcmp(fmt, "json")) {
        printf("[\n");
    }
    for (int i = 0; i < nr; i++) {
        /* GB/s of weights read (tg: every weight once per token; pp: once per
         * pass), from the best repetition as the bandwidth is the best of its
         * repetitions (other processes' load falls on both alike) */
        double gbps = !strcmp(r[i].test, "tg") ? r[i].best * bpt / 1e9
                                               : r[i].best / (double)r[i].n * bpt / 1e9;
        double frac = bw > 0 ? gbps / bw : 0;
        char tname[32];
        snprintf(tname, sizeof tname, "%s%lld", r[i].test, (long long)r[i].n);
        int exceeded = total > (double)llc;
        if (!strcmp(fmt, "md"))
            printf("| %s | %.1f | %lld | %s | %d | %s | %.2f +/- %.2f | %.2f | %.2f | %.3f |\n",
                   path, total / 1048576.0, (long long)params, qn, nthr, tname, r[i].mean, r[i].sd,
                   r[i].best, gbps, frac);
        else if (!strcmp(fmt, "csv"))
            printf("%s,%.0f,%lld,%s,%d,%s,%lld,%.4f,%.4f,%.4f,%.0f,%.4f,%.4f,%.4f,%ld,%d\n", path,
                   total, (long long)params, qn, nthr, tname, (long long)r[i].n, r[i].mean, r[i].sd,
                   r[i].best, bpt, gbps, bw, frac, llc, exceeded);
        else
            printf("%s{\"bench\":\"llm\",\"model\":\"%s\",\"size_bytes\":%.0f,\"params\":%lld,"
                   "\"quant\":\"%s\",\"threads\":%d,\"test\":\"%s\",\"n\":%lld,\"reps\":%lld,"
                   "\"tps_mean\":%.4f,\"tps_sd\":%.4f,\"tps_best\":%.4f,\"bytes_per_token\":%.0f,"
                   "\"read_gbps\":%.4f,\"bw_gbps\":%.4f,\"bw_fraction\":%.4f,\"llc_bytes\":%ld,"
                   "\"llc_exceeded\":%s}%s\n",
                   !strcmp(fmt, "json") ? "  " : "", path, total, (long long)params, qn, nthr,
                   tname, (long long)r[i].n, reps, r[i].mean, r[i].sd, r[i].best, bpt, gbps, bw,
                   frac, llc, exceeded ? "true" : "false",
                   !strcmp(fmt, "json") && i + 1 < nr ? "," : "");
    }
    if (!strcmp(fmt, "json")) printf("]\n");
done:
    free(buf);
    free(tok);
    free(logits);
    bnc_llm_state_free(s);
    bnc_pool_free(pool);
    bnc_llm_free(m);
    bnc_llm_free(base);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}
