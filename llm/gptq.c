/* GPTQ and round-to-nearest for the block schemes, with ggml's quantization
 * rules and packing (see bnc_ptq.h and ../shared/FORMATS.md). Everything in
 * double precision; scales are rounded to fp16 as the blocks store them. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fp16.h"
#include "bnc_kernels.h"
#include "bnc_ptq.h"

enum { K_Q4 = 1, K_Q8 = 2, K_TQ2 = 3, K_BITNET = 4 };

/* Name, kind and scale group here; the container's ggml id and block
 * geometry come from the kernels' scheme table (the one place they live),
 * filled once. bitnet is absmean ternary packed as tq2_0. */
static bnc_ptq_scheme schemes[] = {
    {"q4_0", K_Q4, 32, 0, 0, 0},
    {"q8_0", K_Q8, 32, 0, 0, 0},
    {"tq2_0", K_TQ2, 256, 0, 0, 0},
    {"bitnet", K_BITNET, 0, 0, 0, 0},
};
static pthread_once_t schemes_once = PTHREAD_ONCE_INIT;

static void schemes_fill(void)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        const bnc_scheme *k =
            bnc_scheme_find(schemes[i].kind == K_BITNET ? "tq2_0" : schemes[i].name);
        if (!k) continue;
        schemes[i].ggml_type = (uint32_t)k->ggml_type;
        schemes[i].block_bytes = k->block_bytes;
        schemes[i].block = k->block;
    }
}

const bnc_ptq_scheme *bnc_ptq_scheme_find(const char *name)
{
    pthread_once(&schemes_once, schemes_fill);
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (name && strcmp(schemes[i].name, name) == 0 && schemes[i].block > 0) return &schemes[i];
    return NULL;
}

static double f16r(double x)
{
    return (double)bnc_f16_to_f32(bnc_f32_to_f16((float)x));
}

/* The scale of a group from its current values (ggml's rule); *inv is the
 * multiplier codes are computed with (1/d in full precision, as ggml). */
static double group_scale(int kind, const double *g, int64_t n, double *inv)
{
    double amax = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(g[i]);
        if (a > amax) {
            amax = a;
            m = g[i];
        }
    }
    double d = kind == K_Q4 ? m / -8.0 : kind == K_Q8 ? amax / 127.0 : amax;
    *inv = d != 0 ? 1.0 / d : 0.0;
    return f16r(d);
}

/* Code and dequantized value of x with scale dq (fp16-rounded) and inv. */
static int32_t quant1(int kind, double x, double dq, double inv, double *val)
{
    int32_t c;
    if (kind == K_Q4) {
        double t = trunc(x * inv + 8.5);
        c = t < 0 ? 0 : t > 15 ? 15 : (int32_t)t;
        *val = (double)(c - 8) * dq;
    } else if (kind == K_Q8) {
        double t = round(x * inv);
        c = t < -127 ? -127 : t > 127 ? 127 : (int32_t)t;
        *val = (double)c * dq;
    } else {
        double t = round(x * inv);
        c = t < -1 ? -1 : t > 1 ? 1 : (int32_t)t;
        *val = (double)c * dq;
    }
    return c;
}

static double tensor_gamma(const double *W, size_t n, double *inv)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(W[i]);
    double g = f16r(s / (double)n);
    *inv = g > 0 ? 1.0 / g : 0.0;
    return g;
}

static int check_shape(const bnc_ptq_scheme *s, int64_t rows, int64_t cols, bnc_err *err)
{
    if (rows < 1 || cols < 1 || cols % s->block)
        return bnc_err_set(err, BNC_EINVAL, "%s: rows of %lld weights are not a multiple of %lld",
                           s->name, (long long)cols, (long long)s->block);
    return 0;
}

