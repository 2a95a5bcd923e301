#include "bnc_spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bnc_hash.h"
#include "bnc_yaml.h"

int bnc_read_file(const char *path, char **out, size_t *n, bnc_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno; /* a missing input is bad input (exit 2) */
        return bnc_err_set(err, e == ENOENT || e == ENOTDIR ? BNC_EINVAL : BNC_EIO, "%s: %s", path,
                           strerror(e));
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return bnc_err_set(err, BNC_EINVAL, "%s: is a directory, not a spec file", path);
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
        if (len + 1 == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return bnc_err_set(err, BNC_EIO, "%s: read error", path);
    }
    buf[len] = '\0';
    *out = buf;
    *n = len;
    return 0;
}

/* An unquoted YAML scalar becomes an integer, real, boolean or null when it
 * reads as one; everything else is a string. */
static json_t *scalar_json(const bnc_ynode *n)
{
    const char *s = n->scalar;
    if (n->quoted) return json_string(s);
    if (!strcmp(s, "true") || !strcmp(s, "True")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False")) return json_false();
    if (!strcmp(s, "~") || !strcmp(s, "null") || !*s) return json_null();
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0) return json_integer(v);
    double d = strtod(s, &end);
    if (*end == '\0' && isfinite(d)) return json_real(d);
    return json_string(s);
}

typedef struct ctx {
    const char *file;
    bnc_err *err;
} ctx;

static const char *kind_name(const bnc_ynode *n)
{
    return n->kind == BNC_Y_MAP ? "a mapping" : n->kind == BNC_Y_SEQ ? "a list" : "a scalar";
}

static int check_keys(ctx *c, const bnc_ynode *map, const char *where, const char *const *allowed)
{
    for (size_t i = 0; i < map->n; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, map->keys[i]) == 0;
        if (!ok) {
            char list[400] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 1);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return bnc_err_set(c->err, BNC_EINVAL,
                               "%s:%d: unknown key '%s'%s (expected one of: %s)", c->file,
                               map->key_lines[i], map->keys[i], where, list);
        }
    }
    return 0;
}

static int want_kind(ctx *c, const bnc_ynode *n, bnc_ykind k, const char *key, int line)
{
    if (n->kind == k) return 0;
    const char *want = k == BNC_Y_MAP ? "a mapping" : k == BNC_Y_SEQ ? "a list" : "a scalar";
    return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' must be %s, not %s", c->file, line, key,
                       want, kind_name(n));
}

static int get_int(ctx *c, const bnc_ynode *n, const char *key, int line, long long lo,
                   long long hi, long long *out)
{
    char *end;
    if (n->kind != BNC_Y_SCALAR || n->quoted)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' must be an integer", c->file, line,
                           key);
    errno = 0;
    long long v = strtoll(n->scalar, &end, 10);
    if (*end || errno || !*n->scalar)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' must be an integer, not '%s'",
                           c->file, line, key, n->scalar);
    if (v < lo || v > hi)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: key '%s' = %lld is out of range [%lld, %lld]", c->file, line,
                           key, v, lo, hi);
    *out = v;
    return 0;
}

static int get_num(ctx *c, const bnc_ynode *n, const char *key, int line, double *out)
{
    char *end;
    if (n->kind != BNC_Y_SCALAR || n->quoted)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' must be a number", c->file, line,
                           key);
    double v = strtod(n->scalar, &end);
    if (*end || !*n->scalar || !isfinite(v) || v < 0)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: key '%s' must be a non-negative number, not '%s'", c->file, line,
                           key, n->scalar);
    *out = v;
    return 0;
}

static int get_str(ctx *c, const bnc_ynode *n, const char *key, int line, char **out)
{
    if (n->kind != BNC_Y_SCALAR || !*n->scalar)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' must be a non-empty string",
                           c->file, line, key);
    *out = strdup(n->scalar);
    return *out ? 0 : bnc_err_set(c->err, BNC_ENOMEM, "out of memory");
}

