/* Quantization schemes behind one table (as ggml's type_traits and
 * type_traits_cpu): a scheme is a row with its name, ggml type id, block
 * geometry, nominal bits per weight, the functions that quantize a
 * rows x cols f32 tensor (and, for block schemes, one row) into bytes and
 * back, and its GEMV kernel for each instruction set. The table
 * (kernels/schemes.c) is the only place that states a scheme's ggml id and
 * geometry. Kernels know nothing of MPI, files or databases. */
#ifndef BNC_KERNELS_H
#define BNC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_isa.h"

/* Parameters some schemes take; zero-initialise and set what applies. */
typedef struct bnc_qparams {
    int64_t group;    /* group size for per-group variants (0: scheme default) */
    double threshold; /* zero threshold for sparse schemes (0: scheme default) */
    uint64_t seed;    /* stochastic schemes: (seed, stream) key the generator */
    uint64_t stream;
    int levels; /* QSGD-style level count (0: default) */
} bnc_qparams;

typedef struct bnc_scheme bnc_scheme;

/* Upper bound of the quantized size in bytes of a rows x cols tensor. */
typedef size_t (*bnc_qsize_fn)(int64_t rows, int64_t cols, const bnc_qparams *p);
/* Quantizes x (rows x cols, row-major) into dst (cap bytes), sets *written.
 * Fails with BNC_ERANGE naming the index of the first NaN/Inf, BNC_EINVAL for
 * a shape the scheme cannot hold. */
typedef int (*bnc_quantize_fn)(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                               void *dst, size_t cap, size_t *written, bnc_err *err);
/* Dequantizes n bytes of src into y (rows x cols). */
typedef int (*bnc_dequantize_fn)(const void *src, size_t n, int64_t rows, int64_t cols,
                                 const bnc_qparams *p, float *y, bnc_err *err);

/* Block schemes: quantizes n weights (a multiple of the block) from x into
 * n / block blocks at dst (any alignment); BNC_EINVAL when n is not a
 * multiple of the block, BNC_ERANGE naming the index (relative to x) of the
 * first NaN/Inf or the first weight of a block whose scale overflows. */
typedef int (*bnc_quantize_row_fn)(const float *x, void *dst, int64_t n, bnc_err *err);
/* Block schemes: dequantizes n weights from n / block blocks at src, as
 * ggml's to_float; no validation (see bnc_check_block_fn). */
typedef void (*bnc_dequantize_row_fn)(const void *src, float *y, int64_t n);
/* Block schemes: NULL when the block at blk can be decoded, else what is
 * wrong with it ("non-finite scale"), for untrusted bytes. */
typedef const char *(*bnc_check_block_fn)(const uint8_t *blk);

/* GEMV row kernel: rows [r0, r1) of one GEMV call (kernels/gemv/gemv_impl.h). */
struct bnc_gemv_job;
typedef void (*bnc_rows_fn)(const struct bnc_gemv_job *j, int64_t r0, int64_t r1);

/* How a GEMV reads a scheme's bytes (the row's layout). */
enum {
    BNC_LAYOUT_NONE = 0,   /* no GEMV */
    BNC_LAYOUT_BLOCKS = 1, /* rows of block_bytes blocks (ggml types) */
    BNC_LAYOUT_BITNET = 2, /* rows of 2-bit codes, then f32 scales (bitnet.c) */
};
/* The bitnet scale modes: `bitnet`, `bitnet-row`, `bitnet-group`. */
enum { BNC_BITNET_TENSOR = 0, BNC_BITNET_ROW = 1, BNC_BITNET_GROUP = 2 };

struct bnc_scheme {
    const char *name;   /* also ggml's type name where ggml_type >= 0 */
    int ggml_type;      /* GGUF ggml_type id, -1 when GGUF cannot hold it */
    int64_t block;      /* weights per block; a row length must be a multiple of it */
    size_t block_bytes; /* bytes per block (0 when the size is data dependent) */
    double bpw;         /* nominal bits per weight (data dependent: typical value) */
    int is_float;       /* plain floating point (f32, f16, bf16, f64) */
    /* tensor functions; NULL only in the rows of ggml types that no scheme
     * quantizes (bnc_ggml_type), which are not listed by bnc_scheme_at */
    bnc_qsize_fn qsize;
    bnc_quantize_fn quantize;
    bnc_dequantize_fn dequantize;
    /* block schemes (block_bytes > 0): one row, and the block check */
    bnc_quantize_row_fn quantize_row;
    bnc_dequantize_row_fn dequantize_row;
    bnc_check_block_fn check_block;
    /* GEMV: layout, bitnet scale mode, whether the kernels read the sum of
     * the activations over each block (kernels that multiply unsigned
     * codes), and the row kernel per instruction set: gemv[BNC_ISA_SCALAR]
     * is the reference (NULL: no GEMV); a NULL entry for another set falls
     * back to bnc_isa_fallback's. */
    int layout;
    int bitnet_mode;
    int block_xsums;
    bnc_rows_fn gemv[BNC_ISA_COUNT];
};

/* The scheme called name, or NULL. The table is static: never freed. */
const bnc_scheme *bnc_scheme_find(const char *name);
/* Number of schemes and the i-th one, for listing. */
size_t bnc_scheme_count(void);
const bnc_scheme *bnc_scheme_at(size_t i);

/* The generic tensor functions of a block scheme s (block_bytes > 0): the
 * shape check (cols a multiple of the block), buffer sizes, and the row
 * functions over rows * cols weights; dequantize checks every block with
 * s->check_block. The rows of block schemes point at these. */
size_t bnc_blocks_qsize(const bnc_scheme *s, int64_t rows, int64_t cols);
int bnc_blocks_quantize(const bnc_scheme *s, const float *x, int64_t rows, int64_t cols, void *dst,
                        size_t cap, size_t *written, bnc_err *err);
int bnc_blocks_dequantize(const bnc_scheme *s, const void *src, size_t n, int64_t rows,
                          int64_t cols, float *y, bnc_err *err);

/* Returns BNC_ERANGE naming the first non-finite value of x[0..n), else 0. */
int bnc_check_finite(const float *x, int64_t n, bnc_err *err);

#endif
