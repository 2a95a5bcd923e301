/* Federated clients: DEALER sockets driven by one thread each group, so a
 * thread pool serves hundreds of clients with one set of training buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bnc_fed.h"
#include "bnc_fed_dp.h"
#include "bnc_fed_robust.h"
#include "bnc_fed_secagg.h"
#include "bnc_rng.h"
#include "bnc_time.h"
#include "fed_wire.h"

typedef struct client {
    int id;
    void *sock;
    int welcomed, done;
    double last_tx, last_rx;
    float *residual; /* error feedback, nparams, lazily allocated */
    float *sent;     /* error feedback: the decoded update last sent, for a late one */
    int sent_round;
    /* Secure aggregation: this client's X25519 pair and the round it masked. */
    uint8_t sa_pk[BNC_SECAGG_PK], sa_sk[BNC_SECAGG_PK];
    int sa_round, sa_n, sa_me;
    uint32_t *sa_ids;
    uint8_t (*sa_pks)[BNC_SECAGG_PK];
    uint8_t sa_own[BNC_SECAGG_SHARE];
} client;

typedef struct worker {
    const bnc_fed_client_opts *o;
    int have_cfg;
    bnc_fed_config cfg;
    bnc_fed_arch a;
    int nt;
    bnc_fed_trainer *tr;
    float *wg, *wl, *scratch;
    uint32_t *q; /* secure aggregation: the integer update, nparams */
    uint8_t *buf;
    size_t cap;
    bnc_fed_dataset own_train;
    const bnc_fed_dataset *train;
    bnc_fed_dataset flipped; /* label-flip attackers: x shared with train, y = 9 - y */
    bnc_fed_partition own_part;
    const bnc_fed_partition *part;
} worker;