/* A map of scalars (or nested maps of scalars) to a JSON object. */
static int map_json(ctx *c, const bnc_ynode *map, const char *key, int line, json_t **out)
{
    int rc = want_kind(c, map, BNC_Y_MAP, key, line);
    if (rc) return rc;
    json_t *o = json_object();
    for (size_t i = 0; i < map->n && !rc; i++) {
        const bnc_ynode *v = map->items[i];
        json_t *jv = NULL;
        if (v->kind == BNC_Y_SCALAR)
            jv = scalar_json(v);
        else if (v->kind == BNC_Y_MAP)
            rc = map_json(c, v, map->keys[i], map->key_lines[i], &jv);
        else
            rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' must be a scalar or a mapping",
                             c->file, map->key_lines[i], map->keys[i]);
        if (!rc) json_object_set_new(o, map->keys[i], jv);
    }
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static const char *const tensor_keys[] = {"rows", "cols",  "distribution",     "seed",
                                          "df",   "scale", "outlier_fraction", NULL};
static const char *const distributions[] = {"normal",    "uniform", "laplace",
                                            "student_t", "llm",     NULL};

/* One key of a tensor definition into o, with its range checked. */
static int tensor_value(ctx *c, const char *key, int kl, const bnc_ynode *v, json_t *o)
{
    long long x;
    int rc;
    if (!strcmp(key, "rows") || !strcmp(key, "cols") || !strcmp(key, "seed")) {
        int dim = strcmp(key, "seed") != 0;
        if (!(rc = get_int(c, v, key, kl, dim ? 1 : 0, dim ? 1LL << 31 : INT64_MAX, &x)))
            json_object_set_new(o, key, json_integer(x));
        return rc;
    }
    if (!strcmp(key, "distribution")) {
        int ok = 0;
        for (const char *const *d = distributions; *d; d++)
            ok |= v->kind == BNC_Y_SCALAR && !strcmp(*d, v->scalar);
        if (!ok)
            return bnc_err_set(c->err, BNC_EINVAL,
                               "%s:%d: key 'distribution' must be one of normal, uniform, "
                               "laplace, student_t, llm",
                               c->file, kl);
        json_object_set_new(o, key, json_string(v->scalar));
        return 0;
    }
    double d;
    if ((rc = get_num(c, v, key, kl, &d))) return rc;
    if (!strcmp(key, "outlier_fraction") && d > 1)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: key 'outlier_fraction' = %s is a fraction: it must lie in "
                           "[0, 1]",
                           c->file, kl, v->scalar);
    if (strcmp(key, "outlier_fraction") && d <= 0)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' = %s must be greater than 0",
                           c->file, kl, key, v->scalar);
    json_object_set_new(o, key, json_real(d));
    return 0;
}

