/* A llama / BitNet b1.58 transformer: configuration, weights, loading (GGUF
 * through modelio, Hugging Face llama safetensors checkpoints), a batched
 * forward pass with a KV cache on the kernels' GEMV, tokenizers and the
 * evaluation protocols (perplexity, KL divergence). Shared with `bnc train`
 * (llm/train*.c), which builds models from its own f32 arrays through
 * bnc_llm_from_f32 and evaluates them with the functions here.
 *
 * Layout conventions (llama.cpp's): a matrix is rows x cols with cols the
 * contiguous input dimension (ggml ne[0]); y = W x. Q and K rows are in
 * llama.cpp's GGUF order: RoPE rotates adjacent pairs (x[2i], x[2i+1]) of
 * each head; HF safetensors checkpoints are permuted into that order when
 * loaded (see docs/llm.md). */
#ifndef BNC_LLM_H
#define BNC_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_gemv.h"
#include "bnc_kernels.h"

typedef enum bnc_llm_arch {
    BNC_LLM_LLAMA = 1,  /* general.architecture "llama": SwiGLU FFN */
    BNC_LLM_BITNET = 2, /* "bitnet": sub-norms before attn_output and ffn_down, squared ReLU */
} bnc_llm_arch;

typedef struct bnc_llm_config {
    int arch;           /* bnc_llm_arch */
    int64_t dim;        /* embedding_length */
    int64_t n_layers;   /* block_count */
    int64_t ff;         /* feed_forward_length */
    int64_t n_heads;    /* attention.head_count */
    int64_t n_kv_heads; /* attention.head_count_kv (default n_heads) */
    int64_t head_dim;   /* dim / n_heads */
    int64_t vocab;      /* rows of token_embd */
    int64_t ctx;        /* context_length (maximum positions) */
    float rope_base;    /* rope.freq_base (default 10000) */
    float norm_eps;     /* attention.layer_norm_rms_epsilon (default 1e-5) */
} bnc_llm_config;

/* One linear layer (or an embedding table): rows x cols in its own storage
 * type. `data` points into a file mapping or caller memory (never owned);
 * `f32` is an owned f32 copy made at load time for f16/bf16 (converted once
 * per layer) or NULL. All matrix products in llm/ go through one function,
 * llm_linear (llm/linear.c). */
typedef struct bnc_llm_linear {
    const char *name;         /* the GGUF tensor name (points into the model) */
    uint32_t type;            /* ggml type id as stored */
    const bnc_scheme *scheme; /* the kernels' scheme for quantized types, else NULL */
    bnc_qparams qp;           /* the scheme's parameters */
    int64_t rows, cols;
    const void *data;
    size_t nbytes;
    size_t stored_bytes; /* bytes of the weights as the file (or the in-memory
                            quantization) holds them: 2 a weight for f16 */
    float *f32; /* owned f32 weights (f16/bf16 converted) or NULL (f32: data is the floats) */
} bnc_llm_linear;

/* True when scheme s (may be NULL) has an int8-activation GEMV here. */
int bnc_llm_scheme_has_gemv(const bnc_scheme *s);
/* Bytes of L's weights that one token's product reads. */
size_t bnc_llm_linear_bytes(const bnc_llm_linear *L);

typedef struct bnc_llm_layer {
    const float *attn_norm;     /* dim */
    const float *ffn_norm;      /* dim */
    const float *attn_sub_norm; /* dim, BitNet only (before attn_output) */
    const float *ffn_sub_norm;  /* ff, BitNet only (before ffn_down) */
    bnc_llm_linear wq, wk, wv, wo;
    bnc_llm_linear w_gate, w_up, w_down; /* BitNet: gate and up, squared ReLU on the gate */
} bnc_llm_layer;

typedef struct bnc_llm_weights {
    bnc_llm_linear tok_embd;  /* vocab x dim; rows are looked up (dequantized) */
    const float *output_norm; /* dim */
    bnc_llm_linear output;    /* vocab x dim; a copy of tok_embd's view when tied */
    int tied;                 /* 1 when output.weight is absent */
    bnc_llm_layer *layers;    /* n_layers */
} bnc_llm_weights;

typedef struct bnc_llm_tok bnc_llm_tok;

/* A loaded model: configuration, weights, tokenizer and what keeps them
 * alive (a modelio model, owned f32 copies). Read-only after loading, so
 * several bnc_llm_state may run on one model at once. */
typedef struct bnc_llm_model {
    bnc_llm_config cfg;
    bnc_llm_weights w;
    bnc_llm_tok *tok; /* NULL when the file has no tokenizer (byte-level is used) */
    char *path;
    void *owner; /* internal: the bnc_model and owned buffers */
} bnc_llm_model;

