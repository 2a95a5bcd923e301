/* Federated learning over ZeroMQ: the server (ROUTER), the clients (DEALER)
 * and the in-process simulation that runs both, with their configuration
 * and the per-round statistics they produce. */
#ifndef BNC_FED_H
#define BNC_FED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_fed_auth.h"
#include "bnc_fed_compress.h"
#include "bnc_fed_data.h"
#include "bnc_fed_model.h"

enum { BNC_FED_OPT_FEDAVG = 0, BNC_FED_OPT_FEDADAM = 1, BNC_FED_OPT_FEDYOGI = 2 };

/* How the server combines the round's updates (bnc_fed_robust.h). */
enum {
    BNC_FED_AGG_MEAN = 0,     /* example-weighted mean (FedAvg) */
    BNC_FED_AGG_MEDIAN = 1,   /* coordinate-wise median */
    BNC_FED_AGG_TRIMMED = 2,  /* coordinate-wise trimmed mean, trim_frac off each end */
    BNC_FED_AGG_KRUM = 3,     /* Krum (Blanchard et al. 2017), krum_f assumed attackers */
    BNC_FED_AGG_MULTIKRUM = 4 /* mean of the krum_m best Krum scores */
};

/* Simulated adversarial clients (sim and `bnc fed client --attack`). */
enum {
    BNC_FED_ATTACK_NONE = 0,
    BNC_FED_ATTACK_SIGNFLIP = 1,  /* sends -scale * update */
    BNC_FED_ATTACK_SCALED = 2,    /* sends scale * update */
    BNC_FED_ATTACK_NOISE = 3,     /* sends N(0, scale^2) per coordinate */
    BNC_FED_ATTACK_LABELFLIP = 4, /* trains on labels 9 - y */
    BNC_FED_ATTACK_POISON = 5     /* every weight = scale (3e38), examples claimed 1e9 */
};

/* What to do with an update whose L2 norm exceeds max_norm. */
enum { BNC_FED_NORM_REJECT = 0, BNC_FED_NORM_CLIP = 1 };

typedef struct bnc_fed_config {
    char run[128];  /* run name: results key, checkpoint identity */
    char model[16]; /* softmax | mlp */
    bnc_fed_partition_spec partition;
    int clients;   /* K: client ids 0..K-1, the partition's size */
    int per_round; /* m sampled each round */
    int rounds;
    uint64_t seed;
    const bnc_fed_codec *uplink;   /* client updates */
    const bnc_fed_codec *downlink; /* global model to clients */
    int error_feedback;            /* uplink residual per client (biased codecs) */
    bnc_fed_cparams cp;
    bnc_fed_train_opts train; /* client-side SGD; prox_mu > 0 is FedProx */
    int server_opt;           /* BNC_FED_OPT_* */
    float server_lr, beta1, beta2, tau;
    double deadline_s;     /* per round, from RoundStart to aggregation */
    double join_timeout_s; /* wait for min_clients before a run or resume */
    int min_clients;       /* 0: per_round */
    size_t max_msg_bytes;  /* 0: derived from the model and uplink codec */
    char checkpoint[1024]; /* "" for none; resumed from when present */
    int stop_after;        /* stop (as a crash would) after this round; 0 none */
    /* Defences against hostile peers. */
    int64_t max_examples; /* cap of a client's aggregation weight; 0: its partition shard */
    double max_norm;      /* L2 bound of one decoded update (default 1000) */
    int norm_policy;      /* BNC_FED_NORM_*: reject (default) or clip to max_norm */
    double max_agg_norm;  /* the aggregate above this skips the round (default max_norm) */
    int peer_max_rejects; /* rejections in one round after which a peer is blocked (20) */
    int aggregator;       /* BNC_FED_AGG_* */
    double trim_frac;     /* trimmed mean: fraction cut at each end (0.2) */
    int krum_f;           /* Krum: attackers assumed (0: per_round / 5) */
    int krum_m;           /* Multi-Krum: updates averaged (0: per_round - krum_f) */
    /* Differential privacy (DP-FedAvg): sampled clients clip their update to
     * dp_clip and add N(0, (dp_noise dp_clip)^2 / per_round); the server
     * averages with equal weights. dp_quantile > 0: adaptive clipping
     * (Andrew et al. 2021) toward that quantile of the update norms. */
    double dp_clip;      /* C (0: no DP) */
    double dp_noise;     /* noise multiplier sigma */
    double dp_delta;     /* delta of the reported epsilon (1e-5) */
    double dp_quantile;  /* target quantile gamma (0: fixed clip) */
    double dp_clip_lr;   /* eta of the geometric clip update (0.2) */
    double min_fraction; /* a round needs finished >= this fraction of sampled (0: any) */
    /* Secure aggregation (bnc_fed_secagg.h): 1 masked, 2 the same integer
     * updates unmasked (the reference a masked run must equal). Uplink
     * ternary, int8 or none; equal weights. */
    int secagg;
    int secagg_t;       /* Shamir threshold (0: ceil(2 m / 3)) */
    double secagg_step; /* quantization step (0: ternary 0.05, int8 1/127, none 1/32767) */
    int secagg_drop;    /* sim only: sampled clients that vanish after their masked update */
    /* Simulation only (never sent on the wire): attackers among the clients. */
    int attack;          /* BNC_FED_ATTACK_* */
    double attack_frac;  /* fraction of client ids that attack, chosen by seed */
    double attack_scale; /* signflip/scaled factor, noise sigma, poison value (0: default) */
} bnc_fed_config;

