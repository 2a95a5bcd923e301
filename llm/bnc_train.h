/* `bnc train`: a llama / BitNet b1.58 transformer trained from scratch on a
 * byte-level corpus, with a hand-written backward pass, AdamW, a cosine
 * schedule with warmup, gradient clipping and f32 master weights. Full
 * precision (--quant none) or BitLinear quantization-aware training
 * (--quant bitnet: absmean ternary weights and int8 absmax activations in
 * the forward pass, straight-through gradients). Data parallel over MPI:
 * every rank takes a shard of every batch; per-sequence gradients are
 * summed exactly in 64-bit fixed point (integer addition is associative),
 * so a seed gives bit-identical models for any rank count; or exchanged
 * compressed (int8, ternary, sign) with error feedback. Checkpoints are
 * GGUF files with llama.cpp names that llm/ loads, plus the optimizer state
 * under `train.*` tensor names. docs/train.md. */
#ifndef BNC_TRAIN_H
#define BNC_TRAIN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bnc_err.h"

/* Byte-level vocabulary shared with llm/ (bnc_llm.h): bytes 0..255, BOS,
 * EOS. */
#define BNC_TR_BOS 256
#define BNC_TR_EOS 257
#define BNC_TR_VOCAB 258

enum { BNC_TR_LLAMA = 1, BNC_TR_BITNET = 2 }; /* the values of bnc_llm_arch */
enum { BNC_TR_QUANT_NONE = 0, BNC_TR_QUANT_BITNET = 1 };
enum {
    BNC_TR_GC_NONE = 0,
    BNC_TR_GC_INT8 = 1,
    BNC_TR_GC_TERNARY = 2,
    BNC_TR_GC_SIGN = 3,
};

/* The model's shape and arithmetic. */
typedef struct bnc_tr_config {
    int arch;      /* BNC_TR_LLAMA (SwiGLU) or BNC_TR_BITNET (sub-norms, squared ReLU) */
    int quant;     /* BNC_TR_QUANT_* */
    int act_quant; /* with quant: int8 absmax activations (1) or f32 (0, for tests) */
    int64_t dim, n_layers, n_heads, ff, vocab, ctx;
    float rope_base, norm_eps;
} bnc_tr_config;

/* One parameter tensor: rows x cols (cols contiguous, ggml ne[0]) at `off`
 * floats into the flat parameter vector. */
typedef struct bnc_tr_tensor {
    char name[48]; /* llama.cpp GGUF name */
    int64_t rows, cols;
    size_t off;
    int linear; /* a BitLinear matrix: ternary under QAT */
    int decay;  /* AdamW weight decay applies (matrices and embeddings) */
} bnc_tr_tensor;

typedef struct bnc_tr_layout {
    bnc_tr_config cfg;
    size_t n_params;
    int n_tensors;
    bnc_tr_tensor *t; /* owned */
} bnc_tr_layout;

/* Fills L (which owns L->t afterwards: bnc_tr_layout_free) for cfg.
 * BNC_EINVAL naming the field when the shape is inconsistent (dim not a
 * multiple of n_heads, odd head size, vocab < 258, ...). */
int bnc_tr_layout_init(bnc_tr_layout *L, const bnc_tr_config *cfg, bnc_err *err);
void bnc_tr_layout_free(bnc_tr_layout *L);
/* Index of the tensor called name, or -1. */
int bnc_tr_layout_find(const bnc_tr_layout *L, const char *name);

/* Initial weights for seed (normal 0.02, residual projections scaled by
 * 1/sqrt(2 n_layers), norms 1), one Philox stream per tensor. */
void bnc_tr_init_params(const bnc_tr_layout *L, uint64_t seed, float *p);

/* Working memory of the forward/backward pass for sequences of up to
 * cfg.ctx tokens, in float (the training path) or double (the gradient
 * check). Allocated by _new, freed by _free (NULL is a no-op). */
typedef struct bnc_tr_ws bnc_tr_ws;
typedef struct bnc_tr_wsd bnc_tr_wsd;
int bnc_tr_ws_new(const bnc_tr_layout *L, bnc_tr_ws **out, bnc_err *err);
void bnc_tr_ws_free(bnc_tr_ws *w);
int bnc_tr_wsd_new(const bnc_tr_layout *L, bnc_tr_wsd **out, bnc_err *err);
void bnc_tr_wsd_free(bnc_tr_wsd *w);