static void clog_(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clog_(worker *w, const char *fmt, ...)
{
    if (!w->o->sink.log) return;
    char line[1400];
    int k = snprintf(line, sizeof line, "fed client: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    w->o->sink.log(w->o->sink.ctx, line);
}

static void worker_release(worker *w)
{
    bnc_fed_trainer_free(w->tr);
    free(w->wg);
    free(w->wl);
    free(w->scratch);
    free(w->buf);
    free(w->q);
    w->q = NULL;
    bnc_fed_dataset_free(&w->own_train);
    free(w->flipped.y);
    memset(&w->flipped, 0, sizeof w->flipped);
    bnc_fed_partition_free(&w->own_part);
    w->tr = NULL;
    w->wg = w->wl = w->scratch = NULL;
    w->buf = NULL;
    w->have_cfg = 0;
}

/* Prepares buffers, data and partition for a configuration. */
static int worker_setup(worker *w, const bnc_fed_config *cfg, bnc_err *err)
{
    if (w->have_cfg && strcmp(w->cfg.run, cfg->run) == 0 && strcmp(w->cfg.model, cfg->model) == 0)
        return 0;
    if (w->have_cfg) {
        bnc_fed_trainer_free(w->tr);
        free(w->wg);
        free(w->wl);
        free(w->scratch);
        free(w->buf);
        bnc_fed_partition_free(&w->own_part);
        w->tr = NULL;
        w->wg = w->wl = w->scratch = NULL;
        w->buf = NULL;
    }
    w->cfg = *cfg;
    int rc = bnc_fed_arch_init(&w->a, cfg->model, 784, BNC_FED_NCLASSES, err);
    if (rc) return rc;
    w->nt = bnc_fed_arch_ntensors(&w->a);
    size_t n = (size_t)w->a.nparams;
    w->tr = bnc_fed_trainer_new(&w->a, cfg->train.batch);
    w->wg = malloc(n * sizeof(float));
    w->wl = malloc(n * sizeof(float));
    w->scratch = malloc(n * sizeof(float));
    w->cap = bnc_fed_tensors_bound(&w->a, cfg->uplink, &cfg->cp);
    w->buf = malloc(w->cap);
    if (!w->tr || !w->wg || !w->wl || !w->scratch || !w->buf)
        return bnc_err_set(err, BNC_ENOMEM, "client: out of memory");
    if (!w->train) {
        rc = bnc_fed_mnist_load(w->o->data_dir, &w->own_train, NULL, err);
        if (rc) return rc;
        w->train = &w->own_train;
    }
    const bnc_fed_partition *p = w->o->part;
    if (p && p->nclients == cfg->clients && p->n == w->train->n) {
        w->part = p;
    } else {
        rc = bnc_fed_partition_make(w->train->y, w->train->n, BNC_FED_NCLASSES, cfg->clients,
                                    &cfg->partition, cfg->seed, &w->own_part, err);
        if (rc) return rc;
        w->part = &w->own_part;
    }
    w->have_cfg = 1;
    return 0;
}

static int send_join(worker *w, client *c, bnc_err *err)
{
    int key = w->have_cfg && w->cfg.secagg == 1;
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Join j = BNC__FED__JOIN__INIT;
    j.client_id = (uint32_t)c->id;
    j.version = (char *)"bnc-fed-1";
    if (key) { /* only runs with secure aggregation carry the key */
        j.secagg_pk.data = c->sa_pk;
        j.secagg_pk.len = BNC_SECAGG_PK;
    }
    m.body_case = BNC__FED__MSG__BODY_JOIN;
    m.join = &j;
    c->last_tx = bnc_now();
    (void)w;
    return bnc_fed_send(c->sock, NULL, 0, &m, NULL, err);
}

static int is_attacker(const worker *w, const client *c)
{
    return w->o->attack != BNC_FED_ATTACK_NONE && (!w->o->attacker || w->o->attacker[c->id]);
}

/* The training set with every label y replaced by 9 - y (made once). */
static const bnc_fed_dataset *flipped_train(worker *w, bnc_err *err)
{
    if (!w->flipped.y) {
        w->flipped = *w->train;
        w->flipped.y = malloc((size_t)w->train->n);
        if (!w->flipped.y) {
            memset(&w->flipped, 0, sizeof w->flipped);
            bnc_err_set(err, BNC_ENOMEM, "client: out of memory");
            return NULL;
        }
        for (int64_t i = 0; i < w->train->n; i++)
            w->flipped.y[i] = (uint8_t)(BNC_FED_NCLASSES - 1 - w->train->y[i]);
    }
    return &w->flipped;
}

/* Secure aggregation: quantizes the update (w->wl) to the integer alphabet
 * of the uplink codec, masks it (when a roster is given), shares the
 * self-mask seed and sends it all as one Update. */
static int secagg_update(worker *w, client *c, const Bnc__Fed__RoundStart *rs, double loss,
                         double acc, int64_t cnt, double t0, uint64_t stream, bnc_err *err)
{
    const bnc_fed_config *cfg = &w->cfg;
    size_t n = (size_t)w->a.nparams;
    if (!w->q && !(w->q = malloc(n * sizeof *w->q)))
        return bnc_err_set(err, BNC_ENOMEM, "client %d: out of memory", c->id);
    int id = cfg->uplink->id;
    int qmax = id == BNC_FED_CODEC_TERNARY ? 1 : id == BNC_FED_CODEC_INT8 ? 127 : 32767;
    bnc_secagg_quantize(w->wl, n, rs->secagg_step, qmax, id == BNC_FED_CODEC_NONE, cfg->seed,
                        bnc_mix64(stream, 0x5a), cfg->error_feedback ? c->residual : NULL, w->q);
    size_t nr = rs->n_roster;
    ProtobufCBinaryData *sh = NULL;
    uint8_t *boxes = NULL, *shares = NULL;
    int rc = 0;
    if (nr > 0) {
        int me = -1;
        for (size_t k = 0; k < nr; k++) {
            if (!rs->roster[k]->pk.data || rs->roster[k]->pk.len != BNC_SECAGG_PK) {
                clog_(w, "client %d: round %u: roster entry %zu without a 32-byte key, no update",
                      c->id, rs->round, k);
                return 0;
            }
            if (rs->roster[k]->id == (uint32_t)c->id) me = (int)k;
        }
        if (me < 0 || rs->secagg_t < 1 || rs->secagg_t > nr) {
            clog_(w, "client %d: round %u: not in the secure-aggregation roster or bad threshold",
                  c->id, rs->round);
            return 0;
        }
        free(c->sa_ids);
        free(c->sa_pks);
        c->sa_ids = malloc(nr * sizeof *c->sa_ids);
        c->sa_pks = malloc(nr * sizeof *c->sa_pks);
        sh = calloc(nr, sizeof *sh);
        boxes = malloc(nr * BNC_SECAGG_BOX);
        shares = malloc(nr * BNC_SECAGG_SHARE);
        if (!c->sa_ids || !c->sa_pks || !sh || !boxes || !shares) {
            rc = bnc_err_set(err, BNC_ENOMEM, "client %d: out of memory", c->id);
            goto out;
        }
        c->sa_n = (int)nr;
        c->sa_me = me;
        c->sa_round = (int)rs->round;
        uint8_t seed[BNC_SECAGG_SEED];
        bnc_secagg_random_seed(seed);
        bnc_secagg_add_mask(w->q, n, seed, rs->round, +1);
        if ((rc = bnc_secagg_split(seed, (int)rs->secagg_t, (int)nr, shares, err))) goto out;
        for (size_t k = 0; k < nr; k++) {
            c->sa_ids[k] = rs->roster[k]->id;
            memcpy(c->sa_pks[k], rs->roster[k]->pk.data, BNC_SECAGG_PK);
            if ((int)k == me) {
                memcpy(c->sa_own, shares + k * BNC_SECAGG_SHARE, BNC_SECAGG_SHARE);
                continue; /* its own share stays here */
            }
            uint8_t ps[BNC_SECAGG_SEED], key[32];
            if (bnc_secagg_pair_seed(c->sa_sk, c->sa_pks[k], rs->round, (uint32_t)c->id,
                                     c->sa_ids[k], ps, err) ||
                bnc_secagg_box_key(c->sa_sk, c->sa_pks[k], rs->round, (uint32_t)c->id, c->sa_ids[k],
                                   key, err)) {
                clog_(w, "client %d: round %u: client %u: %s; no update", c->id, rs->round,
                      c->sa_ids[k], err->msg);
                bnc_err_clear(err);
                goto out;
            }
            bnc_secagg_add_mask(w->q, n, ps, rs->round,
                                bnc_secagg_pair_sign((uint32_t)c->id, c->sa_ids[k]));
            bnc_secagg_seal(shares + k * BNC_SECAGG_SHARE, key, rs->round,
                            boxes + k * BNC_SECAGG_BOX);
            sh[k].data = boxes + k * BNC_SECAGG_BOX;
            sh[k].len = BNC_SECAGG_BOX;
        }
        memset(seed, 0, sizeof seed);
    }
    Bnc__Fed__Tensor ts[BNC_FED_MAX_TENSORS], *tp[BNC_FED_MAX_TENSORS];
    for (int t = 0; t < w->nt; t++) {
        int64_t off, len = bnc_fed_arch_tensor(&w->a, t, &off);
        bnc__fed__tensor__init(&ts[t]);
        ts[t].index = (uint32_t)t;
        ts[t].codec = BNC_FED_CODEC_SECAGG;
        ts[t].n = (uint64_t)len;
        ts[t].data.data = (uint8_t *)(w->q + off);
        ts[t].data.len = (size_t)len * 4;
        tp[t] = &ts[t];
    }
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Update u = BNC__FED__UPDATE__INIT;
    u.round = rs->round;
    u.client_id = (uint32_t)c->id;
    u.examples = (uint64_t)cnt;
    u.n_delta = (size_t)w->nt;
    u.delta = tp;
    u.train_loss = loss;
    u.train_acc = acc;
    u.compute_s = bnc_now() - t0;
    u.n_shares = nr;
    u.shares = sh;
    m.body_case = BNC__FED__MSG__BODY_UPDATE;
    m.update = &u;
    c->last_tx = bnc_now();
    c->sent_round = 0;
    rc = bnc_fed_send(c->sock, NULL, 0, &m, NULL, err);
out:
    free(sh);
    free(boxes);
    free(shares);
    return rc;
}

/* Secure aggregation, second step: opens the survivors' shares meant for
 * this client and computes the masks it added for the dropped clients. */
static int on_unmask(worker *w, client *c, const Bnc__Fed__Unmask *um, bnc_err *err)
{
    if (w->o->drop_unmask && w->o->drop_unmask[c->id]) {
        clog_(w, "client %d: round %u: ignoring Unmask (test hook: gone after sending)", c->id,
              um->round);
        return 0;
    }
    if ((int)um->round != c->sa_round || um->n_shares != um->n_survivors) {
        clog_(w, "client %d: Unmask for round %u refused (masked round %d)", c->id, um->round,
              c->sa_round);
        return 0;
    }
    size_t n = (size_t)w->a.nparams;
    int in_s = 0;
    for (size_t k = 0; k < um->n_survivors; k++) {
        in_s |= um->survivors[k] == (uint32_t)c->id;
        for (size_t d = 0; d < um->n_dropped; d++)
            if (um->dropped[d] == um->survivors[k]) {
                /* A server asking for both kinds of secret of one client
                 * could unmask it: answer nothing. */
                clog_(w, "client %d: Unmask lists client %u as survivor and dropped, refused",
                      c->id, um->survivors[k]);
                return 0;
            }
    }
    if (!in_s) {
        clog_(w, "client %d: Unmask without this client among the survivors, refused", c->id);
        return 0;
    }
    uint32_t *owners = malloc(um->n_survivors * sizeof *owners);
    uint8_t *opened = malloc(um->n_survivors * BNC_SECAGG_SHARE + 1);
    ProtobufCBinaryData *sh = calloc(um->n_survivors + 1, sizeof *sh);
    uint32_t *corr = um->n_dropped ? calloc(n, sizeof *corr) : NULL;
    int rc = 0;
    size_t k2 = 0;
    if (!owners || !opened || !sh || (um->n_dropped && !corr)) {
        rc = bnc_err_set(err, BNC_ENOMEM, "client %d: out of memory", c->id);
        goto out;
    }
    for (size_t k = 0; k < um->n_survivors; k++) {
        uint32_t u = um->survivors[k];
        uint8_t *dst = opened + k2 * BNC_SECAGG_SHARE;
        if (u == (uint32_t)c->id) {
            memcpy(dst, c->sa_own, BNC_SECAGG_SHARE);
        } else {
            int idx = -1;
            for (int r = 0; r < c->sa_n; r++)
                if (c->sa_ids[r] == u) idx = r;
            uint8_t key[32];
            bnc_err e;
            if (idx < 0 || um->shares[k].len != BNC_SECAGG_BOX ||
                bnc_secagg_box_key(c->sa_sk, c->sa_pks[idx], um->round, u, (uint32_t)c->id, key,
                                   &e) ||
                bnc_secagg_open(um->shares[k].data, key, um->round, dst, &e)) {
                clog_(w, "client %d: round %u: the share from client %u does not open, skipped",
                      c->id, um->round, u);
                continue;
            }
        }
        owners[k2] = u;
        sh[k2].data = dst;
        sh[k2].len = BNC_SECAGG_SHARE;
        k2++;
    }
    for (size_t d = 0; d < um->n_dropped; d++) {
        int idx = -1;
        for (int r = 0; r < c->sa_n; r++)
            if (c->sa_ids[r] == um->dropped[d] && r != c->sa_me) idx = r;
        if (idx < 0) continue;
        uint8_t ps[BNC_SECAGG_SEED];
        bnc_err e;
        if (bnc_secagg_pair_seed(c->sa_sk, c->sa_pks[idx], um->round, (uint32_t)c->id,
                                 um->dropped[d], ps, &e))
            continue;
        bnc_secagg_add_mask(corr, n, ps, um->round,
                            bnc_secagg_pair_sign((uint32_t)c->id, um->dropped[d]));
    }
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__UnmaskReply r = BNC__FED__UNMASK_REPLY__INIT;
    r.round = um->round;
    r.client_id = (uint32_t)c->id;
    r.n_owners = k2;
    r.owners = owners;
    r.n_shares = k2;
    r.shares = sh;
    if (corr) {
        r.correction.data = (uint8_t *)corr;
        r.correction.len = n * 4;
    }
    m.body_case = BNC__FED__MSG__BODY_UNMASK_REPLY;
    m.unmask_reply = &r;
    c->last_tx = bnc_now();
    rc = bnc_fed_send(c->sock, NULL, 0, &m, NULL, err);
    c->sa_round = 0; /* one answer per round */
out:
    free(owners);
    free(opened);
    free(sh);
    free(corr);
    return rc;
}

static int on_round(worker *w, client *c, const Bnc__Fed__RoundStart *rs, bnc_err *err)
{
    if (!w->have_cfg) {
        clog_(w, "client %d: round %u before the configuration, ignored", c->id, rs->round);
        return 0;
    }
    const bnc_fed_config *cfg = &w->cfg;
    if (w->o->on_round && w->o->on_round(w->o->on_round_ctx, c->id, (int)rs->round)) {
        c->done = 1;
        return 0;
    }
    double t0 = bnc_now();
    int rc =
        bnc_fed_tensors_decode(&w->a, cfg->downlink, &cfg->cp, rs->model, rs->n_model, w->wg, err);
    if (rc) {
        /* A bad model from the network: say so and sit the round out. */
        clog_(w, "client %d: round %u: model refused, no update sent: %s", c->id, rs->round,
              err->msg);
        bnc_err_clear(err);
        return 0;
    }
    int evil = is_attacker(w, c);
    const bnc_fed_dataset *train = w->train;
    if (evil && w->o->attack == BNC_FED_ATTACK_LABELFLIP && !(train = flipped_train(w, err)))
        return BNC_ENOMEM;
    size_t n = (size_t)w->a.nparams;
    memcpy(w->wl, w->wg, n * sizeof(float));
    const int64_t *idx = w->part->idx + w->part->off[c->id];
    int64_t cnt = w->part->off[c->id + 1] - w->part->off[c->id];
    double loss = 0, acc = 0;
    uint64_t stream = bnc_mix64((uint64_t)rs->round, (uint64_t)c->id);
    rc = bnc_fed_train(w->tr, w->wl, cfg->train.prox_mu > 0 ? w->wg : NULL, train, idx, cnt,
                       &cfg->train, cfg->seed, stream, &loss, &acc, err);
    if (rc == BNC_ERANGE) {
        /* Diverged (a poisoned global model): withhold the update, stay in the run. */
        clog_(w, "client %d: round %u: training diverged, no update sent: %s", c->id, rs->round,
              err->msg);
        bnc_err_clear(err);
        return 0;
    }
    if (rc) return bnc_err_prefix(err, "client %d: round %u: ", c->id, rs->round);
    for (size_t i = 0; i < n; i++)
        w->wl[i] -= w->wg[i];
    int below = 0;
    if (!evil && rs->clip_norm > 0)
        below = bnc_fed_dp_clip_noise(w->wl, n, rs->clip_norm, rs->noise_std, cfg->seed,
                                      bnc_mix64(stream, 0xd9));
    if (evil)
        bnc_fed_attack_apply(w->o->attack, w->o->attack_scale, w->wl, n, cfg->seed,
                             bnc_mix64(stream, 0xbad));
    if (cfg->error_feedback && !c->residual) {
        c->residual = calloc(n, sizeof(float));
        if (!c->residual) return bnc_err_set(err, BNC_ENOMEM, "client %d: out of memory", c->id);
    }
    if (rs->secagg_step > 0) return secagg_update(w, c, rs, loss, acc, cnt, t0, stream, err);
    Bnc__Fed__Tensor ts[BNC_FED_MAX_TENSORS], *tp[BNC_FED_MAX_TENSORS];
    rc = bnc_fed_tensors_encode(&w->a, cfg->uplink, &cfg->cp, w->wl,
                                cfg->error_feedback ? c->residual : NULL, w->scratch, cfg->seed,
                                bnc_mix64(stream, 0xc0de), w->buf, w->cap, ts, tp, err);
    if (rc) return bnc_err_prefix(err, "client %d: round %u: ", c->id, rs->round);
    if (cfg->error_feedback) {
        /* What the server will decode: x + old residual - new residual. */
        if (!c->sent && !(c->sent = malloc(n * sizeof(float))))
            return bnc_err_set(err, BNC_ENOMEM, "client %d: out of memory", c->id);
        for (size_t i = 0; i < n; i++)
            c->sent[i] = w->wl[i] - c->residual[i];
        c->sent_round = (int)rs->round;
    }
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Update u = BNC__FED__UPDATE__INIT;
    u.round = rs->round;
    u.client_id = (uint32_t)c->id;
    u.examples = evil && w->o->attack == BNC_FED_ATTACK_POISON ? 1000000000ull : (uint64_t)cnt;
    u.n_delta = (size_t)w->nt;
    u.delta = tp;
    u.train_loss = loss;
    u.train_acc = acc;
    u.compute_s = bnc_now() - t0;
    u.below_clip = below;
    m.body_case = BNC__FED__MSG__BODY_UPDATE;
    m.update = &u;
    c->last_tx = bnc_now();
    return bnc_fed_send(c->sock, NULL, 0, &m, NULL, err);
}

static int handle(worker *w, client *c, bnc_err *err)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return zmq_errno() == EAGAIN ? 0
                                     : bnc_err_set(err, BNC_ENET, "client %d: recv: %s", c->id,
                                                   zmq_strerror(zmq_errno()));
    }
    c->last_rx = bnc_now();
    Bnc__Fed__Msg *m = bnc__fed__msg__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    size_t len = zmq_msg_size(&msg);
    zmq_msg_close(&msg);
    if (!m) {
        clog_(w, "client %d: malformed message of %zu bytes from the server, ignored", c->id, len);
        return 0;
    }
    int rc = 0;
    switch (m->body_case) {
    case BNC__FED__MSG__BODY_WELCOME: {
        bnc_fed_config cfg;
        if (!m->welcome->config) {
            clog_(w, "client %d: welcome without a configuration, ignored", c->id);
            break;
        }
        rc = bnc_fed_config_from_wire(m->welcome->config, &cfg, err);
        if (!rc && c->id >= cfg.clients)
            rc = bnc_err_set(err, BNC_EINVAL, "client %d: the run has %d clients", c->id,
                             cfg.clients);
        if (!rc) rc = worker_setup(w, &cfg, err);
        if (!rc) c->welcomed = 1;
        if (!rc && cfg.secagg == 1) rc = send_join(w, c, err); /* now with the key */
        break;
    }
    case BNC__FED__MSG__BODY_ROUND_START:
        rc = on_round(w, c, m->round_start, err);
        break;
    case BNC__FED__MSG__BODY_ACK:
        if (!m->ack->accepted) {
            clog_(w, "client %d: update for round %u rejected: %s", c->id, m->ack->round,
                  m->ack->reason ? m->ack->reason : "");
            /* A straggler with error feedback keeps what it could not send. */
            if (c->sent && c->residual && c->sent_round == (int)m->ack->round && m->ack->reason &&
                strstr(m->ack->reason, "not expected")) {
                for (int64_t i = 0; i < w->a.nparams; i++)
                    c->residual[i] += c->sent[i];
                c->sent_round = 0;
                clog_(w, "client %d: late update of round %u kept in the residual", c->id,
                      m->ack->round);
            }
        }
        break;
    case BNC__FED__MSG__BODY_SHUTDOWN:
        c->done = 1;
        break;
    case BNC__FED__MSG__BODY_UNMASK:
        rc = w->have_cfg ? on_unmask(w, c, m->unmask, err) : 0;
        break;
    default:
        clog_(w, "client %d: unexpected message type %d, ignored", c->id, (int)m->body_case);
    }
    bnc__fed__msg__free_unpacked(m, NULL);
    return rc;
}

