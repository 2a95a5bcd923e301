/* The federated server: a ZeroMQ ROUTER that samples clients, sends the
 * model, aggregates the updates that arrive before the deadline, applies a
 * server optimizer, evaluates, reports and checkpoints every round. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zmq.h>

#include "bnc_fed.h"
#include "bnc_rng.h"
#include "bnc_time.h"
#include "fed_wire.h"

#define CKPT_MAGIC "BNCFEDC1"
#define CKPT_VERSION 1u

typedef struct peer {
    uint8_t rid[256];
    size_t rid_len;
    int joined;
    int sampled, responded; /* this round */
} peer;

typedef struct server {
    const bnc_fed_config *cfg;
    const bnc_fed_server_opts *o;
    void *sock;
    bnc_fed_arch a;
    int nt;
    float *w, *m, *v, *dec;
    /* Sums in double so the aggregate does not depend on arrival order
     * (beyond double rounding): a task is reproducible for its seed. */
    double *acc, *mag;
    double sumw, loss_w, acc_w;
    peer *peers; /* by client id */
    int round;   /* current, 1-based; 0 before the first */
    int pending;
    size_t max_msg;
    bnc_fed_round_stats st;
    int64_t rejected_total;
    /* Counted since the last reported round, so traffic and rejections
     * between rounds (joins before round 1, late updates) land in the next
     * round's row. */
    int64_t up_acc, down_acc;
    int rej_acc;
} server;

static void slog(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(server *s, const char *fmt, ...)
{
    if (!s->o->sink.log) return;
    char line[1400];
    int k = snprintf(line, sizeof line, "fed server [%s]: ", s->cfg->run);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    s->o->sink.log(s->o->sink.ctx, line);
}

/* A printable form of a routing id for logs. */
static void peer_name(const uint8_t *rid, size_t n, char *out, size_t cap)
{
    int printable = n > 0;
    for (size_t i = 0; i < n; i++)
        printable &= rid[i] >= 0x20 && rid[i] < 0x7f;
    if (printable) {
        snprintf(out, cap, "%.*s", (int)n, (const char *)rid);
        return;
    }
    size_t k = 0;
    k += (size_t)snprintf(out, cap, "0x");
    for (size_t i = 0; i < n && k + 3 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%02x", rid[i]);
}

/* ---- checkpoint ------------------------------------------------------------ */

static int ckpt_save(server *s, bnc_err *err)
{
    const char *path = s->cfg->checkpoint;
    if (!path[0]) return 0;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return bnc_err_set(err, BNC_EIO, "checkpoint %s: %s", tmp, strerror(errno));
    uint32_t hdr[4] = {CKPT_VERSION, (uint32_t)s->round, (uint32_t)s->cfg->server_opt, 0};
    uint64_t np = (uint64_t)s->a.nparams;
    char run[128] = {0};
    snprintf(run, sizeof run, "%s", s->cfg->run);
    uLong crc = crc32(0L, Z_NULL, 0);
    int ok = fwrite(CKPT_MAGIC, 1, 8, f) == 8;
#define PUT(p, n)                                                                                  \
    do {                                                                                           \
        ok &= fwrite(p, 1, n, f) == (size_t)(n);                                                   \
        crc = crc32(crc, (const Bytef *)(p), (uInt)(n));                                           \
    } while (0)
    PUT(hdr, sizeof hdr);
    PUT(run, sizeof run);
    PUT(&np, sizeof np);
    PUT(s->w, np * sizeof(float));
    PUT(s->m, np * sizeof(float));
    PUT(s->v, np * sizeof(float));
#undef PUT
    uint32_t c32 = (uint32_t)crc;
    ok &= fwrite(&c32, 1, 4, f) == 4;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0)
        return bnc_err_set(err, BNC_EIO, "checkpoint %s: write failed: %s", path, strerror(errno));
    return 0;
}

/* Loads the checkpoint when there is one: *round is its round, 0 if none. */
static int ckpt_load(server *s, int *round, bnc_err *err)
{
    *round = 0;
    const char *path = s->cfg->checkpoint;
    if (!path[0]) return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT
                   ? 0
                   : bnc_err_set(err, BNC_EIO, "checkpoint %s: %s", path, strerror(errno));
    char magic[8];
    uint32_t hdr[4], c32;
    char run[128];
    uint64_t np;
    size_t n = (size_t)s->a.nparams;
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, CKPT_MAGIC, 8) == 0;
    ok = ok && fread(hdr, 1, sizeof hdr, f) == sizeof hdr &&
         fread(run, 1, sizeof run, f) == sizeof run;
    ok = ok && fread(&np, 1, sizeof np, f) == sizeof np;
    if (!ok) {
        fclose(f);
        return bnc_err_set(err, BNC_EFORMAT, "checkpoint %s: bad header", path);
    }
    run[sizeof run - 1] = 0;
    if (hdr[0] != CKPT_VERSION || strcmp(run, s->cfg->run) != 0 || np != (uint64_t)n ||
        hdr[2] != (uint32_t)s->cfg->server_opt) {
        fclose(f);
        return bnc_err_set(err, BNC_EVERSION,
                           "checkpoint %s: belongs to run '%s' (%llu parameters, version %u), "
                           "not this run '%s' (%zu parameters)",
                           path, run, (unsigned long long)np, hdr[0], s->cfg->run, n);
    }
    ok = fread(s->w, sizeof(float), n, f) == n && fread(s->m, sizeof(float), n, f) == n &&
         fread(s->v, sizeof(float), n, f) == n && fread(&c32, 1, 4, f) == 4;
    fclose(f);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)hdr, sizeof hdr);
    crc = crc32(crc, (const Bytef *)run, sizeof run);
    crc = crc32(crc, (const Bytef *)&np, sizeof np);
    crc = crc32(crc, (const Bytef *)s->w, (uInt)(n * sizeof(float)));
    crc = crc32(crc, (const Bytef *)s->m, (uInt)(n * sizeof(float)));
    crc = crc32(crc, (const Bytef *)s->v, (uInt)(n * sizeof(float)));
    if (!ok || (uint32_t)crc != c32)
        return bnc_err_set(err, BNC_EFORMAT, "checkpoint %s: truncated or checksum mismatch", path);
    *round = (int)hdr[1];
    return 0;
}