/* One named tensor definition (a mapping with rows, cols, distribution). */
static int parse_tensor(ctx *c, const bnc_ynode *map, size_t i, json_t **out)
{
    const bnc_ynode *t = map->items[i];
    char where[200];
    snprintf(where, sizeof where, " in tensor '%s'", map->keys[i]);
    int rc = want_kind(c, t, BNC_Y_MAP, map->keys[i], map->key_lines[i]);
    if (!rc) rc = check_keys(c, t, where, tensor_keys);
    const char *required[] = {"rows", "cols", "distribution", NULL};
    for (const char **r = required; !rc && *r; r++)
        if (!bnc_ymap_get(t, *r, NULL))
            rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: tensor '%s' is missing required key '%s'",
                             c->file, map->key_lines[i], map->keys[i], *r);
    json_t *o = json_object();
    for (size_t k = 0; !rc && k < t->n; k++)
        rc = tensor_value(c, t->keys[k], t->key_lines[k], t->items[k], o);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int parse_tensors(ctx *c, const bnc_ynode *map, int line, json_t **out)
{
    int rc = want_kind(c, map, BNC_Y_MAP, "tensors", line);
    if (rc) return rc;
    json_t *all = json_object();
    for (size_t i = 0; i < map->n && !rc; i++) {
        json_t *o = NULL;
        if (!(rc = parse_tensor(c, map, i, &o))) json_object_set_new(all, map->keys[i], o);
    }
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

static int parse_models(ctx *c, const bnc_ynode *map, int line, json_t **out)
{
    int rc = want_kind(c, map, BNC_Y_MAP, "models", line);
    if (rc) return rc;
    static const char *const model_keys[] = {"path", "synth", NULL};
    json_t *all = json_object();
    for (size_t i = 0; i < map->n && !rc; i++) {
        const bnc_ynode *m = map->items[i];
        char where[200];
        snprintf(where, sizeof where, " in model '%s'", map->keys[i]);
        rc = want_kind(c, m, BNC_Y_MAP, map->keys[i], map->key_lines[i]);
        if (!rc) rc = check_keys(c, m, where, model_keys);
        if (!rc && !!bnc_ymap_get(m, "path", NULL) == !!bnc_ymap_get(m, "synth", NULL))
            rc = bnc_err_set(c->err, BNC_EINVAL,
                             "%s:%d: model '%s' needs exactly one of 'path' or 'synth'", c->file,
                             map->key_lines[i], map->keys[i]);
        json_t *o = NULL;
        if (!rc) rc = map_json(c, m, map->keys[i], map->key_lines[i], &o);
        if (!rc) json_object_set_new(all, map->keys[i], o);
    }
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

/* A list of maps of scalars (exclude/include entries). */
static int parse_entries(ctx *c, const bnc_ynode *seq, const char *key, int line, json_t **out)
{
    int rc = want_kind(c, seq, BNC_Y_SEQ, key, line);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < seq->n && !rc; i++) {
        const bnc_ynode *e = seq->items[i];
        rc = want_kind(c, e, BNC_Y_MAP, key, e->line);
        json_t *o = json_object();
        for (size_t k = 0; !rc && k < e->n; k++) {
            if (e->items[k]->kind != BNC_Y_SCALAR)
                rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key '%s' in %s must be a scalar",
                                 c->file, e->key_lines[k], e->keys[k], key);
            else
                json_object_set_new(o, e->keys[k], scalar_json(e->items[k]));
        }
        if (!rc && json_object_size(o) == 0)
            rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: empty entry in '%s'", c->file, e->line,
                             key);
        if (rc)
            json_decref(o);
        else
            json_array_append_new(arr, o);
    }
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* One grid key's values: a scalar, or a non-empty list of scalars. */
static int grid_values(ctx *c, const bnc_ynode *grid, size_t i, json_t **out)
{
    const bnc_ynode *v = grid->items[i];
    if (v->kind != BNC_Y_SCALAR && v->kind != BNC_Y_SEQ)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: grid key '%s' must be a value or a list of values", c->file,
                           grid->key_lines[i], grid->keys[i]);
    if (v->kind == BNC_Y_SEQ && v->n == 0)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: grid key '%s' has an empty list: the grid would be empty",
                           c->file, grid->key_lines[i], grid->keys[i]);
    json_t *arr = json_array();
    if (v->kind == BNC_Y_SCALAR) json_array_append_new(arr, scalar_json(v));
    for (size_t k = 0; v->kind == BNC_Y_SEQ && k < v->n; k++) {
        if (v->items[k]->kind != BNC_Y_SCALAR) {
            json_decref(arr);
            return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: grid key '%s' must list scalar values",
                               c->file, v->items[k]->line, grid->keys[i]);
        }
        json_array_append_new(arr, scalar_json(v->items[k]));
    }
    *out = arr;
    return 0;
}

static int parse_grid(ctx *c, const bnc_ynode *grid, int line, json_t *out)
{
    int rc = want_kind(c, grid, BNC_Y_MAP, "grid", line);
    for (size_t i = 0; !rc && i < grid->n; i++) {
        json_t *arr = NULL;
        if (!(rc = grid_values(c, grid, i, &arr))) json_object_set_new(out, grid->keys[i], arr);
    }
    return rc;
}

/* `resources: {cpu: N, gpu: N}` of a group. */
static int parse_resources(ctx *c, const bnc_ynode *n, int line, bnc_spec_group *out)
{
    static const char *const res_keys[] = {"cpu", "gpu", NULL};
    int rc;
    if ((rc = want_kind(c, n, BNC_Y_MAP, "resources", line)) ||
        (rc = check_keys(c, n, " in resources", res_keys)))
        return rc;
    long long v;
    int l2;
    const bnc_ynode *x;
    if ((x = bnc_ymap_get(n, "cpu", &l2))) {
        if ((rc = get_int(c, x, "cpu", l2, 1, 4096, &v))) return rc;
        out->cpu = (int)v;
    }
    if ((x = bnc_ymap_get(n, "gpu", &l2))) {
        if ((rc = get_int(c, x, "gpu", l2, 0, 64, &v))) return rc;
        out->gpu = (int)v;
    }
    return 0;
}

