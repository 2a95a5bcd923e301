/* Unit tests of modelio: ggml sizes, GGUF exact bytes and value round trips,
 * safetensors and index parsing, every malformed-file case, the mapping
 * cache, the synthetic generator and the quantization policy and plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bnc_gguf.h"
#include "bnc_mfile.h"
#include "bnc_model.h"
#include "bnc_model_synth.h"
#include "bnc_quantize.h"
#include "bnc_safetensors.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void test_ggml_sizes(void **state)
{
    (void)state;
    uint64_t n;
    bnc_err e;
    int64_t a[2] = {64, 3}, b[2] = {256, 2}, c[1] = {512}, d[1] = {33};
    assert_int_equal(bnc_gguf_nbytes(2, 2, a, &n, &e), 0);
    assert_int_equal(n, 2 * 3 * 18);
    assert_int_equal(bnc_gguf_nbytes(35, 2, b, &n, &e), 0);
    assert_int_equal(n, 132);
    assert_int_equal(bnc_gguf_nbytes(34, 1, c, &n, &e), 0);
    assert_int_equal(n, 108);
    assert_int_equal(bnc_gguf_nbytes(8, 1, d, &n, &e), BNC_EFORMAT);
    assert_non_null(strstr(e.msg, "multiple of q8_0's block of 32"));
    assert_string_equal(bnc_gguf_type(30)->name, "bf16");
    assert_int_equal(bnc_gguf_type_by_name("tq1_0")->bytes, 54);
}

/* One u32 key and one f32 tensor: every header byte computed by hand. */
static void test_gguf_exact_bytes(void **state)
{
    (void)state;
    bnc_gguf *g = bnc_gguf_new();
    bnc_gguf_value v = bnc_gguf_v_u32(7);
    assert_int_equal(bnc_gguf_set(g, "a", &v, NULL), 0);
    int64_t ne[1] = {2};
    assert_int_equal(bnc_gguf_add_tensor(g, "t", 1, ne, 0, NULL), 0);
    assert_int_equal(bnc_gguf_plan(g, NULL), 0);
    assert_int_equal(g->header_size, 74);
    assert_int_equal(g->data_offset, 96);
    assert_int_equal(g->data_size, 32);
    uint8_t *h;
    size_t n;
    assert_int_equal(bnc_gguf_header_bytes(g, &h, &n, NULL), 0);
    assert_int_equal(n, 96);
    static const uint8_t want[74] = {
        'G', 'G', 'U', 'F', 3, 0, 0, 0, 1,   0, 0, 0, 0, 0, 0, 0,    /* version, tensors */
        1,   0,   0,   0,   0, 0, 0, 0,                              /* kv count */
        1,   0,   0,   0,   0, 0, 0, 0, 'a', 4, 0, 0, 0, 7, 0, 0, 0, /* "a" uint32 7 */
        1,   0,   0,   0,   0, 0, 0, 0, 't', 1, 0, 0, 0,             /* "t", 1 dim */
        2,   0,   0,   0,   0, 0, 0, 0, 0,   0, 0, 0,                /* ne0 2, f32 */
        0,   0,   0,   0,   0, 0, 0, 0};                             /* offset 0 */
    assert_memory_equal(h, want, 74);
    for (size_t i = 74; i < 96; i++)
        assert_int_equal(h[i], 0);
    free(h);
    bnc_gguf_free(g);
}

static bnc_gguf_value arr(uint32_t et, uint64_t n, void *data)
{
    bnc_gguf_value v = {.type = BNC_GGUF_ARRAY};
    v.v.arr.type = et;
    v.v.arr.n = n;
    v.v.arr.data = data;
    return v;
}

