/* Deterministic synthetic models with a llama-like tensor set and weight
 * statistics that look like real LLM weights: a per-input-channel scale
 * spread (log-normal), a per-output-channel spread, and a few outlier input
 * channels shared by every matrix that reads the residual stream. The same
 * (options, seed) gives the same bytes on any machine. */
#ifndef BNC_MODEL_SYNTH_H
#define BNC_MODEL_SYNTH_H

#include <stdint.h>

#include "bnc_err.h"

typedef struct bnc_synth_opts {
    int64_t params; /* target parameter count, used when dim == 0 */
    uint64_t seed;
    int format;    /* BNC_MODEL_SAFETENSORS or BNC_MODEL_GGUF */
    uint32_t type; /* storage type of matrices: 0 f32, 1 f16, 30 bf16 (norms stay f32) */
    int64_t dim, layers, ff, vocab, kv_dim; /* 0: derived from params */
    int shards;     /* safetensors: > 1 writes path as an index JSON plus this many
                       shard files beside it (model-0000k-of-0000n.safetensors) */
    int arch;       /* BNC_SYNTH_LLAMA (0) or BNC_SYNTH_BITNET: BitNet b1.58 layout (arch
                       "bitnet", attn_sub_norm and ffn_sub_norm in every layer) */
    int byte_vocab; /* GGUF: a SentencePiece vocabulary that can tokenize any text
                       (<0xNN> byte tokens, then ASCII characters, bigrams and short
                       words) instead of placeholder tokens; needs vocab >= 259 */
} bnc_synth_opts;

enum { BNC_SYNTH_LLAMA = 0, BNC_SYNTH_BITNET = 1 };

typedef struct bnc_synth_shape {
    int64_t dim, layers, ff, vocab, kv_dim;
    int64_t params; /* exact parameter count */
    int64_t n_tensors;
} bnc_synth_shape;

/* Resolves the architecture for o: explicit sizes win, others are derived
 * from o->params (dim a multiple of 256, layers ~ dim/128, ff ~ 8/3 dim
 * rounded to 256, vocab 32000 or less for small models). BNC_EINVAL when
 * nothing fits (dims not multiples of 256, params < ~1M). */
int bnc_synth_shape_for(const bnc_synth_opts *o, bnc_synth_shape *out, bnc_err *err);

/* Writes the model to path in o->format. GGUF files get llama-style
 * metadata (architecture, sizes, a small tokenizer vocabulary) and
 * llama.cpp tensor names; safetensors get Hugging Face names. */
int bnc_synth_write(const char *path, const bnc_synth_opts *o, bnc_err *err);

#endif
