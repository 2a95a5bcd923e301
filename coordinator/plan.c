#include "bnc_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_hash.h"

char *bnc_params_canonical(const json_t *params)
{
    return json_dumps(params,
                      JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17));
}

void bnc_task_id(const char *campaign, const char *kind, const char *params_json, uint64_t seed,
                 char id[33])
{
    size_t n = strlen(campaign) + strlen(kind) + strlen(params_json) + 48;
    char *buf = malloc(n);
    if (!buf) {
        memset(id, '0', 32);
        id[32] = '\0';
        return;
    }
    int len = snprintf(buf, n, "%s\x1f%s\x1f%s\x1f%llu", campaign, kind, params_json,
                       (unsigned long long)seed);
    bnc_hash128_hex(buf, (size_t)len, id);
    free(buf);
}

typedef struct builder {
    const bnc_spec *spec;
    const bnc_task_kind *kind;
    const bnc_task_ctx *ctx;
    const bnc_spec_group *group;
    int gi;
    bnc_plan *plan;
    size_t cap;
    bnc_err *err;
} builder;

static int matches(const json_t *params, const json_t *entry)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)entry, k, v)
    {
        json_t *p = json_object_get(params, k);
        if (!p || !json_equal(p, v)) return 0;
    }
    return 1;
}

static int add_tasks(builder *b, json_t *params)
{
    for (size_t i = 0; i < json_array_size(b->group->exclude); i++)
        if (matches(params, json_array_get(b->group->exclude, i))) return 0;
    int rc = b->kind->validate ? b->kind->validate(params, b->ctx, b->err) : 0;
    if (rc) {
        char *shown = bnc_params_canonical(params);
        bnc_err_prefix(b->err, "%s:%d: group %d (kind %s, parameters %s): ", b->spec->file,
                       b->group->grid_line ? b->group->grid_line : b->group->line, b->gi + 1,
                       b->kind->name, shown ? shown : "?");
        free(shown);
        return rc;
    }
    double cost = b->kind->cost ? b->kind->cost(params, b->ctx) : 1.0;
    for (int rep = 0; rep < b->spec->repetitions; rep++) {
        json_t *p = params;
        if (b->spec->repetitions > 1) {
            p = json_deep_copy(params);
            json_object_set_new(p, "rep", json_integer(rep));
        }
        char *canon = bnc_params_canonical(p);
        if (p != params) json_decref(p);
        if (!canon) return bnc_err_set(b->err, BNC_ENOMEM, "out of memory");
        for (size_t s = 0; s < b->spec->nseeds; s++) {
            if (b->plan->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 256;
                bnc_plan_task *t = realloc(b->plan->tasks, cap * sizeof *t);
                if (!t) {
                    free(canon);
                    return bnc_err_set(b->err, BNC_ENOMEM, "out of memory");
                }
                b->plan->tasks = t;
                b->cap = cap;
            }
            bnc_plan_task *t = &b->plan->tasks[b->plan->n];
            t->params_json = s + 1 == b->spec->nseeds ? canon : strdup(canon);
            if (!t->params_json) {
                free(canon);
                return bnc_err_set(b->err, BNC_ENOMEM, "out of memory");
            }
            t->kind = b->group->kind;
            t->seed = b->spec->seeds[s];
            t->cost = cost;
            t->timeout_s = b->group->timeout_s;
            t->group = b->gi;
            bnc_task_id(b->spec->name, t->kind, t->params_json, t->seed, t->id);
            b->plan->n++;
        }
    }
    return 0;
}

/* Walks the cartesian product of the grid's keys recursively. */
static int expand(builder *b, const char **keys, size_t nkeys, size_t k, json_t *params)
{
    if (k == nkeys) return add_tasks(b, params);
    json_t *values = json_object_get(b->group->grid, keys[k]);
    for (size_t i = 0; i < json_array_size(values); i++) {
        json_object_set(params, keys[k], json_array_get(values, i));
        int rc = expand(b, keys, nkeys, k + 1, params);
        if (rc) return rc;
    }
    json_object_del(params, keys[k]);
    return 0;
}

static int cmp_task(const void *a, const void *b)
{
    const bnc_plan_task *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const bnc_plan_task *)a)->id, ((const bnc_plan_task *)b)->id);
}

/* a * b, saturating at UINT64_MAX. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/* Writes "key: n x key: n ..." of group g into buf. */
static void grid_factors(const bnc_spec_group *g, char *buf, size_t n)
{
    size_t len = 0;
    const char *k;
    json_t *v;
    buf[0] = '\0';
    json_object_foreach(g->grid, k, v)
    {
        if (len + 1 >= n) break;
        int w = snprintf(buf + len, n - len, "%s%s: %zu", len ? " x " : "", k, json_array_size(v));
        len += w > 0 ? (size_t)w : 0;
    }
}

