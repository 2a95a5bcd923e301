/* The task kinds defined in worker/, one executor per kind_<name>.c. */
#ifndef BNC_KINDS_H
#define BNC_KINDS_H

#include "bnc_task.h"

extern const bnc_task_kind bnc_kind_quant_error;       /* quantize a tensor, every error metric */
extern const bnc_task_kind bnc_kind_noop;              /* nothing: measures the scheduler */
extern const bnc_task_kind bnc_kind_layer_sensitivity; /* a model's per-tensor error, one scheme */
extern const bnc_task_kind bnc_kind_mixed_precision;   /* a scheme per tensor under a bit budget */
extern const bnc_task_kind bnc_kind_gemv_bench;        /* GEMV throughput against read bandwidth */
extern const bnc_task_kind bnc_kind_ppl_eval; /* a quantized transformer's perplexity and KLD */

#endif