/* Defaults: softmax, iid, 10 clients, 10 per round, 10 rounds, seed 1, no
 * compression, FedAvg, lr 0.05, momentum 0.9, weight decay 1e-4, batch 32, 1
 * epoch, deadline 60 s. */
void bnc_fed_config_defaults(bnc_fed_config *c);
/* Checks ranges and fills derived defaults; BNC_EINVAL names the option. */
int bnc_fed_config_check(bnc_fed_config *c, bnc_err *err);
/* Canonical one-line JSON of the configuration into a malloc'd string. */
char *bnc_fed_config_json(const bnc_fed_config *c);
/* "mean" | "median" | "trimmed" | "krum" | "multikrum" to BNC_FED_AGG_*, -1 when unknown. */
int bnc_fed_agg_parse(const char *s);
const char *bnc_fed_agg_name(int agg);
/* "none" | "signflip" | "scaled" | "noise" | "labelflip" | "poison" to BNC_FED_ATTACK_*,
 * -1 when unknown. */
int bnc_fed_attack_parse(const char *s);
const char *bnc_fed_attack_name(int attack);
/* 1 when client id is one of the attackers of c (the first round(attack_frac * clients)
 * of a permutation drawn from the seed), else 0. */
int bnc_fed_is_attacker(const bnc_fed_config *c, int id);
/* "fedavg" | "fedadam" | "fedyogi" to BNC_FED_OPT_*, -1 when unknown. */
int bnc_fed_opt_parse(const char *s);
const char *bnc_fed_opt_name(int opt);

typedef struct bnc_fed_round_stats {
    int round;                    /* 1-based */
    double accuracy, loss;        /* global model on the test set */
    double train_loss, train_acc; /* example-weighted mean over accepted updates */
    int64_t uplink_bytes;         /* bytes of client messages received during the round */
    int64_t downlink_bytes;       /* bytes of server messages sent during the round */
    int sampled, finished, dropped, rejected;
    int clipped;       /* updates clipped to max_norm (norm_policy clip) */
    int skipped;       /* 1: the aggregate was non-finite or above max_agg_norm: not applied */
    int blocked;       /* peers blocked this round after too many rejections */
    double dp_epsilon; /* DP: epsilon spent up to this round for dp_delta (0: no DP) */
    double dp_clip;    /* DP: the clip norm used this round */
    int late;          /* updates that arrived after their round's deadline */
    int64_t examples;  /* examples behind the accepted updates (as weighted, capped) */
    double wall_s;
} bnc_fed_round_stats;

typedef struct bnc_fed_summary {
    int rounds_done;  /* last round completed (resumed runs included) */
    int resumed_from; /* round of the checkpoint a run resumed from, 0 fresh */
    double final_accuracy, best_accuracy;
    int first_round_085;                  /* first round with accuracy >= 0.85, 0 none */
    int64_t uplink_bytes, downlink_bytes; /* this process's rounds */
    int64_t rejected;
    int rounds_skipped;
    double dp_epsilon; /* after the last round (0: no DP) */
    double wall_s;
} bnc_fed_summary;

/* Where the server reports (all optional). Returning non-zero from a hook
 * fails the run with that status. */
