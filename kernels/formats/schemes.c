/* The scheme table. Adding a scheme adds a row here and its functions in a
 * file of their own. */
#include "bnc_kernels.h"

#include <math.h>
#include <string.h>

#include "schemes_impl.h"
#include "bnc_ggml.h"
#include "qimpl.h"
#include "gemv_impl.h"

static const bnc_scheme table[] = {
    {"f32", 0, 1, 4, 32.0, bnc_f32_qsize, bnc_f32_quantize, bnc_f32_dequantize},
    {"bitnet", -1, 1, 0, 2.0, bnc_bitnet_qsize, bnc_bitnet_quantize, bnc_bitnet_dequantize},
    {"bitnet-row", -1, 1, 0, 2.0, bnc_bitnet_row_qsize, bnc_bitnet_row_quantize,
     bnc_bitnet_row_dequantize},
    {"bitnet-group", -1, 1, 0, 2.0, bnc_bitnet_group_qsize, bnc_bitnet_group_quantize,
     bnc_bitnet_group_dequantize},
    /* Quantizer rows (designated initializers: fields may be added). */
#define QROW(NAME, GGML, BLOCK, BYTES, BPW, FN)                                                    \
    {.name = NAME, .ggml_type = GGML, .block = BLOCK, .block_bytes = BYTES, .bpw = BPW,            \
     .qsize = bnc_##FN##_qsize, .quantize = bnc_##FN##_quantize,                                   \
     .dequantize = bnc_##FN##_dequantize}
    QROW("f16", BNC_GGML_F16, 1, 2, 16.0, f16),
    QROW("bf16", BNC_GGML_BF16, 1, 2, 16.0, bf16),
    QROW("q8_0", BNC_GGML_Q8_0, 32, 34, 8.5, q8_0),
    QROW("q4_0", BNC_GGML_Q4_0, 32, 18, 4.5, q4_0),
    QROW("tq1_0", BNC_GGML_TQ1_0, 256, 54, 1.6875, tq1_0),
    QROW("tq2_0", BNC_GGML_TQ2_0, 256, 66, 2.0625, tq2_0),
    QROW("int8", -1, 1, 0, 8.0, int8),         /* + one f32 scale per row */
    QROW("int4", -1, 1, 0, 4.5, int4),         /* group 32: + fp16 scale per group */
    QROW("int2", -1, 1, 0, 2.5, int2),         /* group 32: + fp16 scale per group */
    QROW("ternary-stochastic", -1, 1, 0, 2.0, tstoch),
    /* sparse: data dependent; typical bpw for N(0,1) 4096x4096, default threshold */
    QROW("sparse-csr", -1, 1, 0, 11.7, sparse_csr),
    QROW("sparse-coo", -1, 1, 0, 22.8, sparse_coo),
    QROW("sparse-ell", -1, 1, 0, 12.8, sparse_ell),
    QROW("sparse-dia", -1, 1, 0, 4.0, sparse_dia),
    QROW("sparse-auto", -1, 1, 0, 4.0, sparse_auto),
    QROW("ternary-entropy", -1, 1, 0, 1.58, tentropy), /* ~ codes entropy, N(0,1) */
#undef QROW
};

const bnc_scheme *bnc_scheme_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

size_t bnc_scheme_count(void) { return sizeof table / sizeof table[0]; }

const bnc_scheme *bnc_scheme_at(size_t i)
{
    return i < bnc_scheme_count() ? &table[i] : NULL;
}

int bnc_check_finite(const float *x, int64_t n, bnc_err *err)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return bnc_err_set(err, BNC_ERANGE, "non-finite value %g at index %lld", (double)x[i],
                               (long long)i);
    return 0;
}
