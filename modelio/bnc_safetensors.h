/* safetensors: header parsing (jansson) with every offset checked, sharded
 * index files (model.safetensors.index.json), and a small writer used by the
 * synthetic model generator and tests. Layout: ../shared/FORMATS.md. */
#ifndef BNC_SAFETENSORS_H
#define BNC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_ST_MAX_DIMS 8
/* Largest header we accept (the reference implementation's limit). */
#define BNC_ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct bnc_st_tensor {
    char *name;
    uint32_t type; /* ggml type id: F32 0, F16 1, BF16 30, I8 24, F64 28, ...; U8 BNC_TYPE_U8 */
    int n_dims;
    int64_t shape[BNC_ST_MAX_DIMS]; /* row-major: shape[n_dims-1] is contiguous */
    uint64_t begin, end;            /* absolute file offsets of the data */
} bnc_st_tensor;

typedef struct bnc_safetensors {
    uint64_t header_len; /* N */
    uint64_t data_start; /* 8 + N */
    size_t n_tensors;
    bnc_st_tensor *tensors; /* in the header's order */
    size_t n_meta;
    char **meta_keys, **meta_values; /* __metadata__ */
} bnc_safetensors;

/* The ggml type id of a safetensors dtype string ("BF16"), or -1. */
int bnc_st_dtype_type(const char *dtype);
/* The safetensors dtype string of a ggml type id, or NULL when none. */
const char *bnc_st_type_dtype(uint32_t type);

/* Parses the header of a safetensors file held in buf[0..size) and checks
 * every tensor: known dtype, shape product * dtype size == byte length,
 * offsets inside the file, no two tensors overlapping. `fname` names the
 * file in messages ("fname: tensor 'x': data_offsets: ..."). On success *out
 * is the caller's (bnc_st_free). Fails with BNC_EFORMAT or BNC_ENOMEM. */
int bnc_st_parse(const void *buf, size_t size, const char *fname, bnc_safetensors **out,
                 bnc_err *err);
void bnc_st_free(bnc_safetensors *st);

/* A parsed model.safetensors.index.json: for each tensor, its shard. */
typedef struct bnc_st_index {
    size_t n; /* weight_map entries, in the file's order */
    char **names;
    size_t *shard; /* index into shards[] */
    size_t n_shards;
    char **shards; /* distinct shard file names, first-seen order */
} bnc_st_index;

/* Parses an index JSON held in buf[0..size). Shard names must be plain file
 * names (no '/', not "." or ".."). */
int bnc_st_index_parse(const void *buf, size_t size, const char *fname, bnc_st_index **out,
                       bnc_err *err);
void bnc_st_index_free(bnc_st_index *ix);

/* Streaming writer: the header is written first from a complete list of
 * tensors, then the data tensor by tensor in that order. */
typedef struct bnc_st_writer bnc_st_writer;
typedef struct bnc_st_spec {
    const char *name;
    uint32_t type;
    int n_dims;
    const int64_t *shape; /* row-major */
} bnc_st_spec;

/* Creates path and writes the header (padded with spaces to a multiple of 8
 * as the reference writer does). meta: n_meta key/value strings. */
int bnc_st_writer_open(const char *path, const bnc_st_spec *specs, size_t n,
                       const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                       bnc_st_writer **out, bnc_err *err);
/* Appends n bytes of the current tensor's data. */
int bnc_st_writer_write(bnc_st_writer *w, const void *data, size_t n, bnc_err *err);
/* Checks every byte was written and closes; frees w in any case. */
int bnc_st_writer_close(bnc_st_writer *w, bnc_err *err);

#endif