int bnc_ptq_rtn(const bnc_ptq_scheme *s, double *W, int64_t rows, int64_t cols, int32_t *codes,
                float *scales, bnc_err *err)
{
    int rc = check_shape(s, rows, cols, err);
    if (rc) return rc;
    double ginv = 0, gam = 0;
    if (s->kind == K_BITNET) {
        gam = tensor_gamma(W, (size_t)(rows * cols), &ginv);
        if (scales) scales[0] = (float)gam;
    }
    int64_t G = s->group, ng = G ? cols / G : 1;
    for (int64_t r = 0; r < rows; r++) {
        double *w = W + r * cols;
        double dq = gam, inv = ginv;
        for (int64_t i = 0; i < cols; i++) {
            if (G && i % G == 0) {
                dq = group_scale(s->kind, w + i, G, &inv);
                if (scales) scales[r * ng + i / G] = (float)dq;
            }
            double v;
            int32_t c = quant1(s->kind, w[i], dq, inv, &v);
            if (codes) codes[r * cols + i] = c;
            w[i] = v;
        }
    }
    return 0;
}

/* In-place lower Cholesky factor of A (n x n, row-major): A = L L^T. */
static int cholesky(double *A, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int64_t k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0)) return -1;
        d = sqrt(d);
        A[j * n + j] = d;
        for (int64_t i = j + 1; i < n; i++) {
            double v = A[i * n + j];
            for (int64_t k = 0; k < j; k++)
                v -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = v / d;
        }
        for (int64_t k = j + 1; k < n; k++)
            A[j * n + k] = 0;
    }
    return 0;
}

int bnc_gptq(const bnc_ptq_scheme *s, double *W, int64_t rows, int64_t cols, const double *H,
             double damp, int64_t block, int32_t *codes, float *scales, bnc_err *err)
{
    int rc = check_shape(s, rows, cols, err);
    if (rc) return rc;
    if (block < 1) block = 128;
    const int64_t n = cols;
    double *A = malloc((size_t)(n * n) * sizeof *A), *Li = calloc((size_t)(n * n), sizeof *Li);
    double *E = malloc((size_t)(rows * block) * sizeof *E);
    if (!A || !Li || !E) {
        rc = bnc_err_set(err, BNC_ENOMEM, "gptq: out of memory (%lld inputs)", (long long)n);
        goto done;
    }
    memcpy(A, H, (size_t)(n * n) * sizeof *A);
    double mean = 0;
    for (int64_t i = 0; i < n; i++) {
        if (A[i * n + i] == 0) { /* an input never active: its weights do not matter */
            A[i * n + i] = 1;
            for (int64_t r = 0; r < rows; r++)
                W[r * n + i] = 0;
        }
        mean += A[i * n + i];
    }
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        A[i * n + i] += damp * mean;
    if (cholesky(A, n)) {
        rc = bnc_err_set(err, BNC_ERANGE, "gptq: the Hessian is not positive definite");
        goto done;
    }
    /* Li = L^-1 (lower), then H^-1 = Li^T Li, then its Cholesky factor */
    for (int64_t j = 0; j < n; j++) {
        Li[j * n + j] = 1.0 / A[j * n + j];
        for (int64_t i = j + 1; i < n; i++) {
            double v = 0;
            for (int64_t k = j; k < i; k++)
                v += A[i * n + k] * Li[k * n + j];
            Li[i * n + j] = -v / A[i * n + i];
        }
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, Li, (int)n,
                Li, (int)n, 0.0, A, (int)n);
    for (int64_t i = 0; i < n; i++) /* symmetric by construction; make it exactly so */
        for (int64_t j = 0; j < i; j++)
            A[j * n + i] = A[i * n + j];
    if (cholesky(A, n)) {
        rc = bnc_err_set(err, BNC_ERANGE, "gptq: the inverse Hessian is not positive definite");
        goto done;
    }
    /* U = L^T: U[i][j] = A[j][i] for j >= i */
    double *U = Li;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            U[i * n + j] = j >= i ? A[j * n + i] : 0.0;

    double ginv = 0, gam = 0;
    if (s->kind == K_BITNET) {
        gam = tensor_gamma(W, (size_t)(rows * cols), &ginv);
        if (scales) scales[0] = (float)gam;
    }
    const int64_t G = s->group, ng = G ? cols / G : 1;
    double *dq = malloc((size_t)rows * sizeof *dq), *inv = malloc((size_t)rows * sizeof *inv);
    if (!dq || !inv) {
        free(dq);
        free(inv);
        rc = bnc_err_set(err, BNC_ENOMEM, "gptq: out of memory");
        goto done;
    }
    for (int64_t r = 0; r < rows; r++) {
        dq[r] = gam;
        inv[r] = ginv;
    }
    for (int64_t i1 = 0; i1 < n; i1 += block) {
        int64_t i2 = i1 + block < n ? i1 + block : n, nb = i2 - i1;
        for (int64_t i = i1; i < i2; i++) {
            if (G && i % G == 0)
                for (int64_t r = 0; r < rows; r++) {
                    dq[r] = group_scale(s->kind, W + r * n + i, G, &inv[r]);
                    if (scales) scales[r * ng + i / G] = (float)dq[r];
                }
            const double d = U[i * n + i];
            for (int64_t r = 0; r < rows; r++) {
                double *w = W + r * n, v;
                int32_t c = quant1(s->kind, w[i], dq[r], inv[r], &v);
                if (codes) codes[r * n + i] = c;
                double e = (w[i] - v) / d;
                w[i] = v;
                E[r * nb + (i - i1)] = e;
                const double *u = U + i * n;
                for (int64_t j = i + 1; j < i2; j++)
                    w[j] -= e * u[j];
            }
        }
        if (i2 < n) /* W[:, i2:] -= E U[i1:i2, i2:] */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)(n - i2),
                        (int)nb, -1.0, E, (int)nb, U + i1 * n + i2, (int)n, 1.0, W + i2, (int)n);
    }
    free(dq);
    free(inv);
