/* Internal: framing of FedMsg over ZeroMQ and the tensor lists of the
 * protocol. */
#ifndef BNC_FED_WIRE_H
#define BNC_FED_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_fed.h"
#include "fed.pb-c.h"

/* Packs m and sends it on sock, after a routing-id frame when rid is given
 * (ROUTER). Adds the payload's size to *bytes. Non-blocking for ROUTER (a
 * peer gone is not an error: BNC_ENET is returned and nothing counted). */
int bnc_fed_send(void *sock, const void *rid, size_t rid_len, const Bnc__Fed__Msg *m,
                 int64_t *bytes, bnc_err *err);

/* Upper bound of the payload bytes of the model's tensors under codec c. */
size_t bnc_fed_tensors_bound(const bnc_fed_arch *a, const bnc_fed_codec *c,
                             const bnc_fed_cparams *p);

/* Encodes every tensor of x (nparams values; modified when residual is
 * given) into buf and fills ts[0..ntensors) and tp (pointers to ts) for a
 * message. residual may be NULL; scratch holds nparams floats. */
int bnc_fed_tensors_encode(const bnc_fed_arch *a, const bnc_fed_codec *c, const bnc_fed_cparams *p,
                           float *x, float *residual, float *scratch, uint64_t seed,
                           uint64_t stream, uint8_t *buf, size_t cap, Bnc__Fed__Tensor *ts,
                           Bnc__Fed__Tensor **tp, bnc_err *err);

/* Decodes a received tensor list into out (nparams values): exactly one
 * tensor per index, the expected codec and element count, a payload that
 * decodes. BNC_EFORMAT otherwise, naming the tensor. */
int bnc_fed_tensors_decode(const bnc_fed_arch *a, const bnc_fed_codec *c, const bnc_fed_cparams *p,
                           Bnc__Fed__Tensor *const *ts, size_t n, float *out, bnc_err *err);

/* Copies the wire configuration into a bnc_fed_config and back. */
void bnc_fed_config_to_wire(const bnc_fed_config *c, Bnc__Fed__Config *w, char *part, size_t n);
int bnc_fed_config_from_wire(const Bnc__Fed__Config *w, bnc_fed_config *c, bnc_err *err);

#endif
