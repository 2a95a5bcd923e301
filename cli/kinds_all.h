/* The task kinds this bnc binary offers to campaigns: worker/'s built-ins
 * plus the kinds of other components (federated simulations, ...). */
#ifndef BNC_CLI_KINDS_ALL_H
#define BNC_CLI_KINDS_ALL_H

#include "bnc_task.h"

/* NULL-terminated list; static storage. */
const bnc_task_kind *const *bnc_cli_kinds(void);

#endif