/* One sequence: inputs x[0..T), targets y[0..T) (T <= ctx). w are the
 * weights the forward pass uses (under QAT the caller passes the ternarized
 * copy, bnc_tr_quantize_weights). Returns in *loss_sum the summed
 * cross-entropy (nats) over the T positions; when grad is not NULL, adds
 * d(loss_sum)/dw to it. Activations are int8-quantized per token before
 * every BitLinear when cfg.quant && cfg.act_quant (straight-through).
 * BNC_ERANGE for a token out of range. */
int bnc_tr_loss_grad(const bnc_tr_layout *L, const float *w, const int32_t *x, const int32_t *y,
                     int64_t T, float *grad, double *loss_sum, bnc_tr_ws *ws, bnc_err *err);
/* The same in double precision (gradient checks). */
int bnc_tr_loss_grad_d(const bnc_tr_layout *L, const double *w, const int32_t *x, const int32_t *y,
                       int64_t T, double *grad, double *loss_sum, bnc_tr_wsd *ws, bnc_err *err);

/* The inputs of a layer's linear layers in the last forward pass run on ws
 * (T x dim, or T x ff for BNC_TR_IN_FFN_DOWN; row t is position t): what
 * GPTQ and AWQ calibrate on. NULL for a bad layer or kind. */
enum {
    BNC_TR_IN_ATTN = 0,     /* attn_q, attn_k, attn_v (after attn_norm) */
    BNC_TR_IN_ATTN_OUT = 1, /* attn_output (after attn_sub_norm in BitNet) */
    BNC_TR_IN_FFN = 2,      /* ffn_gate, ffn_up (after ffn_norm) */
    BNC_TR_IN_FFN_DOWN = 3, /* ffn_down (after ffn_sub_norm in BitNet) */
};
const float *bnc_tr_ws_input(const bnc_tr_ws *ws, int64_t layer, int which);

/* The gradient a training step uses: under QAT (cfg.quant) the forward
 * pass runs on the ternarized copy of master (written into wq, n_params
 * floats of scratch) and the gradient with respect to those weights is
 * returned for the master weights (straight-through estimator); otherwise
 * bnc_tr_loss_grad on master. */
int bnc_tr_step_grad(const bnc_tr_layout *L, const float *master, float *wq, const int32_t *x,
                     const int32_t *y, int64_t T, float *grad, double *loss_sum, bnc_tr_ws *ws,
                     bnc_err *err);

/* The BitNet b1.58 weight quantizer applied to every linear tensor of
 * master into out (other tensors copied): gamma = mean|W| (rounded to fp16,
 * the scale a tq2_0 block stores), W_q = gamma * clip(round(W / gamma), -1, 1). */
void bnc_tr_quantize_weights(const bnc_tr_layout *L, const float *master, float *out);
/* The per-token int8 absmax activation quantizer in place over n values
 * (x_q = clip(round(x * 127 / max|x|), -128, 127) * max|x| / 127). */
void bnc_tr_act_quant(float *x, int64_t n);

/* ---- data ----------------------------------------------------------------- */

/* A corpus file held in memory with its SHA-256. */
typedef struct bnc_tr_corpus {
    uint8_t *bytes;
    size_t n;
    char sha256[65];
    char *path;
} bnc_tr_corpus;

/* Reads path whole. BNC_EIO naming the file when missing or unreadable,
 * BNC_EINVAL when it holds fewer than min_bytes bytes ("empty"). */
int bnc_tr_corpus_read(const char *path, size_t min_bytes, bnc_tr_corpus *c, bnc_err *err);
void bnc_tr_corpus_free(bnc_tr_corpus *c);
/* SHA-256 of data as 64 hex digits plus NUL. */
void bnc_sha256_hex(const void *data, size_t n, char hex[65]);
/* Entropy in bits of the byte unigram distribution of c. */
double bnc_tr_unigram_bits(const bnc_tr_corpus *c);

/* ---- training ------------------------------------------------------------- */

/* One optimizer step as reported and stored. */
typedef struct bnc_train_step {
    int64_t step;         /* 1-based: steps done after this one */
    double loss;          /* mean training loss of the step's batch (nats/byte) */
    double lr, grad_norm; /* learning rate used; gradient norm before clipping */
    double valid_loss;    /* NaN when not evaluated at this step */
    double tokens_per_s;  /* global tokens of the step / its wall time */
    uint64_t payload_bytes, sent_bytes;
    double wall_s; /* of the step */
} bnc_train_step;

