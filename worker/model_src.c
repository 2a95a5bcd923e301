/* Whole-model task kinds' shared parts (model_src.h). */
#include "model_src.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bnc_hash.h"
#include "bnc_model_synth.h"
#include "bnc_version.h"
#include "kinds.h"

static const char *const synth_keys[] = {"params", "seed",   "dtype",  "dim",  "layers",     "ff",
                                         "vocab",  "kv_dim", "format", "arch", "byte_vocab", NULL};

/* A count: an integer, an integral number, or a string with a k/M/G suffix
 * ("10M", "1.5k"). */
static int synth_count(const json_t *v, const char *key, int64_t *out, bnc_err *err)
{
    double x;
    if (json_is_integer(v)) {
        x = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        x = json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        x = strtod(s, &end);
        double mul = 1;
        if (*end == 'k' || *end == 'K')
            mul = 1e3, end++;
        else if (*end == 'm' || *end == 'M')
            mul = 1e6, end++;
        else if (*end == 'g' || *end == 'G' || *end == 'b' || *end == 'B')
            mul = 1e9, end++;
        if (end == s || *end)
            return bnc_err_set(err, BNC_EINVAL, "synth key '%s': '%s' is not a count", key, s);
        x *= mul;
    } else {
        return bnc_err_set(err, BNC_EINVAL, "synth key '%s' must be a count", key);
    }
    if (!(x >= 0 && x <= 9e15))
        return bnc_err_set(err, BNC_EINVAL, "synth key '%s' = %g is out of range", key, x);
    *out = (int64_t)(x + 0.5);
    return 0;
}

/* Reads a `synth:` mapping into o (defaults: seed 1, f32, safetensors). */
static int synth_opts(const json_t *syn, bnc_synth_opts *o, bnc_err *err)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->format = BNC_MODEL_SAFETENSORS;
    if (!json_is_object(syn)) return bnc_err_set(err, BNC_EINVAL, "'synth' must be a mapping");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)syn, k, v)
    {
        int known = 0;
        for (const char *const *a = synth_keys; *a; a++)
            known |= !strcmp(*a, k);
        if (!known)
            return bnc_err_set(err, BNC_EINVAL,
                               "unknown synth key '%s' (expected: params, seed, dtype, dim, "
                               "layers, ff, vocab, kv_dim, format, arch, byte_vocab)",
                               k);
        if (!strcmp(k, "dtype")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (!strcmp(s, "f32"))
                o->type = 0;
            else if (!strcmp(s, "f16"))
                o->type = 1;
            else if (!strcmp(s, "bf16"))
                o->type = 30;
            else
                return bnc_err_set(err, BNC_EINVAL, "synth key 'dtype' must be f32, f16 or bf16");
        } else if (!strcmp(k, "arch")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (!strcmp(s, "llama"))
                o->arch = BNC_SYNTH_LLAMA;
            else if (!strcmp(s, "bitnet"))
                o->arch = BNC_SYNTH_BITNET;
            else
                return bnc_err_set(err, BNC_EINVAL, "synth key 'arch' must be llama or bitnet");
        } else if (!strcmp(k, "byte_vocab")) {
            if (!json_is_boolean(v))
                return bnc_err_set(err, BNC_EINVAL, "synth key 'byte_vocab' must be true or false");
            o->byte_vocab = json_is_true(v);
        } else if (!strcmp(k, "format")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (!strcmp(s, "safetensors"))
                o->format = BNC_MODEL_SAFETENSORS;
            else if (!strcmp(s, "gguf"))
                o->format = BNC_MODEL_GGUF;
            else
                return bnc_err_set(err, BNC_EINVAL,
                                   "synth key 'format' must be safetensors or gguf");
        } else {
            int64_t x = 0;
            int rc = synth_count(v, k, &x, err);
            if (rc) return rc;
            if (!strcmp(k, "params"))
                o->params = x;
            else if (!strcmp(k, "seed"))
                o->seed = (uint64_t)x;
            else if (!strcmp(k, "dim"))
                o->dim = x;
            else if (!strcmp(k, "layers"))
                o->layers = x;
            else if (!strcmp(k, "ff"))
                o->ff = x;
            else if (!strcmp(k, "vocab"))
                o->vocab = x;
            else
                o->kv_dim = x;
        }
    }
    bnc_synth_shape s;
    return bnc_synth_shape_for(o, &s, err);
}

