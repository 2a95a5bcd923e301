/* BitNet b1.58 absmean ternary (the paper's formula) with one scale per
 * tensor (`bitnet`), per row (`bitnet-row`) or per group of columns
 * (`bitnet-group`, group a multiple of 128, default 128):
 *   gamma = mean |W| over the scale's elements,
 *   W_t = clip(round(W / (gamma + eps)), -1, 1), W ~= gamma * W_t.
 * Layout (see bitnet_impl.h): 2-bit codes in 128-weight blocks with the
 * I2_S interleave, each row padded to a multiple of 128, then f32 scales.
 *
 * The mean is summed in double in a fixed order (16 lanes per chunk of
 * BNC_BITNET_CHUNK elements, chunks in order) so that every ISA and thread
 * count gives the same gamma and the same codes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_1pass.h"
#include "bitnet_impl.h"
#include "bnc_bitnet.h"

#define BITNET_EPS 1e-5f

/* ---- the helpers per ISA (scalar references here) ----------------------- */

static double absum_scalar(const float *x, int64_t n)
{
    double lane[16] = {0};
    for (int64_t i = 0; i < n; i++)
        lane[i % 16] += fabs((double)x[i]);
    double s = 0;
    for (int l = 0; l < 16; l++)
        s += lane[l];
    return s;
}

static void pack128_scalar(const float *x, int64_t n, float inv, uint8_t *out)
{
    memset(out, 0, 32);
    for (int e = 0; e < 128; e++) {
        int t = 0;
        if (e < n) {
            float v = roundf(x[e] * inv);
            t = v > 1.0f ? 1 : (v < -1.0f ? -1 : (int)v);
        }
        out[e % 32] |= (uint8_t)((t + 1) << (2 * (e / 32)));
    }
}

const bnc_isa_kernels bnc_kernels_scalar = {.absum = absum_scalar, .pack128 = pack128_scalar};

#ifndef BNC_HAVE_X86
const bnc_isa_kernels bnc_kernels_avx2 = {0};
const bnc_isa_kernels bnc_kernels_avx512 = {0};
#endif
#ifndef BNC_HAVE_NEON
const bnc_isa_kernels bnc_kernels_neon = {0};
#endif

void bnc_isa_kernels_get(bnc_isa isa, bnc_isa_kernels *out)
{
    const bnc_isa_kernels *tab[BNC_ISA_COUNT] = {[BNC_ISA_SCALAR] = &bnc_kernels_scalar,
                                                 [BNC_ISA_AVX2] = &bnc_kernels_avx2,
                                                 [BNC_ISA_AVX512] = &bnc_kernels_avx512,
                                                 [BNC_ISA_NEON] = &bnc_kernels_neon};
    bnc_isa chain[BNC_ISA_COUNT];
    int n = 0;
    for (bnc_isa i = isa; (unsigned)i < BNC_ISA_COUNT && n < BNC_ISA_COUNT;
         i = bnc_isa_fallback(i)) {
        chain[n++] = i;
        if (i == BNC_ISA_SCALAR) break;
    }
    *out = bnc_kernels_scalar;
    while (n-- > 0) { /* from the scalar end up to isa */
        const bnc_isa_kernels *k = tab[chain[n]];
        if (k->absum) out->absum = k->absum;
        if (k->pack128) out->pack128 = k->pack128;
    }
}

/* ---- the quantizer ---------------------------------------------------------- */

static int64_t group_of(int mode, const bnc_qparams *p, int64_t cols)
{
    if (mode == BNC_BITNET_TENSOR) return 0;
    if (mode == BNC_BITNET_ROW) return cols;
    return p && p->group > 0 ? p->group : BNC_BITNET_DEFAULT_GROUP;
}

static int64_t nscales(int mode, int64_t rows, int64_t cols, int64_t group)
{
    if (mode == BNC_BITNET_TENSOR) return 1;
    if (mode == BNC_BITNET_ROW) return rows;
    return rows * ((cols + group - 1) / group);
}

static size_t layout_size(int mode, int64_t rows, int64_t cols, int64_t group)
{
    return (size_t)(rows * bnc_bitnet_row_bytes(cols)) +
           (size_t)nscales(mode, rows, cols, group) * sizeof(float);
}

