/* A set of task ids: open addressing on the id's leading hex digits (ids are
 * already hashes, so they spread evenly). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"

static uint64_t id_key(const char *id)
{
    uint64_t k = 0;
    for (int i = 0; i < 16 && id[i]; i++) {
        char ch = id[i];
        k = k << 4 | (uint64_t)(ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
    }
    return k;
}

static int idset_grow(bnc_idset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    bnc_idset bigger = {calloc(cap, 33), cap, 0};
    if (!bigger.slot) return BNC_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i][0]) bnc_idset_add(&bigger, s->slot[i]);
    free(s->slot);
    *s = bigger;
    return 0;
}

int bnc_idset_add(bnc_idset *s, const char *id)
{
    if ((s->n + 1) * 2 > s->cap && idset_grow(s)) return BNC_ENOMEM;
    size_t i = id_key(id) & (s->cap - 1);
    while (s->slot[i][0]) {
        if (strcmp(s->slot[i], id) == 0) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    snprintf(s->slot[i], 33, "%s", id);
    s->n++;
    return 1;
}

int bnc_idset_has(const bnc_idset *s, const char *id)
{
    if (!s->cap) return 0;
    size_t i = id_key(id) & (s->cap - 1);
    while (s->slot[i][0]) {
        if (strcmp(s->slot[i], id) == 0) return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

void bnc_idset_free(bnc_idset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->cap = s->n = 0;
}
