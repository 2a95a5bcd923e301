/* bnc train: train a llama / BitNet b1.58 byte-level model from scratch,
 * data parallel under mpirun (llm/bnc_train.h, docs/train.md). */
#include <getopt.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_err.h"
#include "bnc_out.h"
#include "bnc_train.h"
#include "commands.h"

static void train_usage(FILE *f)
{
    fprintf(
        f,
        "usage: [mpirun -np N] bnc train --train FILE --valid FILE --out MODEL.gguf [options]\n\n"
        "Trains a byte-level transformer (vocabulary: 256 bytes + BOS + EOS) with AdamW,\n"
        "a cosine schedule with warmup and gradient clipping. Every rank takes a shard of\n"
        "every batch; the same seed gives the same model for any rank count (exact\n"
        "fixed-point gradient sum) unless --grad-compress is set. MODEL.gguf is the\n"
        "model (llama.cpp names), MODEL.gguf.train the optimizer state for --resume.\n\n"
        "data and files:\n"
        "  --train FILE          training bytes (required)\n"
        "  --valid FILE          validation bytes (required)\n"
        "  --test FILE           scored at the end (optional)\n"
        "  --ood FILE            out-of-domain text scored at the end (optional)\n"
        "  --out FILE            checkpoint written at --save-every and at the end\n"
        "  --resume FILE         continue from a checkpoint (same shape and mode)\n"
        "model:\n"
        "  --quant none|bitnet   full precision or BitLinear QAT (default none)\n"
        "  --arch llama|bitnet   default: llama for none, bitnet for --quant bitnet\n"
        "  --f32-activations     with --quant bitnet: no int8 activation quantization\n"
        "  --dim N --layers N --heads N --ff N --ctx N   (256, 2, 4, 512, 128)\n"
        "optimization:\n"
        "  --steps N             schedule length (default 200)\n"
        "  --stop-after N        stop after step N with a checkpoint (resume later)\n"
        "  --batch N             sequences per step over all ranks (default 8)\n"
        "  --lr X --warmup N --min-lr-frac X --wd X --clip X --beta2 X\n"
        "                        (3e-3, 20, 0.1, 0.1, 1.0, 0.95)\n"
        "  --seed N              (default 1)\n"
        "  --grad-compress none|int8|ternary|sign   compressed exchange, error feedback\n"
        "evaluation and output:\n"
        "  --eval-every N        validation loss every N steps (default 50)\n"
        "  --eval-seqs N         validation sequences of ctx bytes (default 64)\n"
        "  --save-every N        checkpoint every N steps (default: only at the end)\n"
        "  --db URL              store the run (train_runs, train_steps); 'default' for\n"
        "                        $BNC_DB or the private cluster of scripts/pg\n"
        "  --run NAME            run name in the database (default: MODEL file name)\n"
        "  --quiet               no per-step lines; the JSON summary only\n");
}

enum {
    O_TRAIN = 256,
    O_VALID,
    O_TEST,
    O_OOD,
    O_OUT,
    O_RESUME,
    O_QUANT,
    O_ARCH,
    O_F32ACT,
    O_DIM,
    O_LAYERS,
    O_HEADS,
    O_FF,
    O_CTX,
    O_STEPS,
    O_STOP,
    O_BATCH,
    O_LR,
    O_WARMUP,
    O_MINLR,
    O_WD,
    O_CLIP,
    O_BETA2,
    O_SEED,
    O_GC,
    O_EVERY,
    O_ESEQS,
    O_SAVE,
    O_DB,
    O_RUN,
    O_QUIET
};

static const struct option train_opts[] = {{"train", required_argument, 0, O_TRAIN},
                                           {"valid", required_argument, 0, O_VALID},
                                           {"test", required_argument, 0, O_TEST},
                                           {"ood", required_argument, 0, O_OOD},
                                           {"out", required_argument, 0, O_OUT},
                                           {"resume", required_argument, 0, O_RESUME},
                                           {"quant", required_argument, 0, O_QUANT},
                                           {"arch", required_argument, 0, O_ARCH},
                                           {"f32-activations", no_argument, 0, O_F32ACT},
                                           {"dim", required_argument, 0, O_DIM},
                                           {"layers", required_argument, 0, O_LAYERS},
                                           {"heads", required_argument, 0, O_HEADS},
                                           {"ff", required_argument, 0, O_FF},
                                           {"ctx", required_argument, 0, O_CTX},
                                           {"steps", required_argument, 0, O_STEPS},
                                           {"stop-after", required_argument, 0, O_STOP},
                                           {"batch", required_argument, 0, O_BATCH},
                                           {"lr", required_argument, 0, O_LR},
                                           {"warmup", required_argument, 0, O_WARMUP},
                                           {"min-lr-frac", required_argument, 0, O_MINLR},
                                           {"wd", required_argument, 0, O_WD},
                                           {"clip", required_argument, 0, O_CLIP},
                                           {"beta2", required_argument, 0, O_BETA2},
                                           {"seed", required_argument, 0, O_SEED},
                                           {"grad-compress", required_argument, 0, O_GC},
                                           {"eval-every", required_argument, 0, O_EVERY},
                                           {"eval-seqs", required_argument, 0, O_ESEQS},
                                           {"save-every", required_argument, 0, O_SAVE},
                                           {"db", required_argument, 0, O_DB},
                                           {"run", required_argument, 0, O_RUN},
                                           {"quiet", no_argument, 0, O_QUIET},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};

