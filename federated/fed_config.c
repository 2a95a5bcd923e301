/* Configuration defaults, checks and canonical JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fed.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"

void bnc_fed_config_defaults(bnc_fed_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->run, sizeof c->run, "fed");
    snprintf(c->model, sizeof c->model, "softmax");
    c->partition.kind = BNC_FED_PART_IID;
    c->clients = 10;
    c->per_round = 10;
    c->rounds = 10;
    c->seed = 1;
    c->uplink = bnc_fed_codec_find("none");
    c->downlink = bnc_fed_codec_find("none");
    c->train.lr = 0.05f;
    c->train.momentum = 0.9f;
    c->train.weight_decay = 1e-4f;
    c->train.batch = 32;
    c->train.epochs = 1;
    c->server_opt = BNC_FED_OPT_FEDAVG;
    c->server_lr = 0; /* derived: 1 for FedAvg, 0.01 for FedAdam/FedYogi */
    c->beta1 = 0.9f;
    c->beta2 = 0.99f;
    c->tau = 1e-3f;
    c->deadline_s = 60;
    c->join_timeout_s = 60;
    c->max_norm = 1000;
    c->norm_policy = BNC_FED_NORM_REJECT;
    c->peer_max_rejects = 20;
    c->aggregator = BNC_FED_AGG_MEAN;
    c->trim_frac = 0.2;
    c->dp_delta = 1e-5;
    c->dp_clip_lr = 0.2;
}

static const char *const agg_names[] = {"mean", "median", "trimmed", "krum", "multikrum"};
static const char *const attack_names[] = {"none",  "signflip",  "scaled",
                                           "noise", "labelflip", "poison"};

int bnc_fed_agg_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof agg_names / sizeof agg_names[0]); i++)
        if (strcmp(s, agg_names[i]) == 0) return i;
    if (strcmp(s, "fedavg") == 0) return BNC_FED_AGG_MEAN;
    return -1;
}

const char *bnc_fed_agg_name(int agg)
{
    return agg >= 0 && agg <= BNC_FED_AGG_MULTIKRUM ? agg_names[agg] : "?";
}

int bnc_fed_attack_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof attack_names / sizeof attack_names[0]); i++)
        if (strcmp(s, attack_names[i]) == 0) return i;
    return -1;
}

const char *bnc_fed_attack_name(int attack)
{
    return attack >= 0 && attack <= BNC_FED_ATTACK_POISON ? attack_names[attack] : "?";
}

int bnc_fed_is_attacker(const bnc_fed_config *c, int id)
{
    if (c->attack == BNC_FED_ATTACK_NONE || id < 0 || id >= c->clients) return 0;
    int na = (int)lround(c->attack_frac * c->clients);
    if (na <= 0) return 0;
    /* Rank of id in a seeded order: attackers are the na smallest keys. */
    uint64_t key = bnc_mix64(bnc_mix64(c->seed, 0xa77ac4), (uint64_t)id);
    int below = 0;
    for (int j = 0; j < c->clients; j++) {
        uint64_t kj = bnc_mix64(bnc_mix64(c->seed, 0xa77ac4), (uint64_t)j);
        below += kj < key || (kj == key && j < id);
    }
    return below < na;
}

int bnc_fed_opt_parse(const char *s)
{
    if (strcmp(s, "fedavg") == 0) return BNC_FED_OPT_FEDAVG;
    if (strcmp(s, "fedadam") == 0) return BNC_FED_OPT_FEDADAM;
    if (strcmp(s, "fedyogi") == 0) return BNC_FED_OPT_FEDYOGI;
    return -1;
}

const char *bnc_fed_opt_name(int opt)
{
    return opt == BNC_FED_OPT_FEDADAM   ? "fedadam"
           : opt == BNC_FED_OPT_FEDYOGI ? "fedyogi"
                                        : "fedavg";
}

