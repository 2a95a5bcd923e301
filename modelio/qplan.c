/* Quantization policy and planning (no MPI calls; see bnc_quantize.h). */
#include "bnc_quantize.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_ggml.h"
#include "bnc_kernels.h"

/* Resolves a target name to a ggml type and the ternarize flag: the
 * targets are the scheme rows that GGUF holds (ids from the scheme table). */
static int target_type(const char *name, const char *pack, uint32_t *type, int *tern, bnc_err *err)
{
    *tern = 0;
    if (strcmp(name, "bitnet") == 0) {
        const char *p = pack ? pack : "tq2_0";
        if (strcmp(p, "tq2_0") != 0 && strcmp(p, "tq1_0") != 0)
            return bnc_err_set(err, BNC_EINVAL, "bitnet packs as tq2_0 or tq1_0, not '%s'", p);
        *tern = 1;
        name = p;
    }
    const bnc_scheme *s = bnc_scheme_find(name);
    if (s && s->ggml_type >= 0) {
        *type = (uint32_t)s->ggml_type;
        return 0;
    }
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < bnc_scheme_count(); i++)
        if (bnc_scheme_at(i)->ggml_type >= 0 && len < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s, ", bnc_scheme_at(i)->name);
    return bnc_err_set(err, BNC_EINVAL, "unknown type '%s' (%sbitnet)", name, list);
}

int bnc_quant_llama_ftype(const char *type, const char *pack)
{
    static const struct {
        const char *name;
        int ftype;
    } ft[] = {{"f32", 0},   {"f16", 1},    {"q4_0", 2},  {"q8_0", 7},
              {"bf16", 32}, {"tq1_0", 36}, {"tq2_0", 37}};
    if (strcmp(type, "bitnet") == 0) type = pack ? pack : "tq2_0";
    for (size_t i = 0; i < sizeof ft / sizeof ft[0]; i++)
        if (strcmp(ft[i].name, type) == 0) return ft[i].ftype;
    return -1;
}

/* The type a tensor keeps: its own when GGUF can hold it, else f32. */
static uint32_t keep_type(const bnc_model_tensor *t)
{
    return t->type == BNC_TYPE_U8 ? 0u : t->type;
}

/* Floating point, or a block type the kernels can dequantize (requantized). */
static int convertible(const bnc_model_tensor *t)
{
    const bnc_gguf_type_info *ti = bnc_gguf_type(t->type);
    if (!ti) return 0;
    return ti->is_float || (ti->block > 1 && bnc_ggml_scheme((int)t->type) != NULL);
}

static int name_has(const char *name, const char *part)
{
    return strstr(name, part) != NULL;
}

int bnc_quant_choose(const bnc_model_tensor *t, const bnc_quant_opts *o, uint32_t *type,
                     int *ternarize, char reason[24], bnc_err *err)
{
    reason[0] = '\0';
    *ternarize = 0;
    const char *want = o->type;
    int overridden = 0;
    for (size_t i = 0; i < o->n_overrides; i++)
        if (fnmatch(o->ov_pattern[i], t->name, 0) == 0) {
            want = o->ov_type[i];
            overridden = 1;
            break;
        }
    if (overridden && strcmp(want, "keep") == 0) {
        *type = keep_type(t);
        snprintf(reason, 24, "override");
        return 0;
    }
    if (!overridden) {
        const char *why = NULL;
        if (t->n_dims == 1 || t->rows == 1)
            why = "1-D";
        else if (name_has(t->name, "norm"))
            why = "norm";
        else if (name_has(t->name, "embd") || name_has(t->name, "embed") ||
                 name_has(t->name, "wte") || name_has(t->name, "wpe"))
            why = "embedding";
        else if (strcmp(t->name, "output.weight") == 0 || name_has(t->name, "lm_head"))
            why = "output";
        else if (!convertible(t))
            why = bnc_gguf_type(t->type) && bnc_gguf_type(t->type)->block > 1 ? "no kernel"
                                                                              : "integer";
        if (why) {
            *type = keep_type(t);
            snprintf(reason, 24, "%s", why);
            return 0;
        }
    }
    uint32_t ty;
    int tern;
    int rc = target_type(want, o->pack, &ty, &tern, err);
    if (rc) return overridden ? bnc_err_prefix(err, "override for %s: ", t->name) : rc;
    const bnc_gguf_type_info *ti = bnc_gguf_type(ty);
    if (t->cols % ti->block != 0) {
        *type = keep_type(t);
        snprintf(reason, 24, "row %% %lld", (long long)ti->block);
        return 0;
    }
    *type = ty;
    *ternarize = tern;
    if (overridden)
        snprintf(reason, 24, "override");
    else if (bnc_gguf_type(t->type) && bnc_gguf_type(t->type)->block > 1 && ty != t->type)
        snprintf(reason, 24, "requantized");
    return 0;
}

