/* Quantization schemes behind one table (as ggml's type_traits): a scheme is
 * a row with its name, block geometry, nominal bits per weight and the
 * functions that quantize a rows x cols f32 tensor into a byte buffer and
 * back. Kernels know nothing of MPI, files or databases. */
#ifndef BNC_KERNELS_H
#define BNC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

/* Parameters some schemes take; zero-initialise and set what applies. */
typedef struct bnc_qparams {
    int64_t group;     /* group size for per-group variants (0: scheme default) */
    double threshold;  /* zero threshold for sparse schemes (0: scheme default) */
    uint64_t seed;     /* stochastic schemes: (seed, stream) key the generator */
    uint64_t stream;
    int levels;        /* QSGD-style level count (0: default) */
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

struct bnc_scheme {
    const char *name;
    int ggml_type;       /* GGUF ggml_type id, -1 when GGUF cannot hold it */
    int64_t block;       /* weights per block; a row length must be a multiple of it */
    size_t block_bytes;  /* bytes per block (0 when the size is data dependent) */
    double bpw;          /* nominal bits per weight (data dependent: typical value) */
    bnc_qsize_fn qsize;
    bnc_quantize_fn quantize;
    bnc_dequantize_fn dequantize;
};

/* The scheme called name, or NULL. The table is static: never freed. */
const bnc_scheme *bnc_scheme_find(const char *name);
/* Number of schemes and the i-th one, for listing. */
size_t bnc_scheme_count(void);
const bnc_scheme *bnc_scheme_at(size_t i);

/* Returns BNC_ERANGE naming the first non-finite value of x[0..n), else 0. */
int bnc_check_finite(const float *x, int64_t n, bnc_err *err);

#endif