done:
    free(A);
    free(Li);
    free(E);
    return rc;
}

size_t bnc_ptq_nbytes(const bnc_ptq_scheme *s, int64_t rows, int64_t cols)
{
    return (size_t)(rows * (cols / s->block)) * s->block_bytes;
}

static void put16(uint8_t *p, float v)
{
    uint16_t h = bnc_f32_to_f16(v);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

int bnc_ptq_pack(const bnc_ptq_scheme *s, const int32_t *codes, const float *scales, int64_t rows,
                 int64_t cols, void *dst, size_t cap, bnc_err *err)
{
    int rc = check_shape(s, rows, cols, err);
    if (rc) return rc;
    if (cap < bnc_ptq_nbytes(s, rows, cols))
        return bnc_err_set(err, BNC_EINVAL, "%s: output buffer too small", s->name);
    uint8_t *o = dst;
    int64_t nblk = cols / s->block, ng = s->group ? cols / s->group : 1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nblk; b++, o += s->block_bytes) {
            const int32_t *c = codes + r * cols + b * s->block;
            float d = s->kind == K_BITNET
                          ? scales[0]
                          : scales[r * ng + b * s->block / (s->group ? s->group : 1)];
            if (s->kind == K_Q4) {
                put16(o, d);
                for (int j = 0; j < 16; j++)
                    o[2 + j] = (uint8_t)(c[j] | c[j + 16] << 4);
            } else if (s->kind == K_Q8) {
                put16(o, d);
                for (int j = 0; j < 32; j++)
                    o[2 + j] = (uint8_t)(int8_t)c[j];
            } else {
                memset(o, 0, 64);
                for (int e = 0; e < 256; e++) {
                    int ch = e / 128, k = e % 128, m = k % 32, nn = k / 32;
                    o[32 * ch + m] |= (uint8_t)((c[e] + 1) << (2 * nn));
                }
                put16(o + 64, d);
            }
        }
    return 0;
}

double bnc_ptq_output_error(const double *X, int64_t n, int64_t cols, const double *W,
                            const double *Q, int64_t rows)
{
    double *D = malloc((size_t)(rows * cols) * sizeof *D);
    double *Y = malloc((size_t)(n * rows) * sizeof *Y),
           *Yd = malloc((size_t)(n * rows) * sizeof *Yd);
    if (!D || !Y || !Yd) {
        free(D);
        free(Y);
        free(Yd);
        return NAN;
    }
    for (int64_t i = 0; i < rows * cols; i++)
        D[i] = W[i] - Q[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows, (int)cols, 1.0, X,
                (int)cols, W, (int)cols, 0.0, Y, (int)rows);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows, (int)cols, 1.0, X,
                (int)cols, D, (int)cols, 0.0, Yd, (int)rows);
    double num = 0, den = 0;
    for (int64_t i = 0; i < n * rows; i++) {
        num += Yd[i] * Yd[i];
        den += Y[i] * Y[i];
    }
    free(D);
    free(Y);
    free(Yd);
    return den > 0 ? num / den : 0.0;
}