int bnc_fed_config_check(bnc_fed_config *c, bnc_err *err)
{
    if (!c->run[0] || strpbrk(c->run, "\t\n\r\\"))
        return bnc_err_set(err, BNC_EINVAL, "--run: empty or holds control characters");
    bnc_fed_arch a;
    int rc = bnc_fed_arch_init(&a, c->model, 784, BNC_FED_NCLASSES, err);
    if (rc) return rc;
    if (c->clients < 1 || c->clients > 100000)
        return bnc_err_set(err, BNC_EINVAL, "--clients %d outside 1..100000", c->clients);
    if (c->per_round < 1 || c->per_round > c->clients)
        return bnc_err_set(err, BNC_EINVAL, "--per-round %d outside 1..%d", c->per_round,
                           c->clients);
    if (c->rounds < 1 || c->rounds > 1000000)
        return bnc_err_set(err, BNC_EINVAL, "--rounds %d outside 1..1000000", c->rounds);
    if (!c->uplink || !c->downlink)
        return bnc_err_set(err, BNC_EINVAL, "--compressor/--downlink: unknown codec");
    if (c->downlink->id != BNC_FED_CODEC_NONE && c->downlink->id != BNC_FED_CODEC_F16 &&
        c->downlink->id != BNC_FED_CODEC_INT8 && c->downlink->id != BNC_FED_CODEC_TERNARY)
        return bnc_err_set(err, BNC_EINVAL, "--downlink %s: expected none, f16, int8 or ternary",
                           c->downlink->name);
    if (c->error_feedback && !c->uplink->biased && c->uplink->id != BNC_FED_CODEC_NONE)
        return bnc_err_set(err, BNC_EINVAL,
                           "--error-feedback: %s is unbiased; error feedback applies to biased "
                           "compressors (f16, int8, ternary, sign, topk)",
                           c->uplink->name);
    rc = bnc_fed_cparams_check(&c->cp, err);
    if (rc) return rc;
    const bnc_fed_codec *used[2] = {c->uplink, c->downlink};
    for (int i = 0; i < 2; i++)
        if (used[i]->scheme && !bnc_scheme_find(used[i]->scheme))
            return bnc_err_set(err, BNC_ENOTSUP, "codec %s: kernels scheme '%s' not in this build",
                               used[i]->name, used[i]->scheme);
    if (!(c->train.lr > 0) || !(c->train.momentum >= 0 && c->train.momentum < 1) ||
        !(c->train.weight_decay >= 0) || !(c->train.prox_mu >= 0))
        return bnc_err_set(err, BNC_EINVAL,
                           "--lr must be > 0, --momentum in [0, 1), --weight-decay and --prox-mu "
                           ">= 0");
    if (c->train.batch < 1 || c->train.batch > 1024 || c->train.epochs < 1 ||
        c->train.epochs > 1000)
        return bnc_err_set(err, BNC_EINVAL, "--batch must be 1..1024, --epochs 1..1000");
    if (c->server_opt < 0 || c->server_opt > BNC_FED_OPT_FEDYOGI)
        return bnc_err_set(err, BNC_EINVAL, "--server-opt: expected fedavg, fedadam or fedyogi");
    if (c->server_lr == 0) c->server_lr = c->server_opt == BNC_FED_OPT_FEDAVG ? 1.0f : 0.01f;
    if (!(c->server_lr > 0) || !(c->beta1 >= 0 && c->beta1 < 1) ||
        !(c->beta2 >= 0 && c->beta2 < 1) || !(c->tau > 0))
        return bnc_err_set(err, BNC_EINVAL, "server optimizer: lr > 0, betas in [0, 1), tau > 0");
    if (!(c->deadline_s > 0) || !(c->join_timeout_s > 0))
        return bnc_err_set(err, BNC_EINVAL, "--deadline and --join-timeout must be > 0");
    if (c->min_clients == 0) c->min_clients = c->per_round;
    if (c->min_clients < 1 || c->min_clients > c->clients)
        return bnc_err_set(err, BNC_EINVAL, "--min-clients %d outside 1..%d", c->min_clients,
                           c->clients);
    if (c->stop_after < 0) return bnc_err_set(err, BNC_EINVAL, "--stop-after must be >= 0");
    if (c->max_examples < 0 || c->max_examples > 1000000000)
        return bnc_err_set(err, BNC_EINVAL, "--max-examples %lld outside 0..1e9",
                           (long long)c->max_examples);
    if (!(c->max_norm > 0) || !isfinite(c->max_norm))
        return bnc_err_set(err, BNC_EINVAL, "--max-norm must be a finite number > 0");
    if (c->max_agg_norm == 0) c->max_agg_norm = c->max_norm;
    if (!(c->max_agg_norm > 0) || !isfinite(c->max_agg_norm))
        return bnc_err_set(err, BNC_EINVAL, "--max-agg-norm must be a finite number > 0");
    if (c->norm_policy != BNC_FED_NORM_REJECT && c->norm_policy != BNC_FED_NORM_CLIP)
        return bnc_err_set(err, BNC_EINVAL, "--norm-policy: expected reject or clip");
    if (c->peer_max_rejects < 1)
        return bnc_err_set(err, BNC_EINVAL, "--peer-max-rejects must be >= 1");
    if (c->aggregator < 0 || c->aggregator > BNC_FED_AGG_MULTIKRUM)
        return bnc_err_set(err, BNC_EINVAL,
                           "--aggregator: expected mean, median, trimmed, krum or multikrum");
    if (!(c->trim_frac >= 0 && c->trim_frac < 0.5))
        return bnc_err_set(err, BNC_EINVAL, "--trim-frac %g outside [0, 0.5)", c->trim_frac);
    if (c->krum_f == 0) c->krum_f = c->per_round / 5;
    if (c->krum_f < 0 || (c->aggregator >= BNC_FED_AGG_KRUM && 2 * c->krum_f + 2 >= c->per_round &&
                          c->per_round > 2))
        return bnc_err_set(err, BNC_EINVAL,
                           "--krum-f %d: Krum needs per-round > 2 f + 2 (per-round %d)", c->krum_f,
                           c->per_round);
    if (c->krum_m == 0) c->krum_m = c->per_round - c->krum_f;
    if (c->krum_m < 1 || c->krum_m > c->per_round)
        return bnc_err_set(err, BNC_EINVAL, "--krum-m %d outside 1..%d", c->krum_m, c->per_round);
    if (c->uplink->vote && c->aggregator != BNC_FED_AGG_MEAN)
        return bnc_err_set(err, BNC_EINVAL, "--aggregator %s: the sign codec aggregates by vote",
                           bnc_fed_agg_name(c->aggregator));
    if (!(c->dp_clip >= 0) || !isfinite(c->dp_clip) || !(c->dp_noise >= 0) ||
        !isfinite(c->dp_noise))
        return bnc_err_set(err, BNC_EINVAL, "--dp-clip and --dp-noise must be finite and >= 0");
    if (c->dp_clip > 0 && !(c->dp_noise > 0))
        return bnc_err_set(err, BNC_EINVAL, "--dp-clip needs --dp-noise > 0");
    if (!(c->dp_delta > 0 && c->dp_delta < 1))
        return bnc_err_set(err, BNC_EINVAL, "--dp-delta %g outside (0, 1)", c->dp_delta);
    if (!(c->dp_quantile >= 0 && c->dp_quantile < 1) || !(c->dp_clip_lr > 0))
        return bnc_err_set(err, BNC_EINVAL, "--dp-quantile in [0, 1), --dp-clip-lr > 0");
    if (c->dp_clip > 0 && c->aggregator != BNC_FED_AGG_MEAN)
        return bnc_err_set(err, BNC_EINVAL,
                           "--dp-clip: the accountant assumes the mean (--aggregator mean)");
    if (!(c->min_fraction >= 0 && c->min_fraction <= 1))
        return bnc_err_set(err, BNC_EINVAL, "--min-fraction %g outside [0, 1]", c->min_fraction);
    if (c->secagg < 0 || c->secagg > 2)
        return bnc_err_set(err, BNC_EINVAL, "--secagg: 0 off, 1 masked, 2 unmasked reference");
    if (c->secagg) {
        int id = c->uplink->id;
        if (id != BNC_FED_CODEC_TERNARY && id != BNC_FED_CODEC_INT8 && id != BNC_FED_CODEC_NONE)
            return bnc_err_set(err, BNC_EINVAL,
                               "--secagg: the uplink must be ternary, int8 or none, not %s",
                               c->uplink->name);
        if (c->aggregator != BNC_FED_AGG_MEAN)
            return bnc_err_set(err, BNC_EINVAL,
                               "--secagg: the server sees only the sum (--aggregator mean)");
        if (c->secagg_step == 0)
            c->secagg_step = id == BNC_FED_CODEC_TERNARY ? 0.05
                             : id == BNC_FED_CODEC_INT8  ? 1.0 / 127
                                                         : 1.0 / 32767;
        if (!(c->secagg_step > 0) || !isfinite(c->secagg_step))
            return bnc_err_set(err, BNC_EINVAL, "--secagg-step must be > 0");
        if (c->secagg_t == 0) c->secagg_t = (2 * c->per_round + 2) / 3;
        if (c->secagg_t < 1 || c->secagg_t > c->per_round)
            return bnc_err_set(err, BNC_EINVAL, "--secagg-t %d outside 1..%d", c->secagg_t,
                               c->per_round);
        if (c->secagg_drop < 0 || c->secagg_drop > c->per_round - c->secagg_t)
            return bnc_err_set(err, BNC_EINVAL, "--secagg-drop %d outside 0..%d (n - t)",
                               c->secagg_drop, c->per_round - c->secagg_t);
    }
    if (c->attack < 0 || c->attack > BNC_FED_ATTACK_POISON)
        return bnc_err_set(err, BNC_EINVAL, "--attack: unknown kind");
    if (!(c->attack_frac >= 0 && c->attack_frac <= 1))
        return bnc_err_set(err, BNC_EINVAL, "--attack-frac %g outside [0, 1]", c->attack_frac);
    if (c->attack_scale == 0)
        c->attack_scale = c->attack == BNC_FED_ATTACK_SIGNFLIP ? 4
                          : c->attack == BNC_FED_ATTACK_SCALED ? 10
                          : c->attack == BNC_FED_ATTACK_NOISE  ? 1
                          : c->attack == BNC_FED_ATTACK_POISON ? 3e38
                                                               : 1;
    if (!isfinite(c->attack_scale))
        return bnc_err_set(err, BNC_EINVAL, "--attack-scale must be finite");
    return 0;
}

