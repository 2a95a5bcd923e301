/* Training runs in PostgreSQL: train_runs, train_steps (007_train.sql). */
#include "train_db.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_db.h"

int bnc_tr_db_open(const char *url, PGconn **out, bnc_err *err)
{
    int rc = bnc_db_connect(url, out, err);
    if (rc) return rc;
    rc = bnc_db_migrate(*out, err);
    if (rc) {
        bnc_db_close(*out);
        *out = NULL;
    }
    return rc;
}

static const char *gc_name(int gc)
{
    static const char *n[] = {"none", "int8", "ternary", "sign"};
    return gc >= 0 && gc <= 3 ? n[gc] : "?";
}

static char *config_json(const bnc_train_opts *o)
{
    const bnc_tr_config *c = &o->cfg;
    json_t *j = json_pack(
        "{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f, "
        "s:f, s:f, s:f, s:f, s:I, s:s, s:I, s:I}",
        "arch", c->arch == BNC_TR_BITNET ? "bitnet" : "llama", "quant",
        c->quant ? "bitnet" : "none", "act_quant", c->act_quant, "dim", (json_int_t)c->dim,
        "layers", (json_int_t)c->n_layers, "heads", (json_int_t)c->n_heads, "ff", (json_int_t)c->ff,
        "vocab", (json_int_t)c->vocab, "ctx", (json_int_t)c->ctx, "rope_base", (double)c->rope_base,
        "norm_eps", (double)c->norm_eps, "steps", (json_int_t)o->steps, "batch",
        (json_int_t)o->batch, "warmup", (json_int_t)o->warmup, "lr", o->lr, "min_lr_frac",
        o->min_lr_frac, "weight_decay", o->weight_decay, "beta1", o->beta1, "beta2", o->beta2,
        "adam_eps", o->adam_eps, "clip", o->clip, "seed", (json_int_t)o->seed, "grad_compress",
        gc_name(o->grad_compress), "eval_every", (json_int_t)o->eval_every, "eval_seqs",
        (json_int_t)o->eval_seqs);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    return s;
}

int bnc_tr_db_start(PGconn *c, const bnc_train_opts *o, const bnc_tr_db_run *r, bnc_err *err)
{
    char *cfg = config_json(o);
    if (!cfg) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    char ranks[16], seed[32], steps[32], params[32], ub[40];
    snprintf(ranks, sizeof ranks, "%d", r->ranks);
    snprintf(seed, sizeof seed, "%lld", (long long)o->seed);
    snprintf(steps, sizeof steps, "%lld", (long long)o->steps);
    snprintf(params, sizeof params, "%zu", r->params);
    snprintf(ub, sizeof ub, "%.17g", r->unigram_bits);
    const char *p[15] = {r->name,
                         cfg,
                         o->cfg.arch == BNC_TR_BITNET ? "bitnet" : "llama",
                         o->cfg.quant ? "bitnet" : "none",
                         gc_name(o->grad_compress),
                         ranks,
                         seed,
                         steps,
                         params,
                         r->checkpoint,
                         r->train_sha,
                         r->valid_sha,
                         r->test_sha,
                         r->ood_sha,
                         ub};
    PGresult *res = NULL;
    int rc = bnc_db_query(
        c,
        "INSERT INTO train_runs (name, config, arch, quant, grad_compress, ranks, seed, steps, "
        "params, checkpoint, train_sha256, valid_sha256, test_sha256, ood_sha256, unigram_bits) "
        "VALUES ($1, $2::jsonb, $3, $4, $5, $6::int, $7::bigint, $8::int, $9::bigint, $10, $11, "
        "$12, $13, $14, $15::float8) ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, "
        "grad_compress = EXCLUDED.grad_compress, ranks = EXCLUDED.ranks, steps = EXCLUDED.steps, "
        "checkpoint = EXCLUDED.checkpoint, train_sha256 = EXCLUDED.train_sha256, "
        "valid_sha256 = EXCLUDED.valid_sha256, test_sha256 = EXCLUDED.test_sha256, "
        "ood_sha256 = EXCLUDED.ood_sha256, unigram_bits = EXCLUDED.unigram_bits, "
        "status = 'running', error = NULL, finished_at = NULL, "
        "resumes = train_runs.resumes + 1",
        15, p, &res, err);
    PQclear(res);
    free(cfg);
    return rc;
}