/* Loads path: a GGUF file (architecture and hyperparameters from its
 * metadata, llama.cpp tensor names) or a HF llama checkpoint (a directory
 * with config.json and model.safetensors or model.safetensors.index.json;
 * Q/K rows are permuted to llama.cpp's order). cache may be NULL (a
 * bnc_mcache * from modelio). *out is the caller's (bnc_llm_free). Bad input
 * fails with BNC_EFORMAT (or BNC_ENOTSUP for an unknown architecture or a
 * tensor type without a kernel) and a message "file: key: problem". */
int bnc_llm_load(const char *path, void *cache, bnc_llm_model **out, bnc_err *err);
void bnc_llm_free(bnc_llm_model *m);

/* The same from a model already opened by modelio (a bnc_model *, taken
 * over: freed with the result, also on failure); name names it in messages;
 * config_json: a HF config.json path or NULL (a safetensors checkpoint
 * without one gets its sizes from the shapes, with 64-wide heads as
 * `bnc model synth` writes). */
int bnc_llm_from_model(void *model, const char *name, const char *config_json, bnc_llm_model **out,
                       bnc_err *err);

/* f32 weights owned by the caller (`bnc train`), in llama.cpp's layout and
 * Q/K order. Per layer: attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up,
 * w_down (+ attn_sub_norm, ffn_sub_norm for BitNet); output may be NULL
 * (tied to tok_embd). */
typedef struct bnc_llm_f32_layer {
    float *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w_gate, *w_up, *w_down;
    float *attn_sub_norm, *ffn_sub_norm;
} bnc_llm_f32_layer;
typedef struct bnc_llm_f32 {
    float *tok_embd, *output_norm, *output;
    bnc_llm_f32_layer *layers;
} bnc_llm_f32;

/* Wraps caller-owned f32 arrays as a model (no copy: the arrays must
 * outlive it; updating them in place changes the model). tok may be NULL
 * (byte-level). BNC_EINVAL for an inconsistent cfg. */
int bnc_llm_from_f32(const bnc_llm_config *cfg, const bnc_llm_f32 *w, bnc_llm_model **out,
                     bnc_err *err);

/* Writes m (any weight types) as a GGUF file with llama.cpp names and
 * metadata plus its tokenizer (byte-level when m->tok is NULL). */
int bnc_llm_write_gguf(const bnc_llm_model *m, const char *path, bnc_err *err);

/* Weight quantization in memory (the ppl_eval kind, `bnc eval --quant`):
 * every weight matrix takes `scheme` (a kernels scheme with a GEMV) unless
 * an override matches its GGUF name first (fnmatch; "keep" keeps it) or the
 * default keep-policy holds it: the embedding table, the output head, norms
 * and matrices whose row length the scheme's block does not divide. */
typedef struct bnc_llm_quant_opts {
    const char *scheme;
    bnc_qparams qp;
    size_t n_overrides;
    const char *const *ov_pattern;
    const char *const *ov_scheme; /* a scheme name or "keep" */
    int weights_only;             /* 1: keep the dequantized weights as f32, so activations stay f32
                                     (measures what the per-token int8 activations cost) */
} bnc_llm_quant_opts;

/* *out shares src's kept weights and tokenizer (src must outlive it) and
 * owns the quantized ones. *n_quant (may be NULL) gets the number of
 * matrices quantized. BNC_EINVAL for an unknown scheme or one without GEMV. */
int bnc_llm_quantize(const bnc_llm_model *src, const bnc_llm_quant_opts *o, bnc_llm_model **out,
                     int64_t *n_quant, bnc_err *err);

/* ---- forward pass ----------------------------------------------------- */

/* Per-sequence working state: KV cache for n_ctx positions and scratch for
 * chunks of up to max_batch tokens (1..64 per GEMV call; longer chunks are
 * processed in slices). pool (may be NULL: one thread) is borrowed. */
typedef struct bnc_llm_state bnc_llm_state;

int bnc_llm_state_new(const bnc_llm_model *m, int64_t n_ctx, bnc_pool *pool, bnc_llm_state **out,
                      bnc_err *err);
void bnc_llm_state_free(bnc_llm_state *s);
/* Forgets the cache (next forward starts at position 0). */
void bnc_llm_state_reset(bnc_llm_state *s);
/* Positions already in the cache. */
int64_t bnc_llm_state_pos(const bnc_llm_state *s);

