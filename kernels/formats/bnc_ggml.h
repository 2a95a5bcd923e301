/* ggml's tensor types as the scheme table knows them: a scheme row per type
 * the kernels quantize (q8_0, q4_0, tq1_0, tq2_0 byte for byte as llama.cpp
 * writes them, see FORMATS.md; f32, f16, bf16), and a geometry-only row per
 * other type a GGUF file may carry (q4_1, the K types, integers, f64), so
 * modelio reads every ggml id and block size from the one table. */
#ifndef BNC_GGML_H
#define BNC_GGML_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_kernels.h"

/* The row of ggml type id (a scheme row, or a geometry-only row whose
 * functions are NULL), or NULL for a type we do not know. Static. */
const bnc_scheme *bnc_ggml_type(int id);
/* The row of ggml type name ("q5_K"), or NULL. */
const bnc_scheme *bnc_ggml_type_by_name(const char *name);
/* Number of ggml types known and the i-th one (scheme rows first). */
size_t bnc_ggml_type_count(void);
const bnc_scheme *bnc_ggml_type_at(size_t i);
/* The scheme-table row whose ggml_type is id and that quantizes, or NULL. */
const bnc_scheme *bnc_ggml_scheme(int id);
/* Weights per block and bytes per block of id (0 when unknown). */
int64_t bnc_ggml_block_size(int id);
size_t bnc_ggml_type_size(int id);
/* Bytes of a row of n weights of type id; 0 when id is unknown or n is not a
 * multiple of the block. */
size_t bnc_ggml_row_size(int id, int64_t n);

#endif
