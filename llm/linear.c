/* Linear layers: the one place in llm/ that calls the kernels. Quantized
 * weights go through the scheme table's int8-activation GEMV (activations
 * quantized per token, BitNet's absmax: W1.58A8 for ternary weights, the
 * same per-token int8 for q8_0/q4_0, where llama.cpp uses q8_0 blocks); f32
 * weights through OpenBLAS sdot per output (or sgemm on request),
 * split by output rows over the pool. The kernels' GEMV functions are called
 * here only (bnc_gemv, bnc_gemv_supported, bnc_gemv_weight_bytes), so a
 * change of their signature is a change of this file. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"
#include "llm_internal.h"

#define LLM_MAX_BATCH 64

void llm_scratch_free(llm_scratch *s)
{
    if (!s) return;
    for (int i = 0; i < 4; i++) {
        bnc_act_free(s->act[i]);
        s->act[i] = NULL;
        s->act_cols[i] = 0;
    }
}

static int scratch_act(llm_scratch *s, int64_t cols, bnc_act **out, bnc_err *err)
{
    for (int i = 0; i < 4; i++)
        if (s->act[i] && s->act_cols[i] == cols) {
            *out = s->act[i];
            return 0;
        }
    for (int i = 0; i < 4; i++)
        if (!s->act[i]) {
            int rc = bnc_act_new(LLM_MAX_BATCH, cols, &s->act[i], err);
            if (rc) return rc;
            s->act_cols[i] = cols;
            *out = s->act[i];
            return 0;
        }
    return bnc_err_set(err, BNC_EINTERNAL, "llm: more than 4 activation widths");
}

int llm_linear_bind(bnc_llm_linear *L, bnc_err *err)
{
    L->scheme = NULL;
    if (L->type == 0) return 0;
    const bnc_gguf_type_info *ti = bnc_gguf_type(L->type);
    const char *name = ti ? ti->name : "?";
    const bnc_scheme *s = ti ? bnc_scheme_find(ti->name) : NULL;
    if (!bnc_llm_scheme_has_gemv(s))
        return bnc_err_set(err, BNC_ENOTSUP, "%s: type %s has no GEMV kernel", L->name, name);
    L->scheme = s;
    return 0;
}

/* ---- f32 ------------------------------------------------------------------
 * One OpenBLAS sdot per (token, row) on one BLAS thread, rows split over
 * the pool: every output depends only on its token's activations and its
 * weight row (the same call, the same summation order), so results are
 * bitwise the same for any batch and thread count. OpenBLAS's sgemm is faster for long prompts but
 * its rounding depends on the batch (small-matrix and edge kernels) and on
 * the row split; it is used when the state asks for it (BNC_LLM_SGEMM=1). */

typedef struct f32_job {
    const float *w, *x;
    float *y;
    int64_t n, rows, cols;
    int sgemm;
} f32_job;

static void f32_part(void *arg, int tid, int nthreads)
{
    const f32_job *j = arg;
    /* Row blocks of 16 so each thread's share starts on a kernel boundary. */
    int64_t blocks = (j->rows + 15) / 16;
    int64_t b0 = blocks * tid / nthreads, b1 = blocks * (tid + 1) / nthreads;
    int64_t r0 = b0 * 16, r1 = b1 * 16 < j->rows ? b1 * 16 : j->rows;
    if (r1 <= r0) return;
    if (j->sgemm) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->n, (int)(r1 - r0),
                    (int)j->cols, 1.0f, j->x, (int)j->cols, j->w + r0 * j->cols, (int)j->cols, 0.0f,
                    j->y + r0, (int)j->rows);
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const float *w = j->w + r * j->cols;
        for (int64_t t = 0; t < j->n; t++)
            j->y[t * j->rows + r] = cblas_sdot((int)j->cols, j->x + t * j->cols, 1, w, 1);
    }
}

static const float *f32_weights(const bnc_llm_linear *L)
{
    return L->f32 ? L->f32 : (const float *)L->data;
}

int llm_linear(const bnc_llm_linear *L, const float *x, int64_t n, float *y, llm_scratch *s,
               bnc_pool *pool, bnc_err *err)
{
    if (n < 1 || n > LLM_MAX_BATCH)
        return bnc_err_set(err, BNC_EINVAL, "%s: batch %lld out of 1..64", L->name, (long long)n);
    if (!L->scheme) {
        f32_job j = {f32_weights(L), x, y, n, L->rows, L->cols, s->sgemm};
        bnc_pool_run(pool, f32_part, &j);
        return 0;
    }
    bnc_act *a = NULL;
    int rc = scratch_act(s, L->cols, &a, err);
    if (rc) return rc;
    a->batch = n; /* the buffers hold 64 rows; use the first n */
    rc = bnc_act_quantize(a, x, err);
    if (!rc)
        rc = bnc_gemv(L->scheme, &L->qp, L->data, L->nbytes, L->rows, a, y, bnc_isa_best(), pool,
                      err);
    a->batch = LLM_MAX_BATCH;
    if (rc) bnc_err_prefix(err, "%s: ", L->name);
    return rc;
}

int llm_linear_row(const bnc_llm_linear *L, int64_t r, float *out, bnc_err *err)
{
    if (r < 0 || r >= L->rows)
        return bnc_err_set(err, BNC_ERANGE, "%s: row %lld out of range", L->name, (long long)r);
    if (!L->scheme) {
        memcpy(out, f32_weights(L) + r * L->cols, (size_t)L->cols * sizeof *out);
        return 0;
    }
    const bnc_scheme *s = L->scheme;
    if (s->ggml_type < 0 || s->block_bytes == 0 || s->block <= 0)
        return bnc_err_set(err, BNC_ENOTSUP, "%s: rows of scheme %s cannot be decoded alone",
                           L->name, s->name);
    size_t rb = (size_t)(L->cols / s->block) * s->block_bytes;
    return s->dequantize((const uint8_t *)L->data + (size_t)r * rb, rb, 1, L->cols, &L->qp, out,
                         err);
}

int bnc_llm_scheme_has_gemv(const bnc_scheme *s)
{
    return s && bnc_gemv_supported(s);
}

size_t bnc_llm_linear_bytes(const bnc_llm_linear *L)
{
    return llm_linear_bytes(L);
}

size_t llm_linear_bytes(const bnc_llm_linear *L)
{
    if (!L->scheme) return (size_t)(L->rows * L->cols) * sizeof(float);
    return bnc_gemv_weight_bytes(L->scheme, &L->qp, L->rows, L->cols);
}
