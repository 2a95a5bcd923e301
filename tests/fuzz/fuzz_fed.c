/* libFuzzer target for the federated message decoder: a frame from the
 * network is unpacked as a bnc.fed.Msg and, as the server and the clients
 * do, its tensor list decoded (a small softmax model, 16 inputs x 4 classes,
 * codec from the first tensor) and its configuration checked. Any input is
 * refused with a message or decodes into finite values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fed.h"
#include "fed_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Bnc__Fed__Msg *m = bnc__fed__msg__unpack(NULL, size, data);
    if (!m) return 0;
    bnc_fed_arch a;
    bnc_err e;
    if (bnc_fed_arch_init(&a, "softmax", 16, 4, &e)) abort();
    float out[68];
    Bnc__Fed__Tensor **ts = NULL;
    size_t nt = 0;
    if (m->body_case == BNC__FED__MSG__BODY_UPDATE) {
        ts = m->update->delta;
        nt = m->update->n_delta;
    } else if (m->body_case == BNC__FED__MSG__BODY_ROUND_START) {
        ts = m->round_start->model;
        nt = m->round_start->n_model;
    } else if (m->body_case == BNC__FED__MSG__BODY_WELCOME && m->welcome->config) {
        bnc_fed_config c;
        if (bnc_fed_config_from_wire(m->welcome->config, &c, &e) == 0 &&
            (c.clients < 1 || !c.uplink || !c.downlink))
            abort();
    }
    if (nt > 0) {
        const bnc_fed_codec *c = bnc_fed_codec_by_id((int)ts[0]->codec);
        bnc_fed_cparams p = {0.1, 16};
        if (c && bnc_fed_tensors_decode(&a, c, &p, ts, nt, out, &e) == 0) {
            for (int i = 0; i < 68; i++)
                if (!isfinite(out[i])) abort();
        } else if (c && !e.msg[0]) {
            abort(); /* refused without a message */
        }
    }
    bnc__fed__msg__free_unpacked(m, NULL);
    return 0;
}
