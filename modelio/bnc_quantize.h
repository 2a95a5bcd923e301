/* Model quantization to GGUF, serial or under MPI: rank 0 plans (the output
 * header, every tensor's type and offset, and which rank does what: tensors
 * sorted by size and assigned greedily to balance input bytes, tensors above
 * a threshold split by rows across all ranks), every rank quantizes its share
 * and writes it with MPI_File_write_at at the planned offsets, and rank 0
 * writes the header last. Statistics of a whole tensor (absmean's mean |W|)
 * are agreed with MPI_Allreduce in a way that does not depend on the number
 * of ranks, so the output is byte-identical for any N. */
#ifndef BNC_QUANTIZE_H
#define BNC_QUANTIZE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_kernels.h"
#include "bnc_model.h"

#define BNC_QUANT_DEFAULT_SPLIT ((uint64_t)64 << 20)
#define BNC_QUANT_BITNET_EPS 1e-5f

/* A device quantizer put in place of the scheme table's quantize for row
 * slabs (bnc quantize --device gpu): same arguments and the same bytes.
 * BNC_ENOTSUP means "not on this device": the slab is done on the CPU. */
typedef int (*bnc_quant_device_fn)(void *ctx, const bnc_scheme *s, const bnc_qparams *p,
                                   const float *x, int64_t rows, int64_t cols, void *dst,
                                   size_t cap, size_t *written, bnc_err *err);

typedef struct bnc_quant_opts {
    const char *type;              /* f32, f16, bf16, q8_0, q4_0, tq1_0, tq2_0 or bitnet */
    const char *pack;              /* bitnet's container: "tq2_0" (NULL) or "tq1_0" */
    size_t n_overrides;            /* per-name rules, first match wins, before the default policy */
    const char *const *ov_pattern; /* fnmatch(3) patterns on the tensor name */
    const char *const *ov_type;    /* a type above or "keep" */
    uint64_t split_bytes;          /* split tensors with more input bytes than this (0: 64 MiB) */
    uint64_t chunk_bytes;          /* f32 working set per step (0: 8 MiB) */
    int metrics;                   /* compute per-tensor error metrics (dequantize and compare) */
    int progress;                  /* rank 0 prints progress lines on stderr */
    const char *version;           /* bnc.version written to the output (NULL: "unknown") */
    bnc_quant_device_fn device;    /* NULL: the CPU table's quantize */
    void *device_ctx;
} bnc_quant_opts;

/* One output tensor of the plan. */
typedef struct bnc_quant_item {
    uint32_t src;      /* index of the input tensor */
    uint32_t out_type; /* ggml type written */
    int32_t ternarize; /* 1: absmean-ternarize before packing (bitnet) */
    int32_t owner;     /* the rank that does it, -1 when split across all */
    int64_t rows, cols;
    uint64_t out_offset; /* absolute offset in the output file */
    uint64_t out_row_bytes;
    uint64_t in_bytes;
    char reason[24]; /* why it was kept or changed ("1-D", "norm", "override", ...) */
} bnc_quant_item;

typedef struct bnc_quant_plan {
    int n_ranks;
    size_t n;
    bnc_quant_item *items; /* in the input's (and output's) tensor order */
    bnc_gguf *out;         /* the output header (rank 0 only; NULL elsewhere) */
    uint64_t file_size;
    uint64_t *load; /* planned input bytes per rank */
} bnc_quant_plan;

/* Decides the output type of tensor t under o: overrides first, then the
 * default policy (1-D tensors, norms, embeddings and the output matrix stay
 * in their precision; so does anything whose row length the target's block
 * does not divide). Writes the type, whether to ternarize and a short reason
 * (empty when the tensor simply takes the target). BNC_EINVAL for an unknown
 * type name. */
int bnc_quant_choose(const bnc_model_tensor *t, const bnc_quant_opts *o, uint32_t *type,
                     int *ternarize, char reason[24], bnc_err *err);

/* Builds the whole plan for n_ranks ranks (the output header with metadata
 * copied from a GGUF input plus provenance keys; the source hash is left as
 * 32 zeros for the caller to fill). *out is the caller's. */
int bnc_quant_plan_build(const bnc_model *m, const bnc_quant_opts *o, int n_ranks,
                         bnc_quant_plan **out, bnc_err *err);
void bnc_quant_plan_free(bnc_quant_plan *p);

/* The contiguous rows [*r0, *r1) of a split tensor that rank r does. */
void bnc_quant_split_rows(int64_t rows, int n_ranks, int rank, int64_t *r0, int64_t *r1);

/* Per-tensor error of the written tensor against its input. */
typedef struct bnc_quant_metric {
    double mse, rel_rmse, sqnr_db, cosine, max_abs, sparsity;
} bnc_quant_metric;

typedef struct bnc_quant_result {
    size_t n;
    bnc_quant_metric *metrics; /* rank 0, when opts.metrics */
    char source_hash[33];
    uint64_t in_bytes, out_bytes;
    double seconds; /* wall time of the whole run (rank 0) */
} bnc_quant_result;

/* Quantizes in_path into out_path over every rank of comm (collective). The
 * file is written to a temporary file beside out_path and renamed by rank 0
 * at the end (common/bnc_out.h: an out_path that is an input, or exists and
 * is not a regular file, is refused with BNC_EINVAL before anything is
 * written). On
 * rank 0 *plan_out (may be NULL) receives the plan and res the metrics; the
 * caller frees them (bnc_quant_plan_free, bnc_quant_result_free). Every rank
 * returns the same status and message (the first failing rank's). */
int bnc_quantize_run(MPI_Comm comm, const char *in_path, const char *out_path,
                     const bnc_quant_opts *o, bnc_quant_plan **plan_out, bnc_quant_result *res,
                     bnc_err *err);
void bnc_quant_result_free(bnc_quant_result *r);

/* The source hash of a model's files: zlib crc32 of every 16 MiB chunk,
 * chunks shared round-robin among ranks, then a 128-bit hash of the list.
 * Collective; the same value for any number of ranks. */
int bnc_quant_source_hash(MPI_Comm comm, const bnc_model *m, char hex[33], bnc_err *err);

/* The llama.cpp file type (general.file_type) of a target type name. */
int bnc_quant_llama_ftype(const char *type, const char *pack);

#endif
