/* The small models federated clients train: softmax regression and an MLP
 * 784-256-128-10 (ReLU), parameters in one flat f32 vector, minibatch SGD
 * with momentum and weight decay on OpenBLAS, optional FedProx term and
 * BitNet-style quantization-aware training (absmean ternary weights in the
 * forward pass, straight-through estimator in the backward pass). */
#ifndef BNC_FED_MODEL_H
#define BNC_FED_MODEL_H

#include <stdint.h>

#include "bnc_err.h"
#include "bnc_fed_data.h"

enum { BNC_FED_MODEL_SOFTMAX = 0, BNC_FED_MODEL_MLP = 1 };
#define BNC_FED_MAX_LAYERS 3
#define BNC_FED_MAX_TENSORS (2 * BNC_FED_MAX_LAYERS)

/* Layer l maps dims[l] -> dims[l+1]; its weight (dims[l] x dims[l+1],
 * row-major) starts at w_off[l] and its bias at b_off[l]. Tensors are
 * numbered W0, b0, W1, b1, ... */
typedef struct bnc_fed_arch {
    int kind;
    int nlayers;
    int dims[BNC_FED_MAX_LAYERS + 1];
    int64_t nparams;
    int64_t w_off[BNC_FED_MAX_LAYERS], b_off[BNC_FED_MAX_LAYERS];
} bnc_fed_arch;

/* name: "softmax" or "mlp". BNC_EINVAL names an unknown model. */
int bnc_fed_arch_init(bnc_fed_arch *a, const char *name, int64_t in_dim, int nclasses,
                      bnc_err *err);
const char *bnc_fed_arch_name(const bnc_fed_arch *a);
int bnc_fed_arch_ntensors(const bnc_fed_arch *a);
/* Offset and element count of tensor t (0 <= t < ntensors). */
int64_t bnc_fed_arch_tensor(const bnc_fed_arch *a, int t, int64_t *off);
/* Seeded initialisation: He-normal weights, zero biases. */
void bnc_fed_model_init(const bnc_fed_arch *a, float *w, uint64_t seed);

typedef struct bnc_fed_train_opts {
    float lr;
    float momentum;
    float weight_decay;
    float prox_mu; /* FedProx proximal term (0: plain SGD) */
    int batch;
    int epochs;
    int qat; /* 1: ternary forward pass with straight-through estimator */
} bnc_fed_train_opts;

/* Scratch buffers for one thread: activations for max_batch examples,
 * gradient, momentum, ternary weights. Not shared between threads. */
typedef struct bnc_fed_trainer bnc_fed_trainer;

/* Allocates a trainer; NULL when out of memory. */
bnc_fed_trainer *bnc_fed_trainer_new(const bnc_fed_arch *a, int max_batch);
void bnc_fed_trainer_free(bnc_fed_trainer *t);

/* Trains w in place on examples idx[0..n) of d: opts->epochs passes, each
 * over a fresh permutation drawn from (seed, stream); momentum starts at
 * zero. anchor (may be NULL) is the global model for the FedProx term.
 * Writes the mean training loss and accuracy seen. BNC_ERANGE when the loss
 * becomes non-finite (diverged), BNC_EINVAL for a batch above max_batch. */
int bnc_fed_train(bnc_fed_trainer *t, float *w, const float *anchor, const bnc_fed_dataset *d,
                  const int64_t *idx, int64_t n, const bnc_fed_train_opts *opts, uint64_t seed,
                  uint64_t stream, double *loss, double *acc, bnc_err *err);

/* Mean cross-entropy and accuracy of w over all of d (ternary weights when
 * qat is set, as the model would be deployed). */
int bnc_fed_evaluate(bnc_fed_trainer *t, const float *w, int qat, const bnc_fed_dataset *d,
                     double *loss, double *acc, bnc_err *err);

/* Replaces each weight matrix of w (biases untouched) by its BitNet absmean
 * ternary approximation gamma * clip(round(W / gamma), -1, 1), into out. */
int bnc_fed_ternarize(const bnc_fed_arch *a, const float *w, float *out, bnc_err *err);

#endif