typedef struct bnc_fed_sink {
    void *ctx;
    int (*run_start)(void *ctx, const bnc_fed_config *c, int resumed_from, bnc_err *err);
    int (*round)(void *ctx, const bnc_fed_config *c, const bnc_fed_round_stats *s, bnc_err *err);
    int (*run_end)(void *ctx, const bnc_fed_config *c, const bnc_fed_summary *s, bnc_err *err);
    /* One line of the server's or client's log (rejected messages name the
     * peer). Called from the thread that saw it. */
    void (*log)(void *ctx, const char *line);
} bnc_fed_sink;

typedef struct bnc_fed_server_opts {
    const char *bind;            /* tcp://127.0.0.1:5555, inproc://x, tcp://0.0.0.0:5555 */
    const char *endpoint_file;   /* write the bound endpoint here (NULL: no) */
    void *zmq_ctx;               /* NULL: the server makes its own */
    const bnc_fed_dataset *test; /* NULL: loaded from data_dir */
    /* The clients' shards (NULL: made from the training labels in data_dir);
     * a client's aggregation weight is at most its shard's size. */
    const bnc_fed_partition *part;
    const char *data_dir; /* NULL: the Debian package's directory */
    /* CURVE: the server's key pair and the allow-list (NULL: plain, with a
     * warning when bind is not a loopback or inproc address). */
    const bnc_fed_keys *keys;
    bnc_fed_sink sink;
    /* Called with the bound endpoint once the socket listens (sim uses it). */
    void (*on_listen)(void *ctx, const char *endpoint);
    void *on_listen_ctx;
} bnc_fed_server_opts;

/* Runs a server to the end of cfg.rounds (or cfg.stop_after): waits for
 * clients, samples, sends the model, aggregates what arrives before each
 * deadline, evaluates, reports, checkpoints. Sends Shutdown to every client
 * at the end. Malformed, oversized, stale or unexpected messages are
 * rejected, logged with the peer's id and counted; the round goes on. */
int bnc_fed_server_run(const bnc_fed_config *cfg, const bnc_fed_server_opts *o,
                       bnc_fed_summary *out, bnc_err *err);

/* A federated client: its residual and identity. The training buffers are
 * per thread (bnc_fed_worker), so thousands of clients share a few. */
typedef struct bnc_fed_client_opts {
    const char *connect;          /* server endpoint */
    void *zmq_ctx;                /* NULL: own context */
    const bnc_fed_dataset *train; /* NULL: loaded from data_dir on Welcome */
    const char *data_dir;
    const bnc_fed_partition *part; /* shared partition, used when it matches the config */
    double heartbeat_s;            /* re-send Join when idle this long (0: never) */
    /* CURVE (NULL: plain): the server's public key and this client's pair. */
    const char *server_pub;
    const bnc_fed_keypair *key;
    bnc_fed_sink sink; /* only log is used */
    /* Test hook, called on each RoundStart before training: non-zero makes
     * the client stop at once without answering (as a crash would). */
    int (*on_round)(void *ctx, int client_id, int round);
    void *on_round_ctx;
    atomic_int *stop; /* NULL, or set non-zero to stop the clients */
    /* Adversarial behaviour (tests, simulations): attack is BNC_FED_ATTACK_*;
     * attacker[id] non-zero marks the ids that attack (NULL: every id run). */
    int attack;
    double attack_scale;
    const uint8_t *attacker;
    /* Secure aggregation test hook: clients with drop_unmask[id] set send
     * their masked update, then ignore the server's Unmask (as if gone). */
    const uint8_t *drop_unmask;
} bnc_fed_client_opts;

/* Runs clients ids[0..n) in the calling thread until the server sends
 * Shutdown (or, with timeout_s > 0, nothing arrives for that long: then
 * BNC_ETIMEOUT). Uses one BLAS thread's worth of buffers for all of them. */
int bnc_fed_clients_run(const bnc_fed_client_opts *o, const int *ids, int n, double timeout_s,
                        bnc_err *err);

typedef struct bnc_fed_sim_opts {
    int threads; /* client threads (default 2) */
    int local;   /* 1: ignore MPI even when initialised (campaign tasks) */
    const char *data_dir;
    bnc_fed_sink sink;
} bnc_fed_sim_opts;

/* Runs a server and cfg.clients clients in one process over inproc://, the
 * clients spread over a thread pool (OpenBLAS pinned to one thread each).
 * When MPI is initialised with more than one rank, rank 0 runs the server on
 * tcp://127.0.0.1 and the other ranks run the clients, connecting to it over
 * loopback; only rank 0 reports. */
int bnc_fed_sim_run(const bnc_fed_config *cfg, const bnc_fed_sim_opts *o, bnc_fed_summary *out,
                    bnc_err *err);

#endif
