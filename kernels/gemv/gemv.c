/* GEMV dispatch: the job's geometry from the scheme's row, the fixed row
 * partition over the pool, the row's kernel for the ISA, and an f64
 * reference for error reports. No scheme names: everything comes from the
 * row (bnc_kernels.h). */
#include <stdlib.h>
#include <string.h>

#include "gemv_impl.h"

int bnc_gemv_supported(const bnc_scheme *s)
{
    return s && s->layout != BNC_LAYOUT_NONE && s->gemv[BNC_ISA_SCALAR] != NULL;
}

/* Fills the job's geometry; returns the weight bytes (0 on a bad shape). */
static size_t job_geometry(const bnc_scheme *s, const bnc_qparams *p, int64_t rows, int64_t cols,
                           bnc_gemv_job *jb)
{
    memset(jb, 0, sizeof *jb);
    jb->rows = rows;
    jb->cols = cols;
    if (!bnc_gemv_supported(s) || rows < 1 || cols < 1 || cols > (1 << 24)) return 0;
    if (s->layout == BNC_LAYOUT_BITNET) {
        jb->mode = s->bitnet_mode;
        jb->row_bytes = bnc_bitnet_row_bytes(cols);
        int64_t ns = 1;
        if (jb->mode == BNC_BITNET_ROW) {
            ns = rows;
        } else if (jb->mode == BNC_BITNET_GROUP) {
            jb->group = p && p->group > 0 ? p->group : BNC_BITNET_DEFAULT_GROUP;
            if (jb->group % 128) return 0;
            jb->ngroups = (cols + jb->group - 1) / jb->group;
            ns = rows * jb->ngroups;
        }
        return (size_t)(rows * jb->row_bytes) + (size_t)ns * sizeof(float);
    }
    if (s->block < 1 || s->block_bytes == 0 || cols % s->block) return 0;
    jb->block = s->block;
    jb->block_bytes = (int64_t)s->block_bytes;
    jb->row_bytes = cols / s->block * (int64_t)s->block_bytes;
    return (size_t)(rows * jb->row_bytes);
}

size_t bnc_gemv_weight_bytes(const bnc_scheme *s, const bnc_qparams *p, int64_t rows, int64_t cols)
{
    bnc_gemv_job jb;
    return job_geometry(s, p, rows, cols, &jb);
}

typedef struct run_arg {
    const bnc_gemv_job *jb;
    bnc_rows_fn fn;
} run_arg;

/* Fixed partition: task t of n takes rows [R t / n, R (t+1) / n) rounded
 * to multiples of 8; each row is computed alone, so the partition changes
 * only who computes a row, never its value. */
static void run_rows(void *v, int tid, int nth)
{
    const run_arg *ra = v;
    int64_t units = (ra->jb->rows + 7) / 8;
    int64_t r0 = units * tid / nth * 8, r1 = units * (tid + 1) / nth * 8;
    if (r1 > ra->jb->rows) r1 = ra->jb->rows;
    if (r0 < r1) ra->fn(ra->jb, r0, r1);
}

/* Tasks per pool thread: small enough that a worker whose core is busy
 * holds back little, large enough that claiming costs nothing. */
#define TASKS_PER_THREAD 4

