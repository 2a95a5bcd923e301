/* Activation quantization for the GEMV (BitNet's absmax int8 quantizer) and
 * the layouts the kernels read (see bnc_act in bnc_gemv.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gemv.h"
#ifdef BNC_HAVE_NEON
#include "bnc_neon.h"
#endif

int bnc_act_new(int64_t batch, int64_t cols, bnc_act **out, bnc_err *err)
{
    if (batch < 1 || batch > 64 || cols < 1 || cols > (1 << 24))
        return bnc_err_set(err, BNC_EINVAL, "activations: bad shape %lldx%lld (batch 1..64)",
                           (long long)batch, (long long)cols);
    bnc_act *a = calloc(1, sizeof *a);
    if (!a) return bnc_err_set(err, BNC_ENOMEM, "activations: out of memory");
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
    if (!a) return;
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
    if (rc) return bnc_err_prefix(err, "activations: ");
#ifdef BNC_HAVE_NEON
    /* the NEON row quantizer (same bytes) unless BNC_ISA picks another set */
    bnc_isa isa = BNC_ISA_SCALAR;
    int neon = bnc_isa_select(&isa, NULL) == 0 && isa == BNC_ISA_NEON;
#endif
    for (int64_t b = 0; b < a->batch; b++) {
        const float *xr = x + b * a->cols;
        int8_t *q = a->q + b * a->stride;
#ifdef BNC_HAVE_NEON
        if (neon) {
            bnc_neon_act_row(xr, a->cols, q, &a->d[b]);
            memset(q + a->cols, 0, (size_t)(a->stride - a->cols));
            continue;
        }
#endif
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
            return bnc_err_set(err, BNC_ERANGE, "activations: -128 at index %lld", (long long)i);
    for (int64_t b = 0; b < a->batch; b++) {
        memcpy(a->q + b * a->stride, q + b * a->cols, (size_t)a->cols);
        memset(a->q + b * a->stride + a->cols, 0, (size_t)(a->stride - a->cols));
        a->d[b] = d[b];
    }
    act_finish(a);
    return 0;
}
