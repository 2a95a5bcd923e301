/* ggml type ids -> rows of the scheme table (see bnc_ggml.h). */
#include "bnc_ggml.h"

#include <string.h>

#include "schemes_impl.h"

size_t bnc_ggml_type_count(void)
{
    return bnc_scheme_count() + bnc_ggml_only_count();
}

const bnc_scheme *bnc_ggml_type_at(size_t i)
{
    size_t n = bnc_scheme_count();
    if (i < n) return bnc_scheme_at(i)->ggml_type >= 0 ? bnc_scheme_at(i) : NULL;
    return bnc_ggml_only_at(i - n);
}

const bnc_scheme *bnc_ggml_type(int id)
{
    if (id < 0) return NULL;
    for (size_t i = 0; i < bnc_ggml_type_count(); i++) {
        const bnc_scheme *s = bnc_ggml_type_at(i);
        if (s && s->ggml_type == id) return s;
    }
    return NULL;
}

const bnc_scheme *bnc_ggml_type_by_name(const char *name)
{
    for (size_t i = 0; i < bnc_ggml_type_count(); i++) {
        const bnc_scheme *s = bnc_ggml_type_at(i);
        if (s && strcmp(s->name, name) == 0) return s;
    }
    return NULL;
}

const bnc_scheme *bnc_ggml_scheme(int id)
{
    const bnc_scheme *s = bnc_ggml_type(id);
    return s && s->quantize ? s : NULL;
}

int64_t bnc_ggml_block_size(int id)
{
    const bnc_scheme *s = bnc_ggml_type(id);
    return s ? s->block : 0;
}

size_t bnc_ggml_type_size(int id)
{
    const bnc_scheme *s = bnc_ggml_type(id);
    return s ? s->block_bytes : 0;
}

size_t bnc_ggml_row_size(int id, int64_t n)
{
    const bnc_scheme *s = bnc_ggml_type(id);
    if (!s || n < 0 || n % s->block != 0) return 0;
    return (size_t)(n / s->block) * s->block_bytes;
}
