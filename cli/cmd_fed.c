/* bnc fed server|client|sim|train: federated learning on Fashion-MNIST. */
#include <getopt.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bnc_fed.h"
#include "bnc_fed_db.h"
#include "bnc_out.h"
#include "bnc_time.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bnc fed server --bind ENDPOINT [options]\n"
            "       bnc fed client --connect ENDPOINT --client-id K [--data DIR]\n"
            "       bnc fed sim [options] [--threads T]\n"
            "       bnc fed train --model softmax|mlp [--epochs E] [--lr LR] [--qat]\n"
            "       bnc fed keygen --keys DIR --clients K\n\n"
            "server  a ZeroMQ ROUTER: samples clients each round, aggregates their compressed\n"
            "        updates, evaluates on the test set, stores rounds, checkpoints\n"
            "client  a ZeroMQ DEALER: joins, trains on its shard, sends compressed updates\n"
            "sim     server and --clients clients in one process over inproc:// (a thread pool);\n"
            "        under mpirun, rank 0 serves on tcp://127.0.0.1 and other ranks run clients\n"
            "train   centralized training on the whole training set (sanity baseline)\n"
            "keygen  CURVE key pairs: DIR/server.key, DIR/server.pub, DIR/client-K.key and the\n"
            "        allow-list DIR/allow (client id -> public key)\n\n"
            "run options (server, sim):\n"
            "  --run NAME            run name (results, checkpoint); default fed-<seed>-<time>\n"
            "  --model softmax|mlp   (softmax)\n"
            "  --clients K           clients in the partition (10)\n"
            "  --per-round M         clients sampled per round (10)\n"
            "  --rounds R            (10)\n"
            "  --partition P         iid | dirichlet:ALPHA | classes:K | quantity:ALPHA (iid)\n"
            "  --seed S              (1)\n"
            "  --compressor C        uplink: none f16 int8 ternary terngrad qsgd sign topk randk\n"
            "  --downlink C          model to clients: none f16 int8 ternary (none)\n"
            "  --error-feedback      keep a residual per client (biased compressors)\n"
            "  --k-frac F            top-k / random-k fraction kept (0.01)\n"
            "  --qsgd-levels S       (16)\n"
            "  --lr LR --momentum M --weight-decay WD --batch B --epochs E   client SGD\n"
            "                        (0.05, 0.9, 1e-4, 32, 1)\n"
            "  --prox-mu MU          FedProx proximal term (0: FedAvg clients)\n"
            "  --qat                 ternary (BitNet) weights in the forward pass, STE\n"
            "  --server-opt O        fedavg | fedadam | fedyogi (fedavg)\n"
            "  --server-lr LR        (1 for fedavg, 0.01 for fedadam/fedyogi)\n"
            "  --deadline SEC        per-round deadline (60)\n"
            "  --join-timeout SEC    wait for --min-clients before starting (60)\n"
            "  --min-clients N       server: clients to wait for (per-round); sim waits for all\n"
            "  --max-msg BYTES       reject larger client messages (model size based)\n"
            "  --checkpoint FILE     write every round; resume from it when present\n"
            "  --stop-after R        stop after round R without finishing (tests)\n"
            "  --db URL              store fed_runs/fed_rounds in PostgreSQL\n");
    fprintf(f,
            "defences (server, sim):\n"
            "  --aggregator A        mean | median | trimmed | krum | multikrum (mean)\n"
            "  --trim-frac F         trimmed mean: cut at each end (0.2)\n"
            "  --krum-f F            Krum: attackers assumed (per-round / 5)\n"
            "  --krum-m M            Multi-Krum: updates averaged (per-round - krum-f)\n"
            "  --max-norm B          L2 bound of one update (1000)\n"
            "  --norm-policy P       reject | clip updates above --max-norm (reject)\n"
            "  --max-agg-norm B      an aggregate above B skips the round (--max-norm)\n"
            "  --max-examples N      cap of a client's weight (0: the size of its shard)\n"
            "  --peer-max-rejects N  block a peer after N rejections in a round (20)\n"
            "  --keys DIR            CURVE: server.key + allow (server), server.pub +\n"
            "                        client-K.key (client); a client's id is bound to its key\n"
            "  --min-fraction F      a round needs this fraction of the sampled clients (0)\n"
            "privacy (server, sim):\n"
            "  --secagg              secure aggregation: masked integer updates mod 2^32\n"
            "                        (uplink ternary, int8 or none), Shamir-shared seeds\n"
            "  --secagg-plain        the same integer updates unmasked (reference)\n"
            "  --secagg-t T          Shamir threshold (ceil(2 per-round / 3))\n"
            "  --secagg-step S       quantization step (ternary 0.05, int8 1/127, none 1/32767)\n"
            "  --secagg-drop K       sim: K clients vanish after sending, every round (tests)\n"
            "  --dp-clip C           clip each update to L2 norm C, add Gaussian noise (0: off)\n"
            "  --dp-noise SIGMA      noise multiplier (the sum's noise std is SIGMA * C)\n"
            "  --dp-delta D          delta of the reported epsilon (1e-5)\n"
            "  --dp-quantile G       adaptive clipping toward quantile G of the norms (0: fixed)\n"
            "  --dp-clip-lr ETA      adaptive clipping step (0.2)\n"
            "attacks (sim: a seeded fraction of the clients; client: this client):\n"
            "  --attack A            none signflip scaled noise labelflip poison (none)\n"
            "  --attack-frac F       sim: fraction of clients attacking (0)\n"
            "  --attack-scale S      signflip 4, scaled 10, noise sigma 1, poison 3e38\n"
            "  --data DIR            Fashion-MNIST directory (/usr/share/datasets/fashion-mnist)\n"
            "  --quiet               no per-round lines on stdout\n"
            "server: --bind ENDPOINT (e.g. tcp://127.0.0.1:5555) --endpoint-file FILE\n"
            "client: --connect ENDPOINT --client-id K --heartbeat SEC (2) --timeout SEC (0: none)\n"
            "        --crash-at-round R (kill itself on round R's start) --slow SEC (sleep before\n"
            "        training, every round)\n"
            "sim:    --threads T (2)\n");
}

