/* ggml's block formats (q8_0, q4_0, tq1_0, tq2_0) byte for byte as llama.cpp
 * writes them (see FORMATS.md), plus the GGUF type ids and a type lookup, so
 * modelio can pack tensors (or row ranges of them) into GGUF files. */
#ifndef BNC_GGML_H
#define BNC_GGML_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_kernels.h"

/* GGUF ggml_type ids. */
enum {
    BNC_GGML_F32 = 0,
    BNC_GGML_F16 = 1,
    BNC_GGML_Q4_0 = 2,
    BNC_GGML_Q8_0 = 8,
    BNC_GGML_I8 = 24,
    BNC_GGML_BF16 = 30,
    BNC_GGML_TQ1_0 = 34,
    BNC_GGML_TQ2_0 = 35,
};

/* Block geometry. */
#define BNC_QK8_0 32
#define BNC_QK4_0 32
#define BNC_QK_K 256
#define BNC_Q8_0_BYTES 34  /* {fp16 d; int8 qs[32]} */
#define BNC_Q4_0_BYTES 18  /* {fp16 d; uint8 qs[16]} */
#define BNC_TQ1_0_BYTES 54 /* {uint8 qs[48]; uint8 qh[4]; fp16 d} */
#define BNC_TQ2_0_BYTES 66 /* {uint8 qs[64]; fp16 d} */

typedef struct bnc_ggml_type_info {
    int id;             /* ggml_type */
    const char *name;   /* ggml's name: "q4_0" */
    int64_t block;      /* weights per block */
    size_t type_size;   /* bytes per block */
    const char *scheme; /* bnc scheme row holding it, NULL when none (i8) */
} bnc_ggml_type_info;

/* Static description of ggml type id, or NULL for a type we do not know. */
const bnc_ggml_type_info *bnc_ggml_type(int id);
/* The scheme-table row whose ggml_type is id, or NULL. */
const bnc_scheme *bnc_ggml_scheme(int id);
/* Weights per block and bytes per block of id (0 when unknown). */
int64_t bnc_ggml_block_size(int id);
size_t bnc_ggml_type_size(int id);
/* Bytes of a row of n weights of type id; 0 when id is unknown or n is not a
 * multiple of the block. */
size_t bnc_ggml_row_size(int id, int64_t n);

/* Row quantizers: n weights (a multiple of the block) from x into n/block
 * blocks at dst (any alignment). Return 0, BNC_EINVAL when n is not a
 * multiple of the block, BNC_ERANGE naming the index (relative to x) of the
 * first NaN/Inf, or the first weight of a block whose scale overflows fp16.
 * Nothing is written past dst + bnc_ggml_row_size(type, n). */
int bnc_quantize_row_q8_0(const float *x, void *dst, int64_t n, bnc_err *err);
int bnc_quantize_row_q4_0(const float *x, void *dst, int64_t n, bnc_err *err);
int bnc_quantize_row_tq1_0(const float *x, void *dst, int64_t n, bnc_err *err);
int bnc_quantize_row_tq2_0(const float *x, void *dst, int64_t n, bnc_err *err);

/* Row dequantizers as ggml's: n weights (a multiple of the block) from
 * bnc_ggml_row_size(type, n) bytes at src. No validation (use the scheme's
 * dequantize for untrusted bytes). */
void bnc_dequantize_row_q8_0(const void *src, float *y, int64_t n);
void bnc_dequantize_row_q4_0(const void *src, float *y, int64_t n);
void bnc_dequantize_row_tq1_0(const void *src, float *y, int64_t n);
void bnc_dequantize_row_tq2_0(const void *src, float *y, int64_t n);

#endif
