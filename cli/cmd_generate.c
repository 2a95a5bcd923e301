/* bnc generate: what a (quantized) model writes after a prompt. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gemv.h"
#include "bnc_llm.h"
#include "bnc_rng.h"
#include "bnc_time.h"
#include "commands.h"
#include "llm_cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc generate MODEL --prompt TEXT [options]\n\n"
               "Writes the prompt and the tokens the model generates after it: greedy by\n"
               "default, or sampled with --temp T (softmax of logits / T, restricted to the\n"
               "smallest set of tokens whose probability reaches --top-p) from a Philox stream\n"
               "keyed by --seed. A JSON line with the token rate follows on stderr.\n\n"
               "options:\n"
               "  --prompt TEXT    the prompt (required)\n"
               "  -n N             tokens to generate (64)\n"
               "  --temp T         temperature (0: greedy)\n"
               "  --top-p P        nucleus sampling mass (0.95)\n"
               "  --seed S         sampling seed (1)\n"
               "  --threads N      threads (default: online CPUs)\n"
               "  --quant SCHEME   quantize the weight matrices in memory first\n");
}

typedef struct cand {
    float p;
    int32_t id;
} cand;

static int by_p(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static int32_t sample(const float *l, int64_t V, double temp, double top_p, bnc_rng *r, cand *c)
{
    int64_t am = 0;
    for (int64_t i = 1; i < V; i++)
        if (l[i] > l[am]) am = i;
    if (temp <= 0) return (int32_t)am;
    double sum = 0;
    for (int64_t i = 0; i < V; i++) {
        c[i].p = (float)exp(((double)l[i] - (double)l[am]) / temp);
        c[i].id = (int32_t)i;
        sum += c[i].p;
    }
    qsort(c, (size_t)V, sizeof *c, by_p);
    double acc = 0;
    int64_t k = 0;
    while (k < V) {
        acc += c[k].p / sum;
        k++;
        if (acc >= top_p) break;
    }
    double u = bnc_rng_uniform(r) * acc * sum, run = 0;
    for (int64_t i = 0; i < k; i++) {
        run += c[i].p;
        if (u < run) return c[i].id;
    }
    return c[k - 1].id;
}

int bnc_cmd_generate(int argc, char **argv)
{
    static const struct option lo[] = {
        {"prompt", required_argument, 0, 'p'},  {"temp", required_argument, 0, 'T'},
        {"top-p", required_argument, 0, 'P'},   {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 'j'}, {"quant", required_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    const char *prompt = NULL, *quant = NULL;
    long long ntok = 64, seed = 1, threads = 0;
    double temp = 0, top_p = 0.95;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hn:", lo, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'p':
            prompt = optarg;
            break;
        case 'q':
            quant = optarg;
            break;
        case 'n':
            if (!bnc_cli_count("-n", optarg, 0, 1 << 20, &ntok)) return 2;
            break;
        case 's':
            if (!bnc_cli_count("--seed", optarg, 0, (long long)1 << 62, &seed)) return 2;
            break;
        case 'j':
            if (!bnc_cli_count("--threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case 'T':
            temp = strtod(optarg, &end);
            if (*end || end == optarg || temp < 0 || temp > 100) {
                fprintf(stderr, "bnc: generate: --temp: '%s' is not in 0..100\n", optarg);
                return 2;
            }
            break;
        case 'P':
            top_p = strtod(optarg, &end);
            if (*end || end == optarg || !(top_p > 0) || top_p > 1) {
                fprintf(stderr, "bnc: generate: --top-p: '%s' is not in (0, 1]\n", optarg);
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
    if (!prompt || optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    bnc_err err = {0};
    bnc_llm_model *base = NULL, *m = NULL;
    bnc_pool *pool = NULL;
    bnc_llm_state *s = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    float *logits = NULL;
    cand *c = NULL;
    int rc = bnc_cli_llm_open(argv[optind], quant, 0, &base, &m, &err);
    if (!rc) rc = bnc_pool_new((int)threads, &pool, &err);
    if (!rc) rc = bnc_llm_tokenize(bnc_llm_tokenizer(m), prompt, strlen(prompt), 1, &ids, &n, &err);
    int64_t ctx = (int64_t)n + ntok;
    if (!rc && m && ctx > m->cfg.ctx)
        rc = bnc_err_set(&err, BNC_EINVAL,
                         "generate: %zu prompt tokens + %lld exceed the "
                         "model's context_length %lld",
                         n, ntok, (long long)m->cfg.ctx);
    if (!rc) rc = bnc_llm_state_new(m, ctx > 0 ? ctx : 1, pool, &s, &err);
    if (!rc) {
        logits = malloc((size_t)m->cfg.vocab * sizeof *logits);
        c = malloc((size_t)m->cfg.vocab * sizeof *c);
        if (!logits || !c) rc = bnc_err_set(&err, BNC_ENOMEM, "generate: out of memory");
    }
    double t0 = bnc_now(), t1 = t0;
    long long made = 0;
    if (!rc) {
        const bnc_llm_tok *tk = bnc_llm_tokenizer(m);
        fwrite(prompt, 1, strlen(prompt), stdout);
        rc = bnc_llm_forward(s, ids, (int64_t)n, logits, 1, &err);
        t1 = bnc_now();
        bnc_rng r;
        bnc_rng_init(&r, (uint64_t)seed, 0);
        char piece[512];
        for (long long i = 0; i < ntok && !rc; i++) {
            int32_t next = sample(logits, m->cfg.vocab, temp, top_p, &r, c);
            if (next == bnc_llm_tok_eos(tk)) break;
            size_t k = bnc_llm_detokenize(tk, next, piece, sizeof piece);
            fwrite(piece, 1, k, stdout);
            fflush(stdout);
            made++;
            if (i + 1 < ntok) rc = bnc_llm_forward(s, &next, 1, logits, 1, &err);
        }
        printf("\n");
    }
    double t2 = bnc_now();
    if (!rc)
        fprintf(stderr,
                "{\"metric\":\"generate\",\"prompt_tokens\":%zu,\"tokens\":%lld,"
                "\"prompt_s\":%.3f,\"gen_s\":%.3f,\"tokens_per_s\":%.2f}\n",
                n, made, t1 - t0, t2 - t1, t2 > t1 && made ? (double)made / (t2 - t1) : 0.0);
    free(logits);
    free(c);
    free(ids);
    bnc_llm_state_free(s);
    bnc_pool_free(pool);
    bnc_llm_free(m);
    bnc_llm_free(base);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}