enum {
    O_RUN = 256,
    O_MODEL,
    O_CLIENTS,
    O_PER_ROUND,
    O_ROUNDS,
    O_PARTITION,
    O_SEED,
    O_COMPRESSOR,
    O_DOWNLINK,
    O_EF,
    O_KFRAC,
    O_QSGD,
    O_LR,
    O_MOMENTUM,
    O_WD,
    O_BATCH,
    O_EPOCHS,
    O_PROX,
    O_QAT,
    O_SOPT,
    O_SLR,
    O_DEADLINE,
    O_JOIN_TIMEOUT,
    O_MIN_CLIENTS,
    O_MAX_MSG,
    O_CHECKPOINT,
    O_STOP_AFTER,
    O_DB,
    O_DATA,
    O_THREADS,
    O_BIND,
    O_EP_FILE,
    O_CONNECT,
    O_CLIENT_ID,
    O_HEARTBEAT,
    O_TIMEOUT,
    O_CRASH,
    O_SLOW,
    O_QUIET,
    O_AGG,
    O_TRIM,
    O_KRUM_F,
    O_KRUM_M,
    O_MAX_NORM,
    O_NORM_POLICY,
    O_MAX_AGG_NORM,
    O_MAX_EXAMPLES,
    O_PEER_MAX_REJ,
    O_KEYS,
    O_KEY,
    O_ATTACK,
    O_ATTACK_FRAC,
    O_ATTACK_SCALE,
    O_DP_CLIP,
    O_DP_NOISE,
    O_DP_DELTA,
    O_DP_QUANTILE,
    O_DP_CLIP_LR,
    O_MIN_FRACTION,
    O_SECAGG,
    O_SECAGG_PLAIN,
    O_SECAGG_T,
    O_SECAGG_STEP,
    O_SECAGG_DROP,
    O_HELP
};

