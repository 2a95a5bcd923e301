/* Internal: whole-model task kinds' shared parts. A task names a model of the
 * spec's `models:` map (ctx->models): `{path: FILE}` (relative to the spec's
 * folder) or `{synth: {...}}` (modelio's synthetic generator). Synthetic
 * models are written once into a cache folder keyed by a hash of their
 * options and reused by every later task and process. */
#ifndef BNC_WORKER_MODEL_SRC_H
#define BNC_WORKER_MODEL_SRC_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_kernels.h"
#include "bnc_model.h"
#include "bnc_task.h"

/* Resolves params' required "model" to its entry in ctx->models and checks
 * the entry (synth option names and values). Messages name 'model'. */
int bnc_model_param(const json_t *params, const bnc_task_ctx *ctx, const json_t **entry,
                    bnc_err *err);

/* Weights in the 2-D tensors of a checked entry (for cost estimates): from
 * the synthetic shape, or by opening the file's header; 1 when unknown. */
double bnc_model_entry_weights(const json_t *entry, const bnc_task_ctx *ctx);

/* Opens a checked entry; a synthetic model is first written into
 * ${TMPDIR:-/tmp}/bnc-synth-UID/HASH.safetensors (write to a temporary name,
 * then rename, so concurrent ranks never read a partial file) unless it is
 * already there. Opens through ctx->cache (a bnc_mcache *) when set. *out is
 * the caller's (bnc_model_free). */
int bnc_model_entry_open(const json_t *entry, const bnc_task_ctx *ctx, bnc_model **out,
                         bnc_err *err);

/* A weight matrix: a 2-D tensor with more than one row. */
int bnc_model_is_matrix(const bnc_model_tensor *t);

/* Looks up scheme name for parameter param; the message lists known ones. */
int bnc_param_scheme(const char *param, const char *name, const bnc_scheme **out, bnc_err *err);

/* Whether scheme s can hold rows of cols weights. */
int bnc_scheme_fits(const bnc_scheme *s, int64_t cols);

/* Quantizes and dequantizes x (rows x cols) with s: *sse gets the sum of
 * squared error, *bytes the quantized size. y is scratch (rows x cols). */
int bnc_quant_sse(const float *x, float *y, int64_t rows, int64_t cols, const bnc_scheme *s,
                  const bnc_qparams *qp, double *sse, size_t *bytes, bnc_err *err);

/* Sum of squares of x[0..n) in double. */
double bnc_sumsq(const float *x, int64_t n);

/* "prefix@tensor" in at most 63 characters: a name too long keeps its tail
 * (where layer and matrix differ) from a '.' boundary, after a '~'. */
void bnc_metric_name_at(char out[64], const char *prefix, const char *tensor);

#endif
