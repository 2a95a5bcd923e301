/* Writes the seed corpus of fuzz_fed into DIR: valid Join, Welcome, Ack,
 * Leave and Shutdown messages, and a RoundStart and an Update of the
 * fuzzer's small softmax model (16 x 4) encoded with every codec. */
#include <stdio.h>
#include <stdlib.h>

#include "bnc_fed.h"
#include "fed_wire.h"

static int put(const char *dir, const char *name, const Bnc__Fed__Msg *m)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n = bnc__fed__msg__get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return 1;
    bnc__fed__msg__pack(m, b);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(b, 1, n, f) != n;
    if (f) bad |= fclose(f) != 0;
    free(b);
    if (bad) fprintf(stderr, "fed_seeds: cannot write %s\n", path);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fed_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int bad = 0;
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Join j = BNC__FED__JOIN__INIT;
    j.client_id = 3;
    j.version = "bnc-fed-1";
    m.body_case = BNC__FED__MSG__BODY_JOIN;
    m.join = &j;
    bad |= put(dir, "join", &m);
    bnc_fed_config cfg;
    bnc_fed_config_defaults(&cfg);
    bnc_err e;
    if (bnc_fed_config_check(&cfg, &e)) {
        fprintf(stderr, "fed_seeds: %s\n", e.msg);
        return 1;
    }
    Bnc__Fed__Config wc;
    char part[64];
    bnc_fed_config_to_wire(&cfg, &wc, part, sizeof part);
    Bnc__Fed__Welcome w = BNC__FED__WELCOME__INIT;
    w.config = &wc;
    m.body_case = BNC__FED__MSG__BODY_WELCOME;
    m.welcome = &w;
    bad |= put(dir, "welcome", &m);
    Bnc__Fed__Ack ack = BNC__FED__ACK__INIT;
    ack.round = 2;
    ack.reason = "stale";
    m.body_case = BNC__FED__MSG__BODY_ACK;
    m.ack = &ack;
    bad |= put(dir, "ack", &m);
    Bnc__Fed__Leave lv = BNC__FED__LEAVE__INIT;
    lv.client_id = 1;
    lv.reason = "bye";
    m.body_case = BNC__FED__MSG__BODY_LEAVE;
    m.leave = &lv;
    bad |= put(dir, "leave", &m);

    bnc_fed_arch a;
    if (bnc_fed_arch_init(&a, "softmax", 16, 4, &e)) return 1;
    float x[68], scratch[68];
    uint8_t buf[4096];
    Bnc__Fed__Tensor ts[BNC_FED_MAX_TENSORS], *tp[BNC_FED_MAX_TENSORS];
    bnc_fed_cparams p = {0.1, 16};
    for (int id = 0; id < BNC_FED_CODEC_COUNT; id++) {
        const bnc_fed_codec *c = bnc_fed_codec_by_id(id);
        if (!c) continue;
        for (int i = 0; i < 68; i++)
            x[i] = (float)((i * 37 % 23) - 11) * 0.01f;
        if (bnc_fed_tensors_encode(&a, c, &p, x, NULL, scratch, 1, 2, buf, sizeof buf, ts, tp,
                                   &e)) {
            fprintf(stderr, "fed_seeds: %s: %s\n", c->name, e.msg);
            continue; /* a codec whose kernels scheme is not in this build */
        }
        Bnc__Fed__Update u = BNC__FED__UPDATE__INIT;
        u.round = 1;
        u.client_id = 2;
        u.examples = 600;
        u.n_delta = 2;
        u.delta = tp;
        u.train_loss = 0.5;
        m.body_case = BNC__FED__MSG__BODY_UPDATE;
        m.update = &u;
        char name[64];
        snprintf(name, sizeof name, "update-%s", c->name);
        bad |= put(dir, name, &m);
        Bnc__Fed__RoundStart rs = BNC__FED__ROUND_START__INIT;
        rs.round = 4;
        rs.n_model = 2;
        rs.model = tp;
        rs.deadline_s = 10;
        m.body_case = BNC__FED__MSG__BODY_ROUND_START;
        m.round_start = &rs;
        snprintf(name, sizeof name, "round-%s", c->name);
        bad |= put(dir, name, &m);
    }
    return bad;
}
