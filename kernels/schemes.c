/* The scheme table, in the manner of ggml's type_traits and
 * type_traits_cpu: one row per scheme with its name, ggml id, block
 * geometry, bits per weight, tensor and row functions and GEMV kernel per
 * instruction set. This file is the only place that states a ggml id or a
 * block size; everything else (modelio's GGUF reader, the GEMV, the
 * benchmarks) reads them from here.
 *
 * Adding a block scheme: its file (formats/NAME.c: quantize_row,
 * dequantize_row, check_block, and a scalar GEMV), its row below (with the
 * declarations), and its test. */
#include "bnc_kernels.h"

#include <math.h>
#include <string.h>

#include "bnc_fp16.h"
#include "gemv_impl.h"
#include "qimpl.h"
#include "schemes_impl.h"

/* GEMV kernels that exist only in some builds. */
#ifdef BNC_HAVE_X86
#define X86(fn) fn
#else
#define X86(fn) NULL
#endif
#ifdef BNC_HAVE_NEON
#define NEON(fn) fn
#else
#define NEON(fn) NULL
#endif

/* A block scheme's tensor functions: the generic ones (blocks.c) on its
 * row R (declared here, defined below). */
#define BLOCK_TENSOR_FNS(R)                                                                        \
    static const bnc_scheme R;                                                                     \
    static size_t R##_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)                      \
    {                                                                                              \
        (void)p;                                                                                   \
        return bnc_blocks_qsize(&R, rows, cols);                                                   \
    }                                                                                              \
    static int R##_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,      \
                            void *dst, size_t cap, size_t *written, bnc_err *err)                  \
    {                                                                                              \
        (void)p;                                                                                   \
        return bnc_blocks_quantize(&R, x, rows, cols, dst, cap, written, err);                     \
    }                                                                                              \
    static int R##_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,               \
                              const bnc_qparams *p, float *y, bnc_err *err)                        \
    {                                                                                              \
        (void)p;                                                                                   \
        return bnc_blocks_dequantize(&R, src, n, rows, cols, y, err);                              \
    }
/* The function fields of block scheme row R with row functions of T. */
#define BLOCK_FNS(R, QROW, DQROW, CHECK)                                                           \
    .qsize = R##_qsize, .quantize = R##_quantize, .dequantize = R##_dequantize,                    \
    .quantize_row = QROW, .dequantize_row = DQROW, .check_block = CHECK
