#include <stdio.h>
#include <stdlib.h>

#include "bnc_task.h"

int bnc_metrics_add(bnc_metrics *m, const char *name, double value, const char *unit)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        bnc_metric *v = realloc(m->v, cap * sizeof *v);
        if (!v) return BNC_ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    bnc_metric *x = &m->v[m->n++];
    snprintf(x->name, sizeof x->name, "%s", name);
    snprintf(x->unit, sizeof x->unit, "%s", unit ? unit : "");
    x->value = value;
    return 0;
}

void bnc_metrics_reset(bnc_metrics *m)
{
    m->n = 0;
}

void bnc_metrics_free(bnc_metrics *m)
{
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}
