#include "kinds_all.h"

#include <stddef.h>

#include "bnc_fed_task.h"
#include "bnc_kinds.h"

/* One row per kind; components outside worker/ add theirs here. */
static const bnc_task_kind *const all_kinds[] = {
    &bnc_kind_quant_error,       &bnc_kind_noop,
    &bnc_kind_layer_sensitivity, &bnc_kind_mixed_precision,
    &bnc_kind_gemv_bench,        &bnc_kind_ppl_eval,
    &bnc_kind_fed_sim,           NULL,
};

const bnc_task_kind *const *bnc_cli_kinds(void)
{
    return all_kinds;
}