int bnc_model_param(const json_t *params, const bnc_task_ctx *ctx, const json_t **entry,
                    bnc_err *err)
{
    const char *name;
    int rc = bnc_param_str(params, "model", &name, err);
    if (rc) return rc;
    const json_t *m = ctx && ctx->models ? json_object_get(ctx->models, name) : NULL;
    if (!m) {
        char list[400] = "";
        const char *k;
        json_t *v;
        if (ctx && ctx->models) json_object_foreach((json_t *)ctx->models, k, v)
            {
                if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, k, sizeof list - strlen(list) - 1);
            }
        return bnc_err_set(err, BNC_EINVAL,
                           "parameter 'model': unknown model '%s' (the spec's models: %s)", name,
                           *list ? list : "none");
    }
    json_t *path = json_object_get(m, "path"), *syn = json_object_get(m, "synth");
    if (path && !json_is_string(path))
        return bnc_err_set(err, BNC_EINVAL,
                           "parameter 'model': model '%s': 'path' must be a string", name);
    if (!path && !syn)
        return bnc_err_set(err, BNC_EINVAL, "parameter 'model': model '%s' needs 'path' or 'synth'",
                           name);
    if (!path) {
        bnc_synth_opts o;
        if ((rc = synth_opts(syn, &o, err)))
            return bnc_err_prefix(err, "parameter 'model': model '%s': ", name);
    }
    *entry = m;
    return 0;
}

static void full_path(const json_t *entry, const bnc_task_ctx *ctx, char *buf, size_t n)
{
    const char *p = json_string_value(json_object_get(entry, "path"));
    if (p[0] == '/' || !ctx || !ctx->spec_dir || !*ctx->spec_dir)
        snprintf(buf, n, "%s", p);
    else
        snprintf(buf, n, "%s/%s", ctx->spec_dir, p);
}

double bnc_model_entry_weights(const json_t *entry, const bnc_task_ctx *ctx)
{
    bnc_err e;
    json_t *syn = json_object_get(entry, "synth");
    if (syn) {
        bnc_synth_opts o;
        bnc_synth_shape s;
        if (synth_opts(syn, &o, &e) || bnc_synth_shape_for(&o, &s, &e)) return 1.0;
        /* Every tensor but the 2 * layers + 1 norm vectors is a matrix. */
        return (double)(s.params - s.dim * (2 * s.layers + 1));
    }
    char path[4096];
    full_path(entry, ctx, path, sizeof path);
    bnc_model *m = NULL;
    if (bnc_model_open(path, NULL, &m, &e)) return 1.0;
    double w = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (bnc_model_is_matrix(&m->tensors[i]))
            w += (double)m->tensors[i].rows * (double)m->tensors[i].cols;
    bnc_model_free(m);
    return w > 0 ? w : 1.0;
}