char *bnc_fed_config_json(const bnc_fed_config *c)
{
    char part[64];
    bnc_fed_partition_format(&c->partition, part, sizeof part);
    size_t cap = 2048;
    char *s = malloc(cap);
    if (!s) return NULL;
    snprintf(s, cap,
             "{\"batch\": %d, \"clients\": %d, \"deadline_s\": %g, \"downlink\": \"%s\", "
             "\"epochs\": %d, \"error_feedback\": %s, \"k_frac\": %g, \"lr\": %g, "
             "\"model\": \"%s\", \"momentum\": %g, \"partition\": \"%s\", \"per_round\": %d, "
             "\"prox_mu\": %g, \"qat\": %s, \"qsgd_levels\": %d, \"rounds\": %d, "
             "\"seed\": %llu, \"server_lr\": %g, \"server_opt\": \"%s\", \"uplink\": \"%s\", "
             "\"weight_decay\": %g, \"aggregator\": \"%s\", \"trim_frac\": %g, "
             "\"krum_f\": %d, \"krum_m\": %d, \"max_norm\": %g, \"norm_policy\": \"%s\", "
             "\"max_examples\": %lld, \"attack\": \"%s\", \"attack_frac\": %g, "
             "\"attack_scale\": %g, \"dp_clip\": %g, \"dp_noise\": %g, \"dp_delta\": %g, "
             "\"dp_quantile\": %g, \"min_fraction\": %g, \"secagg\": %d, \"secagg_t\": %d, "
             "\"secagg_step\": %g}",
             c->train.batch, c->clients, c->deadline_s, c->downlink->name, c->train.epochs,
             c->error_feedback ? "true" : "false", c->cp.k_frac, (double)c->train.lr, c->model,
             (double)c->train.momentum, part, c->per_round, (double)c->train.prox_mu,
             c->train.qat ? "true" : "false", c->cp.qsgd_levels, c->rounds,
             (unsigned long long)c->seed, (double)c->server_lr, bnc_fed_opt_name(c->server_opt),
             c->uplink->name, (double)c->train.weight_decay, bnc_fed_agg_name(c->aggregator),
             c->trim_frac, c->krum_f, c->krum_m, c->max_norm,
             c->norm_policy == BNC_FED_NORM_CLIP ? "clip" : "reject", (long long)c->max_examples,
             bnc_fed_attack_name(c->attack), c->attack_frac, c->attack_scale, c->dp_clip,
             c->dp_noise, c->dp_delta, c->dp_quantile, c->min_fraction, c->secagg, c->secagg_t,
             c->secagg_step);
    return s;
}
