#include "fed_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bnc_kernels.h"
#include "bnc_rng.h"

int bnc_fed_send(void *sock, const void *rid, size_t rid_len, const Bnc__Fed__Msg *m,
                 int64_t *bytes, bnc_err *err)
{
    size_t n = bnc__fed__msg__get_packed_size(m);
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, n) != 0)
        return bnc_err_set(err, BNC_ENOMEM, "zmq: cannot allocate a %zu-byte message", n);
    bnc__fed__msg__pack(m, zmq_msg_data(&msg));
    if (rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return bnc_err_set(err, BNC_ENET, "zmq send: %s", zmq_strerror(zmq_errno()));
    }
    if (zmq_msg_send(&msg, sock, rid ? ZMQ_DONTWAIT : 0) < 0) {
        zmq_msg_close(&msg);
        return bnc_err_set(err, BNC_ENET, "zmq send: %s", zmq_strerror(zmq_errno()));
    }
    if (bytes) *bytes += (int64_t)n;
    return 0;
}

size_t bnc_fed_tensors_bound(const bnc_fed_arch *a, const bnc_fed_codec *c,
                             const bnc_fed_cparams *p)
{
    size_t total = 0;
    for (int t = 0; t < bnc_fed_arch_ntensors(a); t++) {
        int64_t off;
        int64_t n = bnc_fed_arch_tensor(a, t, &off);
        total += c->bound(n, p);
    }
    return total;
}

int bnc_fed_tensors_encode(const bnc_fed_arch *a, const bnc_fed_codec *c, const bnc_fed_cparams *p,
                           float *x, float *residual, float *scratch, uint64_t seed,
                           uint64_t stream, uint8_t *buf, size_t cap, Bnc__Fed__Tensor *ts,
                           Bnc__Fed__Tensor **tp, bnc_err *err)
{
    size_t used = 0;
    for (int t = 0; t < bnc_fed_arch_ntensors(a); t++) {
        int64_t off;
        int64_t n = bnc_fed_arch_tensor(a, t, &off);
        size_t w = 0;
        int rc = bnc_fed_encode(c, p, x + off, n, residual ? residual + off : NULL,
                                scratch ? scratch + off : NULL, seed,
                                bnc_mix64(stream, (uint64_t)t), buf + used, cap - used, &w, err);
        if (rc) return bnc_err_prefix(err, "tensor %d: ", t);
        bnc__fed__tensor__init(&ts[t]);
        ts[t].index = (uint32_t)t;
        ts[t].codec = (uint32_t)c->id;
        ts[t].n = (uint64_t)n;
        ts[t].data.data = buf + used;
        ts[t].data.len = w;
        tp[t] = &ts[t];
        used += w;
    }
    return 0;
}

int bnc_fed_tensors_decode(const bnc_fed_arch *a, const bnc_fed_codec *c, const bnc_fed_cparams *p,
                           Bnc__Fed__Tensor *const *ts, size_t n, float *out, bnc_err *err)
{
    int nt = bnc_fed_arch_ntensors(a);
    if (n != (size_t)nt)
        return bnc_err_set(err, BNC_EFORMAT, "%zu tensors, the model has %d", n, nt);
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        const Bnc__Fed__Tensor *t = ts[i];
        if (t->index >= (uint32_t)nt || (seen >> t->index & 1))
            return bnc_err_set(err, BNC_EFORMAT, "tensor index %u repeated or out of range",
                               t->index);
        seen |= 1u << t->index;
        if (t->codec != (uint32_t)c->id)
            return bnc_err_set(err, BNC_EFORMAT, "tensor %u: codec %u, expected %d (%s)", t->index,
                               t->codec, c->id, c->name);
        int64_t off;
        int64_t len = bnc_fed_arch_tensor(a, (int)t->index, &off);
        if (t->n != (uint64_t)len)
            return bnc_err_set(err, BNC_EFORMAT, "tensor %u: %llu values, expected %lld", t->index,
                               (unsigned long long)t->n, (long long)len);
        int rc = c->decode(t->data.data, t->data.len, len, p, out + off, err);
        if (rc) return bnc_err_prefix(err, "tensor %u: ", t->index);
        rc = bnc_fed_check_finite(out + off, len, err);
        if (rc) return bnc_err_prefix(err, "tensor %u: ", t->index);
    }
    return 0;
}

void bnc_fed_config_to_wire(const bnc_fed_config *c, Bnc__Fed__Config *w, char *part, size_t n)
{
    bnc__fed__config__init(w);
    bnc_fed_partition_format(&c->partition, part, n);
    w->run = (char *)c->run;
    w->model = (char *)c->model;
    w->partition = part;
    w->clients = (uint32_t)c->clients;
    w->seed = c->seed;
    w->uplink = (char *)c->uplink->name;
    w->downlink = (char *)c->downlink->name;
    w->error_feedback = c->error_feedback;
    w->k_frac = c->cp.k_frac;
    w->qsgd_levels = (uint32_t)c->cp.qsgd_levels;
    w->lr = c->train.lr;
    w->momentum = c->train.momentum;
    w->weight_decay = c->train.weight_decay;
    w->prox_mu = c->train.prox_mu;
    w->batch = (uint32_t)c->train.batch;
    w->epochs = (uint32_t)c->train.epochs;
    w->qat = c->train.qat;
    w->secagg = c->secagg == 1;
}

int bnc_fed_config_from_wire(const Bnc__Fed__Config *w, bnc_fed_config *c, bnc_err *err)
{
    bnc_fed_config_defaults(c);
    if (!w->run || !w->model || !w->partition || !w->uplink || !w->downlink)
        return bnc_err_set(err, BNC_EFORMAT, "welcome: incomplete configuration");
    snprintf(c->run, sizeof c->run, "%s", w->run);
    snprintf(c->model, sizeof c->model, "%s", w->model);
    int rc = bnc_fed_partition_parse(w->partition, &c->partition, err);
    if (rc) return rc;
    c->clients = (int)w->clients;
    c->per_round = 1;
    c->seed = w->seed;
    c->uplink = bnc_fed_codec_find(w->uplink);
    c->downlink = bnc_fed_codec_find(w->downlink);
    c->error_feedback = w->error_feedback;
    c->cp.k_frac = w->k_frac;
    c->cp.qsgd_levels = (int)w->qsgd_levels;
    c->train.lr = w->lr;
    c->train.momentum = w->momentum;
    c->train.weight_decay = w->weight_decay;
    c->train.prox_mu = w->prox_mu;
    c->train.batch = (int)w->batch;
    c->train.epochs = (int)w->epochs;
    c->train.qat = w->qat;
    c->secagg = w->secagg ? 1 : 0;
    if (c->secagg) c->aggregator = BNC_FED_AGG_MEAN;
    rc = bnc_fed_config_check(c, err);
    return rc ? bnc_err_prefix(err, "welcome: ") : 0;
}
