/* The federated server: a ZeroMQ ROUTER that samples clients, sends the
 * model, aggregates the updates that arrive before the deadline, applies a
 * server optimizer, evaluates, reports and checkpoints every round. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zmq.h>

#include "bnc_fed.h"
#include "bnc_fed_dp.h"
#include "bnc_fed_robust.h"
#include "bnc_fed_secagg.h"
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
    int slot;               /* index of its update this round */
    int capped_logged;
    uint8_t sa_pk[BNC_SECAGG_PK]; /* secure aggregation: X25519 public key from Join */
    int has_pk;
    int roster_k; /* its index in this round's roster, -1 when not in it */
    int unmasked; /* answered this round's Unmask */
} peer;

/* Peers (by routing id) whose messages were rejected: counted per round,
 * logged in full a few times, then summarised; blocked after
 * cfg->peer_max_rejects rejections in one round. */
#define OFFENDERS 256
#define LOG_PER_PEER 5   /* full log lines per peer and round */
#define LOG_PER_ROUND 50 /* full rejection lines per round, all peers */
typedef struct offender {
    uint8_t rid[256];
    size_t rid_len;
    int used;
    int round_rejects, round_suppressed;
    int64_t total;
    int blocked;
    char last[160];
} offender;

/* Remote addresses of accepted TCP connections, by file descriptor, so the
 * monitor can name a peer whose handshake failed. */
#define CONNS 64
typedef struct conn {
    int fd;
    char addr[64];
} conn;

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
    int rej_acc, blk_acc, late_acc;
    /* This round's accepted updates, by arrival slot; aggregated in the
     * order of the sample, so the result does not depend on arrival. */
    float *ups;
    double *upw;
    int *upid;
    int nup, ncap;
    float *wprev;
    const int64_t *shard; /* examples of each client's shard (weight cap) */
    int64_t *own_shard;
    offender *off;
    int logged_round;
    void *zap, *mon;
    conn conns[CONNS];
    char hs_fail[160]; /* last handshake failure, printed with the peer at disconnect */
    int rounds_skipped;
    /* Secure aggregation, this round: the masked integer updates by slot,
     * the sealed shares they carry ([slot][roster index]), the opened
     * shares of each survivor's seed and the x they belong to. */
    uint32_t *yq, *ysum;
    uint8_t *boxes, *bsh;
    uint32_t *bx;
    int *nb;
    uint32_t *roster; /* client ids, in id order */
    int nroster, unmask_phase, replies;
    double clip; /* DP: the current clip norm */
    int below;   /* DP: updates at most the clip this round */
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

static offender *find_offender(server *s, const uint8_t *rid, size_t rid_len, int add)
{
    offender *free_slot = NULL;
    for (int i = 0; i < OFFENDERS; i++) {
        offender *o = &s->off[i];
        if (!o->used) {
            if (!free_slot) free_slot = o;
            continue;
        }
        if (o->rid_len == rid_len && memcmp(o->rid, rid, rid_len) == 0) return o;
    }
    if (!add) return NULL;
    if (!free_slot) { /* full: reuse the slot of the least active peer not blocked */
        for (int i = 0; i < OFFENDERS; i++)
            if (!s->off[i].blocked && (!free_slot || s->off[i].total < free_slot->total))
                free_slot = &s->off[i];
        if (!free_slot) return NULL;
    }
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = 1;
    memcpy(free_slot->rid, rid, rid_len);
    free_slot->rid_len = rid_len;
    return free_slot;
}

