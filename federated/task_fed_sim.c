/* Task kind fed_sim: a campaign sweeps compressors x partitions x seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fed.h"
#include "bnc_fed_task.h"
#include "bnc_hash.h"

static const char *const known_keys[] = {
    "model",        "compressor",     "downlink",     "partition",    "clients",     "per_round",
    "rounds",       "error_feedback", "k_frac",       "qsgd_levels",  "lr",          "momentum",
    "weight_decay", "prox_mu",        "batch",        "epochs",       "qat",         "server_opt",
    "server_lr",    "deadline_s",     "data_dir",     "aggregator",   "trim_frac",   "krum_f",
    "attack",       "attack_frac",    "attack_scale", "max_norm",     "norm_policy", "dp_clip",
    "dp_noise",     "dp_quantile",    "secagg",       "min_fraction", NULL};

static int get_num(const json_t *params, const char *key, double *v, bnc_err *err)
{
    json_t *j = json_object_get(params, key);
    if (!j) return 1;
    if (!json_is_number(j))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: '%s' must be a number", key);
    *v = json_number_value(j);
    return 0;
}

static int get_str(const json_t *params, const char *key, const char **v, bnc_err *err)
{
    json_t *j = json_object_get(params, key);
    if (!j) return 1;
    if (!json_is_string(j))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: '%s' must be a string", key);
    *v = json_string_value(j);
    return 0;
}

/* Builds the configuration of a task; BNC_EINVAL names the bad key. */
static int task_config(const json_t *params, uint64_t seed, bnc_fed_config *c,
                       const char **data_dir, bnc_err *err)
{
    if (!json_is_object(params))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: params must be an object");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)params, key, val)
    {
        int ok = 0;
        for (int i = 0; known_keys[i]; i++)
            ok |= strcmp(known_keys[i], key) == 0;
        if (!ok) return bnc_err_set(err, BNC_EINVAL, "fed_sim: unknown parameter '%s'", key);
    }
    bnc_fed_config_defaults(c);
    c->seed = seed;
    c->deadline_s = 600;
    int rc;
    const char *s = NULL;
    double d = 0;
    if ((rc = get_str(params, "model", &s, err)) < 0) return rc;
    if (rc == 0) snprintf(c->model, sizeof c->model, "%s", s);
    if ((rc = get_str(params, "compressor", &s, err)) < 0) return rc;
    if (rc == 0 && !(c->uplink = bnc_fed_codec_find(s)))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: compressor '%s' unknown", s);
    if ((rc = get_str(params, "downlink", &s, err)) < 0) return rc;
    if (rc == 0 && !(c->downlink = bnc_fed_codec_find(s)))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: downlink '%s' unknown", s);
    if ((rc = get_str(params, "partition", &s, err)) < 0) return rc;
    if (rc == 0 && (rc = bnc_fed_partition_parse(s, &c->partition, err)))
        return bnc_err_prefix(err, "fed_sim: ");
    if ((rc = get_str(params, "server_opt", &s, err)) < 0) return rc;
    if (rc == 0 && (c->server_opt = bnc_fed_opt_parse(s)) < 0)
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: server_opt '%s' unknown", s);
    if ((rc = get_str(params, "aggregator", &s, err)) < 0) return rc;
    if (rc == 0 && (c->aggregator = bnc_fed_agg_parse(s)) < 0)
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: aggregator '%s' unknown", s);
    if ((rc = get_str(params, "attack", &s, err)) < 0) return rc;
    if (rc == 0 && (c->attack = bnc_fed_attack_parse(s)) < 0)
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: attack '%s' unknown", s);
    if ((rc = get_str(params, "norm_policy", &s, err)) < 0) return rc;
    if (rc == 0) {
        if (!strcmp(s, "reject") || !strcmp(s, "clip"))
            c->norm_policy = s[0] == 'c' ? BNC_FED_NORM_CLIP : BNC_FED_NORM_REJECT;
        else
            return bnc_err_set(err, BNC_EINVAL, "fed_sim: norm_policy '%s' (reject or clip)", s);
    }
    json_t *sa = json_object_get(params, "secagg");
    if (sa && !json_is_boolean(sa))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: 'secagg' must be true or false");
    c->secagg = sa && json_is_true(sa);
    if ((rc = get_str(params, "data_dir", &s, err)) < 0) return rc;
    *data_dir = rc == 0 ? s : NULL;
    json_t *ef = json_object_get(params, "error_feedback");
    if (ef && !json_is_boolean(ef))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: 'error_feedback' must be true or false");
    c->error_feedback = ef && json_is_true(ef);
    json_t *qat = json_object_get(params, "qat");
    if (qat && !json_is_boolean(qat))
        return bnc_err_set(err, BNC_EINVAL, "fed_sim: 'qat' must be true or false");
    c->train.qat = qat && json_is_true(qat);
    struct {
        const char *k;
        int *i;
        float *f;
        double *d;
    } nums[] = {
        {"clients", &c->clients, NULL, NULL},
        {"per_round", &c->per_round, NULL, NULL},
        {"rounds", &c->rounds, NULL, NULL},
        {"qsgd_levels", &c->cp.qsgd_levels, NULL, NULL},
        {"batch", &c->train.batch, NULL, NULL},
        {"epochs", &c->train.epochs, NULL, NULL},
        {"lr", NULL, &c->train.lr, NULL},
        {"momentum", NULL, &c->train.momentum, NULL},
        {"weight_decay", NULL, &c->train.weight_decay, NULL},
        {"prox_mu", NULL, &c->train.prox_mu, NULL},
        {"server_lr", NULL, &c->server_lr, NULL},
        {"k_frac", NULL, NULL, &c->cp.k_frac},
        {"deadline_s", NULL, NULL, &c->deadline_s},
        {"krum_f", &c->krum_f, NULL, NULL},
        {"trim_frac", NULL, NULL, &c->trim_frac},
        {"attack_frac", NULL, NULL, &c->attack_frac},
        {"attack_scale", NULL, NULL, &c->attack_scale},
        {"max_norm", NULL, NULL, &c->max_norm},
        {"dp_clip", NULL, NULL, &c->dp_clip},
        {"dp_noise", NULL, NULL, &c->dp_noise},
        {"dp_quantile", NULL, NULL, &c->dp_quantile},
        {"min_fraction", NULL, NULL, &c->min_fraction},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if ((rc = get_num(params, nums[i].k, &d, err)) < 0) return rc;
        if (rc) continue;
        if (nums[i].i) {
            if (d != (double)(int)d)
                return bnc_err_set(err, BNC_EINVAL, "fed_sim: '%s' must be an integer", nums[i].k);
            *nums[i].i = (int)d;
        } else if (nums[i].f) {
            *nums[i].f = (float)d;
        } else {
            *nums[i].d = d;
        }
    }
    if (!json_object_get(params, "per_round") && c->per_round > c->clients)
        c->per_round = c->clients;
    char *canon = json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT);
    char hex[33];
    bnc_hash128_hex(canon ? canon : "", canon ? strlen(canon) : 0, hex);
    free(canon);
    snprintf(c->run, sizeof c->run, "task-%.16s-%llu", hex, (unsigned long long)seed);
    rc = bnc_fed_config_check(c, err);
    return rc ? bnc_err_prefix(err, "fed_sim: ") : 0;
}

