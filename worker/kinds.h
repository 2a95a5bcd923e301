/* Internal: the built-in task kinds, each defined in kind_<name>.c. */
#ifndef BNC_WORKER_KINDS_H
#define BNC_WORKER_KINDS_H

#include "bnc_kinds.h"
#include "bnc_task.h"

/* Checks that params holds only the listed keys (NULL-terminated); names the
 * first unknown key. */
int bnc_params_only(const json_t *params, const char *const *allowed, bnc_err *err);
/* Reads an optional integer parameter (def when absent); BNC_EINVAL naming
 * key when it is not an integer in [lo, hi]. */
int bnc_param_int(const json_t *params, const char *key, long long def, long long lo, long long hi,
                  long long *out, bnc_err *err);
/* Reads a required string parameter. */
int bnc_param_str(const json_t *params, const char *key, const char **out, bnc_err *err);

#endif