/* Writes the synthetic model of syn into the cache folder unless there. */
static int synth_path(const json_t *syn, char *path, size_t n, bnc_err *err)
{
    bnc_synth_opts o;
    int rc = synth_opts(syn, &o, err);
    if (rc) return rc;
    /* The key holds every resolved option and the build, so a generator
     * changed in another revision never serves an old file. */
    char key[512], hex[33];
    snprintf(key, sizeof key,
             "bnc-synth params=%lld seed=%llu format=%d type=%u dim=%lld layers=%lld ff=%lld "
             "vocab=%lld kv_dim=%lld version=%s rev=%s",
             (long long)o.params, (unsigned long long)o.seed, o.format, (unsigned)o.type,
             (long long)o.dim, (long long)o.layers, (long long)o.ff, (long long)o.vocab,
             (long long)o.kv_dim, BNC_VERSION, BNC_GIT_REV);
    /* Options added later join the key only when set, so older keys stay. */
    if (o.arch || o.byte_vocab) {
        size_t kl = strlen(key);
        snprintf(key + kl, sizeof key - kl, " arch=%d byte_vocab=%d", o.arch, o.byte_vocab);
    }
    bnc_hash128_hex(key, strlen(key), hex);
    const char *tmp = getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bnc-synth-%lu", tmp && *tmp ? tmp : "/tmp",
             (unsigned long)getuid());
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return bnc_err_set(err, BNC_EIO, "%s: %s", dir, strerror(errno));
    int w = snprintf(path, n, "%s/%s.%s", dir, hex,
                     o.format == BNC_MODEL_GGUF ? "gguf" : "safetensors");
    if (w < 0 || (size_t)w >= n)
        return bnc_err_set(err, BNC_EINVAL, "synthetic model path too long under %s", dir);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    /* Host and pid name the temporary file: ranks on other hosts may share
     * TMPDIR. Concurrent writers produce the same bytes; the last rename wins. */
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    char part[1400];
    snprintf(part, sizeof part, "%s.part.%s.%ld", path, host, (long)getpid());
    if ((rc = bnc_synth_write(part, &o, err))) {
        unlink(part);
        return rc;
    }
    if (rename(part, path) != 0) {
        int e = errno;
        unlink(part);
        return bnc_err_set(err, BNC_EIO, "rename %s -> %s: %s", part, path, strerror(e));
    }
    return 0;
}

int bnc_model_entry_open(const json_t *entry, const bnc_task_ctx *ctx, bnc_model **out,
                         bnc_err *err)
{
    char path[4096];
    json_t *syn = json_object_get(entry, "synth");
    if (syn) {
        int rc = synth_path(syn, path, sizeof path, err);
        if (rc) return bnc_err_prefix(err, "synthetic model: ");
    } else {
        full_path(entry, ctx, path, sizeof path);
    }
    return bnc_model_open(path, ctx ? (bnc_mcache *)ctx->cache : NULL, out, err);
}

int bnc_model_is_matrix(const bnc_model_tensor *t)
{
    return t->n_dims == 2 && t->rows > 1;
}

int bnc_param_scheme(const char *param, const char *name, const bnc_scheme **out, bnc_err *err)
{
    *out = bnc_scheme_find(name);
    if (*out) return 0;
    char list[600] = "";
    for (size_t i = 0; i < bnc_scheme_count(); i++) {
        strncat(list, bnc_scheme_at(i)->name, sizeof list - strlen(list) - 1);
        if (i + 1 < bnc_scheme_count()) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return bnc_err_set(err, BNC_EINVAL, "parameter '%s': unknown scheme '%s' (known: %s)", param,
                       name, list);
}

int bnc_scheme_fits(const bnc_scheme *s, int64_t cols)
{
    return s->block <= 1 || cols % s->block == 0;
}

double bnc_sumsq(const float *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

int bnc_quant_sse(const float *x, float *y, int64_t rows, int64_t cols, const bnc_scheme *s,
                  const bnc_qparams *qp, double *sse, size_t *bytes, bnc_err *err)
{
    size_t cap = s->qsize(rows, cols, qp);
    void *q = malloc(cap ? cap : 1);
    if (!q) return bnc_err_set(err, BNC_ENOMEM, "out of memory for %zu bytes", cap);
    size_t written = 0;
    int rc = s->quantize(x, rows, cols, qp, q, cap, &written, err);
    if (!rc) rc = s->dequantize(q, written, rows, cols, qp, y, err);
    free(q);
    if (rc) return rc;
    double e = 0.0;
    for (int64_t i = 0; i < rows * cols; i++) {
        double d = (double)x[i] - (double)y[i];
        e += d * d;
    }
    *sse = e;
    *bytes = written;
    return 0;
}

void bnc_metric_name_at(char out[64], const char *prefix, const char *tensor)
{
    size_t p = strlen(prefix), t = strlen(tensor);
    if (p + 1 + t <= 63) {
        snprintf(out, 64, "%s@%s", prefix, tensor);
        return;
    }
    size_t keep = p + 2 < 63 ? 63 - p - 2 : 0;
    const char *tail = tensor + t - keep, *dot = strchr(tail, '.');
    if (dot && dot[1] && dot != tail)
        tail = dot + 1; /* start at a component: "~layers.117.mlp..." */
    snprintf(out, 64, "%s@~%s", prefix, tail);
}