static int fed_validate(const json_t *params, const bnc_task_ctx *ctx, bnc_err *err)
{
    (void)ctx;
    bnc_fed_config c;
    const char *dir;
    return task_config(params, 1, &c, &dir, err);
}

static double fed_cost(const json_t *params, const bnc_task_ctx *ctx)
{
    (void)ctx;
    bnc_fed_config c;
    const char *dir;
    bnc_err e;
    if (task_config(params, 1, &c, &dir, &e)) return 1;
    bnc_fed_arch a;
    bnc_fed_arch_init(&a, c.model, 784, BNC_FED_NCLASSES, &e);
    double per_client = 60000.0 / c.clients * c.train.epochs;
    return (double)c.rounds * ((double)c.per_round * per_client + 10000.0) * (double)a.nparams;
}

static int fed_run(const json_t *params, uint64_t seed, const bnc_task_ctx *ctx, bnc_metrics *out,
                   bnc_err *err)
{
    bnc_fed_config c;
    const char *dir;
    int rc = task_config(params, seed, &c, &dir, err);
    if (rc) return rc;
    bnc_fed_sim_opts so;
    memset(&so, 0, sizeof so);
    so.threads = ctx && ctx->threads > 0 ? ctx->threads : 1;
    so.local = 1;
    so.data_dir = dir;
    bnc_fed_summary s;
    rc = bnc_fed_sim_run(&c, &so, &s, err);
    if (rc) return rc;
    struct {
        const char *name;
        double v;
        const char *unit;
    } m[] = {
        {"final_accuracy", s.final_accuracy, "ratio"},
        {"best_accuracy", s.best_accuracy, "ratio"},
        {"rounds_to_085", (double)s.first_round_085, "rounds"},
        {"uplink_bytes", (double)s.uplink_bytes, "bytes"},
        {"downlink_bytes", (double)s.downlink_bytes, "bytes"},
        {"uplink_bytes_per_round", s.rounds_done ? (double)s.uplink_bytes / s.rounds_done : 0,
         "bytes"},
        {"rounds_per_s", s.wall_s > 0 ? s.rounds_done / s.wall_s : 0, "1/s"},
        {"rejected", (double)s.rejected, "messages"},
        {"rounds_skipped", (double)s.rounds_skipped, "rounds"},
        {"dp_epsilon", s.dp_epsilon, "epsilon"},
        {"wall_s", s.wall_s, "s"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if ((rc = bnc_metrics_add(out, m[i].name, m[i].v, m[i].unit)))
            return bnc_err_set(err, rc, "fed_sim: cannot add metric %s", m[i].name);
    return 0;
}

const bnc_task_kind bnc_kind_fed_sim = {"fed_sim", fed_validate, fed_cost, fed_run};