static void reject(server *s, const uint8_t *rid, size_t rid_len, int ack_round, const char *why)
{
    char name[600];
    peer_name(rid, rid_len, name, sizeof name);
    s->rej_acc++;
    s->rejected_total++;
    offender *o = find_offender(s, rid, rid_len, 1);
    int full = s->logged_round < LOG_PER_ROUND && (!o || o->round_rejects < LOG_PER_PEER);
    if (o) {
        o->round_rejects++;
        o->total++;
        snprintf(o->last, sizeof o->last, "%s", why);
    }
    if (full) {
        s->logged_round++;
        slog(s, "rejected message from peer %s (round %d): %s", name, s->round, why);
    } else if (o) {
        o->round_suppressed++;
    }
    if (o && !o->blocked && o->round_rejects >= s->cfg->peer_max_rejects) {
        o->blocked = 1;
        s->blk_acc++;
        slog(s,
             "peer %s blocked after %d rejected messages in round %d: its messages are "
             "dropped unread from now on",
             name, o->round_rejects, s->round);
        for (int i = 0; i < s->cfg->clients; i++) {
            peer *p = &s->peers[i];
            if (p->joined && p->rid_len == rid_len && memcmp(p->rid, rid, rid_len) == 0) {
                p->joined = 0;
                if (p->sampled && !p->responded) {
                    p->responded = 1;
                    s->pending--;
                }
                slog(s, "client %d removed from the run with its blocked peer %s", i, name);
            }
        }
        return;
    }
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

/* With CURVE, a claimed client id must be the one the peer's key is
 * bound to (key_id, from the ZAP handler's User-Id). */
static int key_mismatch(server *s, const uint8_t *rid, size_t rid_len, int ack_round,
                        uint32_t claimed, int key_id)
{
    if (!s->o->keys || key_id == (int)claimed) return 0;
    char why[160];
    snprintf(why, sizeof why, "claims client id %u but its CURVE key is bound to client %d",
             claimed, key_id);
    reject(s, rid, rid_len, ack_round, why);
    return 1;
}

static void on_join(server *s, const uint8_t *rid, size_t rid_len, const Bnc__Fed__Join *j,
                    int key_id)
{
    if (j->client_id >= (uint32_t)s->cfg->clients) {
        char why[128];
        snprintf(why, sizeof why, "join: client id %u outside 0..%d", j->client_id,
                 s->cfg->clients - 1);
        reject(s, rid, rid_len, -1, why);
        return;
    }
    if (key_mismatch(s, rid, rid_len, -1, j->client_id, key_id)) return;
    peer *p = &s->peers[j->client_id];
    int same = p->joined && p->rid_len == rid_len && memcmp(p->rid, rid, rid_len) == 0;
    if (same) { /* heartbeat, or the Join with the key after Welcome */
        if (j->secagg_pk.len == BNC_SECAGG_PK && !p->has_pk) {
            memcpy(p->sa_pk, j->secagg_pk.data, BNC_SECAGG_PK);
            p->has_pk = 1;
        }
        return;
    }
    char name[600];
    peer_name(rid, rid_len, name, sizeof name);
    if (!p->joined) {
        slog(s, "client %u joined as peer %s", j->client_id, name);
    } else {
        char was[600];
        peer_name(p->rid, p->rid_len, was, sizeof was);
        slog(s, "client %u joined again as peer %s (was %s)", j->client_id, name, was);
    }
    p->has_pk = 0;
    if (j->secagg_pk.len == BNC_SECAGG_PK) {
        memcpy(p->sa_pk, j->secagg_pk.data, BNC_SECAGG_PK);
        p->has_pk = 1;
    }
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->joined = 1;
    send_welcome(s, rid, rid_len);
}

/* ---- secure aggregation ------------------------------------------------------ */

static int serve_one(server *s, long timeout_ms, bnc_err *err);

/* Shape of a masked update: every tensor once, codec SECAGG, n values of 4
 * bytes; with masks, one sealed share for every other roster member. */
static int secagg_check(server *s, const peer *p, const Bnc__Fed__Update *u, char *why, size_t cap)
{
    int nt = s->nt;
    if (u->n_delta != (size_t)nt) {
        snprintf(why, cap, "malformed update: %zu tensors, the model has %d", u->n_delta, nt);
        return -1;
    }
    unsigned seen = 0;
    for (size_t i = 0; i < u->n_delta; i++) {
        const Bnc__Fed__Tensor *t = u->delta[i];
        int64_t off,
            len = t->index < (uint32_t)nt ? bnc_fed_arch_tensor(&s->a, (int)t->index, &off) : -1;
        if (len < 0 || (seen >> t->index & 1) || t->codec != BNC_FED_CODEC_SECAGG ||
            t->n != (uint64_t)len || t->data.len != (size_t)len * 4) {
            snprintf(why, cap,
                     "malformed masked update: tensor %u (codec %u, %llu values, %zu bytes)",
                     t->index, t->codec, (unsigned long long)t->n, t->data.len);
            return -1;
        }
        seen |= 1u << t->index;
    }
    if (s->cfg->secagg == 1) {
        if (u->n_shares != (size_t)s->nroster) {
            snprintf(why, cap, "masked update with %zu shares, the roster has %d", u->n_shares,
                     s->nroster);
            return -1;
        }
        for (int k = 0; k < s->nroster; k++)
            if (k != p->roster_k && u->shares[k].len != BNC_SECAGG_BOX) {
                snprintf(why, cap, "masked update: share %d of %zu bytes, expected %d", k,
                         u->shares[k].len, BNC_SECAGG_BOX);
                return -1;
            }
    }
    return 0;
}

static void secagg_store(server *s, const peer *p, const Bnc__Fed__Update *u, int slot)
{
    size_t n = (size_t)s->a.nparams;
    uint32_t *y = s->yq + (size_t)slot * n;
    for (size_t i = 0; i < u->n_delta; i++) {
        int64_t off;
        int64_t len = bnc_fed_arch_tensor(&s->a, (int)u->delta[i]->index, &off);
        memcpy(y + off, u->delta[i]->data.data, (size_t)len * 4);
    }
    if (s->cfg->secagg == 1)
        for (int k = 0; k < s->nroster; k++)
            if (k != p->roster_k)
                memcpy(s->boxes + ((size_t)slot * (size_t)s->ncap + (size_t)k) * BNC_SECAGG_BOX,
                       u->shares[k].data, BNC_SECAGG_BOX);
    s->nb[slot] = 0;
}

static void on_unmask_reply(server *s, const uint8_t *rid, size_t rid_len,
                            const Bnc__Fed__UnmaskReply *r, int key_id)
{
    char why[200];
    size_t n = (size_t)s->a.nparams;
    if (r->client_id < (uint32_t)s->cfg->clients && (int)r->round < s->round) {
        const peer *q = &s->peers[r->client_id];
        if (q->joined && q->rid_len == rid_len && memcmp(q->rid, rid, rid_len) == 0)
            return; /* a slow survivor's answer after the first t: not needed */
    }
    if (r->client_id >= (uint32_t)s->cfg->clients || !s->unmask_phase ||
        (int)r->round != s->round) {
        snprintf(why, sizeof why, "unmask reply from client %u for round %u: not expected",
                 r->client_id, r->round);
        reject(s, rid, rid_len, -1, why);
        return;
    }
    if (key_mismatch(s, rid, rid_len, -1, r->client_id, key_id)) return;
    peer *p = &s->peers[r->client_id];
    if (!p->joined || p->rid_len != rid_len || memcmp(p->rid, rid, rid_len) != 0 || p->slot < 0 ||
        p->unmasked) {
        snprintf(why, sizeof why, "unmask reply for client %u: not a survivor, or a second one",
                 r->client_id);
        reject(s, rid, rid_len, -1, why);
        return;
    }
    int ndrop = s->st.sampled - s->nup;
    if (r->n_owners != r->n_shares || r->n_owners > (size_t)s->nup ||
        r->correction.len != (ndrop > 0 ? n * 4 : 0)) {
        snprintf(why, sizeof why, "malformed unmask reply: %zu owners, %zu shares, %zu bytes",
                 r->n_owners, r->n_shares, r->correction.len);
        reject(s, rid, rid_len, -1, why);
        return;
    }
    for (size_t k = 0; k < r->n_owners; k++) {
        uint32_t o = r->owners[k];
        if (o >= (uint32_t)s->cfg->clients || s->peers[o].slot < 0 ||
            r->shares[k].len != BNC_SECAGG_SHARE) {
            snprintf(why, sizeof why, "unmask reply: share %zu for client %u refused", k, o);
            reject(s, rid, rid_len, -1, why);
            return;
        }
    }
    p->unmasked = 1;
    s->replies++;
    uint32_t x = (uint32_t)p->roster_k + 1;
    for (size_t k = 0; k < r->n_owners; k++) {
        int slot = s->peers[r->owners[k]].slot;
        int dup = 0;
        for (int j = 0; j < s->nb[slot]; j++)
            dup |= s->bx[(size_t)slot * (size_t)s->ncap + (size_t)j] == x;
        if (dup || s->nb[slot] >= s->ncap) continue;
        size_t at = (size_t)slot * (size_t)s->ncap + (size_t)s->nb[slot]++;
        memcpy(s->bsh + at * BNC_SECAGG_SHARE, r->shares[k].data, BNC_SECAGG_SHARE);
        s->bx[at] = x;
    }
    if (ndrop > 0) {
        const uint8_t *c = r->correction.data;
        for (size_t i = 0; i < n; i++) {
            uint32_t v = (uint32_t)c[4 * i] | (uint32_t)c[4 * i + 1] << 8 |
                         (uint32_t)c[4 * i + 2] << 16 | (uint32_t)c[4 * i + 3] << 24;
            s->ysum[i] -= v;
        }
    }
}

/* Second step of a masked round: asks every survivor for its shares of
 * the survivors' seeds and its masks for the dropped, until all answered or
 * the deadline. */
static int secagg_unmask(server *s, bnc_err *err)
{
    int K = s->cfg->clients, ns = s->nup;
    uint32_t *surv = malloc((size_t)ns * sizeof *surv);
    uint32_t *drop = malloc((size_t)K * sizeof *drop);
    ProtobufCBinaryData *sh = calloc((size_t)ns, sizeof *sh);
    if (!surv || !drop || !sh) {
        free(surv);
        free(drop);
        free(sh);
        return bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
    }
    int nd = 0, k = 0;
    for (int i = 0; i < K; i++) {
        peer *p = &s->peers[i];
        if (p->roster_k < 0) continue;
        if (p->slot >= 0)
            surv[k++] = (uint32_t)i;
        else
            drop[nd++] = (uint32_t)i;
    }
    memset(s->ysum, 0, (size_t)s->a.nparams * sizeof *s->ysum);
    s->unmask_phase = 1;
    s->replies = 0;
    int pending = 0;
    for (int j = 0; j < ns; j++) {
        peer *p = &s->peers[surv[j]];
        for (int u = 0; u < ns; u++) {
            int slot = s->peers[surv[u]].slot;
            sh[u].data =
                s->boxes + ((size_t)slot * (size_t)s->ncap + (size_t)p->roster_k) * BNC_SECAGG_BOX;
            sh[u].len = surv[u] == surv[j] ? 0 : BNC_SECAGG_BOX;
        }
        Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
        Bnc__Fed__Unmask um = BNC__FED__UNMASK__INIT;
        um.round = (uint32_t)s->round;
        um.n_survivors = (size_t)ns;
        um.survivors = surv;
        um.n_dropped = (size_t)nd;
        um.dropped = drop;
        um.n_shares = (size_t)ns;
        um.shares = sh;
        m.body_case = BNC__FED__MSG__BODY_UNMASK;
        m.unmask = &um;
        bnc_err e;
        if (bnc_fed_send(s->sock, p->rid, p->rid_len, &m, &s->down_acc, &e) == 0) pending++;
    }
    free(surv);
    free(drop);
    free(sh);
    double deadline = bnc_now() + s->cfg->deadline_s;
    int rc = 0;
    /* With none dropped before sending, any t answers hold t shares of
     * every survivor's seed: the rest need not be waited for. */
    while (s->replies < pending && !(nd == 0 && s->replies >= s->cfg->secagg_t) &&
           bnc_now() < deadline && !rc)
        rc = serve_one(s, (long)((deadline - bnc_now()) * 1000) + 1, err);
    s->unmask_phase = 0;
    return rc;
}

/* Unmasks the sum into s->dec (the mean update): *ok = 0 with a log line
 * when the survivors' answers do not suffice. */
static int secagg_finish(server *s, int *ok, bnc_err *err)
{
    const bnc_fed_config *c = s->cfg;
    size_t n = (size_t)s->a.nparams;
    int ns = s->nup, nd = s->st.sampled - s->nup;
    *ok = 1;
    if (c->secagg == 1) {
        if (ns < c->secagg_t) {
            slog(s, "round %d: %d masked updates, below the threshold %d: round skipped", s->round,
                 ns, c->secagg_t);
            *ok = 0;
            return 0;
        }
        int rc = secagg_unmask(s, err);
        if (rc) return rc;
        if (s->replies < c->secagg_t || (nd > 0 && s->replies < ns)) {
            slog(s,
                 "round %d: %d of %d survivors answered Unmask (threshold %d, %d dropped before "
                 "sending): the masks cannot be removed, round skipped",
                 s->round, s->replies, ns, c->secagg_t, nd);
            *ok = 0;
            return 0;
        }
        if (s->replies < ns)
            slog(s,
                 "round %d: %d of %d survivors answered Unmask (the others gone after sending, or "
                 "not waited for): seeds rebuilt from %d shares",
                 s->round, s->replies, ns, c->secagg_t);
    } else {
        memset(s->ysum, 0, n * sizeof *s->ysum);
    }
    for (int slot = 0; slot < ns; slot++) {
        const uint32_t *y = s->yq + (size_t)slot * n;
        for (size_t i = 0; i < n; i++)
            s->ysum[i] += y[i];
        if (c->secagg != 1) continue;
        if (s->nb[slot] < c->secagg_t) {
            slog(s, "round %d: update %d has %d shares of its seed, below %d: round skipped",
                 s->round, slot, s->nb[slot], c->secagg_t);
            *ok = 0;
            return 0;
        }
        uint8_t seed[BNC_SECAGG_SEED];
        bnc_err e;
        if (bnc_secagg_combine(s->bsh + (size_t)slot * (size_t)s->ncap * BNC_SECAGG_SHARE,
                               s->bx + (size_t)slot * (size_t)s->ncap, c->secagg_t, seed, &e)) {
            slog(s, "round %d: %s: round skipped", s->round, e.msg);
            *ok = 0;
            return 0;
        }
        bnc_secagg_add_mask(s->ysum, n, seed, (uint32_t)s->round, -1);
    }
    for (size_t i = 0; i < n; i++)
        s->dec[i] = (float)(c->secagg_step * (double)(int32_t)s->ysum[i] / ns);
    return 0;
}

static void on_update(server *s, const uint8_t *rid, size_t rid_len, const Bnc__Fed__Update *u,
                      int key_id)
{
    char why[BNC_ERR_MSG_MAX + 64];
    if (u->client_id >= (uint32_t)s->cfg->clients) {
        snprintf(why, sizeof why, "update from unknown client id %u", u->client_id);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    if (key_mismatch(s, rid, rid_len, (int)u->round, u->client_id, key_id)) return;
    peer *p = &s->peers[u->client_id];
    if (!p->joined || p->rid_len != rid_len || memcmp(p->rid, rid, rid_len) != 0) {
        snprintf(why, sizeof why, "update for client %u from a peer that did not join as it",
                 u->client_id);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    if ((int)u->round < s->round && s->round > 0) s->late_acc++;
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
    /* From here a rejection is this client's answer for the round: it is
     * not waited for any longer (counted as dropped). */
    p->responded = 1;
    s->pending--;
    if (u->examples == 0 || u->examples > 1000000000ull || !isfinite(u->train_loss) ||
        !isfinite(u->train_acc)) {
        snprintf(why, sizeof why, "update: %llu examples, loss %g", (unsigned long long)u->examples,
                 u->train_loss);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    bnc_err e;
    bnc_err_clear(&e);
    size_t n = (size_t)s->a.nparams;
    /* The aggregation weight: the examples claimed, at most the shard the
     * partition gave this client (or --max-examples). */
    int64_t cap = s->cfg->max_examples > 0 ? s->cfg->max_examples : s->shard[u->client_id];
    int64_t ex = (int64_t)u->examples;
    if (ex > cap) {
        if (!p->capped_logged)
            slog(s, "client %u claims %lld examples; weighted as %lld (%s)", u->client_id,
                 (long long)ex, (long long)cap,
                 s->cfg->max_examples > 0 ? "--max-examples" : "its shard's size");
        p->capped_logged = 1;
        ex = cap;
    }
    if (s->cfg->secagg) {
        /* Masked integers: the server checks the shape, never the values
         * (the aggregate is checked after unmasking). */
        if (secagg_check(s, p, u, why, sizeof why)) {
            reject(s, rid, rid_len, (int)u->round, why);
            return;
        }
        goto accepted;
    }
    if (bnc_fed_tensors_decode(&s->a, s->cfg->uplink, &s->cfg->cp, u->delta, u->n_delta, s->dec,
                               &e)) {
        snprintf(why, sizeof why, "malformed update: %s", e.msg);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    double nrm = bnc_fed_l2(s->dec, n);
    if (!(nrm <= s->cfg->max_norm) &&
        (s->cfg->norm_policy == BNC_FED_NORM_REJECT || !isfinite(nrm))) {
        snprintf(why, sizeof why, "update norm %.4g above --max-norm %g", nrm, s->cfg->max_norm);
        reject(s, rid, rid_len, (int)u->round, why);
        return;
    }
    if (!(nrm <= s->cfg->max_norm)) {
        float k = (float)(s->cfg->max_norm / nrm);
        for (size_t i = 0; i < n; i++)
            s->dec[i] *= k;
        s->st.clipped++;
    }
accepted:;
    /* DP and secure aggregation: equal weights. */
    double wgt = s->cfg->dp_clip > 0 || s->cfg->secagg ? 1.0 : (double)ex;
    s->below += u->below_clip;
    if (s->nup >= s->ncap) { /* cannot happen: one slot per sampled client */
        reject(s, rid, rid_len, (int)u->round, "no update slot left");
        return;
    }
    int slot = s->nup++;
    if (s->cfg->secagg)
        secagg_store(s, p, u, slot);
    else
        memcpy(s->ups + (size_t)slot * n, s->dec, n * sizeof(float));
    s->upw[slot] = wgt;
    s->upid[slot] = (int)u->client_id;
    p->slot = slot;
    s->sumw += wgt;
    s->loss_w += wgt * u->train_loss;
    s->acc_w += wgt * u->train_acc;
    s->st.examples += ex;
    s->st.finished++;
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Ack ack = BNC__FED__ACK__INIT;
    ack.round = u->round;
    ack.accepted = 1;
    m.body_case = BNC__FED__MSG__BODY_ACK;
    m.ack = &ack;
    bnc_fed_send(s->sock, rid, rid_len, &m, &s->down_acc, NULL);
}

/* ---- ZAP (CURVE allow-list) and the socket monitor ------------------------- */

/* Receives all frames of one message into f (at most nf kept); returns the
 * count of frames, -1 on error. */
static int recv_frames(void *sock, zmq_msg_t *f, int nf)
{
    int k = 0, more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, sock, 0) < 0) {
            zmq_msg_close(&tmp);
            for (int i = 0; i < k && i < nf; i++)
                zmq_msg_close(&f[i]);
            return -1;
        }
        more = zmq_msg_more(&tmp);
        if (k < nf)
            f[k] = tmp;
        else
            zmq_msg_close(&tmp);
        k++;
    }
    return k;
}

/* Answers one ZAP request: 200 with the client id as User-Id when the CURVE
 * key is on the allow-list, 400 (and a log line naming the address) else. */
static void zap_one(server *s)
{
    zmq_msg_t f[8];
    int k = recv_frames(s->zap, f, 8);
    if (k < 0) return;
    int kept = k < 8 ? k : 8;
    char reqid[64] = "", addr[64] = "?", mech[16] = "", user[16] = "", status[4] = "400";
    const char *text = "refused";
    if (kept >= 6) {
        snprintf(reqid, sizeof reqid, "%.*s", (int)zmq_msg_size(&f[1]),
                 (const char *)zmq_msg_data(&f[1]));
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&f[3]),
                 (const char *)zmq_msg_data(&f[3]));
        snprintf(mech, sizeof mech, "%.*s", (int)zmq_msg_size(&f[5]),
                 (const char *)zmq_msg_data(&f[5]));
    }
    if (kept == 7 && !strcmp(mech, "CURVE") && zmq_msg_size(&f[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&f[6]);
        int id = bnc_fed_keys_lookup(s->o->keys, key);
        char z85[41];
        zmq_z85_encode(z85, key, 32);
        if (id >= 0) {
            snprintf(user, sizeof user, "%d", id);
            snprintf(status, sizeof status, "200");
            text = "OK";
        } else {
            if (s->logged_round++ < LOG_PER_ROUND)
                slog(s, "refused peer %s: CURVE key %s is not on the allow-list", addr, z85);
            s->rej_acc++;
            s->rejected_total++;
            text = "unknown key";
        }
    } else {
        if (s->logged_round++ < LOG_PER_ROUND)
            slog(s, "refused peer %s: mechanism %s, expected CURVE", addr, mech[0] ? mech : "?");
        s->rej_acc++;
        s->rejected_total++;
    }
    size_t rl = kept >= 2 ? zmq_msg_size(&f[1]) : 0;
    const void *rd = kept >= 2 ? zmq_msg_data(&f[1]) : reqid;
    zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(s->zap, rd, rl, ZMQ_SNDMORE);
    zmq_send(s->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(s->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(s->zap, "", 0, 0);
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&f[i]);
}

static const char *hs_reason(int event, int value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) return "authentication refused";
    /* A keyless peer sometimes sees the mismatch first and hangs up: the
     * server then only learns that the handshake ended early. */
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return "handshake failed (the peer hung up mid-handshake: no CURVE keys, or a wrong "
               "server key)";
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "security mechanism mismatch (a peer without CURVE keys, or keys against a plain "
               "server)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "CURVE cryptographic error (wrong server key?)";
    default:
        return "ZMTP protocol error";
    }
}

