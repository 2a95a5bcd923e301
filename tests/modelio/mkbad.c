/* Writes one malformed model file per acceptance case into DIR and prints
 * "file<TAB>field" lines: the field (or phrase) the error message must name.
 * Used by the bad-file CLI test and the unit tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"

static char dir[4096];

static void put(const char *name, const void *data, size_t n, const char *field)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    printf("%s\t%s\n", name, field);
}

/* safetensors: 8-byte length + JSON + data bytes. */
static void st(const char *name, const char *json, size_t data_bytes, const char *field)
{
    size_t jl = strlen(json);
    size_t n = 8 + jl + data_bytes;
    unsigned char *b = calloc(1, n);
    uint64_t hl = jl;
    memcpy(b, &hl, 8);
    memcpy(b + 8, json, jl);
    put(name, b, n, field);
    free(b);
}

/* A valid two-tensor GGUF (one u8-array key) in memory, then mutated. */
typedef void (*mutate_fn)(bnc_gguf *g);

static uint8_t *gguf_bytes(mutate_fn mut, size_t *n)
{
    bnc_gguf *g = bnc_gguf_new();
    bnc_gguf_value a = {.type = BNC_GGUF_ARRAY};
    uint8_t items[3] = {1, 2, 3};
    a.v.arr.type = BNC_GGUF_UINT8;
    a.v.arr.n = 3;
    a.v.arr.data = items;
    bnc_gguf_set(g, "k", &a, NULL);
    int64_t ne[2] = {4, 2};
    bnc_gguf_add_tensor(g, "t0", 2, ne, 0, NULL);
    bnc_gguf_add_tensor(g, "t1", 2, ne, 0, NULL);
    bnc_gguf_plan(g, NULL);
    if (mut) mut(g);
    uint8_t *hdr;
    size_t hn;
    if (bnc_gguf_header_bytes(g, &hdr, &hn, NULL)) exit(1);
    *n = (size_t)bnc_gguf_file_size(g);
    uint8_t *b = calloc(1, *n > hn ? *n : hn);
    memcpy(b, hdr, hn);
    free(hdr);
    bnc_gguf_free(g);
    return b;
}

static void m_offset(bnc_gguf *g)
{
    g->tensors[1].offset = 1u << 20;
}
static void m_overlap(bnc_gguf *g)
{
    g->tensors[1].offset = 0;
}
static void m_type(bnc_gguf *g)
{
    g->tensors[0].type = 99;
}
static void m_zerodim(bnc_gguf *g)
{
    g->tensors[0].ne[0] = 0; /* innermost: 0 columns (was a SIGFPE in quantize) */
}
static void m_unaligned(bnc_gguf *g)
{
    g->tensors[1].offset = 40;
}

static void gguf_patch(const char *name, size_t at, const void *val, size_t k, const char *field)
{
    size_t n;
    uint8_t *b = gguf_bytes(NULL, &n);
    memcpy(b + at, val, k);
    put(name, b, n, field);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkbad DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    put("st_truncated.safetensors", "\x10\x00\x00", 3, "header length");
    {
        unsigned char b[40] = {0};
        uint64_t big = 1000;
        memcpy(b, &big, 8);
        memcpy(b + 8, "{}", 2);
        put("st_hdrlen.safetensors", b, sizeof b, "header length");
    }
    st("st_badjson.safetensors", "{\"a\": ", 0, "invalid JSON");
    st("st_notobject.safetensors", "[1, 2, 3]", 0, "not an object");
    st("st_range.safetensors",
       "{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 16, "data_offsets");
    st("st_overlap.safetensors",
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
       "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
       24, "overlap");
    st("st_dtype.safetensors", "{\"w\":{\"dtype\":\"Q7\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
       "dtype");
    st("st_shape.safetensors",
       "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[0,16]}}", 16, "shape");
    st("st_negshape.safetensors",
       "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16, "shape");
    st("st_zerodim.safetensors",
       "{\"w\":{\"dtype\":\"F32\",\"shape\":[256,0],\"data_offsets\":[0,0]}}", 0,
       "tensor 'w': shape: dimension 1 is 0");
    gguf_patch("gguf_magic.gguf", 0, "GGUX", 4, "magic");
    uint32_t v2 = 2;
    gguf_patch("gguf_version.gguf", 4, &v2, 4, "version");
    uint64_t huge = (uint64_t)1 << 50;
    gguf_patch("gguf_tcount.gguf", 8, &huge, 8, "tensor_count");
    gguf_patch("gguf_kvcount.gguf", 16, &huge, 8, "metadata_kv_count");
    gguf_patch("gguf_strlen.gguf", 24, &huge, 8, "string length");
    /* key "k": length at 24, byte at 32, type at 33, element type 37, count 41 */
    gguf_patch("gguf_arrlen.gguf", 41, &huge, 8, "array length");
    {
        size_t n;
        uint8_t *b = gguf_bytes(NULL, &n);
        put("gguf_truncated.gguf", b, 60, "truncated");
        free(b);
        b = gguf_bytes(m_offset, &n);
        put("gguf_toffset.gguf", b, n, "beyond the end");
        free(b);
        b = gguf_bytes(m_overlap, &n);
        put("gguf_overlap.gguf", b, n, "overlaps");
        free(b);
        b = gguf_bytes(m_type, &n);
        put("gguf_type.gguf", b, n, "unknown ggml type");
        free(b);
        b = gguf_bytes(m_zerodim, &n);
        put("gguf_zerodim.gguf", b, n, "tensor 't0': dimension 0 is 0");
        free(b);
        b = gguf_bytes(m_unaligned, &n);
        put("gguf_unaligned.gguf", b, n, "alignment");
        free(b);
    }
    const char *ix = "{\"weight_map\": {\"w\": \"../etc/passwd\"}}";
    put("idx_traversal.index.json", ix, strlen(ix), "weight_map");
    const char *ix2 = "{\"metadata\": {}}";
    put("idx_nomap.index.json", ix2, strlen(ix2), "weight_map");
    return 0;
}