typedef struct bnc_train_opts {
    bnc_tr_config cfg;
    const char *train_path, *valid_path; /* required */
    const char *test_path, *ood_path;    /* optional: scored at the end */
    const char *out_path;                /* checkpoint GGUF (required) */
    const char *resume_path;             /* optional */
    const char *run_name;                /* database run name (default: out_path's base) */
    const char *db_url;                  /* store the run when set */
    int64_t steps;                       /* total optimizer steps (schedule length) */
    int64_t stop_after;                  /* stop (and checkpoint) after this step; 0: steps */
    int64_t batch;                       /* sequences per step (global) */
    int64_t warmup;                      /* linear warmup steps */
    double lr, min_lr_frac, weight_decay, beta1, beta2, adam_eps, clip;
    uint64_t seed;
    int64_t eval_every; /* validation every N steps (0: only at the end) */
    int64_t eval_seqs;  /* validation sequences (ctx tokens each) */
    int64_t save_every; /* checkpoint every N steps (0: only at the end) */
    int grad_compress;  /* BNC_TR_GC_* */
    /* Called on rank 0 after every step (may be NULL). */
    void (*on_step)(void *arg, const bnc_train_step *st);
    void *on_step_arg;
} bnc_train_opts;

/* Defaults: llama, dim 256, 2 layers, 4 heads, ff 512, ctx 128, batch 8,
 * 200 steps, lr 3e-3 (warmup 20, cosine to 10%), wd 0.1, betas 0.9/0.95,
 * clip 1.0, seed 1, eval every 50 steps on 64 sequences. */
void bnc_train_opts_default(bnc_train_opts *o);

/* What a run measured (filled on every rank). */
typedef struct bnc_train_result {
    int64_t steps_done, start_step;
    double final_loss;                      /* training loss of the last step */
    double valid_loss, test_loss, ood_loss; /* nats per byte (NaN when not scored) */
    double unigram_bits;                    /* of the training bytes */
    double tokens_per_s;                    /* over the steps of this run */
    uint64_t payload_bytes;                 /* gradient bytes each rank contributes per step */
    uint64_t sent_bytes;                    /* bytes each rank sends per step (algorithm's count) */
    size_t n_params;
    int stopped_nan; /* 1 when stopped on a non-finite loss */
} bnc_train_result;

/* Trains on every rank of comm (collective). Rank 0 reads the corpus files
 * and checkpoints and broadcasts them; every rank returns the same status.
 * A non-finite loss or gradient stops the run before the update, writes the
 * last good state to out_path and fails with BNC_ERANGE saying so. A
 * --resume checkpoint of another shape fails with BNC_EINVAL naming the key. */
int bnc_train_run(const bnc_train_opts *o, MPI_Comm comm, bnc_train_result *res, bnc_err *err);

/* ---- checkpoints ---------------------------------------------------------- */

/* Training state as stored in a checkpoint. */
typedef struct bnc_tr_state {
    float *w, *m, *v; /* master weights and AdamW moments, n_params each (owned) */
    float *ef;        /* error-feedback residuals, ranks x n_params, or NULL */
    int ef_ranks;
    int64_t step; /* optimizer steps done */
} bnc_tr_state;

/* Writes a checkpoint: the inference tensors (f32; under QAT the linear
 * weights ternarized and packed as tq2_0) with llama.cpp names and
 * metadata (general.architecture llama|bitnet, no tokenizer: byte-level),
 * `bnc.train.*` keys, and the state under train.m.*, train.v.* (and
 * train.w.* master weights under QAT, train.ef for error feedback). The
 * file is written to path.tmp and renamed. */
int bnc_tr_save(const char *path, const bnc_tr_layout *L, const bnc_train_opts *o,
                const bnc_tr_state *s, const char *train_sha, bnc_err *err);
/* Reads a checkpoint written by bnc_tr_save into *s (allocated here);
 * BNC_EINVAL naming the key when its shape or mode differs from L->cfg. */
int bnc_tr_load(const char *path, const bnc_tr_layout *L, bnc_tr_state *s, bnc_err *err);
void bnc_tr_state_free(bnc_tr_state *s);

/* Reads the rest of f into a new buffer (caller frees) and sets *n; NULL when
 * out of memory. Read errors are left in ferror(f) for the caller. */
uint8_t *bnc_tr_slurp(FILE *f, size_t *n);

/* The GGUF type id of a scheme name ("f32", "f16", "tq2_0"), read from the
 * kernels' scheme table, the one place ggml ids live; 0 when unknown. */
uint32_t bnc_train_ggml_id(const char *scheme);

#endif
