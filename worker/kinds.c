/* The task kinds built into worker/: one executor per file. */
#include <string.h>

#include "bnc_task.h"
#include "kinds.h"

const bnc_task_kind *const bnc_builtin_kinds[] = {
    &bnc_kind_quant_error,
    &bnc_kind_noop,
    &bnc_kind_layer_sensitivity,
    &bnc_kind_mixed_precision,
    &bnc_kind_gemv_bench,
    NULL,
};

const bnc_task_kind *bnc_task_kind_find(const bnc_task_kind *const *kinds, const char *name)
{
    for (; kinds && *kinds; kinds++)
        if (strcmp((*kinds)->name, name) == 0)
            return *kinds;
    return NULL;
}