void bnc_quant_split_rows(int64_t rows, int n_ranks, int rank, int64_t *r0, int64_t *r1)
{
    int64_t base = rows / n_ranks, extra = rows % n_ranks;
    *r0 = rank * base + (rank < extra ? rank : extra);
    *r1 = *r0 + base + (rank < extra ? 1 : 0);
}

void bnc_quant_plan_free(bnc_quant_plan *p)
{
    if (!p) return;
    free(p->items);
    free(p->load);
    bnc_gguf_free(p->out);
    free(p);
}

typedef struct sized {
    uint64_t bytes;
    size_t index;
} sized;

static int cmp_size_desc(const void *a, const void *b)
{
    const sized *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

static int set_str(bnc_gguf *g, const char *key, const char *s, bnc_err *err)
{
    bnc_gguf_value v = bnc_gguf_v_str(s);
    return bnc_gguf_set(g, key, &v, err);
}

int bnc_quant_plan_build(const bnc_model *m, const bnc_quant_opts *o, int n_ranks,
                         bnc_quant_plan **out, bnc_err *err)
{
    *out = NULL;
    if (n_ranks < 1) return bnc_err_set(err, BNC_EINVAL, "plan: %d ranks", n_ranks);
    uint32_t dummy_t;
    int dummy_x;
    int rc = target_type(o->type, o->pack, &dummy_t, &dummy_x, err);
    if (rc) return rc;
    /* Every override's type, even one whose pattern matches no tensor. */
    for (size_t i = 0; i < o->n_overrides; i++)
        if (strcmp(o->ov_type[i], "keep") != 0 &&
            (rc = target_type(o->ov_type[i], o->pack, &dummy_t, &dummy_x, err)))
            return bnc_err_prefix(err, "--override %s=%s: ", o->ov_pattern[i], o->ov_type[i]);
    bnc_quant_plan *p = calloc(1, sizeof *p);
    sized *order = NULL;
    if (!p) return bnc_err_set(err, BNC_ENOMEM, "plan: out of memory");
    p->n_ranks = n_ranks;
    p->n = m->n_tensors;
    p->items = calloc(p->n ? p->n : 1, sizeof *p->items);
    p->load = calloc((size_t)n_ranks, sizeof *p->load);
    p->out = bnc_gguf_new();
    order = malloc((p->n ? p->n : 1) * sizeof *order);
    if (!p->items || !p->load || !p->out || !order) {
        rc = bnc_err_set(err, BNC_ENOMEM, "plan: out of memory");
        goto fail;
    }
    bnc_gguf *g = p->out;
    /* Metadata: everything a GGUF input has, in its order, then ours. */
    if (m->gguf)
        for (size_t i = 0; i < m->gguf->n_kv; i++)
            if ((rc = bnc_gguf_set(g, m->gguf->kv[i].key, &m->gguf->kv[i].value, err))) goto fail;
    if (m->st)
        for (size_t f = 0; f < m->n_files; f++)
            for (size_t i = 0; m->st[f] && i < m->st[f]->n_meta; i++) {
                char key[320];
                snprintf(key, sizeof key, "safetensors.%.300s", m->st[f]->meta_keys[i]);
                if ((rc = set_str(g, key, m->st[f]->meta_values[i], err))) goto fail;
            }
    int ftype = bnc_quant_llama_ftype(o->type, o->pack);
    bnc_gguf_value v = bnc_gguf_v_u32((uint32_t)ftype);
    if (ftype >= 0 && (rc = bnc_gguf_set(g, "general.file_type", &v, err))) goto fail;
    if (ftype != 0 && ftype != 1 && ftype != 32) {
        v = bnc_gguf_v_u32(2); /* GGML_QNT_VERSION */
        if ((rc = bnc_gguf_set(g, "general.quantization_version", &v, err))) goto fail;
    }
    char scheme[64];
    if (strcmp(o->type, "bitnet") == 0)
        snprintf(scheme, sizeof scheme, "bitnet/%s", o->pack ? o->pack : "tq2_0");
    else
        snprintf(scheme, sizeof scheme, "%s", o->type);
    const char *base = strrchr(m->path, '/');
    base = base ? base + 1 : m->path;
    if ((rc = set_str(g, "bnc.version", o->version ? o->version : "unknown", err)) ||
        (rc = set_str(g, "bnc.quantize.scheme", scheme, err)) ||
        (rc = set_str(g, "bnc.quantize.source", base, err)) ||
        (rc = set_str(g, "bnc.quantize.source_hash", "00000000000000000000000000000000", err)))
        goto fail;
    for (size_t i = 0; i < p->n; i++) {
        const bnc_model_tensor *t = &m->tensors[i];
        bnc_quant_item *it = &p->items[i];
        int tern;
        if ((rc = bnc_quant_choose(t, o, &it->out_type, &tern, it->reason, err))) goto fail;
        it->src = (uint32_t)i;
        it->ternarize = tern;
        it->rows = t->rows;
        it->cols = t->cols;
        it->in_bytes = t->nbytes;
        if ((rc = bnc_gguf_add_tensor(g, t->name, t->n_dims, t->ne, it->out_type, err))) {
            bnc_err_prefix(err, "%s: ", m->path);
            goto fail;
        }
    }
    if ((rc = bnc_gguf_plan(g, err))) goto fail;
    p->file_size = bnc_gguf_file_size(g);
    for (size_t i = 0; i < p->n; i++) {
        bnc_quant_item *it = &p->items[i];
        it->out_offset = g->data_offset + g->tensors[i].offset;
        it->out_row_bytes = it->rows ? g->tensors[i].nbytes / (uint64_t)it->rows : 0;
        order[i].bytes = it->in_bytes;
        order[i].index = i;
    }
    /* Largest first; big ones split by rows over every rank, the rest go to
     * the least loaded rank (ties to the lowest rank). */
    uint64_t split = o->split_bytes ? o->split_bytes : BNC_QUANT_DEFAULT_SPLIT;
    qsort(order, p->n, sizeof *order, cmp_size_desc);
    for (size_t k = 0; k < p->n; k++) {
        bnc_quant_item *it = &p->items[order[k].index];
        if (n_ranks > 1 && it->in_bytes > split && it->rows >= n_ranks) {
            it->owner = -1;
            for (int r = 0; r < n_ranks; r++) {
                int64_t r0, r1;
                bnc_quant_split_rows(it->rows, n_ranks, r, &r0, &r1);
                p->load[r] +=
                    (uint64_t)(r1 - r0) * (it->rows ? it->in_bytes / (uint64_t)it->rows : 0);
            }
            continue;
        }
        int best = 0;
        for (int r = 1; r < n_ranks; r++)
            if (p->load[r] < p->load[best]) best = r;
        it->owner = best;
        p->load[best] += it->in_bytes;
    }
    free(order);
    *out = p;
    return 0;
fail:
    free(order);
    bnc_quant_plan_free(p);
    return rc;
}