/* Handles one monitor event: remembers the remote address of accepted
 * connections, logs failed handshakes and disconnects that follow them. */
static void monitor_one(server *s)
{
    zmq_msg_t f[2];
    int k = recv_frames(s->mon, f, 2);
    if (k < 0) return;
    if (k >= 1 && zmq_msg_size(&f[0]) == 6) {
        const uint8_t *d = zmq_msg_data(&f[0]);
        uint16_t ev;
        uint32_t val;
        memcpy(&ev, d, 2);
        memcpy(&val, d + 2, 4);
        if (ev == ZMQ_EVENT_ACCEPTED) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            conn *c = &s->conns[val % CONNS];
            c->fd = (int)val;
            snprintf(c->addr, sizeof c->addr, "fd %u", val);
            if (getpeername((int)val, (struct sockaddr *)&ss, &sl) == 0 &&
                ss.ss_family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)&ss;
                char ip[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
                snprintf(c->addr, sizeof c->addr, "%s:%u", ip, ntohs(in->sin_port));
            }
        } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            snprintf(s->hs_fail, sizeof s->hs_fail, "%s", hs_reason(ev, (int)val));
            if (ev != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) { /* ZAP already counted AUTH */
                s->rej_acc++;
                s->rejected_total++;
            }
        } else if (ev == ZMQ_EVENT_DISCONNECTED) {
            conn *c = &s->conns[val % CONNS];
            const char *who = c->fd == (int)val && c->addr[0] ? c->addr : "?";
            if (s->hs_fail[0]) {
                if (s->logged_round++ < LOG_PER_ROUND)
                    slog(s, "refused peer %s: %s", who, s->hs_fail);
                s->hs_fail[0] = 0;
            } else if (s->round > 0 && s->round <= s->cfg->rounds &&
                       s->logged_round++ < LOG_PER_ROUND) {
                /* Frames above the hard size limit end here too. */
                slog(s, "peer %s disconnected (it left, or sent a frame above the hard limit)",
                     who);
            }
            c->addr[0] = 0;
        }
    }
    for (int i = 0; i < k && i < 2; i++)
        zmq_msg_close(&f[i]);
}