static int check_shape(const char *name, int mode, int64_t rows, int64_t cols, int64_t group,
                       bnc_err *err)
{
    if (rows < 1 || cols < 1 || cols > (1 << 24))
        return bnc_err_set(err, BNC_EINVAL, "%s: bad shape %lldx%lld", name, (long long)rows,
                           (long long)cols);
    if (mode == BNC_BITNET_GROUP && (group < 128 || group % 128 != 0))
        return bnc_err_set(err, BNC_EINVAL, "%s: group %lld is not a positive multiple of 128",
                           name, (long long)group);
    return 0;
}

static const char *mode_name(int mode)
{
    return mode == BNC_BITNET_TENSOR ? "bitnet"
           : mode == BNC_BITNET_ROW  ? "bitnet-row"
                                     : "bitnet-group";
}

/* The scale and code of one block of rows. */
typedef struct qjob {
    const float *x;
    int64_t rows, cols, group;
    int mode;
    uint8_t *codes;
    float *scales;
    float tensor_inv;
    double *chunk_sums; /* tensor mode, pass 1 */
    int64_t nchunks, n;
    const bnc_isa_kernels *k;
    _Atomic int failed;
} qjob;

static void pass_sums(void *arg, int tid, int nth)
{
    qjob *q = arg;
    int64_t c0 = q->nchunks * tid / nth, c1 = q->nchunks * (tid + 1) / nth;
    for (int64_t c = c0; c < c1; c++) {
        int64_t b = c * BNC_BITNET_CHUNK,
                e = b + BNC_BITNET_CHUNK < q->n ? b + BNC_BITNET_CHUNK : q->n;
        q->chunk_sums[c] = q->k->absum(q->x + b, e - b);
    }
}

static float inv_of(float gamma)
{
    return 1.0f / (gamma + BITNET_EPS);
}

static void pack_row(const qjob *q, int64_t r, const float *inv_per_block)
{
    const float *x = q->x + r * q->cols;
    uint8_t *out = q->codes + r * bnc_bitnet_row_bytes(q->cols);
    for (int64_t b = 0; b * 128 < q->cols; b++) {
        int64_t n = q->cols - b * 128 < 128 ? q->cols - b * 128 : 128;
        q->k->pack128(x + b * 128, n, inv_per_block ? inv_per_block[b] : q->tensor_inv,
                      out + b * 32);
    }
}

static void pass_rows(void *arg, int tid, int nth)
{
    qjob *q = arg;
    int64_t r0 = q->rows * tid / nth, r1 = q->rows * (tid + 1) / nth;
    int64_t nblk = (q->cols + 127) / 128;
    float inv_stack[256];
    float *inv = nblk <= 256 ? inv_stack : malloc((size_t)nblk * sizeof *inv);
    if (!inv) {
        q->failed = 1;
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const float *x = q->x + r * q->cols;
        if (q->mode == BNC_BITNET_TENSOR) {
            pack_row(q, r, NULL);
            continue;
        }
        int64_t g = q->group, ng = (q->cols + g - 1) / g;
        for (int64_t gi = 0; gi < ng; gi++) {
            int64_t b = gi * g, e = b + g < q->cols ? b + g : q->cols;
            float gamma = (float)(q->k->absum(x + b, e - b) / (double)(e - b));
            q->scales[r * ng + gi] = gamma;
            for (int64_t k = b / 128; k * 128 < e; k++)
                inv[k] = inv_of(gamma);
        }
        pack_row(q, r, inv);
    }
    if (inv != inv_stack) free(inv);
}

static int first_bad(const float *x, int64_t n, bnc_err *err, const char *name)
{
    int rc = bnc_check_finite(x, n, err);
    if (rc) bnc_err_prefix(err, "%s: ", name);
    return rc ? rc : bnc_err_set(err, BNC_EINTERNAL, "%s: non-finite sum", name);
}

