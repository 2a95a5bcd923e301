/* The trainable model: parameter layout (llama.cpp tensor names), initial
 * weights, the BitNet quantizers, and the forward/backward pass (written
 * once in train_model_impl.h, compiled for float and for double). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fp16.h"
#include "bnc_rng.h"
#include "bnc_train.h"

/* ---- the float instantiation (training) ---- */
#define R float
#define GEMM cblas_sgemm
#define WS bnc_tr_ws
#define FN(name) trf_##name
#include "train_model_impl.h"
#undef R
#undef GEMM
#undef WS
#undef FN

/* ---- the double instantiation (gradient checks) ---- */
#define R double
#define GEMM cblas_dgemm
#define WS bnc_tr_wsd
#define FN(name) trd_##name
#include "train_model_impl.h"
#undef R
#undef GEMM
#undef WS
#undef FN

int bnc_tr_ws_new(const bnc_tr_layout *L, bnc_tr_ws **out, bnc_err *err)
{
    return trf_ws_new(L, out, err);
}
void bnc_tr_ws_free(bnc_tr_ws *w)
{
    trf_ws_free(w);
}
int bnc_tr_wsd_new(const bnc_tr_layout *L, bnc_tr_wsd **out, bnc_err *err)
{
    return trd_ws_new(L, out, err);
}
void bnc_tr_wsd_free(bnc_tr_wsd *w)
{
    trd_ws_free(w);
}

int bnc_tr_loss_grad(const bnc_tr_layout *L, const float *w, const int32_t *x, const int32_t *y,
                     int64_t T, float *grad, double *loss_sum, bnc_tr_ws *ws, bnc_err *err)
{
    return trf_loss_grad(L, w, x, y, T, grad, loss_sum, ws, err);
}

int bnc_tr_loss_grad_d(const bnc_tr_layout *L, const double *w, const int32_t *x, const int32_t *y,
                       int64_t T, double *grad, double *loss_sum, bnc_tr_wsd *ws, bnc_err *err)
{
    return trd_loss_grad(L, w, x, y, T, grad, loss_sum, ws, err);
}

int bnc_tr_step_grad(const bnc_tr_layout *L, const float *master, float *wq, const int32_t *x,
                     const int32_t *y, int64_t T, float *grad, double *loss_sum, bnc_tr_ws *ws,
                     bnc_err *err)
{
    const float *w = master;
    if (L->cfg.quant != BNC_TR_QUANT_NONE) {
        bnc_tr_quantize_weights(L, master, wq);
        w = wq;
    }
    return trf_loss_grad(L, w, x, y, T, grad, loss_sum, ws, err);
}

const float *bnc_tr_ws_input(const bnc_tr_ws *ws, int64_t layer, int which)
{
    if (!ws || layer < 0 || layer >= ws->L.cfg.n_layers) return NULL;
    switch (which) {
    case BNC_TR_IN_ATTN:
        return ws->a_q[layer];
    case BNC_TR_IN_ATTN_OUT:
        return ws->o_q[layer];
    case BNC_TR_IN_FFN:
        return ws->b_q[layer];
    case BNC_TR_IN_FFN_DOWN:
        return ws->m_q[layer];
    default:
        return NULL;
    }
}

void bnc_tr_act_quant(float *x, int64_t n)
{
    trf_act_quant_rows(x, 1, n);
}

/* ---- layout ---- */

