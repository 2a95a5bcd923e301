/* bnc eval ppl|kld: model quality with llama-perplexity's protocol. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bnc_gemv.h"
#include "bnc_llm.h"
#include "commands.h"
#include "llm_cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc eval ppl MODEL --text FILE [options]\n"
               "       bnc eval kld BASE [QUANT] --text FILE [options]\n\n"
               "ppl  perplexity as llama-perplexity computes it: the text's tokens in\n"
               "     non-overlapping chunks of --ctx tokens, each chunk's first token replaced\n"
               "     by BOS, only the second half of each chunk scored; running [i]ppl values,\n"
               "     then 'Final estimate: PPL = x +/- y' and one JSON line\n"
               "kld  KL divergence of QUANT's next-token distribution from BASE's on the same\n"
               "     chunks (both run here), as llama-perplexity --kl-divergence: mean KLD +/-,\n"
               "     percentiles, ln(PPL(Q)/PPL(base)), RMS delta-p, same top token\n\n"
               "MODEL, BASE, QUANT: a GGUF file or a Hugging Face llama checkpoint (a folder\n"
               "with config.json and model.safetensors[.index.json])\n\n"
               "options:\n"
               "  --text FILE      text to score (required)\n"
               "  --ctx N          tokens per chunk (512)\n"
               "  --chunks N       chunks to score (default: all that fit)\n"
               "  --batch N        tokens per forward call (default: ctx)\n"
               "  --threads N      threads (default: online CPUs)\n"
               "  --quant SCHEME   quantize the model's weight matrices in memory first (ppl:\n"
               "                   the model; kld: QUANT is BASE quantized with SCHEME)\n"
               "  --weights-only   with --quant: decode the quantized weights back to f32, so\n"
               "                   activations stay f32 (what the int8 activations cost)\n"
               "  --json           only the JSON line\n");
}

int bnc_cli_count(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bnc: %s: '%s' is not a count in %lld..%lld\n", opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int bnc_cli_read_text(const char *path, char **out, size_t *n, bnc_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bnc_err_set(err, BNC_EINVAL, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return bnc_err_set(err, BNC_EINVAL, "%s: is a directory, not a text file", path);
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + len, 1, 4096, f);
        len += k;
        if (k < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return bnc_err_set(err, BNC_EIO, "%s: read failed", path);
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

int bnc_cli_llm_open(const char *path, const char *quant, int weights_only, bnc_llm_model **base,
                     bnc_llm_model **out, bnc_err *err)
{
    *base = NULL;
    *out = NULL;
    bnc_llm_model *m;
    int rc = bnc_llm_load(path, NULL, &m, err);
    if (rc) return rc;
    if (!quant) {
        *out = m;
        return 0;
    }
    bnc_llm_quant_opts qo = {0};
    qo.scheme = quant;
    qo.weights_only = weights_only;
    bnc_llm_model *q;
    if ((rc = bnc_llm_quantize(m, &qo, &q, NULL, err))) {
        bnc_llm_free(m);
        return bnc_err_prefix(err, "--quant: ");
    }
    *base = m;
    *out = q;
    return 0;
}

typedef struct eval_opts {
    const char *text, *quant;
    long long ctx, chunks, batch, threads;
    int json, weights_only;
} eval_opts;

static int parse(int argc, char **argv, eval_opts *o, int *status)
{
    static const struct option lo[] = {
        {"text", required_argument, 0, 't'},    {"ctx", required_argument, 0, 'c'},
        {"chunks", required_argument, 0, 'n'},  {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 'j'}, {"quant", required_argument, 0, 'q'},
        {"json", no_argument, 0, 'J'},          {"help", no_argument, 0, 'h'},
        {"weights-only", no_argument, 0, 'W'},  {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->ctx = 512;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 't':
            o->text = optarg;
            break;
        case 'q':
            o->quant = optarg;
            break;
        case 'J':
            o->json = 1;
            break;
        case 'W':
            o->weights_only = 1;
            break;
        case 'c':
            if (!bnc_cli_count("--ctx", optarg, 4, 1 << 20, &o->ctx)) return *status = 2, 0;
            break;
        case 'n':
            if (!bnc_cli_count("--chunks", optarg, 1, 1 << 30, &o->chunks)) return *status = 2, 0;
            break;
        case 'b':
            if (!bnc_cli_count("--batch", optarg, 1, 1 << 20, &o->batch)) return *status = 2, 0;
            break;
        case 'j':
            if (!bnc_cli_count("--threads", optarg, 1, 1024, &o->threads)) return *status = 2, 0;
            break;
        case 'h':
            usage(stdout);
            return *status = 0, 0;
        default:
            usage(stderr);
            return *status = 2, 0;
        }
    }
    if (!o->text) {
        fprintf(stderr, "bnc: eval: --text FILE is required\n");
        return *status = 2, 0;
    }
    return 1;
}

static void progress(void *arg, int64_t chunk, double v)
{
    if (*(int *)arg) return;
    printf("[%lld]%.4f,", (long long)chunk + 1, v);
    fflush(stdout);
}

/* Tokenizes the text file with m's tokenizer (BOS first). */
static int tokens_of(const bnc_llm_model *m, const char *path, int32_t **ids, size_t *n,
                     bnc_err *err)
{
    char *text;
    size_t len;
    int rc = bnc_cli_read_text(path, &text, &len, err);
    if (rc) return rc;
    rc = bnc_llm_tokenize(bnc_llm_tokenizer(m), text, len, 1, ids, n, err);
    free(text);
    return rc;
}