static void put_num(bnc_buf *b, double v)
{
    if (isfinite(v))
        bnc_buf_printf(b, "%.17g", v);
    else
        bnc_buf_puts(b, "NULL");
}

int bnc_tr_db_steps(PGconn *c, const char *run, const bnc_train_step *s, size_t n, bnc_err *err)
{
    if (n == 0) return 0;
    char *er = PQescapeLiteral(c, run, strlen(run));
    if (!er) return bnc_err_set(err, BNC_EDB, "train: cannot escape run name");
    bnc_buf b = {0};
    bnc_buf_puts(&b, "INSERT INTO train_steps (run, step, loss, lr, grad_norm, valid_loss, "
                     "tokens_per_s, payload_bytes, sent_bytes, wall_s) VALUES ");
    for (size_t i = 0; i < n; i++) {
        bnc_buf_printf(&b, "%s(%s, %lld, ", i ? ", " : "", er, (long long)s[i].step);
        put_num(&b, s[i].loss);
        bnc_buf_puts(&b, ", ");
        put_num(&b, s[i].lr);
        bnc_buf_puts(&b, ", ");
        put_num(&b, s[i].grad_norm);
        bnc_buf_puts(&b, ", ");
        put_num(&b, s[i].valid_loss);
        bnc_buf_puts(&b, ", ");
        put_num(&b, s[i].tokens_per_s);
        bnc_buf_printf(&b, ", %llu, %llu, ", (unsigned long long)s[i].payload_bytes,
                       (unsigned long long)s[i].sent_bytes);
        put_num(&b, s[i].wall_s);
        bnc_buf_puts(&b, ")");
    }
    bnc_buf_puts(&b, " ON CONFLICT (run, step) DO UPDATE SET loss = EXCLUDED.loss, lr = "
                     "EXCLUDED.lr, grad_norm = EXCLUDED.grad_norm, valid_loss = "
                     "EXCLUDED.valid_loss, tokens_per_s = EXCLUDED.tokens_per_s, payload_bytes = "
                     "EXCLUDED.payload_bytes, sent_bytes = EXCLUDED.sent_bytes, wall_s = "
                     "EXCLUDED.wall_s, recorded_at = now()");
    PQfreemem(er);
    int rc = b.p ? bnc_db_exec(c, b.p, err) : bnc_err_set(err, BNC_ENOMEM, "out of memory");
    bnc_buf_free(&b);
    return rc;
}

int bnc_tr_db_finish(PGconn *c, const char *run, const char *status, const bnc_train_result *res,
                     const char *error, bnc_err *err)
{
    char v[9][40];
    snprintf(v[0], sizeof v[0], "%lld", (long long)res->steps_done);
    double d[5] = {res->final_loss, res->valid_loss, res->test_loss, res->ood_loss,
                   res->tokens_per_s};
    const char *p[12];
    p[0] = run;
    p[1] = status;
    p[2] = error;
    p[3] = v[0];
    for (int i = 0; i < 5; i++) {
        snprintf(v[1 + i], sizeof v[1 + i], "%.17g", d[i]);
        p[4 + i] = isfinite(d[i]) ? v[1 + i] : NULL;
    }
    snprintf(v[6], sizeof v[6], "%llu", (unsigned long long)res->payload_bytes);
    snprintf(v[7], sizeof v[7], "%llu", (unsigned long long)res->sent_bytes);
    p[9] = v[6];
    p[10] = v[7];
    PGresult *r = NULL;
    int rc = bnc_db_query(c,
                          "UPDATE train_runs SET status = $2, error = $3, steps_done = $4::int, "
                          "final_loss = $5::float8, valid_loss = $6::float8, test_loss = "
                          "$7::float8, ood_loss = $8::float8, tokens_per_s = $9::float8, "
                          "payload_bytes = $10::bigint, sent_bytes = $11::bigint, finished_at = "
                          "now() WHERE name = $1",
                          11, p, &r, err);
    PQclear(r);
    return rc;
}