static int add_tensor(bnc_tr_layout *L, int cap, const char *name, int64_t rows, int64_t cols,
                      int linear, int decay)
{
    if (L->n_tensors >= cap) return -1;
    bnc_tr_tensor *t = &L->t[L->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->off = L->n_params;
    t->linear = linear;
    t->decay = decay;
    L->n_params += (size_t)(rows * cols);
    return 0;
}

int bnc_tr_layout_init(bnc_tr_layout *L, const bnc_tr_config *cfg, bnc_err *err)
{
    memset(L, 0, sizeof *L);
    const bnc_tr_config *c = cfg;
    if (c->arch != BNC_TR_LLAMA && c->arch != BNC_TR_BITNET)
        return bnc_err_set(err, BNC_EINVAL, "train: arch must be llama or bitnet");
    if (c->dim < 2 || c->dim > 65536)
        return bnc_err_set(err, BNC_EINVAL, "train: dim %lld out of range", (long long)c->dim);
    if (c->n_heads < 1 || c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        return bnc_err_set(err, BNC_EINVAL,
                           "train: heads %lld must divide dim %lld into even head sizes",
                           (long long)c->n_heads, (long long)c->dim);
    if (c->n_layers < 1 || c->n_layers > 1024)
        return bnc_err_set(err, BNC_EINVAL, "train: layers %lld out of range",
                           (long long)c->n_layers);
    if (c->ff < 1 || c->ff > 1 << 20)
        return bnc_err_set(err, BNC_EINVAL, "train: ff %lld out of range", (long long)c->ff);
    if (c->vocab < BNC_TR_VOCAB || c->vocab > 1 << 20)
        return bnc_err_set(err, BNC_EINVAL, "train: vocab %lld (byte-level needs >= %d)",
                           (long long)c->vocab, BNC_TR_VOCAB);
    if (c->ctx < 2 || c->ctx > 8192)
        return bnc_err_set(err, BNC_EINVAL, "train: ctx %lld out of range 2..8192",
                           (long long)c->ctx);
    if (!(c->rope_base > 0) || !(c->norm_eps > 0))
        return bnc_err_set(err, BNC_EINVAL, "train: rope base and norm eps must be positive");
    int bitnet = c->arch == BNC_TR_BITNET;
    int cap = 3 + (int)c->n_layers * (bitnet ? 11 : 9);
    L->t = calloc((size_t)cap, sizeof *L->t);
    if (!L->t) return bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
    L->cfg = *c;
    int64_t D = c->dim, F = c->ff;
    char nm[48];
    add_tensor(L, cap, "token_embd.weight", c->vocab, D, 0, 1);
    for (int64_t l = 0; l < c->n_layers; l++) {
#define T_(suffix, rows, cols, lin, dec)                                                           \
    do {                                                                                           \
        snprintf(nm, sizeof nm, "blk.%lld." suffix, (long long)l);                                 \
        add_tensor(L, cap, nm, rows, cols, lin, dec);                                              \
    } while (0)
        T_("attn_norm.weight", 1, D, 0, 0);
        T_("attn_q.weight", D, D, 1, 1);
        T_("attn_k.weight", D, D, 1, 1);
        T_("attn_v.weight", D, D, 1, 1);
        T_("attn_output.weight", D, D, 1, 1);
        if (bitnet) T_("attn_sub_norm.weight", 1, D, 0, 0);
        T_("ffn_norm.weight", 1, D, 0, 0);
        T_("ffn_gate.weight", F, D, 1, 1);
        T_("ffn_up.weight", F, D, 1, 1);
        T_("ffn_down.weight", D, F, 1, 1);
        if (bitnet) T_("ffn_sub_norm.weight", 1, F, 0, 0);
#undef T_
    }
    add_tensor(L, cap, "output_norm.weight", 1, D, 0, 0);
    add_tensor(L, cap, "output.weight", c->vocab, D, 0, 1);
    return 0;
}

void bnc_tr_layout_free(bnc_tr_layout *L)
{
    if (!L) return;
    free(L->t);
    L->t = NULL;
}

int bnc_tr_layout_find(const bnc_tr_layout *L, const char *name)
{
    for (int i = 0; i < L->n_tensors; i++)
        if (strcmp(L->t[i].name, name) == 0) return i;
    return -1;
}

void bnc_tr_init_params(const bnc_tr_layout *L, uint64_t seed, float *p)
{
    double resid = 0.02 / sqrt(2.0 * (double)L->cfg.n_layers);
    for (int i = 0; i < L->n_tensors; i++) {
        const bnc_tr_tensor *t = &L->t[i];
        float *x = p + t->off;
        size_t n = (size_t)(t->rows * t->cols);
        if (t->rows == 1) { /* norm gains */
            for (size_t j = 0; j < n; j++)
                x[j] = 1.0f;
            continue;
        }
        double sd = 0.02;
        if (strstr(t->name, "attn_output") || strstr(t->name, "ffn_down")) sd = resid;
        bnc_rng r;
        bnc_rng_init(&r, bnc_mix64(seed, 0x747261696e), (uint64_t)i);
        for (size_t j = 0; j < n; j++)
            x[j] = (float)(sd * bnc_rng_normal(&r));
    }
}

void bnc_tr_quantize_weights(const bnc_tr_layout *L, const float *master, float *out)
{
    if (out != master) memcpy(out, master, L->n_params * sizeof(float));
    for (int i = 0; i < L->n_tensors; i++) {
        const bnc_tr_tensor *t = &L->t[i];
        if (!t->linear) continue;
        size_t n = (size_t)(t->rows * t->cols);
        const float *w = master + t->off;
        float *q = out + t->off;
        double s = 0;
        for (size_t j = 0; j < n; j++)
            s += fabs((double)w[j]);
        /* the scale as a tq2_0 block stores it, so the exported model is this one */
        float gamma = bnc_f16_to_f32(bnc_f32_to_f16((float)(s / (double)n)));
        if (!(gamma > 0)) {
            memset(q, 0, n * sizeof(float));
            continue;
        }
        float ig = 1.0f / (gamma + 1e-8f);
        for (size_t j = 0; j < n; j++) {
            float c = roundf(w[j] * ig);
            if (c > 1) c = 1;
            if (c < -1) c = -1;
            q[j] = c * gamma;
        }
    }
}