static int blocked_rid(server *s, const uint8_t *rid, size_t rid_len)
{
    offender *o = find_offender(s, rid, rid_len, 0);
    return o && o->blocked;
}

/* Receives and handles one message, waiting at most timeout_ms. */
static int serve_one(server *s, long timeout_ms, bnc_err *err)
{
    zmq_pollitem_t its[3] = {{s->sock, 0, ZMQ_POLLIN, 0}};
    int ni = 1, izap = -1, imon = -1;
    if (s->zap) {
        its[ni] = (zmq_pollitem_t){s->zap, 0, ZMQ_POLLIN, 0};
        izap = ni++;
    }
    if (s->mon) {
        its[ni] = (zmq_pollitem_t){s->mon, 0, ZMQ_POLLIN, 0};
        imon = ni++;
    }
    int r = zmq_poll(its, ni, timeout_ms);
    if (r < 0)
        return zmq_errno() == EINTR
                   ? 0
                   : bnc_err_set(err, BNC_ENET, "zmq_poll: %s", zmq_strerror(zmq_errno()));
    if (r == 0) return 0;
    if (izap >= 0 && (its[izap].revents & ZMQ_POLLIN)) zap_one(s);
    if (imon >= 0 && (its[imon].revents & ZMQ_POLLIN)) monitor_one(s);
    if (!(its[0].revents & ZMQ_POLLIN)) return 0;
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
    int key_id = -1;
    if (np >= 2 && s->o->keys) {
        const char *uid = zmq_msg_gets(&parts[1], "User-Id");
        key_id = uid && *uid ? atoi(uid) : -1;
    }
    if (blocked_rid(s, rid, rid_len)) {
        s->rej_acc++; /* counted, not read, not logged */
        s->rejected_total++;
        offender *o = find_offender(s, rid, rid_len, 0);
        o->total++;
        o->round_suppressed++;
    } else if (np != 2) {
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
                on_join(s, rid, rid_len, m->join, key_id);
                break;
            case BNC__FED__MSG__BODY_UPDATE:
                on_update(s, rid, rid_len, m->update, key_id);
                break;
            case BNC__FED__MSG__BODY_UNMASK_REPLY:
                on_unmask_reply(s, rid, rid_len, m->unmask_reply, key_id);
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
    for (int i = 0; i < s->cfg->clients; i++) /* with secure aggregation: once keyed */
        k += s->peers[i].joined && (s->cfg->secagg != 1 || s->peers[i].has_pk);
    return k;
}

/* ---- the round ---------------------------------------------------------------- */

/* Combines this round's updates into s->dec, in client-id order (the
 * result does not depend on arrival order). */
static int aggregate(server *s, bnc_err *err)
{
    const bnc_fed_config *c = s->cfg;
    size_t n = (size_t)s->a.nparams;
    int k = s->nup;
    int *ord = malloc((size_t)k * sizeof *ord);
    const float **u = malloc((size_t)k * sizeof *u);
    if (!ord || !u) {
        free(ord);
        free(u);
        return bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
    }
    for (int i = 0; i < k; i++)
        ord[i] = i;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && s->upid[ord[j]] < s->upid[ord[j - 1]]; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    for (int i = 0; i < k; i++)
        u[i] = s->ups + (size_t)ord[i] * n;
    int rc = 0;
    if (c->aggregator != BNC_FED_AGG_MEAN) {
        rc = bnc_fed_robust_aggregate(c->aggregator, u, k, n, c->trim_frac, c->krum_f, c->krum_m,
                                      s->dec, NULL, err);
    } else if (c->uplink->vote) {
        /* Majority vote per coordinate, scaled by the mean magnitude. */
        memset(s->acc, 0, n * sizeof(double));
        memset(s->mag, 0, n * sizeof(double));
        for (int j = 0; j < k; j++) {
            double wgt = s->upw[ord[j]];
            for (size_t i = 0; i < n; i++) {
                s->acc[i] += u[j][i] > 0 ? 1.0 : (u[j][i] < 0 ? -1.0 : 0.0);
                s->mag[i] += wgt * fabs((double)u[j][i]);
            }
        }
        for (size_t i = 0; i < n; i++) {
            float mag = (float)(s->mag[i] / s->sumw);
            s->dec[i] = s->acc[i] > 0 ? mag : (s->acc[i] < 0 ? -mag : 0.0f);
        }
    } else {
        memset(s->acc, 0, n * sizeof(double));
        for (int j = 0; j < k; j++) {
            double wgt = s->upw[ord[j]];
            for (size_t i = 0; i < n; i++)
                s->acc[i] += wgt * (double)u[j][i];
        }
        double inv = 1.0 / s->sumw;
        for (size_t i = 0; i < n; i++)
            s->dec[i] = (float)(s->acc[i] * inv);
    }
    free(ord);
    free(u);
    return rc;
}

/* Applies s->dec with the server optimizer. */
static void apply_update(server *s)
{
    const bnc_fed_config *c = s->cfg;
    size_t n = (size_t)s->a.nparams;
    float *d = s->dec;
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
    s->nup = 0;
    s->sumw = s->loss_w = s->acc_w = 0;

    /* Seeded sample of m joined clients (in id order, partial shuffle). */
    int K = c->clients, nj = 0;
    int *ids = malloc((size_t)K * sizeof *ids);
    if (!ids) return bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
    for (int i = 0; i < K; i++) {
        s->peers[i].sampled = s->peers[i].responded = s->peers[i].unmasked = 0;
        s->peers[i].slot = s->peers[i].roster_k = -1;
        if (s->peers[i].joined && (c->secagg != 1 || s->peers[i].has_pk)) ids[nj++] = i;
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
    /* Secure aggregation: the roster (sampled ids in id order, their keys). */
    Bnc__Fed__SecAggPeer *ros = NULL, **rosp = NULL;
    if (c->secagg) {
        rs.secagg_step = c->secagg_step;
        rs.secagg_t = (uint32_t)c->secagg_t;
    }
    if (c->secagg == 1) {
        ros = calloc((size_t)m + 1, sizeof *ros);
        rosp = calloc((size_t)m + 1, sizeof *rosp);
        if (!ros || !rosp) {
            free(ros);
            free(rosp);
            free(ids);
            return bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
        }
        uint8_t *pick = calloc((size_t)K, 1);
        for (int i = 0; pick && i < m; i++)
            pick[ids[i]] = 1;
        s->nroster = 0;
        for (int i = 0; pick && i < K; i++)
            if (pick[i]) {
                int k = s->nroster++;
                bnc__fed__sec_agg_peer__init(&ros[k]);
                ros[k].id = (uint32_t)i;
                ros[k].pk.data = s->peers[i].sa_pk;
                ros[k].pk.len = BNC_SECAGG_PK;
                rosp[k] = &ros[k];
                s->peers[i].roster_k = k;
            }
        free(pick);
        rs.n_roster = (size_t)s->nroster;
        rs.roster = rosp;
    }
    if (c->dp_clip > 0) {
        rs.clip_norm = s->clip;
        rs.noise_std = c->dp_noise * s->clip / sqrt(m > 0 ? (double)m : 1.0);
    }
    s->below = 0;
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
    free(ros);
    free(rosp);
    double deadline = bnc_now() + c->deadline_s;
    while (s->pending > 0) {
        double left = deadline - bnc_now();
        if (left <= 0) break;
        rc = serve_one(s, (long)(left * 1000) + 1, err);
        if (rc) return rc;
    }
    s->st.dropped = s->st.sampled - s->st.finished;
    /* Peers whose rejections were not all logged: one summary line each. */
    for (int i = 0; i < OFFENDERS; i++) {
        offender *o = &s->off[i];
        if (!o->used || !o->round_suppressed) continue;
        char name[600];
        peer_name(o->rid, o->rid_len, name, sizeof name);
        slog(s, "round %d: peer %s: %d messages rejected (%d not logged one by one%s), last: %s",
             s->round, name, o->round_rejects + (o->blocked ? o->round_suppressed : 0),
             o->round_suppressed, o->blocked ? ", peer blocked" : "", o->last);
    }
    for (int i = 0; i < OFFENDERS; i++)
        s->off[i].round_rejects = s->off[i].round_suppressed = 0;
    s->logged_round = 0;
    s->st.blocked = s->blk_acc;
    s->blk_acc = 0;
    s->st.late = s->late_acc;
    s->late_acc = 0;
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
    if (s->nup > 0 && c->min_fraction > 0 && s->st.finished < c->min_fraction * s->st.sampled) {
        slog(s,
             "round %d: %d of %d sampled clients answered, below --min-fraction %g: round "
             "skipped, model unchanged",
             s->round, s->st.finished, s->st.sampled, c->min_fraction);
        s->st.skipped = 1;
        s->rounds_skipped++;
    } else if (s->nup > 0) {
        int ok = 1;
        if (c->secagg)
            rc = secagg_finish(s, &ok, err);
        else
            rc = aggregate(s, err);
        if (rc) return rc;
        /* The aggregate is checked before it touches the model. */
        double an = ok ? bnc_fed_l2(s->dec, n) : 0;
        if (!ok) {
            s->st.skipped = 1;
        } else if (!(an <= c->max_agg_norm)) {
            slog(s,
                 "round %d: aggregate of %d updates has norm %.4g (limit %g): round skipped, "
                 "model unchanged",
                 s->round, s->nup, an, c->max_agg_norm);
            s->st.skipped = 1;
        } else {
            memcpy(s->wprev, s->w, n * sizeof(float));
            apply_update(s);
            if (bnc_fed_check_finite(s->w, (int64_t)n, NULL) != 0) {
                slog(s,
                     "round %d: the server optimizer made the model non-finite: round "
                     "skipped, model restored",
                     s->round);
                memcpy(s->w, s->wprev, n * sizeof(float));
                s->st.skipped = 1;
            }
        }
        s->rounds_skipped += s->st.skipped;
    }
    if (c->dp_clip > 0) {
        s->st.dp_clip = s->clip;
        /* Every round is one step of the sampled Gaussian mechanism with
         * q = per_round / clients (client-level DP). */
        rc = bnc_fed_dp_epsilon((double)c->per_round / c->clients, c->dp_noise, s->round,
                                c->dp_delta, &s->st.dp_epsilon, NULL, err);
        if (rc) return rc;
        if (c->dp_quantile > 0 && s->nup > 0) {
            /* Adaptive clipping: C <- C exp(-eta (b - gamma)), b the noised
             * fraction of updates that were under C (noise std m / 20). */
            bnc_rng nr;
            bnc_rng_init(&nr, bnc_mix64(c->seed, 0xc11b), (uint64_t)s->round);
            double b = (s->below + bnc_rng_normal(&nr) * s->nup / 20.0) / s->nup;
            s->clip *= exp(-c->dp_clip_lr * (b - c->dp_quantile));
        }
    }
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
    s.ncap = cfg->per_round;
    s.ups = malloc((size_t)s.ncap * n * sizeof(float));
    s.upw = calloc((size_t)s.ncap, sizeof *s.upw);
    s.upid = calloc((size_t)s.ncap, sizeof *s.upid);
    s.wprev = malloc(n * sizeof(float));
    s.off = calloc(OFFENDERS, sizeof *s.off);
    s.own_shard = calloc((size_t)cfg->clients, sizeof *s.own_shard);
    if (cfg->secagg) {
        size_t nc = (size_t)s.ncap;
        s.yq = malloc(nc * n * sizeof *s.yq);
        s.ysum = malloc(n * sizeof *s.ysum);
        s.boxes = malloc(nc * nc * BNC_SECAGG_BOX);
        s.bsh = malloc(nc * nc * BNC_SECAGG_SHARE);
        s.bx = calloc(nc * nc, sizeof *s.bx);
        s.nb = calloc(nc, sizeof *s.nb);
        if (!s.yq || !s.ysum || !s.boxes || !s.bsh || !s.bx || !s.nb) {
            rc = bnc_err_set(err, BNC_ENOMEM, "server: out of memory (secure aggregation)");
            goto done;
        }
    }
    if (!ctx || !tr || !buf || !scratch || !s.w || !s.m || !s.v || !s.acc || !s.mag || !s.dec ||
        !s.peers || !s.ups || !s.upw || !s.upid || !s.wprev || !s.off || !s.own_shard) {
        rc = bnc_err_set(err, BNC_ENOMEM, "server: out of memory");
        goto done;
    }
    s.shard = s.own_shard;
    s.clip = cfg->dp_clip;
    if (o->part && o->part->nclients == cfg->clients) {
        for (int i = 0; i < cfg->clients; i++)
            s.own_shard[i] = o->part->off[i + 1] - o->part->off[i];
    } else if (cfg->max_examples == 0) {
        /* The shards the clients will build from the same configuration. */
        bnc_fed_dataset train = {0};
        bnc_fed_partition part = {0};
        rc = bnc_fed_mnist_load(o->data_dir, &train, NULL, err);
        if (!rc)
            rc = bnc_fed_partition_make(train.y, train.n, BNC_FED_NCLASSES, cfg->clients,
                                        &cfg->partition, cfg->seed, &part, err);
        if (!rc)
            for (int i = 0; i < cfg->clients; i++)
                s.own_shard[i] = part.off[i + 1] - part.off[i];
        bnc_fed_partition_free(&part);
        bnc_fed_dataset_free(&train);
        if (rc) goto done;
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
        if (cfg->secagg) s.max_msg += (size_t)cfg->per_round * (BNC_SECAGG_BOX + 16);
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
    /* Frames up to the hard limit reach serve_one, which logs and counts
     * those above max_msg with the peer's id; above it ZeroMQ drops the
     * connection, which the monitor logs. */
    int64_t hard = (int64_t)(4 * s.max_msg + (1u << 20));
    if (hard < (64 << 20)) hard = 64 << 20;
    zmq_setsockopt(s.sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    /* With keys a routing id stays with the connection that took it first:
     * a peer claiming a connected client's id is ignored, not handed it. */
    if (!o->keys) zmq_setsockopt(s.sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(s.sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s.sock, ZMQ_MAXMSGSIZE, &hard, sizeof hard);
    if (o->keys) {
        s.zap = zmq_socket(ctx, ZMQ_REP);
        if (!s.zap || zmq_bind(s.zap, "inproc://zeromq.zap.01") != 0) {
            rc = bnc_err_set(err, BNC_ENET, "ZAP handler: %s", zmq_strerror(zmq_errno()));
            goto done;
        }
        if (zmq_setsockopt(s.sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
            zmq_setsockopt(s.sock, ZMQ_CURVE_SECRETKEY, o->keys->server.sec, 40) != 0 ||
            zmq_setsockopt(s.sock, ZMQ_ZAP_DOMAIN, BNC_FED_ZAP_DOMAIN,
                           strlen(BNC_FED_ZAP_DOMAIN)) != 0) {
            rc = bnc_err_set(err, BNC_ENET, "CURVE server: %s", zmq_strerror(zmq_errno()));
            goto done;
        }
    } else if (strncmp(o->bind, "inproc://", 9) && strncmp(o->bind, "tcp://127.", 10) &&
               strncmp(o->bind, "tcp://localhost:", 16) && strncmp(o->bind, "ipc://", 6)) {
        slog(&s,
             "WARNING: %s is not a loopback address and no --keys were given: any peer "
             "that reaches it can join as any client id, and updates travel in clear",
             o->bind);
    }
    if (strncmp(o->bind, "inproc://", 9)) {
        char mon[128];
        snprintf(mon, sizeof mon, "inproc://bnc-fed-mon-%p", (void *)&s);
        if (zmq_socket_monitor(
                s.sock, mon,
                ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
            s.mon = zmq_socket(ctx, ZMQ_PAIR);
            if (s.mon && zmq_connect(s.mon, mon) != 0) {
                zmq_close(s.mon);
                s.mon = NULL;
            }
        }
    }
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
        out->dp_epsilon = s.st.dp_epsilon;
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
    out->rounds_skipped = s.rounds_skipped;
    out->wall_s = bnc_now() - t_start;
    if (o->sink.run_end) rc = o->sink.run_end(o->sink.ctx, cfg, out, err);
done:
    if (s.mon) {
        zmq_socket_monitor(s.sock, NULL, 0);
        zmq_close(s.mon);
    }
    if (s.zap) zmq_close(s.zap);
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
    free(s.ups);
    free(s.upw);
    free(s.upid);
    free(s.wprev);
    free(s.off);
    free(s.own_shard);
    free(s.yq);
    free(s.ysum);
    free(s.boxes);
    free(s.bsh);
    free(s.bx);
    free(s.nb);
    return rc;
}