/* ---- messages ---------------------------------------------------------------- */

static void reject(server *s, const uint8_t *rid, size_t rid_len, int ack_round, const char *why)
{
    char name[600];
    peer_name(rid, rid_len, name, sizeof name);
    slog(s, "rejected message from peer %s (round %d): %s", name, s->round, why);
    s->rej_acc++;
    s->rejected_total++;
    if (ack_round >= 0) {
        Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
        Bnc__Fed__Ack ack = BNC__FED__ACK__INIT;
        ack.round = (uint32_t)ack_round;
        ack.accepted = 0;
        ack.reason = (char *)why;
        m.body_case = BNC__FED__MSG__BODY_ACK;
        m.ack = &ack;
        bnc_fed_send(s->sock, rid, rid_len, &m, &s->down_acc, NULL);
    }
}

static void send_welcome(server *s, const uint8_t *rid, size_t rid_len)
{
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Welcome w = BNC__FED__WELCOME__INIT;
    Bnc__Fed__Config c;
    char part[64];
    bnc_fed_config_to_wire(s->cfg, &c, part, sizeof part);
    w.config = &c;
    m.body_case = BNC__FED__MSG__BODY_WELCOME;
    m.welcome = &w;
    bnc_fed_send(s->sock, rid, rid_len, &m, &s->down_acc, NULL);
}