static int parse_i64(const char *opt, const char *s, int64_t lo, int64_t *out, char *msg, size_t n)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo) {
        snprintf(msg, n, "train: --%s: '%s' is not an integer >= %lld", opt, s, (long long)lo);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_f(const char *opt, const char *s, double *out, char *msg, size_t n)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v) || v < 0) {
        snprintf(msg, n, "train: --%s: '%s' is not a non-negative number", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct step_print {
    int quiet;
} step_print;

static void print_step(void *arg, const bnc_train_step *s)
{
    const step_print *p = arg;
    if (p->quiet) return;
    printf("{\"step\": %lld, \"loss\": %.5f, \"lr\": %.3g, \"grad_norm\": %.4f, \"tokens_per_s\": "
           "%.0f, \"payload_bytes\": %llu",
           (long long)s->step, s->loss, s->lr, s->grad_norm, s->tokens_per_s,
           (unsigned long long)s->payload_bytes);
    if (!isnan(s->valid_loss))
        printf(", \"valid_loss\": %.5f, \"valid_bpb\": %.4f", s->valid_loss,
               s->valid_loss / log(2.0));
    printf("}\n");
    fflush(stdout);
}

static void json_num(const char *k, double v)
{
    if (isfinite(v))
        printf(", \"%s\": %.6g", k, v);
    else
        printf(", \"%s\": null", k);
}

int bnc_cmd_train(int argc, char **argv)
{
    bnc_train_opts o;
    bnc_train_opts_default(&o);
    int arch_set = 0;
    char msg[512] = "";
    step_print sp = {0};
    int c, bad = 0;
    double d = 0;
    optind = 1;
    while (!bad && (c = getopt_long(argc, argv, "h", train_opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            train_usage(stdout);
            return 0;
        case O_TRAIN:
            o.train_path = optarg;
            break;
        case O_VALID:
            o.valid_path = optarg;
            break;
        case O_TEST:
            o.test_path = optarg;
            break;
        case O_OOD:
            o.ood_path = optarg;
            break;
        case O_OUT:
            o.out_path = optarg;
            break;
        case O_RESUME:
            o.resume_path = optarg;
            break;
        case O_QUANT:
            if (strcmp(optarg, "none") == 0)
                o.cfg.quant = BNC_TR_QUANT_NONE;
            else if (strcmp(optarg, "bitnet") == 0)
                o.cfg.quant = BNC_TR_QUANT_BITNET;
            else {
                snprintf(msg, sizeof msg, "train: --quant: '%s' (none or bitnet)", optarg);
                bad = 1;
            }
            break;
        case O_ARCH:
            arch_set = 1;
            if (strcmp(optarg, "llama") == 0)
                o.cfg.arch = BNC_TR_LLAMA;
            else if (strcmp(optarg, "bitnet") == 0)
                o.cfg.arch = BNC_TR_BITNET;
            else {
                snprintf(msg, sizeof msg, "train: --arch: '%s' (llama or bitnet)", optarg);
                bad = 1;
            }
            break;
        case O_F32ACT:
            o.cfg.act_quant = 0;
            break;
        case O_DIM:
            bad = parse_i64("dim", optarg, 2, &o.cfg.dim, msg, sizeof msg) != 0;
            break;
        case O_LAYERS:
            bad = parse_i64("layers", optarg, 1, &o.cfg.n_layers, msg, sizeof msg) != 0;
            break;
        case O_HEADS:
            bad = parse_i64("heads", optarg, 1, &o.cfg.n_heads, msg, sizeof msg) != 0;
            break;
        case O_FF:
            bad = parse_i64("ff", optarg, 1, &o.cfg.ff, msg, sizeof msg) != 0;
            break;
        case O_CTX:
            bad = parse_i64("ctx", optarg, 2, &o.cfg.ctx, msg, sizeof msg) != 0;
            break;
        case O_STEPS:
            bad = parse_i64("steps", optarg, 1, &o.steps, msg, sizeof msg) != 0;
            break;
        case O_STOP:
            bad = parse_i64("stop-after", optarg, 1, &o.stop_after, msg, sizeof msg) != 0;
            break;
        case O_BATCH:
            bad = parse_i64("batch", optarg, 1, &o.batch, msg, sizeof msg) != 0;
            break;
        case O_WARMUP:
            bad = parse_i64("warmup", optarg, 0, &o.warmup, msg, sizeof msg) != 0;
            break;
        case O_EVERY:
            bad = parse_i64("eval-every", optarg, 0, &o.eval_every, msg, sizeof msg) != 0;
            break;
        case O_ESEQS:
            bad = parse_i64("eval-seqs", optarg, 1, &o.eval_seqs, msg, sizeof msg) != 0;
            break;
        case O_SAVE:
            bad = parse_i64("save-every", optarg, 0, &o.save_every, msg, sizeof msg) != 0;
            break;
        case O_SEED: {
            int64_t s = 0;
            bad = parse_i64("seed", optarg, 0, &s, msg, sizeof msg) != 0;
            o.seed = (uint64_t)s;
            break;
        }
        case O_LR:
            bad = parse_f("lr", optarg, &o.lr, msg, sizeof msg) != 0;
            break;
        case O_MINLR:
            bad = parse_f("min-lr-frac", optarg, &o.min_lr_frac, msg, sizeof msg) != 0;
            break;
        case O_WD:
            bad = parse_f("wd", optarg, &o.weight_decay, msg, sizeof msg) != 0;
            break;
        case O_CLIP:
            bad = parse_f("clip", optarg, &o.clip, msg, sizeof msg) != 0;
            break;
        case O_BETA2:
            bad = parse_f("beta2", optarg, &d, msg, sizeof msg) != 0 || d >= 1;
            if (bad && !*msg) snprintf(msg, sizeof msg, "train: --beta2 must be below 1");
            o.beta2 = d;
            break;
        case O_GC:
            if (strcmp(optarg, "none") == 0)
                o.grad_compress = BNC_TR_GC_NONE;
            else if (strcmp(optarg, "int8") == 0)
                o.grad_compress = BNC_TR_GC_INT8;
            else if (strcmp(optarg, "ternary") == 0)
                o.grad_compress = BNC_TR_GC_TERNARY;
            else if (strcmp(optarg, "sign") == 0)
                o.grad_compress = BNC_TR_GC_SIGN;
            else {
                snprintf(msg, sizeof msg,
                         "train: --grad-compress: '%s' (none, int8, ternary or sign)", optarg);
                bad = 1;
            }
            break;
        case O_DB:
            o.db_url = strcmp(optarg, "default") == 0 ? "" : optarg;
            break;
        case O_RUN:
            o.run_name = optarg;
            break;
        case O_QUIET:
            sp.quiet = 1;
            break;
        default:
            train_usage(stderr);
            return 2;
        }
    }
    if (!bad && optind < argc) {
        snprintf(msg, sizeof msg, "train: unexpected argument '%s'", argv[optind]);
        bad = 1;
    }
    if (!bad && (!o.train_path || !o.valid_path || !o.out_path)) {
        snprintf(msg, sizeof msg, "train: --train, --valid and --out are required");
        bad = 1;
    }
    if (bad) return bnc_cli_fail(BNC_EINVAL, msg);
    {
        /* --out and its optimizer state MODEL.train never replace a corpus
         * or a device ("-" would be a file named "-": refused too). */
        const char *inputs[5] = {o.train_path, o.valid_path, NULL, NULL, NULL};
        int ni = 2;
        if (o.test_path) inputs[ni++] = o.test_path;
        if (o.ood_path) inputs[ni++] = o.ood_path;
        char state[4096];
        snprintf(state, sizeof state, "%s.train", o.out_path);
        bnc_err e = {0};
        if (bnc_out_is_stdout(o.out_path))
            return bnc_cli_fail(BNC_EINVAL, "train: --out -: a checkpoint is a file, give a path");
        if (bnc_out_check(o.out_path, inputs, &e) || bnc_out_check(state, inputs, &e))
            return bnc_cli_fail(e.code, e.msg);
    }
    if (!arch_set) o.cfg.arch = o.cfg.quant ? BNC_TR_BITNET : BNC_TR_LLAMA;
    o.on_step = print_step;
    o.on_step_arg = &sp;

    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(NULL, NULL);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    bnc_train_result r;
    bnc_err err = {0};
    int rc = bnc_train_run(&o, MPI_COMM_WORLD, &r, &err);
    int status = 0;
    if (rank == 0) {
        if (rc == 0 || r.stopped_nan) {
            printf("{\"done\": %s, \"steps\": %lld, \"start_step\": %lld, \"ranks\": %d, "
                   "\"params\": %zu",
                   rc == 0 ? "true" : "false", (long long)r.steps_done, (long long)r.start_step,
                   size, r.n_params);
            json_num("final_loss", r.final_loss);
            json_num("valid_loss", r.valid_loss);
            json_num("valid_ppl", exp(r.valid_loss));
            json_num("test_ppl", exp(r.test_loss));
            json_num("ood_ppl", exp(r.ood_loss));
            json_num("unigram_bits", r.unigram_bits);
            json_num("valid_bpb", r.valid_loss / log(2.0));
            json_num("tokens_per_s", r.tokens_per_s);
            printf(", \"payload_bytes\": %llu, \"sent_bytes\": %llu, \"checkpoint\": \"%s\"}\n",
                   (unsigned long long)r.payload_bytes, (unsigned long long)r.sent_bytes,
                   o.out_path);
            fflush(stdout);
        }
        if (rc) status = bnc_cli_fail(rc, err.msg);
    } else if (rc) {
        status = bnc_exit_status(rc);
    }
    if (!inited) MPI_Finalize();
    return status;
}