/* Every value type, nested arrays, a custom alignment, tensor data. */
static void test_gguf_roundtrip(void **state)
{
    (void)state;
    bnc_gguf *g = bnc_gguf_new();
    bnc_gguf_value vals[13];
    memset(vals, 0, sizeof vals);
    for (uint32_t t = 0; t <= 12; t++)
        vals[t].type = t;
    vals[0].v.u = 250;
    vals[1].v.i = -100;
    vals[2].v.u = 65000;
    vals[3].v.i = -30000;
    vals[4].v.u = 4000000000u;
    vals[5].v.i = -2000000000;
    vals[6].v.f32 = 3.25f;
    vals[7].v.u = 1;
    vals[8] = bnc_gguf_v_str("h\xc3\xa9llo");
    uint16_t u16s[3] = {1, 2, 65535};
    vals[9] = arr(BNC_GGUF_UINT16, 3, u16s);
    vals[10].v.u = UINT64_MAX - 5;
    vals[11].v.i = INT64_MIN + 3;
    vals[12].v.f64 = -1.0 / 3.0;
    char key[32];
    for (int t = 0; t <= 12; t++) {
        snprintf(key, sizeof key, "test.type%d", t);
        assert_int_equal(bnc_gguf_set(g, key, &vals[t], NULL), 0);
    }
    /* [[“x”, “yz”], []] and [[1, 2], [3]] of u8, and a bool array. */
    bnc_gguf_value s2[2] = {bnc_gguf_v_str("x"), bnc_gguf_v_str("yz")};
    bnc_gguf_value inner[2] = {arr(BNC_GGUF_STRING, 2, s2), arr(BNC_GGUF_STRING, 0, NULL)};
    bnc_gguf_value nested = arr(BNC_GGUF_ARRAY, 2, inner);
    assert_int_equal(bnc_gguf_set(g, "test.nested_str", &nested, NULL), 0);
    uint8_t b12[2] = {1, 2}, b3[1] = {3};
    bnc_gguf_value in2[2] = {arr(BNC_GGUF_UINT8, 2, b12), arr(BNC_GGUF_UINT8, 1, b3)};
    bnc_gguf_value nested2 = arr(BNC_GGUF_ARRAY, 2, in2);
    assert_int_equal(bnc_gguf_set(g, "test.nested_u8", &nested2, NULL), 0);
    uint8_t bools[3] = {1, 0, 1};
    bnc_gguf_value ba = arr(BNC_GGUF_BOOL, 3, bools);
    assert_int_equal(bnc_gguf_set(g, "test.bools", &ba, NULL), 0);
    bnc_gguf_value al = bnc_gguf_v_u32(64);
    assert_int_equal(bnc_gguf_set(g, "general.alignment", &al, NULL), 0);
    int64_t ne0[2] = {32, 2}, ne1[1] = {3};
    assert_int_equal(bnc_gguf_add_tensor(g, "q", 2, ne0, 8, NULL), 0);
    assert_int_equal(bnc_gguf_add_tensor(g, "v", 1, ne1, 0, NULL), 0);
    uint8_t q[68];
    for (int i = 0; i < 68; i++)
        q[i] = (uint8_t)(i * 7 + 1);
    float f[3] = {1.5f, -2.0f, 0.25f};
    const void *data[2] = {q, f};
    assert_int_equal(bnc_gguf_write_file(g, tpath("rt.gguf"), data, NULL), 0);
    assert_int_equal(g->tensors[1].offset, 128); /* 68 rounded up to 64 */
    size_t n;
    uint8_t *buf = slurp(tpath("rt.gguf"), &n);
    assert_int_equal(n, bnc_gguf_file_size(g));
    bnc_gguf *r;
    bnc_err e;
    assert_int_equal(bnc_gguf_parse(buf, n, "rt.gguf", &r, &e), 0);
    assert_int_equal(r->alignment, 64);
    assert_int_equal(r->n_kv, g->n_kv);
    for (size_t i = 0; i < g->n_kv; i++) {
        assert_string_equal(r->kv[i].key, g->kv[i].key);
        assert_true(bnc_gguf_value_equal(&r->kv[i].value, &g->kv[i].value));
    }
    const bnc_gguf_value *ns = bnc_gguf_get(r, "test.nested_str");
    const bnc_gguf_value *in0 = ns->v.arr.data;
    assert_string_equal(((bnc_gguf_value *)in0[0].v.arr.data)[1].v.str.s, "yz");
    assert_int_equal(bnc_gguf_get(r, "test.type11")->v.i, INT64_MIN + 3);
    assert_memory_equal(buf + r->data_offset + r->tensors[0].offset, q, 68);
    assert_memory_equal(buf + r->data_offset + r->tensors[1].offset, f, 12);
    /* Re-serialising the parsed file reproduces it byte for byte. */
    uint8_t *h2;
    size_t n2;
    assert_int_equal(bnc_gguf_plan(r, NULL), 0);
    assert_int_equal(bnc_gguf_header_bytes(r, &h2, &n2, NULL), 0);
    assert_memory_equal(h2, buf, n2);
    char txt[200];
    bnc_gguf_value_format(ns, txt, sizeof txt);
    assert_string_equal(txt, "array[2] [string[2] [\"x\", \"yz\"], string[0] []]");
    free(h2);
    free(buf);
    bnc_gguf_free(r);
    bnc_gguf_free(g);
}

