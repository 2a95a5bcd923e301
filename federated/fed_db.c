#include "bnc_fed_db.h"

#include <stdio.h>
#include <stdlib.h>

#include "bnc_db.h"

struct bnc_fed_db {
    PGconn *c;
};

int bnc_fed_db_open(const char *url, bnc_fed_db **out, bnc_err *err)
{
    *out = NULL;
    bnc_fed_db *db = calloc(1, sizeof *db);
    if (!db) return bnc_err_set(err, BNC_ENOMEM, "db: out of memory");
    int rc = bnc_db_connect(url, &db->c, err);
    if (!rc) rc = bnc_db_migrate(db->c, err);
    if (rc) {
        bnc_fed_db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void bnc_fed_db_close(bnc_fed_db *db)
{
    if (!db) return;
    bnc_db_close(db->c);
    free(db);
}

static int exec_params(bnc_fed_db *db, const char *sql, int n, const char *const *p, bnc_err *err)
{
    PGresult *r = NULL;
    int rc = bnc_db_query(db->c, sql, n, p, &r, err);
    PQclear(r);
    return rc;
}

static int db_run_start(void *ctx, const bnc_fed_config *c, int resumed_from, bnc_err *err)
{
    char part[64], clients[16], per[16], rounds[16], seed[32], ef[8], afrac[32];
    bnc_fed_partition_format(&c->partition, part, sizeof part);
    snprintf(clients, sizeof clients, "%d", c->clients);
    snprintf(per, sizeof per, "%d", c->per_round);
    snprintf(rounds, sizeof rounds, "%d", c->rounds);
    snprintf(seed, sizeof seed, "%lld", (long long)c->seed);
    snprintf(ef, sizeof ef, "%s", c->error_feedback ? "true" : "false");
    snprintf(afrac, sizeof afrac, "%.17g", c->attack == BNC_FED_ATTACK_NONE ? 0 : c->attack_frac);
    char *json = bnc_fed_config_json(c);
    if (!json) return bnc_err_set(err, BNC_ENOMEM, "db: out of memory");
    const char *p[15] = {c->run,
                         json,
                         c->model,
                         part,
                         c->uplink->name,
                         c->downlink->name,
                         ef,
                         bnc_fed_opt_name(c->server_opt),
                         clients,
                         per,
                         rounds,
                         seed,
                         bnc_fed_agg_name(c->aggregator),
                         bnc_fed_attack_name(c->attack),
                         afrac};
    const char *sql =
        resumed_from
            ? "INSERT INTO fed_runs (name, config, model, partition, uplink, downlink, "
              "error_feedback, server_opt, clients, per_round, rounds, seed, aggregator, attack, "
              "attack_frac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
              "$15) ON CONFLICT (name) DO UPDATE "
              "SET resumes = fed_runs.resumes + 1, status = 'running', finished_at = NULL"
            : "INSERT INTO fed_runs (name, config, model, partition, uplink, downlink, "
              "error_feedback, server_opt, clients, per_round, rounds, seed, aggregator, attack, "
              "attack_frac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
              "$15) ON CONFLICT (name) DO UPDATE "
              "SET config = EXCLUDED.config, status = 'running', finished_at = NULL";
    int rc = exec_params(ctx, sql, 15, p, err);
    free(json);
    return rc ? bnc_err_prefix(err, "fed_runs '%s': ", c->run) : 0;
}

static int db_round(void *ctx, const bnc_fed_config *c, const bnc_fed_round_stats *s, bnc_err *err)
{
    char v[19][40];
    snprintf(v[0], 40, "%d", s->round);
    snprintf(v[1], 40, "%.17g", s->accuracy);
    snprintf(v[2], 40, "%.17g", s->loss);
    snprintf(v[3], 40, "%.17g", s->train_loss);
    snprintf(v[4], 40, "%.17g", s->train_acc);
    snprintf(v[5], 40, "%lld", (long long)s->uplink_bytes);
    snprintf(v[6], 40, "%lld", (long long)s->downlink_bytes);
    snprintf(v[7], 40, "%d", s->sampled);
    snprintf(v[8], 40, "%d", s->finished);
    snprintf(v[9], 40, "%d", s->dropped);
    snprintf(v[10], 40, "%d", s->rejected);
    snprintf(v[11], 40, "%lld", (long long)s->examples);
    snprintf(v[12], 40, "%.9g", s->wall_s);
    snprintf(v[13], 40, "%d", s->clipped);
    snprintf(v[14], 40, "%s", s->skipped ? "true" : "false");
    snprintf(v[15], 40, "%d", s->blocked);
    snprintf(v[16], 40, "%.17g", s->dp_epsilon);
    snprintf(v[17], 40, "%.17g", s->dp_clip);
    snprintf(v[18], 40, "%d", s->late);
    const char *p[20] = {c->run};
    for (int i = 0; i < 19; i++)
        p[i + 1] = v[i];
    int has_train = s->finished > 0;
    if (!has_train) p[4] = p[5] = NULL;
    if (c->dp_clip <= 0) p[17] = p[18] = NULL;
    int rc = exec_params(
        ctx,
        "INSERT INTO fed_rounds (run, round, accuracy, loss, train_loss, train_accuracy, "
        "uplink_bytes, downlink_bytes, clients_sampled, clients_finished, clients_dropped, "
        "messages_rejected, examples, wall_s, updates_clipped, round_skipped, peers_blocked, "
        "dp_epsilon, dp_clip, updates_late) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
        "ON CONFLICT (run, round) DO UPDATE SET accuracy = EXCLUDED.accuracy, "
        "loss = EXCLUDED.loss, train_loss = EXCLUDED.train_loss, train_accuracy = "
        "EXCLUDED.train_accuracy, uplink_bytes = EXCLUDED.uplink_bytes, downlink_bytes = "
        "EXCLUDED.downlink_bytes, clients_sampled = EXCLUDED.clients_sampled, clients_finished = "
        "EXCLUDED.clients_finished, clients_dropped = EXCLUDED.clients_dropped, "
        "messages_rejected = EXCLUDED.messages_rejected, examples = EXCLUDED.examples, wall_s = "
        "EXCLUDED.wall_s, updates_clipped = EXCLUDED.updates_clipped, round_skipped = "
        "EXCLUDED.round_skipped, peers_blocked = EXCLUDED.peers_blocked, dp_epsilon = "
        "EXCLUDED.dp_epsilon, dp_clip = EXCLUDED.dp_clip, updates_late = EXCLUDED.updates_late, "
        "recorded_at = now()",
        20, p, err);
    return rc ? bnc_err_prefix(err, "fed_rounds '%s' round %d: ", c->run, s->round) : 0;
}

static int db_run_end(void *ctx, const bnc_fed_config *c, const bnc_fed_summary *s, bnc_err *err)
{
    char acc[40];
    snprintf(acc, sizeof acc, "%.17g", s->final_accuracy);
    const char *p[2] = {c->run, acc};
    int rc = exec_params(
        ctx,
        "UPDATE fed_runs SET status = 'done', finished_at = now(), final_accuracy = $2, "
        "best_accuracy = (SELECT max(accuracy) FROM fed_rounds WHERE run = $1), "
        "uplink_bytes = (SELECT sum(uplink_bytes) FROM fed_rounds WHERE run = $1), "
        "downlink_bytes = (SELECT sum(downlink_bytes) FROM fed_rounds WHERE run = $1) "
        "WHERE name = $1",
        2, p, err);
    return rc ? bnc_err_prefix(err, "fed_runs '%s': ", c->run) : 0;
}

void bnc_fed_db_sink(bnc_fed_db *db, bnc_fed_sink *sink)
{
    sink->ctx = db;
    sink->run_start = db_run_start;
    sink->round = db_round;
    sink->run_end = db_run_end;
}

void bnc_fed_db_fail(bnc_fed_db *db, const char *run)
{
    if (!db) return;
    const char *p[1] = {run};
    bnc_err e;
    exec_params(db, "UPDATE fed_runs SET status = 'failed', finished_at = now() WHERE name = $1", 1,
                p, &e);
}