#define GGML_FNS(R, T)                                                                             \
    BLOCK_FNS(R, bnc_quantize_row_##T, bnc_dequantize_row_##T, bnc_check_block_##T)
/* Rows of the other schemes: the three functions of FN. */
#define TENSOR_FNS(FN)                                                                             \
    .qsize = bnc_##FN##_qsize, .quantize = bnc_##FN##_quantize, .dequantize = bnc_##FN##_dequantize
/* The GEMV kernels of the shared families, per instruction set. */
#define GEMV(K)                                                                                    \
    .gemv = {[BNC_ISA_SCALAR] = bnc_scalar_##K##_rows,                                             \
             [BNC_ISA_AVX2] = X86(bnc_avx2_##K##_rows),                                            \
             [BNC_ISA_AVX512] = X86(bnc_avx512_##K##_rows),                                        \
             [BNC_ISA_NEON] = NEON(bnc_neon_##K##_rows)}
/* The same, with the AVX2 kernel in the AVX-512 slot too: for the schemes
 * whose AVX2 kernel is the faster one on AVX-512 machines (measured on a
 * Sapphire Rapids VM, idle, 1 thread, 4096x4096..11008x4096, ratio to read
 * bandwidth, AVX-512 -> AVX2: bitnet-group 0.38-0.46 -> 0.93-1.05, tq1_0
 * 0.20-0.32 -> 0.42-0.45, q8_0 0.70-0.72 -> 1.16-1.32, q4_0 0.50-0.51 ->
 * 0.72-1.14). Results are bitwise the same on every ISA. */
#define GEMV_AVX2_ON_AVX512(K)                                                                     \
    .gemv = {[BNC_ISA_SCALAR] = bnc_scalar_##K##_rows,                                             \
             [BNC_ISA_AVX2] = X86(bnc_avx2_##K##_rows),                                            \
             [BNC_ISA_AVX512] = X86(bnc_avx2_##K##_rows),                                          \
             [BNC_ISA_NEON] = NEON(bnc_neon_##K##_rows)}

/* ---- floating point ---------------------------------------------------- */

int bnc_quantize_row_f32(const float *x, void *dst, int64_t n, bnc_err *err);
void bnc_dequantize_row_f32(const void *src, float *y, int64_t n);
BLOCK_TENSOR_FNS(f32)
static const bnc_scheme f32 = {.name = "f32",
                               .ggml_type = 0,
                               .block = 1,
                               .block_bytes = 4,
                               .bpw = 32.0,
                               .is_float = 1,
                               BLOCK_FNS(f32, bnc_quantize_row_f32, bnc_dequantize_row_f32, NULL)};

int bnc_quantize_row_f16(const float *x, void *dst, int64_t n, bnc_err *err);
const char *bnc_check_block_f16(const uint8_t *blk);
BLOCK_TENSOR_FNS(f16)
static const bnc_scheme f16 = {
    .name = "f16",
    .ggml_type = 1,
    .block = 1,
    .block_bytes = 2,
    .bpw = 16.0,
    .is_float = 1,
    BLOCK_FNS(f16, bnc_quantize_row_f16, bnc_f16_to_f32_row, bnc_check_block_f16)};

int bnc_quantize_row_bf16(const float *x, void *dst, int64_t n, bnc_err *err);
const char *bnc_check_block_bf16(const uint8_t *blk);
BLOCK_TENSOR_FNS(bf16)
static const bnc_scheme bf16 = {
    .name = "bf16",
    .ggml_type = 30,
    .block = 1,
    .block_bytes = 2,
    .bpw = 16.0,
    .is_float = 1,
    BLOCK_FNS(bf16, bnc_quantize_row_bf16, bnc_bf16_to_f32_row, bnc_check_block_bf16)};

/* ---- bitnet (2-bit codes + f32 scales, bitnet.c) ------------------------- */

static const bnc_scheme bitnet = {.name = "bitnet",
                                  .ggml_type = -1,
                                  .block = 1,
                                  .bpw = 2.0,
                                  TENSOR_FNS(bitnet),
                                  .layout = BNC_LAYOUT_BITNET,
                                  .bitnet_mode = BNC_BITNET_TENSOR,
                                  GEMV(bitnet)};
static const bnc_scheme bitnet_row = {.name = "bitnet-row",
                                      .ggml_type = -1,
                                      .block = 1,
                                      .bpw = 2.0,
                                      TENSOR_FNS(bitnet_row),
                                      .layout = BNC_LAYOUT_BITNET,
                                      .bitnet_mode = BNC_BITNET_ROW,
                                      GEMV(bitnet)};
static const bnc_scheme bitnet_group = {.name = "bitnet-group",
                                        .ggml_type = -1,
                                        .block = 1,
                                        .bpw = 2.0,
                                        TENSOR_FNS(bitnet_group),
                                        .layout = BNC_LAYOUT_BITNET,
                                        .bitnet_mode = BNC_BITNET_GROUP,
                                        GEMV_AVX2_ON_AVX512(bitnet)};

/* ---- ggml blocks (FORMATS.md) ---------------------------------------------- */

BNC_BLOCK_DECL(q8_0);
BLOCK_TENSOR_FNS(q8_0)
static const bnc_scheme q8_0 = {.name = "q8_0",
                                .ggml_type = 8,
                                .block = 32,
                                .block_bytes = 34,
                                .bpw = 8.5,
                                GGML_FNS(q8_0, q8_0),
                                .layout = BNC_LAYOUT_BLOCKS,
                                GEMV_AVX2_ON_AVX512(q8_0)};

BNC_BLOCK_DECL(q4_0);
BLOCK_TENSOR_FNS(q4_0)
static const bnc_scheme q4_0 = {.name = "q4_0",
                                .ggml_type = 2,
                                .block = 32,
                                .block_bytes = 18,
                                .bpw = 4.5,
                                GGML_FNS(q4_0, q4_0),
                                .layout = BNC_LAYOUT_BLOCKS,
                                GEMV_AVX2_ON_AVX512(q4_0)};

BNC_BLOCK_DECL(tq1_0);
BLOCK_TENSOR_FNS(tq1_0)
static const bnc_scheme tq1_0 = {.name = "tq1_0",
                                 .ggml_type = 34,
                                 .block = 256,
                                 .block_bytes = 54,
                                 .bpw = 1.6875,
                                 GGML_FNS(tq1_0, tq1_0),
                                 .layout = BNC_LAYOUT_BLOCKS,
                                 .block_xsums = 1,
                                 GEMV_AVX2_ON_AVX512(tq1_0)};

BNC_BLOCK_DECL(tq2_0);
BLOCK_TENSOR_FNS(tq2_0)
static const bnc_scheme tq2_0 = {.name = "tq2_0",
                                 .ggml_type = 35,
                                 .block = 256,
                                 .block_bytes = 66,
                                 .bpw = 2.0625,
                                 GGML_FNS(tq2_0, tq2_0),
                                 .layout = BNC_LAYOUT_BLOCKS,
                                 .block_xsums = 1,
                                 GEMV(tq2_0)};

/* ---- other schemes (no GEMV; sizes data dependent) -------------------------- */

#define OTHER(VAR, NAME, BPW, FN)                                                                  \
    static const bnc_scheme VAR = {                                                                \
        .name = NAME, .ggml_type = -1, .block = 1, .bpw = BPW, TENSOR_FNS(FN)}
OTHER(int8, "int8", 8.0, int8); /* + one f32 scale per row */
OTHER(int4, "int4", 4.5, int4); /* group 32: + fp16 scale per group */
OTHER(int2, "int2", 2.5, int2); /* group 32: + fp16 scale per group */
OTHER(tstoch, "ternary-stochastic", 2.0, tstoch);
/* sparse: data dependent; typical bpw for N(0,1) 4096x4096, default threshold */
OTHER(sparse_csr, "sparse-csr", 11.7, sparse_csr);
OTHER(sparse_coo, "sparse-coo", 22.8, sparse_coo);
OTHER(sparse_ell, "sparse-ell", 12.8, sparse_ell);
OTHER(sparse_dia, "sparse-dia", 4.0, sparse_dia);
OTHER(sparse_auto, "sparse-auto", 4.0, sparse_auto);
OTHER(tentropy, "ternary-entropy", 1.58, tentropy); /* ~ codes entropy, N(0,1) */

/* The listing order (bnc_scheme_at), one row a line. */
/* clang-format off */
static const bnc_scheme *const table[] = {
    &f32,
    &bitnet,
    &bitnet_row,
    &bitnet_group,
    &f16,
    &bf16,
    &q8_0,
    &q4_0,
    &tq1_0,
    &tq2_0,
    &int8,
    &int4,
    &int2,
    &tstoch,
    &sparse_csr,
    &sparse_coo,
    &sparse_ell,
    &sparse_dia,
    &sparse_auto,
    &tentropy,
};
/* clang-format on */

/* ---- ggml types no scheme quantizes: geometry only, for GGUF readers ------- */

#define GGML_ONLY(NAME, ID, BLOCK, BYTES, FLOAT)                                                   \
    {                                                                                              \
        .name = NAME, .ggml_type = ID, .block = BLOCK, .block_bytes = BYTES,                       \
        .bpw = 8.0 * (BYTES) / (BLOCK), .is_float = FLOAT                                          \
    }
/* clang-format off */
static const bnc_scheme ggml_only[] = {
    GGML_ONLY("q4_1", 3, 32, 20, 0),
    GGML_ONLY("q5_0", 6, 32, 22, 0),
    GGML_ONLY("q5_1", 7, 32, 24, 0),
    GGML_ONLY("q8_1", 9, 32, 36, 0),
    GGML_ONLY("q2_K", 10, 256, 84, 0),
    GGML_ONLY("q3_K", 11, 256, 110, 0),
    GGML_ONLY("q4_K", 12, 256, 144, 0),
    GGML_ONLY("q5_K", 13, 256, 176, 0),
    GGML_ONLY("q6_K", 14, 256, 210, 0),
    GGML_ONLY("q8_K", 15, 256, 292, 0),
    GGML_ONLY("i8", 24, 1, 1, 0),
    GGML_ONLY("i16", 25, 1, 2, 0),
    GGML_ONLY("i32", 26, 1, 4, 0),
    GGML_ONLY("i64", 27, 1, 8, 0),
    GGML_ONLY("f64", 28, 1, 8, 1),
};
/* clang-format on */

const bnc_scheme *bnc_scheme_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i]->name, name) == 0) return table[i];
    return NULL;
}

size_t bnc_scheme_count(void)
{
    return sizeof table / sizeof table[0];
}

const bnc_scheme *bnc_scheme_at(size_t i)
{
    return i < bnc_scheme_count() ? table[i] : NULL;
}

size_t bnc_ggml_only_count(void)
{
    return sizeof ggml_only / sizeof ggml_only[0];
}

const bnc_scheme *bnc_ggml_only_at(size_t i)
{
    return i < bnc_ggml_only_count() ? &ggml_only[i] : NULL;
}

int bnc_check_finite(const float *x, int64_t n, bnc_err *err)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return bnc_err_set(err, BNC_ERANGE, "non-finite value %g at index %lld", (double)x[i],
                               (long long)i);
    return 0;
}