static int eval_ppl(int argc, char **argv)
{
    eval_opts o;
    int st;
    if (!parse(argc, argv, &o, &st)) return st;
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    bnc_err err = {0};
    bnc_llm_model *base = NULL, *m = NULL;
    bnc_pool *pool = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = bnc_cli_llm_open(path, o.quant, o.weights_only, &base, &m, &err);
    if (!rc) rc = bnc_pool_new((int)o.threads, &pool, &err);
    if (!rc) rc = tokens_of(m, o.text, &ids, &n, &err);
    long long nch = (long long)n / o.ctx;
    if (o.chunks && o.chunks < nch) nch = o.chunks;
    if (!rc && !o.json)
        printf("perplexity: %s: %zu tokens; calculating perplexity over %lld chunks, n_ctx=%lld, "
               "batch_size=%lld\n",
               o.text, n, nch, o.ctx, o.batch ? o.batch : o.ctx);
    bnc_llm_ppl_result r;
    if (!rc) {
        bnc_llm_ppl_opts po = {o.ctx, o.chunks, o.batch, progress, &o.json};
        rc = bnc_llm_ppl(m, ids, (int64_t)n, &po, pool, &r, &err);
        if (rc == BNC_EINVAL) bnc_err_prefix(&err, "%s: ", o.text);
    }
    if (!rc) {
        if (!o.json) {
            printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
        }
        printf("{\"metric\":\"ppl\",\"model\":\"%s\",\"quant\":\"%s%s\",\"text\":\"%s\","
               "\"ctx\":%lld,\"chunks\":%lld,\"tokens_scored\":%lld,\"ppl\":%.6f,"
               "\"ppl_err\":%.6f,\"nll\":%.6f,\"nll_err\":%.6f,\"seconds\":%.3f,"
               "\"tokens_per_s\":%.1f}\n",
               path, o.quant ? o.quant : "", o.weights_only ? " (weights only)" : "", o.text, o.ctx,
               (long long)r.chunks, (long long)r.scored, r.ppl, r.ppl_err, r.nll, r.nll_err,
               r.seconds, r.seconds > 0 ? (double)(r.chunks * o.ctx) / r.seconds : 0.0);
    }
    free(ids);
    bnc_pool_free(pool);
    bnc_llm_free(m);
    bnc_llm_free(base);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}