/* A group's exclude or include list (an empty array when absent). */
static int parse_list(ctx *c, const bnc_ynode *g, const char *key, json_t **out)
{
    int line = 0;
    const bnc_ynode *n = bnc_ymap_get(g, key, &line);
    if (!n) {
        *out = json_array();
        return 0;
    }
    return parse_entries(c, n, key, line, out);
}

static int parse_group(ctx *c, const bnc_ynode *g, size_t index, bnc_spec_group *out)
{
    static const char *const group_keys[] = {"kind",    "grid",      "exclude", "include",
                                             "timeout", "resources", NULL};
    char where[64];
    snprintf(where, sizeof where, " in group %zu", index + 1);
    int rc = want_kind(c, g, BNC_Y_MAP, "groups", g->line);
    if (!rc) rc = check_keys(c, g, where, group_keys);
    if (rc) return rc;
    out->line = g->line;
    out->cpu = 1;
    int line = 0;
    const bnc_ynode *kind = bnc_ymap_get(g, "kind", &line), *n;
    if (!kind)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: group %zu is missing required key 'kind'",
                           c->file, g->line, index + 1);
    out->line = line;
    if ((rc = get_str(c, kind, "kind", line, &out->kind))) return rc;
    out->grid = json_object();
    const bnc_ynode *grid = bnc_ymap_get(g, "grid", &out->grid_line);
    if ((grid && (rc = parse_grid(c, grid, out->grid_line, out->grid))) ||
        (rc = parse_list(c, g, "exclude", &out->exclude)) ||
        (rc = parse_list(c, g, "include", &out->include)))
        return rc;
    if (!grid && json_array_size(out->include) == 0)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: group %zu needs a 'grid' (or an 'include' list)", c->file,
                           out->line, index + 1);
    if ((n = bnc_ymap_get(g, "timeout", &line)) &&
        (rc = get_num(c, n, "timeout", line, &out->timeout_s)))
        return rc;
    if ((n = bnc_ymap_get(g, "resources", &line))) return parse_resources(c, n, line, out);
    return 0;
}

static const char *const top_keys[] = {"name",    "description", "seeds",  "repetitions", "retries",
                                       "tensors", "models",      "groups", NULL};

/* `name`: letters, digits, '-', '_', '.', short enough for the journal's
 * file name (bnc_spec.h). */
static int parse_name(ctx *c, const bnc_ynode *v, int line, bnc_spec *s)
{
    int rc = get_str(c, v, "name", line, &s->name);
    if (!rc && strlen(s->name) > BNC_SPEC_NAME_MAX)
        return bnc_err_set(c->err, BNC_EINVAL,
                           "%s:%d: key 'name' is %zu characters long; a campaign name may have "
                           "at most %d (its journal file NAME.journal must fit in a file name)",
                           c->file, line, strlen(s->name), BNC_SPEC_NAME_MAX);
    for (const char *p = s->name; !rc && *p; p++)
        if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            rc = bnc_err_set(c->err, BNC_EINVAL,
                             "%s:%d: key 'name' may hold only letters, digits, '-', '_' and '.'",
                             c->file, line);
    return rc;
}

/* `seeds`: a non-empty list of distinct non-negative integers. */
static int parse_seeds(ctx *c, const bnc_ynode *v, int line, bnc_spec *s)
{
    int rc = want_kind(c, v, BNC_Y_SEQ, "seeds", line);
    if (!rc && v->n == 0)
        rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key 'seeds' must list at least one seed",
                         c->file, line);
    if (!rc && !(s->seeds = calloc(v->n, sizeof *s->seeds)))
        rc = bnc_err_set(c->err, BNC_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < v->n; i++) {
        long long x;
        rc = get_int(c, v->items[i], "seeds", v->items[i]->line, 0, INT64_MAX, &x);
        for (size_t k = 0; !rc && k < i; k++)
            if (s->seeds[k] == (uint64_t)x)
                rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: seed %lld is listed twice", c->file,
                                 v->items[i]->line, x);
        s->seeds[i] = (uint64_t)x;
    }
    s->nseeds = v->n;
    return rc;
}

