/* Finding a kind in a list of kinds (cli/kinds_all.c holds the list). */
#include <string.h>

#include "bnc_task.h"

const bnc_task_kind *bnc_task_kind_find(const bnc_task_kind *const *kinds, const char *name)
{
    for (; kinds && *kinds; kinds++)
        if (strcmp((*kinds)->name, name) == 0) return *kinds;
    return NULL;
}