int bnc_bitnet_quantize_ex(const float *x, int64_t rows, int64_t cols, int mode, int64_t group,
                           void *dst, size_t cap, size_t *written, bnc_isa isa, bnc_pool *pool,
                           bnc_err *err)
{
    const char *name = mode_name(mode);
    int rc = check_shape(name, mode, rows, cols, group, err);
    if (rc) return rc;
    size_t need = layout_size(mode, rows, cols, group);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "%s: buffer of %zu bytes, need %zu", name, cap, need);
    if (!bnc_isa_supported(isa))
        return bnc_err_set(err, BNC_ENOTSUP, "%s: ISA %s not supported here", name,
                           bnc_isa_name(isa));
    bnc_isa_kernels k;
    bnc_isa_kernels_get(isa, &k);
    uint8_t *codes = dst;
    qjob q = {.x = x,
              .rows = rows,
              .cols = cols,
              .group = mode == BNC_BITNET_ROW ? cols : group,
              .mode = mode == BNC_BITNET_ROW ? BNC_BITNET_GROUP : mode,
              .codes = codes,
              .scales = (float *)(void *)(codes + rows * bnc_bitnet_row_bytes(cols)),
              .n = rows * cols,
              .k = &k};
    /* a row scale is a group scale with the group spanning the row (the row
     * may then exceed 128-multiples: blocks take the row's inverse) */
    if (mode == BNC_BITNET_ROW) q.group = cols;
    /* tasks of a fixed partition (by task number), so any thread may run any */
    const int ntasks = 4 * bnc_pool_threads(pool);
    const size_t in_bytes = (size_t)q.n * sizeof(float);
    float scale_tmp;
    if (mode == BNC_BITNET_TENSOR) {
        /* one pass over x where the ISA has it (bitnet_1pass.h), else two */
        double sum = 0;
        bnc_bitnet_1pass *one = bnc_bitnet_1pass_run(x, rows, cols, isa, pool, codes, &sum);
        if (!one) {
            q.nchunks = (q.n + BNC_BITNET_CHUNK - 1) / BNC_BITNET_CHUNK;
            q.chunk_sums = malloc((size_t)q.nchunks * sizeof *q.chunk_sums);
            if (!q.chunk_sums) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", name);
            bnc_pool_run_tasks(pool, pass_sums, &q, ntasks, in_bytes);
            for (int64_t c = 0; c < q.nchunks; c++)
                sum += q.chunk_sums[c];
            free(q.chunk_sums);
        }
        if (!isfinite(sum)) {
            if (one) bnc_bitnet_1pass_finish(one, 0.0f);
            return first_bad(x, q.n, err, name);
        }
        float gamma = (float)(sum / (double)q.n);
        q.tensor_inv = inv_of(gamma);
        scale_tmp = gamma;
        if (!one || !bnc_bitnet_1pass_finish(one, q.tensor_inv))
            bnc_pool_run_tasks(pool, pass_rows, &q, ntasks, in_bytes);
        memcpy(q.scales, &scale_tmp, sizeof scale_tmp);
    } else {
        bnc_pool_run_tasks(pool, pass_rows, &q, ntasks, in_bytes);
        if (q.failed) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", name);
        int64_t ns = nscales(mode, rows, cols, group);
        for (int64_t i = 0; i < ns; i++)
            if (!isfinite(q.scales[i])) return first_bad(x, q.n, err, name);
    }
    *written = need;
    return 0;
}

static int quantize_mode(int mode, const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                         void *dst, size_t cap, size_t *written, bnc_err *err)
{
    bnc_isa isa;
    int rc = bnc_isa_select(&isa, err);
    if (rc) return rc;
    return bnc_bitnet_quantize_ex(x, rows, cols, mode, group_of(mode, p, cols), dst, cap, written,
                                  isa, NULL, err);
}

