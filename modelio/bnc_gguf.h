/* GGUF v3: reading (from a byte buffer, every length checked), building and
 * writing. The writer plans every tensor's offset before any data exists, so
 * many writers (MPI ranks) can fill the data section in parallel while one
 * writes the header. Also the table of ggml tensor types (block geometry)
 * that both readers need. Layout: ../shared/FORMATS.md and ggml's gguf.md. */
#ifndef BNC_GGUF_H
#define BNC_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_GGUF_MAGIC "GGUF"
#define BNC_GGUF_VERSION 3
#define BNC_GGUF_DEFAULT_ALIGNMENT 32
#define BNC_GGUF_MAX_DIMS 4
/* Nesting limit of arrays of arrays when reading (the format has none; a
 * bound keeps a hostile file from exhausting the stack). */
#define BNC_GGUF_MAX_DEPTH 16

/* ---- ggml tensor types ---------------------------------------------------- */

/* A type that only safetensors has (unsigned bytes); never written to GGUF. */
#define BNC_TYPE_U8 1000u

typedef struct bnc_gguf_type_info {
    uint32_t id;      /* ggml_type value (BNC_TYPE_U8 for safetensors' U8) */
    const char *name; /* "f32", "q4_0", ... */
    int64_t block;    /* weights per block */
    size_t bytes;     /* bytes per block */
    int is_float;     /* f32, f16, bf16, f64: plain floating point */
} bnc_gguf_type_info;

/* The type with ggml id `id`, or NULL when unknown. Static table. */
const bnc_gguf_type_info *bnc_gguf_type(uint32_t id);
/* The type called name ("q8_0"), or NULL. */
const bnc_gguf_type_info *bnc_gguf_type_by_name(const char *name);
/* Bytes of a tensor of type `type` with ne[0..n_dims): fails with
 * BNC_EFORMAT when ne[0] is not a multiple of the block or a product
 * overflows, BNC_EINVAL for an unknown type. */
int bnc_gguf_nbytes(uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t *out, bnc_err *err);

/* ---- metadata values ------------------------------------------------------ */

enum bnc_gguf_vtype {
    BNC_GGUF_UINT8 = 0,
    BNC_GGUF_INT8 = 1,
    BNC_GGUF_UINT16 = 2,
    BNC_GGUF_INT16 = 3,
    BNC_GGUF_UINT32 = 4,
    BNC_GGUF_INT32 = 5,
    BNC_GGUF_FLOAT32 = 6,
    BNC_GGUF_BOOL = 7,
    BNC_GGUF_STRING = 8,
    BNC_GGUF_ARRAY = 9,
    BNC_GGUF_UINT64 = 10,
    BNC_GGUF_INT64 = 11,
    BNC_GGUF_FLOAT64 = 12,
};

/* One metadata value. Scalars keep their exact bits; arrays of scalars keep
 * the little-endian element bytes in `data` (n * element size); arrays of
 * strings or of arrays keep `n` bnc_gguf_value items in `data`. */
typedef struct bnc_gguf_value {
    uint32_t type;
    union {
        uint64_t u; /* UINT8..UINT64, BOOL (0 or 1) */
        int64_t i;  /* INT8..INT64 */
        float f32;  /* FLOAT32 */
        double f64; /* FLOAT64 */
        struct {
            char *s; /* NUL-terminated copy; len excludes the NUL */
            uint64_t len;
        } str;
        struct {
            uint32_t type; /* element type */
            uint64_t n;
            void *data;
        } arr;
    } v;
} bnc_gguf_value;

/* Size in bytes of a scalar value type, 0 for STRING/ARRAY/unknown. */
size_t bnc_gguf_vtype_size(uint32_t type);
/* Name of a value type ("uint32", "array", ...), "?" when unknown. */
const char *bnc_gguf_vtype_name(uint32_t type);

/* Value constructors that allocate nothing (the string is borrowed; the
 * setters below copy). */
bnc_gguf_value bnc_gguf_v_u32(uint32_t x);
bnc_gguf_value bnc_gguf_v_u64(uint64_t x);
bnc_gguf_value bnc_gguf_v_i32(int32_t x);
bnc_gguf_value bnc_gguf_v_f32(float x);
bnc_gguf_value bnc_gguf_v_str(const char *s);