static void on_join(server *s, const uint8_t *rid, size_t rid_len, const Bnc__Fed__Join *j)
{
    if (j->client_id >= (uint32_t)s->cfg->clients) {
        char why[128];
        snprintf(why, sizeof why, "join: client id %u outside 0..%d", j->client_id,
                 s->cfg->clients - 1);
        reject(s, rid, rid_len, -1, why);
        return;
    }
    peer *p = &s->peers[j->client_id];
    int same = p->joined && p->rid_len == rid_len && memcmp(p->rid, rid, rid_len) == 0;
    if (same) return; /* heartbeat */
    char name[600];
    peer_name(rid, rid_len, name, sizeof name);
    if (!p->joined) {
        slog(s, "client %u joined as peer %s", j->client_id, name);
    } else {
        char was[600];
        peer_name(p->rid, p->rid_len, was, sizeof was);
        slog(s, "client %u joined again as peer %s (was %s)", j->client_id, name, was);
    }
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->joined = 1;
    send_welcome(s, rid, rid_len);
}

static void on_update(server *s, const uint8_t *rid, size_t rid_len, const Bnc__Fed__Update *u)
{
    char why[BNC_ERR_MSG_MAX + 64];
    if (u->client_id >= (uint32_t)s->cfg->clients) {
        snprintf(why, sizeof why, "update from unknown client id %u", u->client_id);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    peer *p = &s->peers[u->client_id];
    if (!p->joined || p->rid_len != rid_len || memcmp(p->rid, rid, rid_len) != 0) {
        snprintf(why, sizeof why, "update for client %u from a peer that did not join as it",
                 u->client_id);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    if ((int)u->round != s->round || !p->sampled) {
        snprintf(why, sizeof why, "update for round %u: not expected (current round %d%s)",
                 u->round, s->round, p->sampled ? "" : ", client not sampled");
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    if (p->responded) {
        reject(s, rid, rid_len, (int)u->round, "second update in one round");
        return;
    }
    if (u->examples == 0 || u->examples > 1000000000ull || !isfinite(u->train_loss) ||
        !isfinite(u->train_acc)) {
        snprintf(why, sizeof why, "update: %llu examples, loss %g", (unsigned long long)u->examples,
                 u->train_loss);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    bnc_err e;
    bnc_err_clear(&e);
    if (bnc_fed_tensors_decode(&s->a, s->cfg->uplink, &s->cfg->cp, u->delta, u->n_delta, s->dec,
                               &e)) {
        snprintf(why, sizeof why, "malformed update: %s", e.msg);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    double wgt = (double)u->examples;
    size_t n = (size_t)s->a.nparams;
    if (s->cfg->uplink->vote) {
        for (size_t i = 0; i < n; i++) {
            s->acc[i] += s->dec[i] > 0 ? 1.0 : (s->dec[i] < 0 ? -1.0 : 0.0);
            s->mag[i] += wgt * fabs((double)s->dec[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            s->acc[i] += wgt * (double)s->dec[i];
    }
    s->sumw += wgt;
    s->loss_w += wgt * u->train_loss;
    s->acc_w += wgt * u->train_acc;
    s->st.examples += (int64_t)u->examples;
    p->responded = 1;
    s->pending--;
    s->st.finished++;
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Ack ack = BNC__FED__ACK__INIT;
    ack.round = u->round;
    ack.accepted = 1;
    m.body_case = BNC__FED__MSG__BODY_ACK;
    m.ack = &ack;
    bnc_fed_send(s->sock, rid, rid_len, &m, &s->down_acc, NULL);
}

/* Receives and handles one message, waiting at most timeout_ms. */
static int serve_one(server *s, long timeout_ms, bnc_err *err)
{
    zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
    int r = zmq_poll(&it, 1, timeout_ms);
    if (r < 0)
        return zmq_errno() == EINTR
                   ? 0
                   : bnc_err_set(err, BNC_ENET, "zmq_poll: %s", zmq_strerror(zmq_errno()));
    if (r == 0) return 0;
    zmq_msg_t parts[3];
    int np = 0, more = 1;
    size_t extra_bytes = 0;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, s->sock, 0) < 0) {
            zmq_msg_close(&tmp);
            for (int i = 0; i < np; i++)
                zmq_msg_close(&parts[i]);
            return bnc_err_set(err, BNC_ENET, "zmq recv: %s", zmq_strerror(zmq_errno()));
        }
        more = zmq_msg_more(&tmp);
        if (np < 3) {
            parts[np++] = tmp;
        } else {
            extra_bytes += zmq_msg_size(&tmp);
            zmq_msg_close(&tmp);
            np++;
        }
    }
    int kept = np < 3 ? np : 3;
    const uint8_t *rid = zmq_msg_data(&parts[0]);
    size_t rid_len = zmq_msg_size(&parts[0]);
    for (int i = 1; i < kept; i++)
        s->up_acc += (int64_t)zmq_msg_size(&parts[i]);
    s->up_acc += (int64_t)extra_bytes;
    char why[160];
    if (np != 2) {
        snprintf(why, sizeof why, "%d frames, expected one", np - 1);
        reject(s, rid, rid_len, -1, why);
    } else if (zmq_msg_size(&parts[1]) > s->max_msg) {
        snprintf(why, sizeof why, "oversized message of %zu bytes (limit %zu)",
                 zmq_msg_size(&parts[1]), s->max_msg);
        reject(s, rid, rid_len, -1, why);
    } else {
        Bnc__Fed__Msg *m =
            bnc__fed__msg__unpack(NULL, zmq_msg_size(&parts[1]), zmq_msg_data(&parts[1]));
        if (!m) {
            snprintf(why, sizeof why, "malformed message (%zu bytes): not a fed.Msg",
                     zmq_msg_size(&parts[1]));
            reject(s, rid, rid_len, -1, why);
        } else {
            switch (m->body_case) {
            case BNC__FED__MSG__BODY_JOIN:
                on_join(s, rid, rid_len, m->join);
                break;
            case BNC__FED__MSG__BODY_UPDATE:
                on_update(s, rid, rid_len, m->update);
                break;
            case BNC__FED__MSG__BODY_LEAVE:
                if (m->leave->client_id < (uint32_t)s->cfg->clients) {
                    peer *p = &s->peers[m->leave->client_id];
                    if (p->joined && p->rid_len == rid_len && memcmp(p->rid, rid, rid_len) == 0) {
                        p->joined = 0;
                        if (p->sampled && !p->responded) {
                            p->responded = 1; /* counted as dropped */
                            s->pending--;
                        }
                        slog(s, "client %u left: %s", m->leave->client_id,
                             m->leave->reason ? m->leave->reason : "");
                    }
                }
                break;
            default:
                snprintf(why, sizeof why, "unexpected message type %d from a client",
                         (int)m->body_case);
                reject(s, rid, rid_len, -1, why);
            }
            bnc__fed__msg__free_unpacked(m, NULL);
        }
    }
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&parts[i]);
    return 0;
}

static int joined_count(const server *s)
{
    int k = 0;
    for (int i = 0; i < s->cfg->clients; i++)
        k += s->peers[i].joined;
    return k;
}

/* ---- the round ---------------------------------------------------------------- */

static void apply_update(server *s)
{
    const bnc_fed_config *c = s->cfg;
    size_t n = (size_t)s->a.nparams;
    if (s->sumw <= 0) return;
    /* d = the aggregated update (pseudo-gradient, pointing downhill). */
    float *d = s->dec;
    if (c->uplink->vote) {
        /* Majority vote per coordinate, scaled by the mean magnitude. */
        for (size_t i = 0; i < n; i++) {
            float mag = (float)(s->mag[i] / s->sumw);
            d[i] = s->acc[i] > 0 ? mag : (s->acc[i] < 0 ? -mag : 0.0f);
        }
    } else {
        double inv = 1.0 / s->sumw;
        for (size_t i = 0; i < n; i++)
            d[i] = (float)(s->acc[i] * inv);
    }
    if (c->server_opt == BNC_FED_OPT_FEDAVG) {
        for (size_t i = 0; i < n; i++)
            s->w[i] += c->server_lr * d[i];
        return;
    }
    /* FedAdam / FedYogi (Reddi et al., Adaptive Federated Optimization). */
    for (size_t i = 0; i < n; i++) {
        float g2 = d[i] * d[i];
        s->m[i] = c->beta1 * s->m[i] + (1 - c->beta1) * d[i];
        if (c->server_opt == BNC_FED_OPT_FEDADAM) {
            s->v[i] = c->beta2 * s->v[i] + (1 - c->beta2) * g2;
        } else {
            float sg = s->v[i] - g2 > 0 ? 1.0f : (s->v[i] - g2 < 0 ? -1.0f : 0.0f);
            s->v[i] = s->v[i] - (1 - c->beta2) * g2 * sg;
        }
        s->w[i] += c->server_lr * s->m[i] / (sqrtf(s->v[i]) + c->tau);
    }
}

static int run_round(server *s, bnc_fed_trainer *tr, const bnc_fed_dataset *test, uint8_t *buf,
                     size_t cap, Bnc__Fed__Tensor *ts, Bnc__Fed__Tensor **tp, float *scratch,
                     bnc_err *err)
{
    const bnc_fed_config *c = s->cfg;
    double t0 = bnc_now();
    memset(&s->st, 0, sizeof s->st);
    s->st.round = s->round;
    size_t n = (size_t)s->a.nparams;
    memset(s->acc, 0, n * sizeof(double));
    if (c->uplink->vote) memset(s->mag, 0, n * sizeof(double));
    s->sumw = s->loss_w = s->acc_w = 0;

    /* Seeded sample of m joined clients (in id order, partial shuffle). */
    int K = c->clients, nj = 0;
    int *ids = malloc((size_t)K * sizeof *ids);
    if (!ids) return bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
    for (int i = 0; i < K; i++) {
        s->peers[i].sampled = s->peers[i].responded = 0;
        if (s->peers[i].joined) ids[nj++] = i;
    }
    int m = c->per_round < nj ? c->per_round : nj;
    bnc_rng r;
    bnc_rng_init(&r, bnc_mix64(c->seed, 0x5a3b1e), (uint64_t)s->round);
    for (int i = 0; i < m; i++) {
        int j = i + (int)bnc_rng_below(&r, (uint64_t)(nj - i));
        int t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    /* The model, encoded once for every sampled client. */
    memcpy(scratch, s->w, n * sizeof(float));
    int rc = bnc_fed_tensors_encode(&s->a, c->downlink, &c->cp, scratch, NULL, NULL, c->seed,
                                    (uint64_t)s->round, buf, cap, ts, tp, err);
    if (rc) {
        free(ids);
        return rc;
    }
    Bnc__Fed__Msg msg = BNC__FED__MSG__INIT;
    Bnc__Fed__RoundStart rs = BNC__FED__ROUND_START__INIT;
    rs.round = (uint32_t)s->round;
    rs.n_model = (size_t)s->nt;
    rs.model = tp;
    rs.deadline_s = c->deadline_s;
    msg.body_case = BNC__FED__MSG__BODY_ROUND_START;
    msg.round_start = &rs;
    s->pending = 0;
    for (int i = 0; i < m; i++) {
        peer *p = &s->peers[ids[i]];
        p->sampled = 1;
        s->st.sampled++;
        bnc_err e;
        if (bnc_fed_send(s->sock, p->rid, p->rid_len, &msg, &s->down_acc, &e) != 0) {
            slog(s, "round %d: client %d unreachable (%s), dropped", s->round, ids[i], e.msg);
            p->responded = 1;
            p->joined = 0; /* gone: it joins again when it comes back */
            continue;
        }
        s->pending++;
    }
    free(ids);
    double deadline = bnc_now() + c->deadline_s;
    while (s->pending > 0) {
        double left = deadline - bnc_now();
        if (left <= 0) break;
        rc = serve_one(s, (long)(left * 1000) + 1, err);
        if (rc) return rc;
    }
    s->st.dropped = s->st.sampled - s->st.finished;
    s->st.uplink_bytes = s->up_acc;
    s->st.downlink_bytes = s->down_acc;
    s->st.rejected = s->rej_acc;
    s->up_acc = s->down_acc = 0;
    s->rej_acc = 0;
    if (s->st.dropped > 0) {
        for (int i = 0; i < K; i++)
            if (s->peers[i].sampled && !s->peers[i].responded)
                slog(s, "round %d: client %d missed the deadline, dropped", s->round, i);
    }
    apply_update(s);
    rc = bnc_fed_evaluate(tr, s->w, c->train.qat, test, &s->st.loss, &s->st.accuracy, err);
    if (rc) return rc;
    if (s->sumw > 0) {
        s->st.train_loss = s->loss_w / s->sumw;
        s->st.train_acc = s->acc_w / s->sumw;
    }
    s->st.wall_s = bnc_now() - t0;
    return 0;
}

static void broadcast_shutdown(server *s, const char *why)
{
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Shutdown sd = BNC__FED__SHUTDOWN__INIT;
    sd.reason = (char *)why;
    m.body_case = BNC__FED__MSG__BODY_SHUTDOWN;
    m.shutdown = &sd;
    for (int i = 0; i < s->cfg->clients; i++)
        if (s->peers[i].joined)
            bnc_fed_send(s->sock, s->peers[i].rid, s->peers[i].rid_len, &m, NULL, NULL);
}

int bnc_fed_server_run(const bnc_fed_config *cfg, const bnc_fed_server_opts *o,
                       bnc_fed_summary *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    server s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.o = o;
    double t_start = bnc_now();
    int rc = bnc_fed_arch_init(&s.a, cfg->model, 784, BNC_FED_NCLASSES, err);
    if (rc) return rc;
    s.nt = bnc_fed_arch_ntensors(&s.a);
    size_t n = (size_t)s.a.nparams;
    bnc_fed_dataset own_test = {0};
    const bnc_fed_dataset *test = o->test;
    void *ctx = o->zmq_ctx ? o->zmq_ctx : zmq_ctx_new();
    bnc_fed_trainer *tr = bnc_fed_trainer_new(&s.a, 500);
    size_t cap = bnc_fed_tensors_bound(&s.a, cfg->downlink, &cfg->cp);
    uint8_t *buf = malloc(cap);
    float *scratch = malloc(n * sizeof(float));
    Bnc__Fed__Tensor ts[BNC_FED_MAX_TENSORS], *tp[BNC_FED_MAX_TENSORS];
    s.w = calloc(n, sizeof(float));
    s.m = calloc(n, sizeof(float));
    s.v = calloc(n, sizeof(float));
    s.acc = calloc(n, sizeof(double));
    s.mag = calloc(n, sizeof(double));
    s.dec = calloc(n, sizeof(float));
    s.peers = calloc((size_t)cfg->clients, sizeof *s.peers);
    if (!ctx || !tr || !buf || !scratch || !s.w || !s.m || !s.v || !s.acc || !s.mag || !s.dec ||
        !s.peers) {
        rc = bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
        goto done;
    }
    if (!test) {
        rc = bnc_fed_mnist_load(o->data_dir, NULL, &own_test, err);
        if (rc) goto done;
        test = &own_test;
    }
    s.max_msg = cfg->max_msg_bytes;
    if (!s.max_msg) {
        const bnc_fed_codec *f32 = bnc_fed_codec_find("none");
        s.max_msg = bnc_fed_tensors_bound(&s.a, f32, &cfg->cp) + 64 * (size_t)s.nt + 4096;
        size_t up = bnc_fed_tensors_bound(&s.a, cfg->uplink, &cfg->cp) + 64 * (size_t)s.nt + 4096;
        if (up > s.max_msg) s.max_msg = up;
    }
    /* Start from the checkpoint when there is one, else a seeded model. */
    bnc_fed_model_init(&s.a, s.w, cfg->seed);
    if (cfg->server_opt == BNC_FED_OPT_FEDYOGI)
        for (size_t i = 0; i < n; i++)
            s.v[i] = cfg->tau * cfg->tau;
    int start;
    rc = ckpt_load(&s, &start, err);
    if (rc) goto done;
    out->resumed_from = start;
    if (start) slog(&s, "resuming after round %d from %s", start, cfg->checkpoint);
    s.sock = zmq_socket(ctx, ZMQ_ROUTER);
    if (!s.sock) {
        rc = bnc_err_set(err, BNC_ENET, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    int one = 1, linger = 2000;
    int64_t hard = (int64_t)(4 * s.max_msg + (1u << 20));
    zmq_setsockopt(s.sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(s.sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(s.sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s.sock, ZMQ_MAXMSGSIZE, &hard, sizeof hard);
    if (zmq_bind(s.sock, o->bind) != 0) {
        rc = bnc_err_set(err, BNC_ENET, "bind %s: %s", o->bind, zmq_strerror(zmq_errno()));
        goto done;
    }
    char ep[512] = "";
    size_t epl = sizeof ep;
    zmq_getsockopt(s.sock, ZMQ_LAST_ENDPOINT, ep, &epl);
    slog(&s, "listening on %s", ep);
    if (o->endpoint_file) {
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp", o->endpoint_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", ep) < 0 || fclose(f) != 0 || rename(tmp, o->endpoint_file)) {
            rc = bnc_err_set(err, BNC_EIO, "%s: cannot write the endpoint", o->endpoint_file);
            goto done;
        }
    }
    if (o->on_listen) o->on_listen(o->on_listen_ctx, ep);
    if (o->sink.run_start && (rc = o->sink.run_start(o->sink.ctx, cfg, start, err))) goto done;
    if (start >= cfg->rounds) {
        out->rounds_done = start;
        goto finish;
    }
    /* Wait for enough clients (joins keep arriving during rounds too). */
    double until = bnc_now() + cfg->join_timeout_s;
    while (joined_count(&s) < cfg->min_clients && bnc_now() < until)
        if ((rc = serve_one(&s, 100, err))) goto done;
    if (joined_count(&s) == 0) {
        rc = bnc_err_set(err, BNC_ETIMEOUT, "server: no client joined within %g s",
                         cfg->join_timeout_s);
        goto done;
    }
    if (joined_count(&s) < cfg->min_clients)
        slog(&s, "only %d of %d clients joined within %g s; starting", joined_count(&s),
             cfg->min_clients, cfg->join_timeout_s);
    for (s.round = start + 1; s.round <= cfg->rounds; s.round++) {
        rc = run_round(&s, tr, test, buf, cap, ts, tp, scratch, err);
        if (rc) goto done;
        if (o->sink.round && (rc = o->sink.round(o->sink.ctx, cfg, &s.st, err))) goto done;
        if ((rc = ckpt_save(&s, err))) goto done;
        out->rounds_done = s.round;
        out->final_accuracy = s.st.accuracy;
        if (s.st.accuracy > out->best_accuracy) out->best_accuracy = s.st.accuracy;
        if (!out->first_round_085 && s.st.accuracy >= 0.85) out->first_round_085 = s.round;
        out->uplink_bytes += s.st.uplink_bytes;
        out->downlink_bytes += s.st.downlink_bytes;
        if (cfg->stop_after && s.round == cfg->stop_after && s.round < cfg->rounds) {
            slog(&s, "stopping after round %d as asked (--stop-after)", s.round);
            out->rejected = s.rejected_total;
            out->wall_s = bnc_now() - t_start;
            goto done; /* no Shutdown, no run_end: as a crash would */
        }
    }
finish:
    broadcast_shutdown(&s, "run complete");
    out->rejected = s.rejected_total;
    out->wall_s = bnc_now() - t_start;
    if (o->sink.run_end) rc = o->sink.run_end(o->sink.ctx, cfg, out, err);
done:
    if (s.sock) zmq_close(s.sock);
    if (!o->zmq_ctx && ctx) zmq_ctx_term(ctx);
    bnc_fed_dataset_free(&own_test);
    bnc_fed_trainer_free(tr);
    free(buf);
    free(scratch);
    free(s.w);
    free(s.m);
    free(s.v);
    free(s.acc);
    free(s.mag);
    free(s.dec);
    free(s.peers);
    return rc;
}