/* `groups`: a non-empty list of groups. */
static int parse_groups(ctx *c, const bnc_ynode *v, int line, bnc_spec *s)
{
    int rc = want_kind(c, v, BNC_Y_SEQ, "groups", line);
    if (!rc && v->n == 0)
        rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: key 'groups' must list at least one group",
                         c->file, line);
    if (!rc && !(s->groups = calloc(v->n, sizeof *s->groups)))
        rc = bnc_err_set(c->err, BNC_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < v->n; i++) {
        rc = parse_group(c, v->items[i], i, &s->groups[i]);
        s->ngroups = i + 1;
    }
    return rc;
}

/* Every top-level key of root into s, in the order of the documentation. */
static int parse_top(ctx *c, const bnc_ynode *root, bnc_spec *s)
{
    if (root->kind != BNC_Y_MAP)
        return bnc_err_set(c->err, BNC_EINVAL, "%s:%d: a campaign spec must be a mapping", c->file,
                           root->line);
    int rc = check_keys(c, root, "", top_keys);
    const char *required[] = {"name", "seeds", "groups", NULL};
    for (const char **r = required; !rc && *r; r++)
        if (!bnc_ymap_get(root, *r, NULL))
            rc = bnc_err_set(c->err, BNC_EINVAL, "%s:%d: missing required key '%s'", c->file,
                             root->line, *r);
    int line = 0;
    long long x;
    const bnc_ynode *v;
    if (!rc && (v = bnc_ymap_get(root, "name", &line))) rc = parse_name(c, v, line, s);
    if (!rc && (v = bnc_ymap_get(root, "description", &line)))
        rc = v->kind == BNC_Y_SCALAR ? ((s->description = strdup(v->scalar)) ? 0 : BNC_ENOMEM)
                                     : want_kind(c, v, BNC_Y_SCALAR, "description", line);
    if (!rc && !s->description) s->description = strdup("");
    if (!rc && (v = bnc_ymap_get(root, "seeds", &line))) rc = parse_seeds(c, v, line, s);
    if (!rc && (v = bnc_ymap_get(root, "repetitions", &line)) &&
        !(rc = get_int(c, v, "repetitions", line, 1, 1000000, &x)))
        s->repetitions = (int)x;
    if (!rc && (v = bnc_ymap_get(root, "retries", &line)) &&
        !(rc = get_int(c, v, "retries", line, 0, 100, &x)))
        s->retries = (int)x;
    if (!rc && (v = bnc_ymap_get(root, "tensors", &line)))
        rc = parse_tensors(c, v, line, &s->tensors);
    if (!rc && !s->tensors) s->tensors = json_object();
    if (!rc && (v = bnc_ymap_get(root, "models", &line))) rc = parse_models(c, v, line, &s->models);
    if (!rc && !s->models) s->models = json_object();
    if (!rc && (v = bnc_ymap_get(root, "groups", &line))) rc = parse_groups(c, v, line, s);
    return rc;
}

int bnc_spec_parse(const char *text, size_t n, const char *file, bnc_spec **out, bnc_err *err)
{
    bnc_ynode *root = NULL;
    int rc = bnc_yaml_parse(text, n, file, &root, err);
    if (rc) return rc;
    ctx c = {file, err};
    bnc_spec *s = calloc(1, sizeof *s);
    if (!s) {
        bnc_ynode_free(root);
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    s->file = strdup(file);
    s->text = strndup(text, n);
    bnc_hash128_hex(text, n, s->hash);
    s->repetitions = 1;
    s->retries = 2;
    rc = parse_top(&c, root, s);
    bnc_ynode_free(root);
    if (rc) {
        bnc_spec_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int bnc_spec_load(const char *path, bnc_spec **out, bnc_err *err)
{
    char *text;
    size_t n;
    int rc = bnc_read_file(path, &text, &n, err);
    if (rc) return rc;
    rc = bnc_spec_parse(text, n, path, out, err);
    free(text);
    return rc;
}

void bnc_spec_free(bnc_spec *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->ngroups; i++) {
        free(s->groups[i].kind);
        json_decref(s->groups[i].grid);
        json_decref(s->groups[i].exclude);
        json_decref(s->groups[i].include);
    }
    free(s->groups);
    json_decref(s->tensors);
    json_decref(s->models);
    free(s->seeds);
    free(s->name);
    free(s->description);
    free(s->text);
    free(s->file);
    free(s);
}
