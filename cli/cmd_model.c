/* bnc model synth|info: write synthetic models, describe model files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_err.h"
#include "bnc_gguf.h"
#include "bnc_model.h"
#include "bnc_model_synth.h"
#include "commands.h"

static void model_usage(FILE *f)
{
    fprintf(f, "usage: bnc model synth OUT (--params N | --dim D ...) [options]\n"
               "       bnc model info FILE [--all]\n\n"
               "synth writes a deterministic llama-like model (GGUF when OUT ends in .gguf,\n"
               "safetensors otherwise; a .json OUT with --shards writes a sharded checkpoint).\n"
               "  --params N     target parameters, with suffix k/M/G (e.g. 10M, 1.2G)\n"
               "  --seed S       generator seed (default 1)\n"
               "  --dtype T      f32 (default), f16 or bf16 for the matrices\n"
               "  --dim D --layers L --ff F --vocab V --kv-dim K   explicit sizes\n"
               "  --shards N     safetensors shards (OUT is then the index .json)\n\n"
               "info prints the format, metadata, and every tensor's type, shape, bytes and\n"
               "bits per weight; --all shows longer metadata values (512 characters).\n");
}

static int parse_count(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1e6, end++;
    else if (*end == 'g' || *end == 'G' || *end == 'b' || *end == 'B')
        mul = 1e9, end++;
    if (end == s || *end || v < 0 || v * mul > 9e15) return -1;
    *out = (int64_t)(v * mul + 0.5);
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {{"params", required_argument, NULL, 'p'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"dtype", required_argument, NULL, 't'},
                                         {"dim", required_argument, NULL, 'd'},
                                         {"layers", required_argument, NULL, 'l'},
                                         {"ff", required_argument, NULL, 'f'},
                                         {"vocab", required_argument, NULL, 'v'},
                                         {"kv-dim", required_argument, NULL, 'k'},
                                         {"shards", required_argument, NULL, 'n'},
                                         {"arch", required_argument, NULL, 'a'},
                                         {"byte-vocab", no_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bnc_synth_opts o = {0};
    o.seed = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int64_t v = 0;
        if (c == 'h') {
            model_usage(stdout);
            return 0;
        }
        if (c == '?') return 2;
        if (c == 'b') {
            o.byte_vocab = 1;
            continue;
        }
        if (c == 'a') {
            if (strcmp(optarg, "llama") == 0)
                o.arch = BNC_SYNTH_LLAMA;
            else if (strcmp(optarg, "bitnet") == 0)
                o.arch = BNC_SYNTH_BITNET;
            else
                return bnc_cli_fail(BNC_EINVAL, "model synth: --arch must be llama or bitnet");
            continue;
        }
        if (c == 't') {
            const bnc_gguf_type_info *ti = bnc_gguf_type_by_name(optarg);
            if (!ti || (ti->id != 0 && ti->id != 1 && ti->id != 30))
                return bnc_cli_fail(BNC_EINVAL, "model synth: --dtype must be f32, f16 or bf16");
            o.type = ti->id;
            continue;
        }
        if (parse_count(optarg, &v) != 0) {
            const char *name = "?";
            for (const struct option *op = opts; op->name; op++)
                if (op->val == c) name = op->name;
            fprintf(stderr, "bnc: model synth: --%s: '%s' is not a count\n", name, optarg);
            return 2;
        }
        switch (c) {
        case 'p':
            o.params = v;
            break;
        case 's':
            o.seed = (uint64_t)v;
            break;
        case 'd':
            o.dim = v;
            break;
        case 'l':
            o.layers = v;
            break;
        case 'f':
            o.ff = v;
            break;
        case 'v':
            o.vocab = v;
            break;
        case 'k':
            o.kv_dim = v;
            break;
        case 'n':
            o.shards = (int)v;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - 1) {
        model_usage(stderr);
        return 2;
    }
    const char *out = argv[optind];
    o.format = ends_with(out, ".gguf") ? BNC_MODEL_GGUF : BNC_MODEL_SAFETENSORS;
    if (o.shards > 1 && (o.format == BNC_MODEL_GGUF || !ends_with(out, ".json")))
        return bnc_cli_fail(BNC_EINVAL,
                            "model synth: --shards needs an index path ending in .json");
    bnc_synth_shape s;
    bnc_err err;
    int rc = bnc_synth_shape_for(&o, &s, &err);
    if (!rc) rc = bnc_synth_write(out, &o, &err);
    if (rc) return bnc_cli_fail(rc, err.msg);
    printf("%s: %lld parameters, %lld tensors (dim %lld, layers %lld, ff %lld, vocab %lld, "
           "kv_dim %lld), seed %llu\n",
           out, (long long)s.params, (long long)s.n_tensors, (long long)s.dim, (long long)s.layers,
           (long long)s.ff, (long long)s.vocab, (long long)s.kv_dim, (unsigned long long)o.seed);
    return 0;
}

static void shape_str(const bnc_model_tensor *t, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    /* Row-major like PyTorch: outermost first. */
    for (int d = (int)t->n_dims - 1; d >= 0 && len < n; d--)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", len ? "x" : "", (long long)t->ne[d]);
}