int bnc_fed_clients_run(const bnc_fed_client_opts *o, const int *ids, int n, double timeout_s,
                        bnc_err *err)
{
    if (n <= 0) return 0;
    worker w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.train = o->train;
    void *ctx = o->zmq_ctx ? o->zmq_ctx : zmq_ctx_new();
    client *cs = calloc((size_t)n, sizeof *cs);
    zmq_pollitem_t *items = calloc((size_t)n, sizeof *items);
    int rc = 0;
    if (!ctx || !cs || !items) {
        rc = bnc_err_set(err, BNC_ENOMEM, "clients: out of memory");
        goto done;
    }
    if ((rc = bnc_secagg_init(err))) goto done;
    /* Load the data before joining, so a round never waits on it. */
    if (!w.train) {
        if ((rc = bnc_fed_mnist_load(o->data_dir, &w.own_train, NULL, err))) goto done;
        w.train = &w.own_train;
    }
    double now = bnc_now();
    for (int i = 0; i < n; i++) {
        client *c = &cs[i];
        c->id = ids[i];
        c->last_rx = now;
        bnc_secagg_keypair(c->sa_pk, c->sa_sk);
        c->sock = zmq_socket(ctx, ZMQ_DEALER);
        if (!c->sock) {
            rc = bnc_err_set(err, BNC_ENET, "client %d: zmq_socket: %s", c->id,
                             zmq_strerror(zmq_errno()));
            goto done;
        }
        char rid[32];
        int len = snprintf(rid, sizeof rid, "client-%d", c->id);
        int linger = 1000;
        zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, rid, (size_t)len);
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
        if (o->key && (rc = bnc_fed_curve_client(c->sock, o->server_pub, o->key, err))) goto done;
        if (zmq_connect(c->sock, o->connect) != 0) {
            rc = bnc_err_set(err, BNC_ENET, "client %d: connect %s: %s", c->id, o->connect,
                             zmq_strerror(zmq_errno()));
            goto done;
        }
        if ((rc = send_join(&w, c, err))) goto done;
        items[i].socket = c->sock;
        items[i].events = ZMQ_POLLIN;
    }
    double last_any = bnc_now();
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive += !cs[i].done;
        if (!alive) break;
        for (int i = 0; i < n; i++)
            items[i].events = cs[i].done ? 0 : ZMQ_POLLIN;
        int r = zmq_poll(items, n, 200);
        if (r < 0) {
            if (zmq_errno() == EINTR) continue;
            rc = bnc_err_set(err, BNC_ENET, "clients: zmq_poll: %s", zmq_strerror(zmq_errno()));
            goto done;
        }
        now = bnc_now();
        if (r > 0) last_any = now;
        for (int i = 0; i < n && r > 0; i++)
            if (items[i].revents & ZMQ_POLLIN)
                while (!cs[i].done) {
                    int ev = 0;
                    size_t evl = sizeof ev;
                    zmq_getsockopt(cs[i].sock, ZMQ_EVENTS, &ev, &evl);
                    if (!(ev & ZMQ_POLLIN)) break;
                    if ((rc = handle(&w, &cs[i], err))) goto done;
                }
        if (o->stop && *o->stop) break;
        if (timeout_s > 0 && now - last_any > timeout_s) {
            rc = bnc_err_set(err, BNC_ETIMEOUT, "clients: nothing from %s for %g s", o->connect,
                             timeout_s);
            goto done;
        }
        /* Heartbeat: an idle client says Join again, so a restarted server
         * learns of it; the server ignores repeats. */
        if (o->heartbeat_s > 0)
            for (int i = 0; i < n; i++)
                if (!cs[i].done && now - cs[i].last_tx > o->heartbeat_s &&
                    now - cs[i].last_rx > o->heartbeat_s && (rc = send_join(&w, &cs[i], err)))
                    goto done;
    }
done:
    if (cs)
        for (int i = 0; i < n; i++) {
            if (cs[i].sock) {
                if (rc && rc != BNC_ENET) {
                    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
                    Bnc__Fed__Leave lv = BNC__FED__LEAVE__INIT;
                    lv.client_id = (uint32_t)cs[i].id;
                    lv.reason = err ? err->msg : (char *)"error";
                    m.body_case = BNC__FED__MSG__BODY_LEAVE;
                    m.leave = &lv;
                    bnc_fed_send(cs[i].sock, NULL, 0, &m, NULL, NULL);
                }
                zmq_close(cs[i].sock);
            }
            free(cs[i].residual);
            free(cs[i].sent);
            free(cs[i].sa_ids);
            free(cs[i].sa_pks);
        }
    free(cs);
    free(items);
    worker_release(&w);
    if (!o->zmq_ctx && ctx) zmq_ctx_term(ctx);
    return rc;
}
