/* ggml type ids -> geometry and scheme rows. */
#include "bnc_ggml.h"

#include "qimpl.h"

static const bnc_ggml_type_info types[] = {
    {BNC_GGML_F32, "f32", 1, 4, "f32"},
    {BNC_GGML_F16, "f16", 1, 2, "f16"},
    {BNC_GGML_Q4_0, "q4_0", BNC_QK4_0, BNC_Q4_0_BYTES, "q4_0"},
    {BNC_GGML_Q8_0, "q8_0", BNC_QK8_0, BNC_Q8_0_BYTES, "q8_0"},
    {BNC_GGML_I8, "i8", 1, 1, NULL},
    {BNC_GGML_BF16, "bf16", 1, 2, "bf16"},
    {BNC_GGML_TQ1_0, "tq1_0", BNC_QK_K, BNC_TQ1_0_BYTES, "tq1_0"},
    {BNC_GGML_TQ2_0, "tq2_0", BNC_QK_K, BNC_TQ2_0_BYTES, "tq2_0"},
};

const bnc_ggml_type_info *bnc_ggml_type(int id)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].id == id) return &types[i];
    return NULL;
}

const bnc_scheme *bnc_ggml_scheme(int id)
{
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        const bnc_scheme *s = bnc_scheme_at(i);
        if (s->ggml_type == id && id >= 0) return s;
    }
    return NULL;
}

int64_t bnc_ggml_block_size(int id)
{
    const bnc_ggml_type_info *t = bnc_ggml_type(id);
    return t ? t->block : 0;
}

size_t bnc_ggml_type_size(int id)
{
    const bnc_ggml_type_info *t = bnc_ggml_type(id);
    return t ? t->type_size : 0;
}

size_t bnc_ggml_row_size(int id, int64_t n)
{
    const bnc_ggml_type_info *t = bnc_ggml_type(id);
    if (!t || n < 0 || n % t->block != 0) return 0;
    return (size_t)(n / t->block) * t->type_size;
}