/* Runs tokens[0..n) at positions pos..pos+n-1 (pos = the cache's current
 * length), appending their keys/values to the cache. logits (may be NULL)
 * receives n x vocab floats, or only the last token's vocab floats when
 * last_only. The result does not depend on how a sequence is cut into
 * calls nor on the thread count. BNC_ERANGE when the context is full or a
 * token id is out of range. */
int bnc_llm_forward(bnc_llm_state *s, const int32_t *tokens, int64_t n, float *logits,
                    int last_only, bnc_err *err);

/* ---- tokenizers ------------------------------------------------------- */

/* The model's tokenizer, or the byte-level one (256 bytes + BOS 256, EOS
 * 257) when the model has none. Never NULL for a loaded model. */
const bnc_llm_tok *bnc_llm_tokenizer(const bnc_llm_model *m);
/* Encodes text[0..len) into *ids (malloc'd, caller frees), with BOS first
 * when add_bos and the vocabulary adds one (tokenizer.ggml.add_bos_token;
 * default: llama yes, gpt2 no). The GGUF "llama" (SentencePiece, byte
 * fallback) and "gpt2" (byte-level BPE) vocabularies tokenize as llama.cpp
 * does (gpt2: GPT-2's pre-tokenizer pattern with non-ASCII bytes counted as
 * letters). */
int bnc_llm_tokenize(const bnc_llm_tok *t, const char *text, size_t len, int add_bos, int32_t **ids,
                     size_t *n, bnc_err *err);
/* Appends the text of token id to buf (cap bytes, NUL-terminated);
 * returns the bytes written (truncated when cap is small). */
size_t bnc_llm_detokenize(const bnc_llm_tok *t, int32_t id, char *buf, size_t cap);
/* BOS when the vocabulary adds one, else -1 (perplexity chunks then keep
 * their first token, as llama-perplexity). */
int32_t bnc_llm_tok_bos(const bnc_llm_tok *t);
int32_t bnc_llm_tok_eos(const bnc_llm_tok *t);
int64_t bnc_llm_tok_vocab(const bnc_llm_tok *t);

/* ---- evaluation (llama-perplexity's protocol) --------------------------- */

typedef struct bnc_llm_ppl_opts {
    int64_t ctx;    /* chunk length in tokens (default 512) */
    int64_t chunks; /* chunks to score (0: all that fit) */
    int64_t batch;  /* tokens per forward call (0: ctx) */
    /* Called after each chunk with its index and the running estimate. */
    void (*progress)(void *arg, int64_t chunk, double ppl);
    void *progress_arg;
} bnc_llm_ppl_opts;

typedef struct bnc_llm_ppl_result {
    double ppl, ppl_err; /* exp(mean NLL) and its +/- (llama-perplexity's formula) */
    double nll, nll_err; /* mean negative log-likelihood and its standard error */
    int64_t chunks, scored;
    double seconds;
} bnc_llm_ppl_result;

/* Perplexity of tokens[0..n) in non-overlapping chunks of ctx tokens (the
 * first token of each chunk replaced by BOS, only the second half scored).
 * BNC_EINVAL when n < 2 * ctx (too short for one chunk, as llama.cpp). */
int bnc_llm_ppl(const bnc_llm_model *m, const int32_t *tokens, int64_t n, const bnc_llm_ppl_opts *o,
                bnc_pool *pool, bnc_llm_ppl_result *res, bnc_err *err);

/* KL divergence of quant's next-token distribution from base's on the same
 * chunks (llama-perplexity --kl-divergence): both models run in the same
 * call, chunk by chunk. The two models must share the vocabulary. */
typedef struct bnc_llm_kld_result {
    bnc_llm_ppl_result base, quant;
    double kld, kld_err, kld_max;
    double kld_pct[8];             /* 99.9, 99, 95, 90, 50, 10, 5, 1 percentiles */
    double ln_ratio, ln_ratio_err; /* ln(PPL(Q)/PPL(base)), paired */
    double rms_dp, rms_dp_err;     /* RMS of p_Q(token) - p_base(token) */
    double same_top, same_top_err; /* fraction where the argmax agrees */
    int64_t scored;
} bnc_llm_kld_result;

int bnc_llm_kld(const bnc_llm_model *base, const bnc_llm_model *quant, const int32_t *tokens,
                int64_t n, const bnc_llm_ppl_opts *o, bnc_pool *pool, bnc_llm_kld_result *res,
                bnc_err *err);

/* Weight bytes one generated token reads (every linear layer and the
 * output head; one embedding row). */
double bnc_llm_bytes_per_token(const bnc_llm_model *m);

#endif
