/* One view of a model whatever its file format: a safetensors file, a sharded
 * safetensors checkpoint (model.safetensors.index.json) or a GGUF file. The
 * tensors point into the files' mappings (zero copy). */
#ifndef BNC_MODEL_H
#define BNC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_gguf.h"
#include "bnc_mfile.h"
#include "bnc_safetensors.h"

enum { BNC_MODEL_SAFETENSORS = 1, BNC_MODEL_GGUF = 2 };

typedef struct bnc_model_tensor {
    const char *name;
    uint32_t type;   /* ggml type id (BNC_TYPE_U8 for safetensors' U8) */
    uint32_t n_dims; /* 1..4 (safetensors: scalars are 1-D, > 4 dims folded into ne[3]) */
    int64_t ne[BNC_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the contiguous row */
    int64_t cols, rows;            /* ne[0] and the product of the others */
    uint64_t nbytes;
    uint64_t offset; /* absolute offset in its file */
    size_t file;     /* index into files[] */
    const uint8_t *data;
} bnc_model_tensor;

typedef struct bnc_model {
    int format;
    char *path;
    size_t n_files;
    bnc_mfile **files;
    bnc_safetensors **st; /* per file, safetensors only */
    bnc_gguf *gguf;       /* GGUF only */
    size_t n_tensors;
    bnc_model_tensor *tensors;
} bnc_model;

/* Opens path (format from its magic; a path ending in ".json" is a sharded
 * index whose shards live beside it) through cache (NULL: open directly).
 * On success *out is the caller's (bnc_model_free). Bad files fail with
 * BNC_EFORMAT/BNC_EVERSION and "file: field: problem"; I/O with BNC_EIO. */
int bnc_model_open(const char *path, bnc_mcache *cache, bnc_model **out, bnc_err *err);
void bnc_model_free(bnc_model *m);

/* Index of the tensor called name, or -1. */
long bnc_model_find(const bnc_model *m, const char *name);

/* Converts rows [row0, row0+nrows) of tensor i to f32 in out (nrows * cols
 * floats): plain types are converted, ggml block types are dequantized with
 * the kernels' scheme table. BNC_ENOTSUP when no scheme can read the type. */
int bnc_model_rows_f32(const bnc_model *m, size_t i, int64_t row0, int64_t nrows, float *out,
                       bnc_err *err);

/* Bytes of one row of tensor i in its own type. */
uint64_t bnc_model_row_bytes(const bnc_model *m, size_t i);

#endif