int bnc_plan_check_size(const bnc_spec *spec, uint64_t max_tasks, uint64_t *count, bnc_err *err)
{
    if (max_tasks == 0) max_tasks = BNC_PLAN_MAX_TASKS;
    uint64_t per_params = mul_sat((uint64_t)spec->repetitions, (uint64_t)spec->nseeds);
    uint64_t total = 0;
    for (size_t g = 0; g < spec->ngroups; g++) {
        const bnc_spec_group *grp = &spec->groups[g];
        uint64_t grid = json_object_size(grp->grid) ? 1 : 0;
        const char *k;
        json_t *v;
        json_object_foreach(grp->grid, k, v) grid = mul_sat(grid, json_array_size(v));
        uint64_t sets = grid + json_array_size(grp->include);
        uint64_t tasks = mul_sat(sets, per_params);
        total = total + tasks < total ? UINT64_MAX : total + tasks;
        if (tasks > max_tasks || total > max_tasks) {
            char factors[512];
            grid_factors(grp, factors, sizeof factors);
            char shown[32];
            if (tasks == UINT64_MAX)
                snprintf(shown, sizeof shown, "more than 1.8e19");
            else
                snprintf(shown, sizeof shown, "%llu", (unsigned long long)tasks);
            return bnc_err_set(err, BNC_EINVAL,
                               "%s:%d: group %zu (kind %s) expands to %s tasks (grid %s, plus %zu "
                               "include, x %d repetitions x %zu seeds)%s, above the limit of %llu "
                               "tasks; shrink the grid or raise it with --max-tasks",
                               spec->file, grp->grid_line ? grp->grid_line : grp->line, g + 1,
                               grp->kind, shown, factors[0] ? factors : "none",
                               json_array_size(grp->include), spec->repetitions, spec->nseeds,
                               tasks > max_tasks ? "" : " (with the groups before it)",
                               (unsigned long long)max_tasks);
        }
    }
    if (count) *count = total;
    return 0;
}

int bnc_plan_build(const bnc_spec *spec, const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx,
                   bnc_plan *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    builder b = {.spec = spec, .ctx = ctx, .plan = out, .err = err};
    int rc = 0;
    for (size_t g = 0; g < spec->ngroups && !rc; g++) {
        const bnc_spec_group *grp = &spec->groups[g];
        b.group = grp;
        b.gi = (int)g;
        b.kind = bnc_task_kind_find(kinds, grp->kind);
        if (!b.kind) {
            char list[512] = "";
            for (const bnc_task_kind *const *k = kinds; *k; k++) {
                strncat(list, (*k)->name, sizeof list - strlen(list) - 1);
                if (k[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            rc = bnc_err_set(err, BNC_EINVAL, "%s:%d: unknown task kind '%s' (known: %s)",
                             spec->file, grp->line, grp->kind, list);
            break;
        }
        size_t before = out->n;
        size_t nkeys = json_object_size(grp->grid);
        if (nkeys > 0) {
            const char **keys = calloc(nkeys, sizeof *keys);
            size_t i = 0;
            const char *k;
            json_t *v;
            json_object_foreach(grp->grid, k, v) keys[i++] = k;
            json_t *params = json_object();
            rc = expand(&b, keys, nkeys, 0, params);
            json_decref(params);
            free(keys);
        }
        for (size_t i = 0; !rc && i < json_array_size(grp->include); i++)
            rc = add_tasks(&b, json_array_get(grp->include, i));
        if (!rc && out->n == before)
            rc = bnc_err_set(err, BNC_EINVAL,
                             "%s:%d: group %zu (kind %s) expands to no tasks (empty grid or "
                             "everything excluded)",
                             spec->file, grp->line, g + 1, grp->kind);
    }
    if (!rc && out->n > 1) {
        /* The same task listed twice (overlapping include) runs once. */
        qsort(out->tasks, out->n, sizeof *out->tasks, cmp_id);
        size_t w = 1;
        for (size_t i = 1; i < out->n; i++) {
            if (strcmp(out->tasks[i].id, out->tasks[w - 1].id) == 0)
                free(out->tasks[i].params_json);
            else
                out->tasks[w++] = out->tasks[i];
        }
        out->n = w;
        qsort(out->tasks, out->n, sizeof *out->tasks, cmp_task);
    }
    if (rc) bnc_plan_free(out);
    return rc;
}

void bnc_plan_free(bnc_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->tasks[i].params_json);
    free(p->tasks);
    p->tasks = NULL;
    p->n = 0;
}