static const struct option long_opts[] = {
    {"run", required_argument, 0, O_RUN},
    {"model", required_argument, 0, O_MODEL},
    {"clients", required_argument, 0, O_CLIENTS},
    {"per-round", required_argument, 0, O_PER_ROUND},
    {"rounds", required_argument, 0, O_ROUNDS},
    {"partition", required_argument, 0, O_PARTITION},
    {"seed", required_argument, 0, O_SEED},
    {"compressor", required_argument, 0, O_COMPRESSOR},
    {"downlink", required_argument, 0, O_DOWNLINK},
    {"error-feedback", no_argument, 0, O_EF},
    {"k-frac", required_argument, 0, O_KFRAC},
    {"qsgd-levels", required_argument, 0, O_QSGD},
    {"lr", required_argument, 0, O_LR},
    {"momentum", required_argument, 0, O_MOMENTUM},
    {"weight-decay", required_argument, 0, O_WD},
    {"batch", required_argument, 0, O_BATCH},
    {"epochs", required_argument, 0, O_EPOCHS},
    {"prox-mu", required_argument, 0, O_PROX},
    {"qat", no_argument, 0, O_QAT},
    {"server-opt", required_argument, 0, O_SOPT},
    {"server-lr", required_argument, 0, O_SLR},
    {"deadline", required_argument, 0, O_DEADLINE},
    {"join-timeout", required_argument, 0, O_JOIN_TIMEOUT},
    {"min-clients", required_argument, 0, O_MIN_CLIENTS},
    {"max-msg", required_argument, 0, O_MAX_MSG},
    {"checkpoint", required_argument, 0, O_CHECKPOINT},
    {"stop-after", required_argument, 0, O_STOP_AFTER},
    {"db", required_argument, 0, O_DB},
    {"data", required_argument, 0, O_DATA},
    {"threads", required_argument, 0, O_THREADS},
    {"bind", required_argument, 0, O_BIND},
    {"endpoint-file", required_argument, 0, O_EP_FILE},
    {"connect", required_argument, 0, O_CONNECT},
    {"client-id", required_argument, 0, O_CLIENT_ID},
    {"heartbeat", required_argument, 0, O_HEARTBEAT},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"crash-at-round", required_argument, 0, O_CRASH},
    {"slow", required_argument, 0, O_SLOW},
    {"quiet", no_argument, 0, O_QUIET},
    {"aggregator", required_argument, 0, O_AGG},
    {"trim-frac", required_argument, 0, O_TRIM},
    {"krum-f", required_argument, 0, O_KRUM_F},
    {"krum-m", required_argument, 0, O_KRUM_M},
    {"max-norm", required_argument, 0, O_MAX_NORM},
    {"norm-policy", required_argument, 0, O_NORM_POLICY},
    {"max-agg-norm", required_argument, 0, O_MAX_AGG_NORM},
    {"max-examples", required_argument, 0, O_MAX_EXAMPLES},
    {"peer-max-rejects", required_argument, 0, O_PEER_MAX_REJ},
    {"keys", required_argument, 0, O_KEYS},
    {"key", required_argument, 0, O_KEY},
    {"attack", required_argument, 0, O_ATTACK},
    {"attack-frac", required_argument, 0, O_ATTACK_FRAC},
    {"attack-scale", required_argument, 0, O_ATTACK_SCALE},
    {"dp-clip", required_argument, 0, O_DP_CLIP},
    {"dp-noise", required_argument, 0, O_DP_NOISE},
    {"dp-delta", required_argument, 0, O_DP_DELTA},
    {"dp-quantile", required_argument, 0, O_DP_QUANTILE},
    {"dp-clip-lr", required_argument, 0, O_DP_CLIP_LR},
    {"min-fraction", required_argument, 0, O_MIN_FRACTION},
    {"secagg", no_argument, 0, O_SECAGG},
    {"secagg-plain", no_argument, 0, O_SECAGG_PLAIN},
    {"secagg-t", required_argument, 0, O_SECAGG_T},
    {"secagg-step", required_argument, 0, O_SECAGG_STEP},
    {"secagg-drop", required_argument, 0, O_SECAGG_DROP},
    {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0},
};

typedef struct fed_args {
    bnc_fed_config cfg;
    int run_set;
    const char *db, *data, *bind, *endpoint_file, *connect, *keys, *key;
    int threads, client_id, crash_at, quiet;
    double heartbeat, timeout, slow;
} fed_args;

static int num_d(const char *opt, const char *s, double *v, char *msg, size_t n)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end) {
        snprintf(msg, n, "--%s: '%s' is not a number", opt, s);
        return -1;
    }
    return 0;
}

static int num_i(const char *opt, const char *s, int *v, char *msg, size_t n)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || *end || x < -2147483647L || x > 2147483647L) {
        snprintf(msg, n, "--%s: '%s' is not an integer", opt, s);
        return -1;
    }
    *v = (int)x;
    return 0;
}

/* Parses argv into a; returns -1 after writing msg on a usage error, 1 for
 * --help. */
