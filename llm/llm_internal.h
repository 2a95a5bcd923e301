/* Internal parts of llm/ shared between its files (not for other components). */
#ifndef BNC_LLM_INTERNAL_H
#define BNC_LLM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_llm.h"
#include "bnc_model.h"

/* What a loaded model owns. */
typedef struct llm_owner {
    bnc_model *model; /* the opened file(s), or NULL */
    void **bufs;      /* owned buffers (f32 copies, quantized weights) */
    size_t n_bufs, cap_bufs;
    int tok_borrowed; /* m->tok belongs to another model */
} llm_owner;

/* Remembers p (malloc'd) so bnc_llm_free frees it; frees p and fails with
 * BNC_ENOMEM when the list cannot grow. */
int llm_own(bnc_llm_model *m, void *p, bnc_err *err);

/* Scratch a linear layer needs for a batch of up to 64 tokens: quantized
 * activations (one bnc_act per column count used). */
typedef struct llm_scratch {
    bnc_act *act[4];
    int64_t act_cols[4];
    int sgemm; /* f32 through OpenBLAS sgemm (faster prompts, not bit-reproducible) */
} llm_scratch;
void llm_scratch_free(llm_scratch *s);

/* y (n x L->rows) = x (n x L->cols) W^T for n <= 64 tokens: the one place
 * in llm/ that calls the kernels (bnc_gemv for quantized types after
 * per-token int8 absmax quantization of x; f32: fixed-order dot products or
 * cblas_sgemm when s->sgemm). */
int llm_linear(const bnc_llm_linear *L, const float *x, int64_t n, float *y, llm_scratch *s,
               bnc_pool *pool, bnc_err *err);

/* Row r of an embedding-like linear (dequantized into out, L->cols floats). */
int llm_linear_row(const bnc_llm_linear *L, int64_t r, float *out, bnc_err *err);

/* Bytes of L's weights that one token's product reads. */
size_t llm_linear_bytes(const bnc_llm_linear *L);

/* Sets L's scheme from its ggml type; 0 when the type has a kernel path
 * (f32 or a scheme with a GEMV), BNC_ENOTSUP otherwise. */
int llm_linear_bind(bnc_llm_linear *L, bnc_err *err);

/* Loads a model from an opened bnc_model (taken over: freed with the result,
 * also on failure). cfg_json: a HF config.json path or NULL. */
int llm_load_opened(bnc_model *mo, const char *path, const char *cfg_json, bnc_llm_model **out,
                    bnc_err *err);

/* Tokenizer from GGUF metadata (NULL *out when the file has none). */
typedef struct bnc_gguf bnc_gguf;
int llm_tok_from_gguf(const bnc_gguf *g, const char *fname, bnc_llm_tok **out, bnc_err *err);
void llm_tok_free(bnc_llm_tok *t);
/* Copies t's vocabulary into GGUF metadata keys tokenizer.ggml.* of g. */
int llm_tok_to_gguf(const bnc_llm_tok *t, bnc_gguf *g, bnc_err *err);
/* The byte-level tokenizer (static). */
const bnc_llm_tok *llm_tok_bytes(void);

#endif
