/* Internal: sparse ternary formats (sparse.c holds the shared part and
 * sparse-auto; sparse_csr.c, sparse_coo.c, sparse_ell.c, sparse_dia.c one
 * format each).
 *
 * Ternarization (TWN-style, threshold as a parameter): mu = mean |x| over the
 * tensor, a weight becomes 0 when |x| <= t * mu (t = p->threshold, default
 * 0.5, which is absmean rounding's boundary round(x / mu) = 0 except at exact
 * ties), else sign(x). The single scale alpha = mean |x| over the kept
 * weights, the least-squares scale for that support. y = alpha * t_ij.
 *
 * Every sparse buffer starts with the same 10-byte header:
 *   u8 format (1 CSR, 2 COO, 3 ELL, 4 DIA), u8 index width iw (2 or 4 bytes,
 *   0 for DIA), f32 alpha, u32 nnz
 * so sparse-auto's first byte says which format it chose. Signs are packed
 * one bit per non-zero (bit k of byte k/8, 1 = negative, padding bits 0);
 * ELL and DIA slots hold 2-bit codes t + 1 (1 = zero/padding). All integers
 * little endian. Tensors are limited to 2^32 - 1 weights. */
#ifndef BNC_SPARSE_IMPL_H
#define BNC_SPARSE_IMPL_H

#include <math.h>

#include "qimpl.h"

enum { BNC_SP_CSR = 1, BNC_SP_COO = 2, BNC_SP_ELL = 3, BNC_SP_DIA = 4 };
#define BNC_SP_HDR 10
#define BNC_SP_DEFAULT_THRESHOLD 0.5

/* A ternarized view of x: codes are computed on the fly by bnc_sp_code. */
typedef struct bnc_sp {
    const float *x;
    int64_t rows, cols;
    double thr;  /* zero when |x| <= thr */
    float alpha; /* scale of the non-zeros */
    int64_t nnz;
} bnc_sp;

static inline int bnc_sp_code(const bnc_sp *t, int64_t i)
{
    float v = t->x[i];
    return fabs((double)v) <= t->thr ? 0 : (v > 0.0f ? 1 : -1);
}

/* Parsed common header. */
typedef struct bnc_sp_hdr {
    int fmt, iw;
    float alpha;
    int64_t nnz;
} bnc_sp_hdr;

/* Checks the shape, finiteness and threshold and fills *t. */
int bnc_sp_prepare(const char *name, const float *x, int64_t rows, int64_t cols,
                   const bnc_qparams *p, bnc_sp *t, bnc_err *err);
/* Reads and validates the header of n bytes (fmt 0 accepts any format). */
int bnc_sp_read_hdr(const char *name, const uint8_t *src, size_t n, int fmt, int64_t rows,
                    int64_t cols, bnc_sp_hdr *h, bnc_err *err);
void bnc_sp_write_hdr(uint8_t *dst, int fmt, int iw, const bnc_sp *t);
/* Index width able to hold values 0..max_index. */
int bnc_sp_iw(int64_t max_index);
void bnc_sp_put_idx(uint8_t *p, int iw, uint32_t v);
uint32_t bnc_sp_get_idx(const uint8_t *p, int iw);
/* Checks that the bits past nbits in the last byte of a bitmap are zero. */
int bnc_sp_pad_ok(const uint8_t *bits, int64_t nbits, int per_item_bits);

/* Per format: worst-case size for a shape, exact size for a tensor, writer
 * (dst holds exactly the size) and reader (n bytes into y, y zeroed first). */
size_t bnc_sp_csr_bound(int64_t rows, int64_t cols);
int bnc_sp_csr_size(const bnc_sp *t, size_t *size, bnc_err *err);
int bnc_sp_csr_write(const bnc_sp *t, uint8_t *dst, bnc_err *err);
int bnc_sp_csr_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err);

size_t bnc_sp_coo_bound(int64_t rows, int64_t cols);
int bnc_sp_coo_size(const bnc_sp *t, size_t *size, bnc_err *err);
int bnc_sp_coo_write(const bnc_sp *t, uint8_t *dst, bnc_err *err);
int bnc_sp_coo_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err);

size_t bnc_sp_ell_bound(int64_t rows, int64_t cols);
int bnc_sp_ell_size(const bnc_sp *t, size_t *size, bnc_err *err);
int bnc_sp_ell_write(const bnc_sp *t, uint8_t *dst, bnc_err *err);
int bnc_sp_ell_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err);

size_t bnc_sp_dia_bound(int64_t rows, int64_t cols);
int bnc_sp_dia_size(const bnc_sp *t, size_t *size, bnc_err *err);
int bnc_sp_dia_write(const bnc_sp *t, uint8_t *dst, bnc_err *err);
int bnc_sp_dia_read(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y,
                    bnc_err *err);

/* The quantize/dequantize pair of one explicit format (used by the rows). */
typedef struct bnc_sp_fmt {
    int id;
    const char *name;
    size_t (*bound)(int64_t rows, int64_t cols);
    int (*size)(const bnc_sp *t, size_t *size, bnc_err *err);
    int (*write)(const bnc_sp *t, uint8_t *dst, bnc_err *err);
    int (*read)(const uint8_t *src, size_t n, int64_t rows, int64_t cols, float *y, bnc_err *err);
} bnc_sp_fmt;

const bnc_sp_fmt *bnc_sp_format(int id);
int bnc_sp_quantize_fmt(const bnc_sp_fmt *f, const float *x, int64_t rows, int64_t cols,
                        const bnc_qparams *p, void *dst, size_t cap, size_t *written, bnc_err *err);
int bnc_sp_dequantize_fmt(const bnc_sp_fmt *f, const void *src, size_t n, int64_t rows,
                          int64_t cols, float *y, bnc_err *err);

#endif