static int dequantize_mode(int mode, const void *src, size_t n, int64_t rows, int64_t cols,
                           const bnc_qparams *p, float *y, bnc_err *err)
{
    const char *name = mode_name(mode);
    int64_t group = group_of(mode, p, cols);
    int rc = check_shape(name, mode, rows, cols, group, err);
    if (rc) return rc;
    size_t need = layout_size(mode, rows, cols, group);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %zu bytes for %lldx%lld, expected %zu", name, n,
                           (long long)rows, (long long)cols, need);
    const uint8_t *q = src;
    int64_t rb = bnc_bitnet_row_bytes(cols);
    const uint8_t *sp = q + rows * rb;
    int64_t ng = mode == BNC_BITNET_GROUP ? (cols + group - 1) / group : 1;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < cols; j++) {
            int code = (q[r * rb + j / 128 * 32 + j % 32] >> (2 * (j % 128 / 32))) & 3;
            if (code == 3)
                return bnc_err_set(err, BNC_EFORMAT, "%s: invalid code 3 at row %lld col %lld",
                                   name, (long long)r, (long long)j);
            int64_t si = mode == BNC_BITNET_TENSOR ? 0
                         : mode == BNC_BITNET_ROW  ? r
                                                   : r * ng + j / group;
            float s;
            memcpy(&s, sp + si * (int64_t)sizeof s, sizeof s);
            y[r * cols + j] = (float)(code - 1) * s;
        }
    }
    return 0;
}

size_t bnc_bitnet_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    return layout_size(BNC_BITNET_TENSOR, rows, cols, group_of(BNC_BITNET_TENSOR, p, cols));
}

int bnc_bitnet_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p, void *dst,
                        size_t cap, size_t *written, bnc_err *err)
{
    return quantize_mode(BNC_BITNET_TENSOR, x, rows, cols, p, dst, cap, written, err);
}

int bnc_bitnet_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                          const bnc_qparams *p, float *y, bnc_err *err)
{
    return dequantize_mode(BNC_BITNET_TENSOR, src, n, rows, cols, p, y, err);
}

size_t bnc_bitnet_row_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    return layout_size(BNC_BITNET_ROW, rows, cols, group_of(BNC_BITNET_ROW, p, cols));
}

int bnc_bitnet_row_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                            void *dst, size_t cap, size_t *written, bnc_err *err)
{
    return quantize_mode(BNC_BITNET_ROW, x, rows, cols, p, dst, cap, written, err);
}

int bnc_bitnet_row_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                              const bnc_qparams *p, float *y, bnc_err *err)
{
    return dequantize_mode(BNC_BITNET_ROW, src, n, rows, cols, p, y, err);
}

size_t bnc_bitnet_group_qsize(int64_t rows, int64_t cols, const bnc_qparams *p)
{
    int64_t g = group_of(BNC_BITNET_GROUP, p, cols);
    if (g < 128 || g % 128) return 0;
    return layout_size(BNC_BITNET_GROUP, rows, cols, g);
}

int bnc_bitnet_group_quantize(const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                              void *dst, size_t cap, size_t *written, bnc_err *err)
{
    return quantize_mode(BNC_BITNET_GROUP, x, rows, cols, p, dst, cap, written, err);
}

int bnc_bitnet_group_dequantize(const void *src, size_t n, int64_t rows, int64_t cols,
                                const bnc_qparams *p, float *y, bnc_err *err)
{
    return dequantize_mode(BNC_BITNET_GROUP, src, n, rows, cols, p, y, err);
}

int bnc_bitnet_pack(const int8_t *t, int64_t rows, int64_t cols, int mode, int64_t group,
                    const float *scales, void *dst, size_t cap, bnc_err *err)
{
    if (mode == BNC_BITNET_ROW) group = cols;
    int rc = check_shape(mode_name(mode), mode, rows, cols, group, err);
    if (rc) return rc;
    size_t need = layout_size(mode, rows, cols, group);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "bitnet pack: buffer of %zu bytes, need %zu", cap,
                           need);
    uint8_t *q = dst;
    int64_t rb = bnc_bitnet_row_bytes(cols);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = q + r * rb;
        memset(row, 0x55, (size_t)rb); /* code 1 everywhere: zero padding */
        for (int64_t j = 0; j < cols; j++) {
            int v = t[r * cols + j];
            if (v < -1 || v > 1)
                return bnc_err_set(err, BNC_EINVAL, "bitnet pack: value %d at %lld is not ternary",
                                   v, (long long)(r * cols + j));
            uint8_t *b = row + j / 128 * 32 + j % 32;
            int sh = 2 * (int)(j % 128 / 32);
            *b = (uint8_t)((*b & ~(3 << sh)) | ((v + 1) << sh));
        }
    }
    memcpy(q + rows * rb, scales, (size_t)nscales(mode, rows, cols, group) * sizeof(float));
    return 0;
}
