/* GEMV dispatch: ISA detection and selection, activation quantization, the
 * scalar reference kernels (the definition every fast path must equal), the
 * fixed row partition over the pool, and an f64 reference for error reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_impl.h"

/* ---- ISA ------------------------------------------------------------------- */

static const char *isa_names[BNC_ISA_COUNT] = {"scalar", "avx2", "avx512"};

const char *bnc_isa_name(bnc_isa isa)
{
    return (unsigned)isa < BNC_ISA_COUNT ? isa_names[isa] : "?";
}

int bnc_isa_parse(const char *name, bnc_isa *out, bnc_err *err)
{
    for (int i = 0; i < BNC_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0) {
            *out = (bnc_isa)i;
            return 0;
        }
    return bnc_err_set(err, BNC_EINVAL, "unknown ISA '%s' (scalar, avx2, avx512)", name);
}

int bnc_isa_supported(bnc_isa isa)
{
    switch (isa) {
    case BNC_ISA_SCALAR:
        return 1;
#if defined(BNC_HAVE_X86) && defined(__GNUC__)
    case BNC_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case BNC_ISA_AVX512:
        __builtin_cpu_init();
        return bnc_isa_supported(BNC_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
#endif
    default:
        return 0;
    }
}

bnc_isa bnc_isa_best(void)
{
    for (int i = BNC_ISA_COUNT - 1; i > 0; i--)
        if (bnc_isa_supported((bnc_isa)i))
            return (bnc_isa)i;
    return BNC_ISA_SCALAR;
}

int bnc_isa_select(bnc_isa *out, bnc_err *err)
{
    const char *env = getenv("BNC_ISA");
    if (!env || !*env) {
        *out = bnc_isa_best();
        return 0;
    }
    bnc_isa isa;
    int rc = bnc_isa_parse(env, &isa, err);
    if (rc)
        return bnc_err_prefix(err, "BNC_ISA: ");
    if (!bnc_isa_supported(isa))
        return bnc_err_set(err, BNC_ENOTSUP, "BNC_ISA=%s: this CPU lacks it", env);
    *out = isa;
    return 0;
}

void bnc_isa_kernels_get(bnc_isa isa, bnc_isa_kernels *out)
{
    const bnc_isa_kernels *tab[BNC_ISA_COUNT] = {&bnc_kernels_scalar, &bnc_kernels_avx2,
                                                 &bnc_kernels_avx512};
    *out = bnc_kernels_scalar;
    for (int i = 1; i <= (int)isa && i < BNC_ISA_COUNT; i++) {
        const bnc_isa_kernels *k = tab[i];
#define TAKE(f) if (k->f) out->f = k->f
        TAKE(bitnet);
        TAKE(tq2_0);
        TAKE(tq1_0);
        TAKE(q8_0);
        TAKE(q4_0);
        TAKE(absum);
        TAKE(pack128);
#undef TAKE
    }
}

/* ---- activations --------------------------------------------------------- */

int bnc_act_new(int64_t batch, int64_t cols, bnc_act **out, bnc_err *err)
{
    if (batch < 1 || batch > 64 || cols < 1 || cols > (1 << 24))
        return bnc_err_set(err, BNC_EINVAL, "activations: bad shape %lldx%lld (batch 1..64)",
                           (long long)batch, (long long)cols);
    bnc_act *a = calloc(1, sizeof *a);
    if (!a)
        return bnc_err_set(err, BNC_ENOMEM, "activations: out of memory");
    a->batch = batch;
    a->cols = cols;
    a->stride = (cols + 255) / 256 * 256;
    size_t n = (size_t)(batch * a->stride);
    a->q = aligned_alloc(64, n);
    a->qp = aligned_alloc(64, n);
    a->sum32 = calloc(n / 32, sizeof *a->sum32);
    a->d = calloc((size_t)batch, sizeof *a->d);
    if (!a->q || !a->qp || !a->sum32 || !a->d) {
        bnc_act_free(a);
        return bnc_err_set(err, BNC_ENOMEM, "activations: out of memory");
    }
    memset(a->q, 0, n);
    memset(a->qp, 0, n);
    *out = a;
    return 0;
}

void bnc_act_free(bnc_act *a)
{
    if (!a)
        return;
    free(a->q);
    free(a->qp);
    free(a->sum32);
    free(a->d);
    free(a);
}

/* Fills the permuted copy and the column sums from q. */
static void act_finish(bnc_act *a)
{
    for (int64_t b = 0; b < a->batch; b++) {
        const int8_t *q = a->q + b * a->stride;
        int8_t *qp = a->qp + b * a->stride;
        for (int64_t c = 0; c < a->stride; c += 256)
            for (int h = 0; h < 2; h++)
                for (int n = 0; n < 4; n++)
                    memcpy(qp + c + 64 * n + 32 * h, q + c + 128 * h + 32 * n, 32);
        int32_t *s = a->sum32 + b * (a->stride / 32);
        for (int64_t k = 0; k < a->stride / 32; k++) {
            int32_t t = 0;
            for (int j = 0; j < 32; j++)
                t += q[32 * k + j];
            s[k] = t;
        }
    }
}

int bnc_act_quantize(bnc_act *a, const float *x, bnc_err *err)
{
    int rc = bnc_check_finite(x, a->batch * a->cols, err);
    if (rc)
        return bnc_err_prefix(err, "activations: ");
    for (int64_t b = 0; b < a->batch; b++) {
        const float *xr = x + b * a->cols;
        int8_t *q = a->q + b * a->stride;
        float amax = 0;
        for (int64_t j = 0; j < a->cols; j++)
            amax = fmaxf(amax, fabsf(xr[j]));
        a->d[b] = amax / 127.0f;
        float s = amax > 0 ? 127.0f / amax : 0.0f;
        for (int64_t j = 0; j < a->cols; j++) {
            float v = roundf(xr[j] * s);
            q[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
        }
        memset(q + a->cols, 0, (size_t)(a->stride - a->cols));
    }
    act_finish(a);
    return 0;
}

int bnc_act_set(bnc_act *a, const int8_t *q, const float *d, bnc_err *err)
{
    for (int64_t i = 0; i < a->batch * a->cols; i++)
        if (q[i] == -128)
            return bnc_err_set(err, BNC_ERANGE, "activations: -128 at index %lld",
                               (long long)i);
    for (int64_t b = 0; b < a->batch; b++) {
        memcpy(a->q + b * a->stride, q + b * a->cols, (size_t)a->cols);
        memset(a->q + b * a->stride + a->cols, 0, (size_t)(a->stride - a->cols));
        a->d[b] = d[b];
    }
    act_finish(a);
    return 0;
}

/* ---- scalar reference kernels ---------------------------------------------- */

static int bitnet_code(const uint8_t *row, int64_t j)
{
    return (row[j / 128 * 32 + j % 32] >> (2 * (j % 128 / 32))) & 3;
}

static void bitnet_scalar(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float y;
            if (jb->mode != BNC_BITNET_GROUP) {
                int32_t isum = 0;
                for (int64_t j = 0; j < jb->cols; j++)
                    isum += (bitnet_code(row, j) - 1) * x[j];
                float s = jb->scales[jb->mode == BNC_BITNET_ROW ? r : 0];
                y = (float)isum * s * a->d[b];
            } else {
                float acc = 0;
                for (int64_t g = 0; g < jb->ngroups; g++) {
                    int64_t e = (g + 1) * jb->group < jb->cols ? (g + 1) * jb->group : jb->cols;
                    int32_t isum = 0;
                    for (int64_t j = g * jb->group; j < e; j++)
                        isum += (bitnet_code(row, j) - 1) * x[j];
                    acc += (float)isum * jb->scales[r * jb->ngroups + g];
                }
                y = acc * a->d[b];
            }
            jb->y[b * jb->rows + r] = y;
        }
    }
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Decoders for one ggml block: the integer weight of element e. */
static int tq2_0_w(const uint8_t *blk, int e)
{
    return ((blk[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3) - 1;
}

static int trit(uint8_t b, int n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t q = (uint8_t)(b * pow3[n]);
    return (q * 3) >> 8;
}

static int tq1_0_w(const uint8_t *blk, int e)
{
    if (e < 160)
        return trit(blk[e % 32], e / 32) - 1;
    if (e < 240)
        return trit(blk[32 + (e - 160) % 16], (e - 160) / 16) - 1;
    return trit(blk[48 + (e - 240) % 4], (e - 240) / 4) - 1;
}

static int q8_0_w(const uint8_t *blk, int e) { return (int8_t)blk[2 + e]; }

static int q4_0_w(const uint8_t *blk, int e)
{
    return (e < 16 ? blk[2 + e] & 15 : blk[2 + e - 16] >> 4) - 8;
}

typedef struct ggml_fmt {
    const char *name;
    int block, bytes, d_off; /* weights per block, bytes per block, offset of fp16 d */
    int (*w)(const uint8_t *blk, int e);
} ggml_fmt;

static const ggml_fmt ggml_fmts[] = {
    {"tq2_0", 256, 66, 64, tq2_0_w},
    {"tq1_0", 256, 54, 52, tq1_0_w},
    {"q8_0", 32, 34, 0, q8_0_w},
    {"q4_0", 32, 18, 0, q4_0_w},
};

static const ggml_fmt *ggml_find(const char *name)
{
    for (size_t i = 0; i < sizeof ggml_fmts / sizeof ggml_fmts[0]; i++)
        if (strcmp(ggml_fmts[i].name, name) == 0)
            return &ggml_fmts[i];
    return NULL;
}

static void ggml_scalar(const ggml_fmt *f, const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    int64_t nb = jb->cols / f->block;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = jb->w + r * jb->row_bytes + k * f->bytes;
                int32_t isum = 0;
                for (int e = 0; e < f->block; e++)
                    isum += f->w(blk, e) * x[k * f->block + e];
                acc += (float)isum * bnc_gemv_h2f(rd16(blk + f->d_off));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
}

static void tq2_0_scalar(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    ggml_scalar(&ggml_fmts[0], j, r0, r1);
}
static void tq1_0_scalar(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    ggml_scalar(&ggml_fmts[1], j, r0, r1);
}
static void q8_0_scalar(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    ggml_scalar(&ggml_fmts[2], j, r0, r1);
}
static void q4_0_scalar(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    ggml_scalar(&ggml_fmts[3], j, r0, r1);
}

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

const bnc_isa_kernels bnc_kernels_scalar = {
    .bitnet = bitnet_scalar,
    .tq2_0 = tq2_0_scalar,
    .tq1_0 = tq1_0_scalar,
    .q8_0 = q8_0_scalar,
    .q4_0 = q4_0_scalar,
    .absum = absum_scalar,
    .pack128 = pack128_scalar,
};

/* ---- dispatch -------------------------------------------------------------- */

static int bitnet_mode(const char *scheme)
{
    if (strcmp(scheme, "bitnet") == 0)
        return BNC_BITNET_TENSOR;
    if (strcmp(scheme, "bitnet-row") == 0)
        return BNC_BITNET_ROW;
    if (strcmp(scheme, "bitnet-group") == 0)
        return BNC_BITNET_GROUP;
    return -1;
}

int bnc_gemv_supported(const char *scheme)
{
    return bitnet_mode(scheme) >= 0 || ggml_find(scheme) != NULL;
}

/* Fills the job's geometry; returns the weight bytes (0 on a bad shape). */
static size_t job_geometry(const char *scheme, const bnc_qparams *p, int64_t rows, int64_t cols,
                           bnc_gemv_job *jb)
{
    memset(jb, 0, sizeof *jb);
    jb->rows = rows;
    jb->cols = cols;
    if (rows < 1 || cols < 1 || cols > (1 << 24))
        return 0;
    int mode = bitnet_mode(scheme);
    if (mode >= 0) {
        jb->mode = mode;
        jb->row_bytes = bnc_bitnet_row_bytes(cols);
        int64_t ns = 1;
        if (mode == BNC_BITNET_ROW) {
            ns = rows;
        } else if (mode == BNC_BITNET_GROUP) {
            jb->group = p && p->group > 0 ? p->group : BNC_BITNET_DEFAULT_GROUP;
            if (jb->group % 128)
                return 0;
            jb->ngroups = (cols + jb->group - 1) / jb->group;
            ns = rows * jb->ngroups;
        }
        return (size_t)(rows * jb->row_bytes) + (size_t)ns * sizeof(float);
    }
    const ggml_fmt *f = ggml_find(scheme);
    if (!f || cols % f->block)
        return 0;
    jb->row_bytes = cols / f->block * f->bytes;
    return (size_t)(rows * jb->row_bytes);
}

size_t bnc_gemv_weight_bytes(const char *scheme, const bnc_qparams *p, int64_t rows,
                             int64_t cols)
{
    bnc_gemv_job jb;
    return job_geometry(scheme, p, rows, cols, &jb);
}

typedef struct run_arg {
    const bnc_gemv_job *jb;
    bnc_rows_fn fn;
} run_arg;

/* Fixed partition: thread t of n takes rows [R t / n, R (t+1) / n) rounded
 * to multiples of 8; each row is computed alone, so the partition changes
 * only who computes a row, never its value. */
static void run_rows(void *v, int tid, int nth)
{
    const run_arg *ra = v;
    int64_t units = (ra->jb->rows + 7) / 8;
    int64_t r0 = units * tid / nth * 8, r1 = units * (tid + 1) / nth * 8;
    if (r1 > ra->jb->rows)
        r1 = ra->jb->rows;
    if (r0 < r1)
        ra->fn(ra->jb, r0, r1);
}

int bnc_gemv(const char *scheme, const bnc_qparams *p, const void *w, size_t wbytes,
             int64_t rows, const bnc_act *a, float *y, bnc_isa isa, bnc_pool *pool,
             bnc_err *err)
{
    if (!bnc_gemv_supported(scheme))
        return bnc_err_set(err, BNC_ENOTSUP, "gemv: no kernel for scheme '%s'", scheme);
    if (!bnc_isa_supported(isa))
        return bnc_err_set(err, BNC_ENOTSUP, "gemv: ISA %s not supported here", bnc_isa_name(isa));
    bnc_gemv_job jb;
    size_t need = job_geometry(scheme, p, rows, a->cols, &jb);
    if (need == 0)
        return bnc_err_set(err, BNC_EINVAL, "gemv %s: bad shape %lldx%lld", scheme,
                           (long long)rows, (long long)a->cols);
    if (wbytes != need)
        return bnc_err_set(err, BNC_EFORMAT, "gemv %s: %zu weight bytes for %lldx%lld, expected %zu",
                           scheme, wbytes, (long long)rows, (long long)a->cols, need);
    jb.w = w;
    jb.scales = bitnet_mode(scheme) >= 0
                    ? (const float *)(const void *)((const uint8_t *)w + rows * jb.row_bytes)
                    : NULL;
    jb.a = a;
    jb.y = y;
    /* x sums per scale segment, for the kernels that multiply unsigned codes */
    int64_t seg = 0;
    if (bitnet_mode(scheme) >= 0)
        seg = jb.mode == BNC_BITNET_GROUP ? jb.group : a->stride;
    else if (!strcmp(scheme, "tq2_0") || !strcmp(scheme, "tq1_0"))
        seg = 256;
    int32_t *xseg = NULL;
    if (seg) {
        jb.nseg = (a->cols + seg - 1) / seg;
        xseg = malloc((size_t)(a->batch * jb.nseg) * sizeof *xseg);
        if (!xseg)
            return bnc_err_set(err, BNC_ENOMEM, "gemv: out of memory");
        for (int64_t b = 0; b < a->batch; b++)
            for (int64_t g = 0; g < jb.nseg; g++) {
                const int32_t *s32 = a->sum32 + b * (a->stride / 32);
                int64_t k1 = (g + 1) * seg / 32 < a->stride / 32 ? (g + 1) * seg / 32 : a->stride / 32;
                int32_t t = 0;
                for (int64_t k = g * seg / 32; k < k1; k++)
                    t += s32[k];
                xseg[b * jb.nseg + g] = t;
            }
        jb.xseg = xseg;
    }
    bnc_isa_kernels k;
    bnc_isa_kernels_get(isa, &k);
    run_arg ra = {.jb = &jb};
    if (bitnet_mode(scheme) >= 0)
        ra.fn = k.bitnet;
    else if (strcmp(scheme, "tq2_0") == 0)
        ra.fn = k.tq2_0;
    else if (strcmp(scheme, "tq1_0") == 0)
        ra.fn = k.tq1_0;
    else if (strcmp(scheme, "q8_0") == 0)
        ra.fn = k.q8_0;
    else
        ra.fn = k.q4_0;
    bnc_pool_run(pool, run_rows, &ra);
    free(xseg);
    return 0;
}

int bnc_gemv_ref_f64(const char *scheme, const bnc_qparams *p, const void *w, size_t wbytes,
                     int64_t rows, int64_t cols, const float *x, int64_t batch, double *y64,
                     bnc_err *err)
{
    bnc_gemv_job jb;
    size_t need = job_geometry(scheme, p, rows, cols, &jb);
    if (need == 0 || !bnc_gemv_supported(scheme))
        return bnc_err_set(err, BNC_EINVAL, "gemv ref %s: bad shape or scheme", scheme);
    if (wbytes != need)
        return bnc_err_set(err, BNC_EFORMAT, "gemv ref %s: %zu bytes, expected %zu", scheme,
                           wbytes, need);
    double *wr = malloc((size_t)cols * sizeof *wr);
    if (!wr)
        return bnc_err_set(err, BNC_ENOMEM, "gemv ref: out of memory");
    const uint8_t *wb = w;
    int mode = bitnet_mode(scheme);
    const ggml_fmt *f = ggml_find(scheme);
    const float *scales = mode >= 0 ? (const float *)(const void *)(wb + rows * jb.row_bytes) : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = wb + r * jb.row_bytes;
        for (int64_t j = 0; j < cols; j++) {
            if (mode >= 0) {
                float s = mode == BNC_BITNET_TENSOR ? scales[0]
                          : mode == BNC_BITNET_ROW  ? scales[r]
                                                    : scales[r * jb.ngroups + j / jb.group];
                wr[j] = (double)(bitnet_code(row, j) - 1) * (double)s;
            } else {
                const uint8_t *blk = row + j / f->block * f->bytes;
                wr[j] = (double)f->w(blk, (int)(j % f->block)) *
                        (double)bnc_gemv_h2f(rd16(blk + f->d_off));
            }
        }
        for (int64_t b = 0; b < batch; b++) {
            double s = 0;
            for (int64_t j = 0; j < cols; j++)
                s += wr[j] * (double)x[b * cols + j];
            y64[b * rows + r] = s;
        }
    }
    free(wr);
    return 0;
}

#ifndef BNC_HAVE_X86
/* Not an x86 build: only the scalar kernels exist. */
const bnc_isa_kernels bnc_kernels_avx2 = {0};
const bnc_isa_kernels bnc_kernels_avx512 = {0};
#endif

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