static int eval_kld(int argc, char **argv)
{
    eval_opts o;
    int st;
    if (!parse(argc, argv, &o, &st)) return st;
    int npos = argc - optind;
    if (!((npos == 2 && !o.quant) || (npos == 1 && o.quant))) {
        fprintf(stderr, "bnc: eval kld: give BASE and QUANT, or BASE and --quant SCHEME\n");
        return 2;
    }
    const char *bpath = argv[optind], *qpath = npos == 2 ? argv[optind + 1] : NULL;
    bnc_err err = {0};
    bnc_llm_model *base = NULL, *quant = NULL, *unused = NULL;
    bnc_pool *pool = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = bnc_llm_load(bpath, NULL, &base, &err);
    if (!rc && qpath) rc = bnc_llm_load(qpath, NULL, &quant, &err);
    if (!rc && !qpath) {
        bnc_llm_quant_opts qo = {0};
        qo.scheme = o.quant;
        qo.weights_only = o.weights_only;
        rc = bnc_llm_quantize(base, &qo, &quant, NULL, &err);
        if (rc) bnc_err_prefix(&err, "--quant: ");
    }
    if (!rc) rc = bnc_pool_new((int)o.threads, &pool, &err);
    if (!rc) rc = tokens_of(base, o.text, &ids, &n, &err);
    bnc_llm_kld_result r;
    if (!rc) {
        bnc_llm_ppl_opts po = {o.ctx, o.chunks, o.batch, NULL, NULL};
        rc = bnc_llm_kld(base, quant, ids, (int64_t)n, &po, pool, &r, &err);
        if (rc == BNC_EINVAL) bnc_err_prefix(&err, "%s: ", o.text);
    }
    const char *qname = qpath ? qpath : o.quant;
    if (!rc && !o.json) {
        printf("kl_divergence: %s against %s, %lld chunks of %lld tokens, %lld scored\n", qname,
               bpath, (long long)r.base.chunks, o.ctx, (long long)r.scored);
        printf("====== Perplexity statistics ======\n");
        printf("Mean PPL(Q)                   : %10.6f +/- %10.6f\n", r.quant.ppl, r.quant.ppl_err);
        printf("Mean PPL(base)                : %10.6f +/- %10.6f\n", r.base.ppl, r.base.ppl_err);
        printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %10.6f\n", r.ln_ratio, r.ln_ratio_err);
        printf("\n====== KL divergence statistics ======\n");
        printf("Mean    KLD: %10.6f +/- %10.6f\n", r.kld, r.kld_err);
        printf("Maximum KLD: %10.6f\n", r.kld_max);
        static const char *const pn[8] = {"99.9%",  "99.0%", "95.0%", "90.0%",
                                          "Median", "10.0%", " 5.0%", " 1.0%"};
        for (int i = 0; i < 8; i++)
            printf("%-6s  KLD: %10.6f\n", pn[i], r.kld_pct[i]);
        printf("\n====== Token probability statistics ======\n");
        printf("RMS Δp    : %6.3f +/- %5.3f %%\n", 100 * r.rms_dp, 100 * r.rms_dp_err);
        printf("Same top p: %6.3f +/- %5.3f %%\n", 100 * r.same_top, 100 * r.same_top_err);
    }
    if (!rc) {
        printf("{\"metric\":\"kld\",\"base\":\"%s\",\"quant\":\"%s\",\"ctx\":%lld,\"chunks\":%lld,"
               "\"tokens_scored\":%lld,\"kld\":%.6g,\"kld_err\":%.6g,\"kld_max\":%.6g,"
               "\"kld_p99_9\":%.6g,\"kld_p99\":%.6g,\"kld_p95\":%.6g,\"kld_p90\":%.6g,"
               "\"kld_median\":%.6g,\"kld_p10\":%.6g,\"kld_p5\":%.6g,\"kld_p1\":%.6g,"
               "\"ppl_base\":%.6f,\"ppl_quant\":%.6f,\"ln_ppl_ratio\":%.6g,"
               "\"ln_ppl_ratio_err\":%.6g,\"rms_dp\":%.6g,\"rms_dp_err\":%.6g,"
               "\"same_top\":%.6f,\"same_top_err\":%.6f}\n",
               bpath, qname, o.ctx, (long long)r.base.chunks, (long long)r.scored, r.kld, r.kld_err,
               r.kld_max, r.kld_pct[0], r.kld_pct[1], r.kld_pct[2], r.kld_pct[3], r.kld_pct[4],
               r.kld_pct[5], r.kld_pct[6], r.kld_pct[7], r.base.ppl, r.quant.ppl, r.ln_ratio,
               r.ln_ratio_err, r.rms_dp, r.rms_dp_err, r.same_top, r.same_top_err);
    }
    free(ids);
    bnc_pool_free(pool);
    bnc_llm_free(quant);
    bnc_llm_free(unused);
    bnc_llm_free(base);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}

int bnc_cmd_eval(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "ppl") == 0) return eval_ppl(argc - 1, argv + 1);
    if (strcmp(argv[1], "kld") == 0) return eval_kld(argc - 1, argv + 1);
    fprintf(stderr, "bnc: eval: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