/* Deep copy of src into *dst (which must not own anything yet). */
int bnc_gguf_value_copy(bnc_gguf_value *dst, const bnc_gguf_value *src, bnc_err *err);
/* Frees what v owns and leaves it empty. */
void bnc_gguf_value_clear(bnc_gguf_value *v);
/* 1 when a and b have the same type and the same bits, recursively. */
int bnc_gguf_value_equal(const bnc_gguf_value *a, const bnc_gguf_value *b);
/* Writes a short human rendering of v (arrays show their first items) into
 * buf; never overflows. */
void bnc_gguf_value_format(const bnc_gguf_value *v, char *buf, size_t n);

/* ---- a GGUF file ---------------------------------------------------------- */

typedef struct bnc_gguf_kv {
    char *key;
    bnc_gguf_value value;
} bnc_gguf_kv;

typedef struct bnc_gguf_tensor {
    char *name;
    uint32_t n_dims;
    int64_t ne[BNC_GGUF_MAX_DIMS]; /* ne[0] is the contiguous row length; unused = 1 */
    uint32_t type;                 /* ggml type id */
    uint64_t offset;               /* relative to the data section */
    uint64_t nbytes;
} bnc_gguf_tensor;

typedef struct bnc_gguf {
    uint32_t version;
    uint32_t alignment; /* general.alignment or 32 */
    size_t n_kv, cap_kv;
    bnc_gguf_kv *kv;
    size_t n_tensors, cap_tensors;
    bnc_gguf_tensor *tensors;
    uint64_t header_size; /* bytes before the alignment padding */
    uint64_t data_offset; /* absolute file offset of the data section */
    uint64_t data_size;   /* bytes of the data section (each tensor padded) */
} bnc_gguf;

/* Parses a whole GGUF file held in buf[0..size). `fname` only names the file
 * in messages. Checks magic, version, every string/array length, counts,
 * tensor types, shapes, alignment, and that every tensor lies inside the
 * file without overlapping another. On success *out is owned by the caller
 * (bnc_gguf_free); on failure returns BNC_EFORMAT/BNC_EVERSION/BNC_ENOMEM
 * with "fname: field: problem". */
int bnc_gguf_parse(const void *buf, size_t size, const char *fname, bnc_gguf **out, bnc_err *err);

/* An empty GGUF v3 (alignment 32) to fill with set/add_tensor; NULL on OOM. */
bnc_gguf *bnc_gguf_new(void);
void bnc_gguf_free(bnc_gguf *g);

/* Index of key, or -1. */
long bnc_gguf_find_key(const bnc_gguf *g, const char *key);
/* The value of key, or NULL. */
const bnc_gguf_value *bnc_gguf_get(const bnc_gguf *g, const char *key);
/* Sets key to a deep copy of v: replaces the value in place when the key
 * exists (keeping the key order), else appends. Setting general.alignment
 * (a uint32, power of two, multiple of 8) also changes g->alignment. */
int bnc_gguf_set(bnc_gguf *g, const char *key, const bnc_gguf_value *v, bnc_err *err);
/* Index of the tensor called name, or -1. */
long bnc_gguf_find_tensor(const bnc_gguf *g, const char *name);
/* Appends a tensor info (offset planned later by bnc_gguf_plan). */
int bnc_gguf_add_tensor(bnc_gguf *g, const char *name, uint32_t n_dims, const int64_t *ne,
                        uint32_t type, bnc_err *err);

/* Plans the layout: every tensor's offset (in order, each aligned), the
 * header size, data_offset and data_size. Call after the last set/add. */
int bnc_gguf_plan(bnc_gguf *g, bnc_err *err);
/* Total file size after bnc_gguf_plan. */
uint64_t bnc_gguf_file_size(const bnc_gguf *g);
/* Serialises the planned header plus its zero padding: *out (malloc'd, the
 * caller frees) holds exactly g->data_offset bytes. */
int bnc_gguf_header_bytes(const bnc_gguf *g, uint8_t **out, size_t *n, bnc_err *err);
/* Writes a complete file serially: plans, then the header, then data[i]
 * (tensor i's nbytes) with zero padding. For small files and tests. */
int bnc_gguf_write_file(bnc_gguf *g, const char *path, const void *const *data, bnc_err *err);

#endif