int bnc_gemv(const bnc_scheme *s, const bnc_qparams *p, const void *w, size_t wbytes, int64_t rows,
             const bnc_act *a, float *y, bnc_isa isa, bnc_pool *pool, bnc_err *err)
{
    const char *name = s ? s->name : "(null)";
    if (!bnc_gemv_supported(s))
        return bnc_err_set(err, BNC_ENOTSUP, "gemv: no kernel for scheme '%s'", name);
    if ((unsigned)isa >= BNC_ISA_COUNT || !bnc_isa_supported(isa))
        return bnc_err_set(err, BNC_ENOTSUP, "gemv: ISA %s not supported here", bnc_isa_name(isa));
    bnc_gemv_job jb;
    size_t need = job_geometry(s, p, rows, a->cols, &jb);
    if (need == 0)
        return bnc_err_set(err, BNC_EINVAL, "gemv %s: bad shape %lldx%lld", name, (long long)rows,
                           (long long)a->cols);
    if (wbytes != need)
        return bnc_err_set(err, BNC_EFORMAT,
                           "gemv %s: %zu weight bytes for %lldx%lld, expected %zu", name, wbytes,
                           (long long)rows, (long long)a->cols, need);
    const int bitnet = s->layout == BNC_LAYOUT_BITNET;
    jb.w = w;
    jb.scales =
        bitnet ? (const float *)(const void *)((const uint8_t *)w + rows * jb.row_bytes) : NULL;
    jb.a = a;
    jb.y = y;
    /* x sums per scale segment, for the kernels that multiply unsigned codes */
    int64_t seg = 0;
    if (bitnet)
        seg = jb.mode == BNC_BITNET_GROUP ? jb.group : a->stride;
    else if (s->block_xsums)
        seg = s->block;
    int32_t *xseg = NULL;
    if (seg) {
        jb.nseg = (a->cols + seg - 1) / seg;
        xseg = malloc((size_t)(a->batch * jb.nseg) * sizeof *xseg);
        if (!xseg) return bnc_err_set(err, BNC_ENOMEM, "gemv: out of memory");
        for (int64_t b = 0; b < a->batch; b++)
            for (int64_t g = 0; g < jb.nseg; g++) {
                const int32_t *s32 = a->sum32 + b * (a->stride / 32);
                int64_t k1 =
                    (g + 1) * seg / 32 < a->stride / 32 ? (g + 1) * seg / 32 : a->stride / 32;
                int32_t t = 0;
                for (int64_t k = g * seg / 32; k < k1; k++)
                    t += s32[k];
                xseg[b * jb.nseg + g] = t;
            }
        jb.xseg = xseg;
    }
    run_arg ra = {.jb = &jb, .fn = s->gemv[isa]};
    for (bnc_isa i = isa; !ra.fn; i = bnc_isa_fallback(i))
        ra.fn = s->gemv[bnc_isa_fallback(i)];
    bnc_pool_run_tasks(pool, run_rows, &ra, TASKS_PER_THREAD * bnc_pool_threads(pool), need);
    free(xseg);
    return 0;
}

int bnc_gemv_ref_f64(const bnc_scheme *s, const bnc_qparams *p, const void *w, size_t wbytes,
                     int64_t rows, int64_t cols, const float *x, int64_t batch, double *y64,
                     bnc_err *err)
{
    const char *name = s ? s->name : "(null)";
    bnc_gemv_job jb;
    size_t need = job_geometry(s, p, rows, cols, &jb);
    if (need == 0) return bnc_err_set(err, BNC_EINVAL, "gemv ref %s: bad shape or scheme", name);
    if (wbytes != need)
        return bnc_err_set(err, BNC_EFORMAT, "gemv ref %s: %zu bytes, expected %zu", name, wbytes,
                           need);
    /* The decoded weights are exact in f32 (small integers times an f32 or
     * fp16 scale), so the scheme's own dequantize gives W~ exactly. */
    float *wr = malloc((size_t)(rows * cols) * sizeof *wr);
    if (!wr) return bnc_err_set(err, BNC_ENOMEM, "gemv ref: out of memory");
    int rc = s->dequantize(w, wbytes, rows, cols, p, wr, err);
    if (rc) {
        free(wr);
        return bnc_err_prefix(err, "gemv ref: ");
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < batch; b++) {
            double acc = 0;
            for (int64_t j = 0; j < cols; j++)
                acc += (double)wr[r * cols + j] * (double)x[b * cols + j];
            y64[b * rows + r] = acc;
        }
    free(wr);
    return 0;
}

#ifndef BNC_HAVE_X86
size_t bnc_bitnet_lut_bytes(int mode, int64_t rows, int64_t cols)
{
    (void)mode;
    (void)rows;
    (void)cols;
    return 0;
}
int bnc_bitnet_lut_pack(const void *w, size_t wbytes, int mode, int64_t rows, int64_t cols,
                        void *dst, size_t cap, bnc_err *err)
{
    (void)w, (void)wbytes, (void)mode, (void)rows, (void)cols, (void)dst, (void)cap;
    return bnc_err_set(err, BNC_ENOTSUP, "bitnet lut: x86 only");
}
int bnc_bitnet_lut_gemv(const void *w, size_t wbytes, int mode, int64_t rows, const bnc_act *a,
                        float *y, bnc_pool *pool, bnc_err *err)
{
    (void)w, (void)wbytes, (void)mode, (void)rows, (void)a, (void)y, (void)pool;
    return bnc_err_set(err, BNC_ENOTSUP, "bitnet lut: x86 only");
}
#endif
