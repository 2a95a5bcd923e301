/* The scheme table. Adding a scheme adds a row here and its functions in a
 * file of their own. */
#include "bnc_kernels.h"

#include <math.h>
#include <string.h>

#include "schemes_impl.h"
#include "bitnet_impl.h"

static const bnc_scheme table[] = {
    {"f32", 0, 1, 4, 32.0, bnc_f32_qsize, bnc_f32_quantize, bnc_f32_dequantize},
    {"bitnet", -1, 1, 0, 2.0, bnc_bitnet_qsize, bnc_bitnet_quantize, bnc_bitnet_dequantize},
    {"bitnet-row", -1, 1, 0, 2.0, bnc_bitnet_row_qsize, bnc_bitnet_row_quantize,
     bnc_bitnet_row_dequantize},
    {"bitnet-group", -1, 1, 0, 2.0, bnc_bitnet_group_qsize, bnc_bitnet_group_quantize,
     bnc_bitnet_group_dequantize},
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