static void test_st_parse(void **state)
{
    (void)state;
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    size_t jl = strlen(json), n = 8 + jl + 22;
    uint8_t *b = calloc(1, n);
    uint64_t hl = jl;
    memcpy(b, &hl, 8);
    memcpy(b + 8, json, jl);
    bnc_safetensors *st;
    bnc_err e;
    assert_int_equal(bnc_st_parse(b, n, "x.safetensors", &st, &e), 0);
    assert_int_equal(st->n_tensors, 2);
    assert_string_equal(st->tensors[0].name, "b"); /* the header's order */
    assert_int_equal(st->tensors[0].type, 30);
    assert_int_equal(st->tensors[0].begin, 8 + jl + 16);
    assert_int_equal(st->tensors[1].shape[1], 2);
    assert_int_equal(st->n_meta, 1);
    assert_string_equal(st->meta_values[0], "pt");
    bnc_st_free(st);
    /* One byte short: "b" now ends past the buffer. */
    assert_int_equal(bnc_st_parse(b, n - 1, "x.safetensors", &st, &e), BNC_EFORMAT);
    assert_non_null(strstr(e.msg, "x.safetensors: tensor 'b': data_offsets"));
    free(b);
}

static void test_st_index(void **state)
{
    (void)state;
    const char *j = "{\"metadata\":{\"total_size\":8},\"weight_map\":{\"a\":\"s1.safetensors\","
                    "\"b\":\"s2.safetensors\",\"c\":\"s1.safetensors\"}}";
    bnc_st_index *ix;
    bnc_err e;
    assert_int_equal(bnc_st_index_parse(j, strlen(j), "i.json", &ix, &e), 0);
    assert_int_equal(ix->n, 3);
    assert_int_equal(ix->n_shards, 2);
    assert_int_equal(ix->shard[2], 0);
    assert_string_equal(ix->shards[1], "s2.safetensors");
    bnc_st_index_free(ix);
}

/* Every case mkbad writes fails in the library with its field named. */
static void test_bad_files(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s > %s", getenv("BNC_MKBAD"), tmpdir, tpath("cases.tsv"));
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(tpath("cases.tsv"), "r");
    assert_non_null(f);
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char *field = tab + 1;
        field[strcspn(field, "\n")] = '\0';
        bnc_model *m = NULL;
        bnc_err e;
        const char *p = tpath(line);
        int rc = bnc_model_open(p, NULL, &m, &e);
        if (rc != BNC_EFORMAT && rc != BNC_EVERSION) fail_msg("%s: rc %d (%s)", line, rc, e.msg);
        if (!strstr(e.msg, line) || !strstr(e.msg, field))
            fail_msg("%s: message '%s' lacks '%s'", line, e.msg, field);
        assert_null(m);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 20);
}

static void write_bytes(const char *path, size_t n, int fill)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc(fill, f);
    fclose(f);
}

