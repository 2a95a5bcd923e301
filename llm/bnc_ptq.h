/* Post-training quantization with calibration data: GPTQ (Frantar et al.
 * 2022: Hessian of the layer's inputs, Cholesky factor of its inverse,
 * column-by-column quantization with error compensation, lazy updates in
 * blocks of 128, dampening 0.01 of the mean diagonal) and AWQ (Lin et al.
 * 2023: per-input-channel scales s = mean|x|^alpha, alpha searched over a
 * grid, folded into the preceding norm), for the block schemes q4_0, q8_0,
 * tq2_0 and bitnet (absmean ternary, packed as tq2_0). The quantizers
 * follow ggml's rules (../shared/FORMATS.md), so round-to-nearest here
 * writes the bytes the kernels' scheme table writes. docs/train.md. */
#ifndef BNC_PTQ_H
#define BNC_PTQ_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

enum { BNC_PTQ_RTN = 0, BNC_PTQ_GPTQ = 1, BNC_PTQ_AWQ = 2 };

/* A block scheme as the PTQ methods see it. */
typedef struct bnc_ptq_scheme {
    const char *name; /* "q4_0", "q8_0", "tq2_0", "bitnet" */
    int kind;         /* internal */
    int64_t group;    /* weights sharing a scale along a row (0: the whole tensor) */
    uint32_t ggml_type;
    size_t block_bytes; /* bytes per 32 (q4_0, q8_0) or 256 (tq2_0) weights */
    int64_t block;
} bnc_ptq_scheme;

/* The scheme called name, or NULL when PTQ does not handle it. */
const bnc_ptq_scheme *bnc_ptq_scheme_find(const char *name);

/* Round-to-nearest of W (rows x cols, row-major, double): codes (rows x
 * cols: q4_0 0..15, q8_0 -127..127, ternary -1..1) and one fp16-rounded
 * scale per group (rows x cols/group, or one for bitnet); W is replaced by
 * the dequantized values. codes/scales may be NULL. BNC_EINVAL when cols is
 * not a multiple of the block. */
int bnc_ptq_rtn(const bnc_ptq_scheme *s, double *W, int64_t rows, int64_t cols, int32_t *codes,
                float *scales, bnc_err *err);

/* GPTQ of W (rows x cols) given H = 2/N X^T X (cols x cols, not modified):
 * dead inputs (H_ii = 0) zeroed, H + damp * mean(diag H) * I, U = the upper
 * Cholesky factor of its inverse, then for each column i in blocks of
 * `block` (128): a group's scales are fixed from the current weights when
 * its first column is reached, q = quant(w_i), the error (w_i - q) / U_ii
 * moves into the columns not yet quantized. W ends as the dequantized
 * values; codes/scales as bnc_ptq_rtn. BNC_ERANGE when H is not positive
 * definite after dampening. */
int bnc_gptq(const bnc_ptq_scheme *s, double *W, int64_t rows, int64_t cols, const double *H,
             double damp, int64_t block, int32_t *codes, float *scales, bnc_err *err);

/* Bytes of a rows x cols tensor in the scheme's GGUF type, and the packing of
 * codes/scales from bnc_ptq_rtn or bnc_gptq into them (ggml's layout). */
size_t bnc_ptq_nbytes(const bnc_ptq_scheme *s, int64_t rows, int64_t cols);
int bnc_ptq_pack(const bnc_ptq_scheme *s, const int32_t *codes, const float *scales, int64_t rows,
                 int64_t cols, void *dst, size_t cap, bnc_err *err);

/* AWQ's search for one group of linear layers sharing an input: X (n x
 * cols, float) is a sample of that input, W[k] (rows[k] x cols, f32) the
 * layers. For alpha in {0, 1/grid, ..., (grid-1)/grid}: s_j = mean_t|X_tj|^alpha
 * normalized by sqrt(max s * min s), each W[k] with its columns times s
 * quantized by round-to-nearest, error sum_k ||X W[k]^T - (X / s) Q(W[k] s)^T||^2
 * relative to sum_k ||X W[k]^T||^2. Writes the best scales into s_out (cols)
 * and their alpha and relative error into *alpha_out, *err_out, and the
 * error of alpha 0 (s = 1: plain RTN) into *err_rtn. */
int bnc_awq_search(const bnc_ptq_scheme *s, const float *X, int64_t n, int64_t cols,
                   const float *const *W, const int64_t *rows, int nW, int grid, float *s_out,
                   double *alpha_out, double *err_out, double *err_rtn, bnc_err *err);

/* Layer output error ||X W^T - X Q^T||_F^2 / ||X W^T||_F^2 (X n x cols,
 * W and Q rows x cols, double). */
double bnc_ptq_output_error(const double *X, int64_t n, int64_t cols, const double *W,
                            const double *Q, int64_t rows);

/* Options of a whole-model run (bnc quantize --method gptq|awq). */
typedef struct bnc_ptq_opts {
    const char *in, *out, *type; /* type: q4_0, q8_0, tq2_0 or bitnet */
    int method;                  /* BNC_PTQ_GPTQ or BNC_PTQ_AWQ */
    const char *calib;           /* calibration text (bytes) */
    int64_t calib_seqs;          /* sequences of ctx bytes (default 32) */
    int64_t ctx;                 /* calibration sequence length (0: the model's) */
    double damp;                 /* GPTQ (default 0.01) */
    int64_t block;               /* GPTQ (default 128) */
    int awq_grid;                /* AWQ (default 20) */
} bnc_ptq_opts;

/* Per-run figures for the caller to print. */
typedef struct bnc_ptq_result {
    int tensors;        /* quantized linear tensors */
    double rel_err;     /* mean relative layer output error on the calibration data */
    double rel_err_rtn; /* the same for round-to-nearest */
    double seconds;
    char calib_sha256[65];
} bnc_ptq_result;

/* Quantizes the linear layers (blk.N.attn_q/k/v/output, ffn_gate/up/down)
 * of a GGUF model with bnc train's layout (llama or bitnet, f32 or f16
 * weights) with GPTQ or AWQ calibrated on o->calib (byte-level tokens,
 * BOS first), keeping every other tensor (AWQ: norms divided by the scales,
 * stored f32) and every metadata key, plus bnc.quantize.* provenance keys.
 * BNC_ENOTSUP for another layout, BNC_EINVAL for a type PTQ does not
 * handle, BNC_EIO/BNC_EFORMAT naming the file. */
int bnc_ptq_quantize_file(const bnc_ptq_opts *o, bnc_ptq_result *res, bnc_err *err);

#endif