static int parse(int argc, char **argv, fed_args *a, char *msg, size_t n)
{
    memset(a, 0, sizeof *a);
    bnc_fed_config_defaults(&a->cfg);
    a->threads = 2;
    a->client_id = -1;
    a->heartbeat = 2;
    bnc_fed_config *c = &a->cfg;
    int o, idx;
    double d;
    bnc_err e;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
        const char *name = o >= 256 ? long_opts[idx].name : "";
        int r = 0;
        switch (o) {
        case O_RUN:
            snprintf(c->run, sizeof c->run, "%s", optarg);
            a->run_set = 1;
            break;
        case O_MODEL:
            snprintf(c->model, sizeof c->model, "%s", optarg);
            break;
        case O_CLIENTS:
            r = num_i(name, optarg, &c->clients, msg, n);
            break;
        case O_PER_ROUND:
            r = num_i(name, optarg, &c->per_round, msg, n);
            break;
        case O_ROUNDS:
            r = num_i(name, optarg, &c->rounds, msg, n);
            break;
        case O_PARTITION:
            if (bnc_fed_partition_parse(optarg, &c->partition, &e)) {
                snprintf(msg, n, "--partition: %s", e.msg);
                r = -1;
            }
            break;
        case O_SEED:
            r = num_d(name, optarg, &d, msg, n);
            c->seed = (uint64_t)d;
            break;
        case O_COMPRESSOR:
        case O_DOWNLINK: {
            const bnc_fed_codec *cd = bnc_fed_codec_find(optarg);
            if (!cd) {
                snprintf(msg, n, "--%s: unknown codec '%s'", name, optarg);
                r = -1;
            } else if (o == O_COMPRESSOR) {
                c->uplink = cd;
            } else {
                c->downlink = cd;
            }
            break;
        }
        case O_EF:
            c->error_feedback = 1;
            break;
        case O_KFRAC:
            r = num_d(name, optarg, &c->cp.k_frac, msg, n);
            break;
        case O_QSGD:
            r = num_i(name, optarg, &c->cp.qsgd_levels, msg, n);
            break;
        case O_LR:
            r = num_d(name, optarg, &d, msg, n);
            c->train.lr = (float)d;
            break;
        case O_MOMENTUM:
            r = num_d(name, optarg, &d, msg, n);
            c->train.momentum = (float)d;
            break;
        case O_WD:
            r = num_d(name, optarg, &d, msg, n);
            c->train.weight_decay = (float)d;
            break;
        case O_BATCH:
            r = num_i(name, optarg, &c->train.batch, msg, n);
            break;
        case O_EPOCHS:
            r = num_i(name, optarg, &c->train.epochs, msg, n);
            break;
        case O_PROX:
            r = num_d(name, optarg, &d, msg, n);
            c->train.prox_mu = (float)d;
            break;
        case O_QAT:
            c->train.qat = 1;
            break;
        case O_SOPT:
            if ((c->server_opt = bnc_fed_opt_parse(optarg)) < 0) {
                snprintf(msg, n, "--server-opt: '%s' (fedavg, fedadam or fedyogi)", optarg);
                r = -1;
            }
            break;
        case O_SLR:
            r = num_d(name, optarg, &d, msg, n);
            c->server_lr = (float)d;
            break;
        case O_DEADLINE:
            r = num_d(name, optarg, &c->deadline_s, msg, n);
            break;
        case O_JOIN_TIMEOUT:
            r = num_d(name, optarg, &c->join_timeout_s, msg, n);
            break;
        case O_MIN_CLIENTS:
            r = num_i(name, optarg, &c->min_clients, msg, n);
            break;
        case O_MAX_MSG:
            r = num_d(name, optarg, &d, msg, n);
            /* 0 keeps the model-based default; below 4096 no update fits. */
            if (!r && d != 0 && !(d >= 4096 && d <= 4e9)) {
                snprintf(msg, n,
                         "--max-msg: %s bytes is out of range (0 for the model-based "
                         "default, or 4096 to 4e9)",
                         optarg);
                r = -1;
            }
            c->max_msg_bytes = d > 0 ? (size_t)d : 0;
            break;
        case O_CHECKPOINT:
            snprintf(c->checkpoint, sizeof c->checkpoint, "%s", optarg);
            break;
        case O_STOP_AFTER:
            r = num_i(name, optarg, &c->stop_after, msg, n);
            break;
        case O_DB:
            a->db = optarg;
            break;
        case O_DATA:
            a->data = optarg;
            break;
        case O_THREADS:
            r = num_i(name, optarg, &a->threads, msg, n);
            break;
        case O_BIND:
            a->bind = optarg;
            break;
        case O_EP_FILE:
            a->endpoint_file = optarg;
            break;
        case O_CONNECT:
            a->connect = optarg;
            break;
        case O_CLIENT_ID:
            r = num_i(name, optarg, &a->client_id, msg, n);
            break;
        case O_HEARTBEAT:
            r = num_d(name, optarg, &a->heartbeat, msg, n);
            break;
        case O_TIMEOUT:
            r = num_d(name, optarg, &a->timeout, msg, n);
            break;
        case O_CRASH:
            r = num_i(name, optarg, &a->crash_at, msg, n);
            break;
        case O_SLOW:
            r = num_d(name, optarg, &a->slow, msg, n);
            break;
        case O_QUIET:
            a->quiet = 1;
            break;
        case O_AGG:
            if ((c->aggregator = bnc_fed_agg_parse(optarg)) < 0) {
                snprintf(msg, n, "--aggregator: '%s' (mean, median, trimmed, krum, multikrum)",
                         optarg);
                r = -1;
            }
            break;
        case O_TRIM:
            r = num_d(name, optarg, &c->trim_frac, msg, n);
            break;
        case O_KRUM_F:
            r = num_i(name, optarg, &c->krum_f, msg, n);
            break;
        case O_KRUM_M:
            r = num_i(name, optarg, &c->krum_m, msg, n);
            break;
        case O_MAX_NORM:
            r = num_d(name, optarg, &c->max_norm, msg, n);
            break;
        case O_NORM_POLICY:
            if (!strcmp(optarg, "reject")) {
                c->norm_policy = BNC_FED_NORM_REJECT;
            } else if (!strcmp(optarg, "clip")) {
                c->norm_policy = BNC_FED_NORM_CLIP;
            } else {
                snprintf(msg, n, "--norm-policy: '%s' (reject or clip)", optarg);
                r = -1;
            }
            break;
        case O_MAX_AGG_NORM:
            r = num_d(name, optarg, &c->max_agg_norm, msg, n);
            break;
        case O_MAX_EXAMPLES:
            r = num_d(name, optarg, &d, msg, n);
            if (!r && !(d >= 0 && d <= 1e9)) {
                snprintf(msg, n, "--max-examples: '%s' outside 0..1e9", optarg);
                r = -1;
            }
            c->max_examples = (int64_t)d;
            break;
        case O_PEER_MAX_REJ:
            r = num_i(name, optarg, &c->peer_max_rejects, msg, n);
            break;
        case O_KEYS:
            a->keys = optarg;
            break;
        case O_KEY:
            a->key = optarg;
            break;
        case O_ATTACK:
            if ((c->attack = bnc_fed_attack_parse(optarg)) < 0) {
                snprintf(msg, n,
                         "--attack: '%s' (none, signflip, scaled, noise, labelflip, poison)",
                         optarg);
                r = -1;
            }
            break;
        case O_ATTACK_FRAC:
            r = num_d(name, optarg, &c->attack_frac, msg, n);
            break;
        case O_ATTACK_SCALE:
            r = num_d(name, optarg, &c->attack_scale, msg, n);
            break;
        case O_DP_CLIP:
            r = num_d(name, optarg, &c->dp_clip, msg, n);
            break;
        case O_DP_NOISE:
            r = num_d(name, optarg, &c->dp_noise, msg, n);
            break;
        case O_DP_DELTA:
            r = num_d(name, optarg, &c->dp_delta, msg, n);
            break;
        case O_DP_QUANTILE:
            r = num_d(name, optarg, &c->dp_quantile, msg, n);
            break;
        case O_DP_CLIP_LR:
            r = num_d(name, optarg, &c->dp_clip_lr, msg, n);
            break;
        case O_MIN_FRACTION:
            r = num_d(name, optarg, &c->min_fraction, msg, n);
            break;
        case O_SECAGG:
            c->secagg = 1;
            break;
        case O_SECAGG_PLAIN:
            c->secagg = 2;
            break;
        case O_SECAGG_T:
            r = num_i(name, optarg, &c->secagg_t, msg, n);
            break;
        case O_SECAGG_STEP:
            r = num_d(name, optarg, &c->secagg_step, msg, n);
            break;
        case O_SECAGG_DROP:
            r = num_i(name, optarg, &c->secagg_drop, msg, n);
            break;
        case 'h':
        case O_HELP:
            return 1;
        default:
            snprintf(msg, n, "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
        if (r) return -1;
    }
    if (optind != argc) {
        snprintf(msg, n, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->run_set)
        snprintf(c->run, sizeof c->run, "fed-%llu-%lld", (unsigned long long)c->seed,
                 (long long)time(NULL));
    if (a->threads < 1 || a->threads > 256) {
        snprintf(msg, n, "--threads %d outside 1..256", a->threads);
        return -1;
    }
    return 0;
}

static void log_stderr(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* Prints each round as a JSON line, then passes it on to the database. */
typedef struct cli_sink {
    bnc_fed_db *db;
    int quiet;
    bnc_fed_sink inner;
} cli_sink;

static int cli_run_start(void *ctx, const bnc_fed_config *c, int resumed, bnc_err *err)
{
    cli_sink *s = ctx;
    return s->inner.run_start ? s->inner.run_start(s->inner.ctx, c, resumed, err) : 0;
}

static int cli_round(void *ctx, const bnc_fed_config *c, const bnc_fed_round_stats *r, bnc_err *err)
{
    cli_sink *s = ctx;
    if (!s->quiet) {
        printf("{\"run\": \"%s\", \"round\": %d, \"accuracy\": %.4f, \"loss\": %.4f, "
               "\"train_loss\": %.4f, \"uplink_bytes\": %lld, \"downlink_bytes\": %lld, "
               "\"sampled\": %d, \"finished\": %d, \"dropped\": %d, \"rejected\": %d, "
               "\"clipped\": %d, \"skipped\": %d, \"late\": %d, \"dp_epsilon\": %.4f, "
               "\"dp_clip\": %.4g, \"wall_s\": %.3f}\n",
               c->run, r->round, r->accuracy, r->loss, r->train_loss, (long long)r->uplink_bytes,
               (long long)r->downlink_bytes, r->sampled, r->finished, r->dropped, r->rejected,
               r->clipped, r->skipped, r->late, r->dp_epsilon, r->dp_clip, r->wall_s);
        fflush(stdout);
    }
    return s->inner.round ? s->inner.round(s->inner.ctx, c, r, err) : 0;
}

static int cli_run_end(void *ctx, const bnc_fed_config *c, const bnc_fed_summary *sum, bnc_err *err)
{
    cli_sink *s = ctx;
    return s->inner.run_end ? s->inner.run_end(s->inner.ctx, c, sum, err) : 0;
}

static void print_summary(const bnc_fed_config *c, const bnc_fed_summary *s)
{
    printf("{\"run\": \"%s\", \"summary\": true, \"rounds_done\": %d, \"resumed_from\": %d, "
           "\"final_accuracy\": %.4f, \"best_accuracy\": %.4f, \"first_round_085\": %d, "
           "\"uplink_bytes\": %lld, \"downlink_bytes\": %lld, \"rejected\": %lld, "
           "\"rounds_skipped\": %d, \"wall_s\": %.3f, \"rounds_per_s\": %.3f}\n",
           c->run, s->rounds_done, s->resumed_from, s->final_accuracy, s->best_accuracy,
           s->first_round_085, (long long)s->uplink_bytes, (long long)s->downlink_bytes,
           (long long)s->rejected, s->rounds_skipped, s->wall_s,
           s->wall_s > 0 ? (s->rounds_done - s->resumed_from) / s->wall_s : 0.0);
    fflush(stdout);
}

static int setup_sink(fed_args *a, cli_sink *cs, bnc_fed_sink *sink, bnc_err *err)
{
    memset(cs, 0, sizeof *cs);
    cs->quiet = a->quiet;
    if (a->db) {
        int rc = bnc_fed_db_open(a->db, &cs->db, err);
        if (rc) return rc;
        bnc_fed_db_sink(cs->db, &cs->inner);
    }
    memset(sink, 0, sizeof *sink);
    sink->ctx = cs;
    sink->run_start = cli_run_start;
    sink->round = cli_round;
    sink->run_end = cli_run_end;
    sink->log = log_stderr;
    return 0;
}

typedef struct client_hooks {
    int crash_at;
    double slow;
} client_hooks;

static int client_on_round(void *ctx, int client_id, int round)
{
    client_hooks *h = ctx;
    if (h->crash_at && round == h->crash_at) {
        fprintf(stderr, "bnc fed client %d: --crash-at-round %d: killing myself\n", client_id,
                round);
        fflush(stderr);
        raise(SIGKILL);
    }
    if (h->slow > 0) {
        struct timespec ts = {(time_t)h->slow, (long)((h->slow - (double)(time_t)h->slow) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int cmd_train(fed_args *a, bnc_err *err)
{
    bnc_fed_dataset train = {0}, test = {0};
    bnc_fed_arch arch;
    int rc = bnc_fed_arch_init(&arch, a->cfg.model, 784, BNC_FED_NCLASSES, err);
    if (rc) return rc;
    rc = bnc_fed_mnist_load(a->data, &train, &test, err);
    if (rc) return rc;
    bnc_fed_trainer *t = bnc_fed_trainer_new(&arch, 500);
    float *w = malloc((size_t)arch.nparams * sizeof *w);
    int64_t *idx = malloc((size_t)train.n * sizeof *idx);
    if (!t || !w || !idx) {
        rc = bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < train.n; i++)
        idx[i] = i;
    bnc_fed_model_init(&arch, w, a->cfg.seed);
    bnc_fed_train_opts o = a->cfg.train;
    int epochs = o.epochs;
    o.epochs = 1;
    for (int e = 1; e <= epochs; e++) {
        double t0 = bnc_now(), tl, ta, vl, va;
        rc = bnc_fed_train(t, w, NULL, &train, idx, train.n, &o, a->cfg.seed, (uint64_t)e, &tl, &ta,
                           err);
        if (!rc) rc = bnc_fed_evaluate(t, w, o.qat, &test, &vl, &va, err);
        if (rc) break;
        printf("{\"model\": \"%s\", \"epoch\": %d, \"train_loss\": %.4f, \"train_acc\": %.4f, "
               "\"test_loss\": %.4f, \"test_acc\": %.4f, \"epoch_s\": %.2f}\n",
               a->cfg.model, e, tl, ta, vl, va, bnc_now() - t0);
        fflush(stdout);
    }
out:
    bnc_fed_trainer_free(t);
    free(w);
    free(idx);
    bnc_fed_dataset_free(&train);
    bnc_fed_dataset_free(&test);
    return rc;
}

int bnc_cmd_fed(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "server") && strcmp(sub, "client") && strcmp(sub, "sim") &&
        strcmp(sub, "train") && strcmp(sub, "keygen")) {
        fprintf(stderr, "bnc fed: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    fed_args a;
    char msg[BNC_ERR_MSG_MAX + 64] = "";
    int pr = parse(argc - 1, argv + 1, &a, msg, sizeof msg);
    if (pr == 1) {
        usage(stdout);
        return 0;
    }
    if (pr < 0) {
        fprintf(stderr, "bnc fed %s: %s\n", sub, msg);
        return 2;
    }
    bnc_err err;
    bnc_err_clear(&err);
    int rc = 0;
    if (!strcmp(sub, "train")) {
        if (bnc_fed_config_check(&a.cfg, &err)) return bnc_cli_fail(err.code, err.msg);
        rc = cmd_train(&a, &err);
        return rc ? bnc_cli_fail(rc, err.msg) : 0;
    }
    if (!strcmp(sub, "keygen")) {
        if (!a.keys) {
            fprintf(stderr, "bnc fed keygen: --keys DIR is required\n");
            return 2;
        }
        rc = bnc_fed_keygen(a.keys, a.cfg.clients, &err);
        if (rc) return bnc_cli_fail(rc, err.msg);
        printf("{\"keys\": \"%s\", \"clients\": %d}\n", a.keys, a.cfg.clients);
        return 0;
    }
    if (!strcmp(sub, "client")) {
        if (!a.connect || a.client_id < 0) {
            fprintf(stderr, "bnc fed client: --connect and --client-id are required\n");
            return 2;
        }
        bnc_fed_keypair server_kp, own_kp;
        if (a.keys) {
            char path[4200];
            snprintf(path, sizeof path, "%s/server.pub", a.keys);
            if ((rc = bnc_fed_keypair_load(path, &server_kp, &err)))
                return bnc_cli_fail(rc, err.msg);
            if (a.key)
                snprintf(path, sizeof path, "%s", a.key);
            else
                snprintf(path, sizeof path, "%s/client-%d.key", a.keys, a.client_id);
            if ((rc = bnc_fed_keypair_load(path, &own_kp, &err))) return bnc_cli_fail(rc, err.msg);
            if (!own_kp.sec[0]) {
                fprintf(stderr, "bnc fed client: %s: no secret key\n", path);
                return 2;
            }
        }
        client_hooks h = {a.crash_at, a.slow};
        bnc_fed_client_opts co;
        memset(&co, 0, sizeof co);
        co.connect = a.connect;
        co.data_dir = a.data;
        co.heartbeat_s = a.heartbeat;
        co.sink.log = log_stderr;
        co.on_round = client_on_round;
        co.on_round_ctx = &h;
        if (a.keys) {
            co.server_pub = server_kp.pub;
            co.key = &own_kp;
        }
        if (a.cfg.attack != BNC_FED_ATTACK_NONE) {
            if ((rc = bnc_fed_config_check(&a.cfg, &err))) return bnc_cli_fail(rc, err.msg);
            co.attack = a.cfg.attack;
            co.attack_scale = a.cfg.attack_scale;
            fprintf(stderr, "bnc fed client %d: attacking with %s (scale %g)\n", a.client_id,
                    bnc_fed_attack_name(co.attack), co.attack_scale);
        }
        int id = a.client_id;
        rc = bnc_fed_clients_run(&co, &id, 1, a.timeout, &err);
        return rc ? bnc_cli_fail(rc, err.msg) : 0;
    }
    if (a.keys && strcmp(sub, "server")) {
        fprintf(stderr,
                "bnc fed %s: --keys applies to server, client and keygen (a simulation "
                "runs over inproc:// or loopback)\n",
                sub);
        return 2;
    }
    if ((rc = bnc_fed_config_check(&a.cfg, &err))) return bnc_cli_fail(rc, err.msg);
    cli_sink cs;
    bnc_fed_sink sink;
    if ((rc = setup_sink(&a, &cs, &sink, &err))) return bnc_cli_fail(rc, err.msg);
    bnc_fed_summary sum;
    int rank = 0;
    if (!strcmp(sub, "server")) {
        if (!a.bind) {
            bnc_fed_db_close(cs.db);
            fprintf(stderr, "bnc fed server: --bind is required\n");
            return 2;
        }
        /* the endpoint file never replaces a device, FIFO or directory */
        if (a.endpoint_file && (rc = bnc_out_check(a.endpoint_file, NULL, &err))) {
            bnc_fed_db_close(cs.db);
            return bnc_cli_fail(rc, err.msg);
        }
        bnc_fed_server_opts so;
        memset(&so, 0, sizeof so);
        so.bind = a.bind;
        so.endpoint_file = a.endpoint_file;
        so.data_dir = a.data;
        so.sink = sink;
        bnc_fed_keys keys;
        memset(&keys, 0, sizeof keys);
        if (a.keys && (rc = bnc_fed_keys_load(a.keys, a.cfg.clients, &keys, &err))) {
            bnc_fed_db_close(cs.db);
            return bnc_cli_fail(rc, err.msg);
        }
        if (a.keys) so.keys = &keys;
        rc = bnc_fed_server_run(&a.cfg, &so, &sum, &err);
        bnc_fed_keys_free(&keys);
    } else {
        /* Under mpirun the ranks share the simulation. */
        int mpi = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE");
        if (mpi) {
            int prov;
            MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &prov);
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        }
        bnc_fed_sim_opts so;
        memset(&so, 0, sizeof so);
        so.threads = a.threads;
        so.data_dir = a.data;
        so.sink = sink;
        if (rank != 0) { /* only rank 0 reports */
            so.sink.run_start = NULL;
            so.sink.round = NULL;
            so.sink.run_end = NULL;
        }
        rc = bnc_fed_sim_run(&a.cfg, &so, &sum, &err);
        if (mpi) MPI_Finalize();
    }
    if (rc && cs.db) bnc_fed_db_fail(cs.db, a.cfg.run);
    bnc_fed_db_close(cs.db);
    if (rc) return bnc_cli_fail(rc, err.msg);
    if (rank == 0 && !a.quiet) print_summary(&a.cfg, &sum);
    return 0;
}