static int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int all = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            model_usage(stdout);
            return 0;
        }
        if (c == 'a')
            all = 1;
        else
            return 2;
    }
    if (optind != argc - 1) {
        model_usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    bnc_model *m;
    bnc_err err;
    int rc = bnc_model_open(path, NULL, &m, &err);
    if (rc) return bnc_cli_fail(rc, err.msg);
    uint64_t fbytes = 0;
    for (size_t f = 0; f < m->n_files; f++)
        fbytes += m->files[f]->size;
    if (m->format == BNC_MODEL_GGUF)
        printf("file: %s\nformat: GGUF v%u, alignment %u, data at %llu, %s\n", path,
               m->gguf->version, m->gguf->alignment, (unsigned long long)m->gguf->data_offset,
               m->files[0]->mapped ? "mmap" : "read");
    else
        printf("file: %s\nformat: safetensors, %zu file%s, %s\n", path, m->n_files,
               m->n_files == 1 ? "" : "s (sharded)", m->files[0]->mapped ? "mmap" : "read");
    printf("size: %llu bytes\n", (unsigned long long)fbytes);
    if (m->gguf) {
        printf("metadata: %zu keys\n", m->gguf->n_kv);
        for (size_t i = 0; i < m->gguf->n_kv; i++) {
            char val[512];
            const bnc_gguf_value *v = &m->gguf->kv[i].value;
            bnc_gguf_value_format(v, val, all ? sizeof val : 120);
            printf("  %-44s %-8s %s\n", m->gguf->kv[i].key, bnc_gguf_vtype_name(v->type), val);
        }
    }
    for (size_t f = 0; m->st && f < m->n_files; f++)
        for (size_t i = 0; m->st[f] && i < m->st[f]->n_meta; i++)
            printf("  __metadata__ %-31s %s\n", m->st[f]->meta_keys[i], m->st[f]->meta_values[i]);
    printf("tensors: %zu\n", m->n_tensors);
    int w = 4;
    for (size_t i = 0; i < m->n_tensors; i++)
        if ((int)strlen(m->tensors[i].name) > w) w = (int)strlen(m->tensors[i].name);
    printf("  %-*s %-6s %-20s %14s %7s\n", w, "name", "type", "shape", "bytes", "bpw");
    uint64_t params = 0, bytes = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const bnc_model_tensor *t = &m->tensors[i];
        uint64_t n = (uint64_t)(t->rows * t->cols);
        char shape[96];
        shape_str(t, shape, sizeof shape);
        const bnc_gguf_type_info *ti = bnc_gguf_type(t->type);
        printf("  %-*s %-6s %-20s %14llu %7.4f\n", w, t->name, ti ? ti->name : "?", shape,
               (unsigned long long)t->nbytes, n ? 8.0 * (double)t->nbytes / (double)n : 0.0);
        params += n;
        bytes += t->nbytes;
    }
    printf("total: %llu parameters, %llu bytes of tensor data, %.4f bits per weight\n",
           (unsigned long long)params, (unsigned long long)bytes,
           params ? 8.0 * (double)bytes / (double)params : 0.0);
    bnc_model_free(m);
    return 0;
}

int bnc_cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        model_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "synth") == 0) return cmd_synth(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 1, argv + 1);
    fprintf(stderr, "bnc: model: unknown subcommand '%s'\n", argv[1]);
    model_usage(stderr);
    return 2;
}