static void test_mcache(void **state)
{
    (void)state;
    const char *big = tpath("big.bin"), *small = tpath("small.bin");
    write_bytes(big, 1000, 'a');
    write_bytes(small, 100, 'b');
    bnc_mcache *c = bnc_mcache_new(2, 512);
    bnc_mfile *f1, *f2, *f3, *f4;
    bnc_err e;
    assert_int_equal(bnc_mcache_get(c, big, &f1, &e), 0);
    assert_int_equal(f1->mapped, 1);
    assert_int_equal(bnc_mcache_get(c, big, &f2, &e), 0);
    assert_ptr_equal(f1, f2);
    assert_int_equal(bnc_mcache_get(c, small, &f3, &e), 0);
    assert_int_equal(f3->mapped, 0);
    assert_int_equal(f3->data[99], 'b');
    bnc_mcache_stats st;
    bnc_mcache_stats_get(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    /* Rewritten with another size: the stale mapping is not served, while
     * the holder of the old one keeps valid memory. */
    /* Replaced the usual way (write aside, rename), never in place: a
     * mapping of a file truncated under it would fault. */
    write_bytes(tpath("big.tmp"), 1200, 'z');
    assert_int_equal(rename(tpath("big.tmp"), big), 0);
    assert_int_equal(bnc_mcache_get(c, big, &f4, &e), 0);
    assert_ptr_not_equal(f4, f1);
    assert_int_equal(f4->size, 1200);
    assert_int_equal(f4->data[1199], 'z');
    assert_int_equal(f1->data[999], 'a');
    bnc_mcache_stats_get(c, &st);
    assert_int_equal(st.stale, 1);
    assert_int_equal(st.entries, 2);
    bnc_mfile_release(f1);
    bnc_mfile_release(f2);
    bnc_mfile_release(f3);
    bnc_mfile_release(f4);
    assert_int_equal(bnc_mcache_get(c, tpath("nope"), &f1, &e), BNC_EIO);
    assert_non_null(strstr(e.msg, "nope"));
    bnc_mcache_free(c);
}

static void test_synth(void **state)
{
    (void)state;
    bnc_synth_opts o = {0};
    o.seed = 3;
    o.dim = 256;
    o.layers = 1;
    o.ff = 768;
    o.vocab = 300;
    o.format = BNC_MODEL_SAFETENSORS;
    bnc_err e;
    assert_int_equal(bnc_synth_write(tpath("s1.safetensors"), &o, &e), 0);
    assert_int_equal(bnc_synth_write(tpath("s2.safetensors"), &o, &e), 0);
    o.seed = 4;
    assert_int_equal(bnc_synth_write(tpath("s3.safetensors"), &o, &e), 0);
    size_t n1, n2, n3;
    uint8_t *a = slurp(tpath("s1.safetensors"), &n1), *b = slurp(tpath("s2.safetensors"), &n2),
            *c = slurp(tpath("s3.safetensors"), &n3);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    assert_int_equal(n1, n3);
    assert_memory_not_equal(a, c, n1);
    free(a);
    free(b);
    free(c);
    /* Realistic statistics: q_proj's per-input-channel mean |w| has a few
     * outlier channels far above the median, and the spread is log-normal. */
    bnc_model *m;
    assert_int_equal(bnc_model_open(tpath("s1.safetensors"), NULL, &m, &e), 0);
    assert_int_equal(m->n_tensors, 9 + 3);
    long qi = bnc_model_find(m, "model.layers.0.self_attn.q_proj.weight");
    assert_true(qi >= 0);
    const bnc_model_tensor *t = &m->tensors[qi];
    assert_int_equal(t->rows, 256);
    assert_int_equal(t->cols, 256);
    float *x = malloc(256 * 256 * sizeof *x);
    assert_int_equal(bnc_model_rows_f32(m, (size_t)qi, 0, 256, x, &e), 0);
    double col[256], sorted[256];
    for (int j = 0; j < 256; j++) {
        col[j] = 0;
        for (int i = 0; i < 256; i++)
            col[j] += fabs(x[i * 256 + j]) / 256;
        sorted[j] = col[j];
    }
    for (int i = 1; i < 256; i++)
        for (int k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
            double tmp = sorted[k];
            sorted[k] = sorted[k - 1];
            sorted[k - 1] = tmp;
        }
    assert_true(sorted[255] / sorted[128] > 5.0); /* outlier channel */
    assert_true(sorted[200] / sorted[56] > 1.2);  /* spread of the bulk */
    free(x);
    bnc_model_free(m);
    bnc_synth_shape s;
    bnc_synth_opts big = {0};
    big.params = 1000000000;
    assert_int_equal(bnc_synth_shape_for(&big, &s, &e), 0);
    assert_true(llabs(s.params - big.params) < big.params / 50);
    assert_int_equal(s.dim % 256, 0);
}

static void test_policy(void **state)
{
    (void)state;
    bnc_quant_opts o = {0};
    o.type = "q4_0";
    const char *pat[] = {"*.attn_v.*", "blk.0.*"};
    const char *typ[] = {"q8_0", "keep"};
    o.n_overrides = 2;
    o.ov_pattern = pat;
    o.ov_type = typ;
    bnc_model_tensor t = {0};
    t.type = 0;
    t.n_dims = 2;
    t.cols = 256;
    t.rows = 8;
    uint32_t ty;
    int tern;
    char why[24];
    bnc_err e;
    struct {
        const char *name;
        uint32_t type;
        const char *why;
    } cases[] = {
        {"blk.1.attn_q.weight", 2, ""},         {"blk.1.attn_v.weight", 8, "override"},
        {"blk.0.attn_q.weight", 0, "override"}, {"blk.1.attn_norm.weight", 0, "norm"},
        {"token_embd.weight", 0, "embedding"},  {"output.weight", 0, "output"},
        {"lm_head.weight", 0, "output"},        {"model.embed_tokens.weight", 0, "embedding"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t.name = cases[i].name;
        assert_int_equal(bnc_quant_choose(&t, &o, &ty, &tern, why, &e), 0);
        assert_int_equal(ty, cases[i].type);
        assert_string_equal(why, cases[i].why);
    }
    t.name = "blk.1.ffn_up.weight";
    t.cols = 48; /* not a multiple of 32 */
    assert_int_equal(bnc_quant_choose(&t, &o, &ty, &tern, why, &e), 0);
    assert_int_equal(ty, 0);
    assert_string_equal(why, "row % 32");
    t.cols = 256;
    t.n_dims = 1;
    t.rows = 1;
    assert_int_equal(bnc_quant_choose(&t, &o, &ty, &tern, why, &e), 0);
    assert_string_equal(why, "1-D");
    t.n_dims = 2;
    t.rows = 4;
    o.type = "bitnet";
    o.n_overrides = 0;
    assert_int_equal(bnc_quant_choose(&t, &o, &ty, &tern, why, &e), 0);
    assert_int_equal(ty, 35);
    assert_int_equal(tern, 1);
    o.pack = "tq1_0";
    assert_int_equal(bnc_quant_choose(&t, &o, &ty, &tern, why, &e), 0);
    assert_int_equal(ty, 34);
    o.type = "q3_bogus";
    assert_int_equal(bnc_quant_choose(&t, &o, &ty, &tern, why, &e), BNC_EINVAL);
    assert_int_equal(bnc_quant_llama_ftype("q4_0", NULL), 2);
    assert_int_equal(bnc_quant_llama_ftype("bitnet", NULL), 37);
}

static void test_plan(void **state)
{
    (void)state;
    int64_t r0, r1;
    bnc_quant_split_rows(10, 3, 0, &r0, &r1);
    assert_true(r0 == 0 && r1 == 4);
    bnc_quant_split_rows(10, 3, 1, &r0, &r1);
    assert_true(r0 == 4 && r1 == 7);
    bnc_quant_split_rows(10, 3, 2, &r0, &r1);
    assert_true(r0 == 7 && r1 == 10);
    bnc_synth_opts so = {0};
    so.dim = 256;
    so.layers = 2;
    so.ff = 768;
    so.vocab = 512;
    so.format = BNC_MODEL_GGUF;
    bnc_err e;
    assert_int_equal(bnc_synth_write(tpath("p.gguf"), &so, &e), 0);
    bnc_model *m;
    assert_int_equal(bnc_model_open(tpath("p.gguf"), NULL, &m, &e), 0);
    bnc_quant_opts o = {0};
    o.type = "f16";
    o.split_bytes = 600000; /* splits the 786432-byte ffn matrices */
    bnc_quant_plan *p1, *p3;
    assert_int_equal(bnc_quant_plan_build(m, &o, 1, &p1, &e), 0);
    assert_int_equal(bnc_quant_plan_build(m, &o, 3, &p3, &e), 0);
    /* The layout does not depend on the number of ranks. */
    assert_int_equal(p1->file_size, p3->file_size);
    int split = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < p3->n; i++) {
        assert_int_equal(p1->items[i].out_offset, p3->items[i].out_offset);
        assert_int_equal(p1->items[i].owner, 0);
        split += p3->items[i].owner < 0;
        total += p3->items[i].in_bytes;
        if (p3->items[i].owner < 0) assert_true(p3->items[i].in_bytes > o.split_bytes);
    }
    assert_int_equal(split, 6); /* gate, up, down of 2 layers */
    assert_int_equal(p3->load[0] + p3->load[1] + p3->load[2], total);
    /* Greedy balancing: no rank is more than the largest unsplit tensor
     * (the 512x256 f32 embedding, 524288 bytes) above another. */
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            assert_true(p3->load[a] <= p3->load[b] + 524288);
    assert_string_equal(bnc_gguf_get(p3->out, "general.architecture")->v.str.s, "llama");
    assert_int_equal(bnc_gguf_get(p3->out, "general.file_type")->v.u, 1);
    assert_non_null(bnc_gguf_get(p3->out, "bnc.quantize.source_hash"));
    bnc_quant_plan_free(p1);
    bnc_quant_plan_free(p3);
    bnc_model_free(m);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bnc_modelio_unit_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ggml_sizes),     cmocka_unit_test(test_gguf_exact_bytes),
        cmocka_unit_test(test_gguf_roundtrip), cmocka_unit_test(test_st_parse),
        cmocka_unit_test(test_st_index),       cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_mcache),         cmocka_unit_test(test_synth),
        cmocka_unit_test(test_policy),         cmocka_unit_test(test_plan),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return rc;
}
