/* Whole-model GPTQ / AWQ (bnc quantize --method gptq|awq): a GGUF model of
 * bnc train's layout is read into the trainer's parameter layout, the
 * full-precision forward pass runs on the calibration text and leaves each
 * linear layer's inputs, from which the Hessians 2/N X^T X (GPTQ) or a
 * sample of the inputs (AWQ) are gathered for all layers in one pass; then
 * every linear layer is quantized and the file is written with the input's
 * metadata and the other tensors as they were. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fp16.h"
#include "bnc_ggml.h"
#include "bnc_kernels.h"
#include "bnc_gguf.h"
#include "bnc_ptq.h"
#include "bnc_time.h"
#include "bnc_train.h"

#define AWQ_SAMPLE 512 /* input rows per layer kept for AWQ's search and the error figures */

static int read_all(const char *path, uint8_t **buf, size_t *n, bnc_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bnc_err_set(err, BNC_EIO, "%s: %s", path, strerror(errno));
    size_t len = 0;
    uint8_t *b = bnc_tr_slurp(f, &len);
    int bad = ferror(f);
    fclose(f);
    if (!b) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path);
    if (bad) {
        free(b);
        return bnc_err_set(err, BNC_EIO, "%s: read error", path);
    }
    *buf = b;
    *n = len;
    return 0;
}

static int get_u32(const bnc_gguf *g, const char *path, const char *arch, const char *k,
                   int64_t *out, int64_t dflt, bnc_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    const bnc_gguf_value *v = bnc_gguf_get(g, key);
    if (!v) {
        if (dflt < 0) return bnc_err_set(err, BNC_EFORMAT, "%s: key %s missing", path, key);
        *out = dflt;
        return 0;
    }
    if (v->type != BNC_GGUF_UINT32 && v->type != BNC_GGUF_INT32 && v->type != BNC_GGUF_UINT64)
        return bnc_err_set(err, BNC_EFORMAT, "%s: key %s is not an integer", path, key);
    *out = (int64_t)v->v.u;
    return 0;
}

static float get_f32(const bnc_gguf *g, const char *arch, const char *k, float dflt)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    const bnc_gguf_value *v = bnc_gguf_get(g, key);
    return v && v->type == BNC_GGUF_FLOAT32 ? v->v.f32 : dflt;
}

/* The linear layers of layer l and the input kind each reads. */
typedef struct lin_ref {
    int tensor; /* index in the layout */
    int input;  /* BNC_TR_IN_* */
} lin_ref;

static int layer_linears(const bnc_tr_layout *L, int64_t l, lin_ref out[7])
{
    static const char *names[7] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                   "ffn_gate", "ffn_up", "ffn_down"};
    static const int in[7] = {BNC_TR_IN_ATTN, BNC_TR_IN_ATTN, BNC_TR_IN_ATTN,    BNC_TR_IN_ATTN_OUT,
                              BNC_TR_IN_FFN,  BNC_TR_IN_FFN,  BNC_TR_IN_FFN_DOWN};
    char nm[64];
    for (int k = 0; k < 7; k++) {
        snprintf(nm, sizeof nm, "blk.%lld.%s.weight", (long long)l, names[k]);
        out[k].tensor = bnc_tr_layout_find(L, nm);
        out[k].input = in[k];
        if (out[k].tensor < 0) return -1;
    }
    return 0;
}

static int find_in(const bnc_tr_layout *L, int64_t l, const char *suffix)
{
    char nm[64];
    snprintf(nm, sizeof nm, "blk.%lld.%s", (long long)l, suffix);
    return bnc_tr_layout_find(L, nm);
}

int bnc_ptq_quantize_file(const bnc_ptq_opts *o, bnc_ptq_result *res, bnc_err *err)
{
    memset(res, 0, sizeof *res);
    double t0 = bnc_now();
    const bnc_ptq_scheme *qs = bnc_ptq_scheme_find(o->type);
    if (!qs)
        return bnc_err_set(err, BNC_EINVAL,
                           "--method gptq/awq: type '%s' (q4_0, q8_0, tq2_0 or bitnet)", o->type);
    if (o->method != BNC_PTQ_GPTQ && o->method != BNC_PTQ_AWQ)
        return bnc_err_set(err, BNC_EINVAL, "ptq: method must be gptq or awq");
    uint8_t *buf = NULL;
    size_t nbuf = 0;
    bnc_gguf *g = NULL, *og = NULL;
    bnc_tr_layout L = {0};
    bnc_tr_corpus cal = {0};
    bnc_tr_ws *ws = NULL;
    float *w = NULL;
    double **Hs = NULL;
    float **sample = NULL;
    int64_t *nsample = NULL;
    void **odata = NULL, **owned = NULL;
    int rc = read_all(o->in, &buf, &nbuf, err);
    if (!rc) rc = bnc_gguf_parse(buf, nbuf, o->in, &g, err);
    if (rc) goto done;
    const bnc_gguf_value *av = bnc_gguf_get(g, "general.architecture");
    if (!av || av->type != BNC_GGUF_STRING) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s: general.architecture missing", o->in);
        goto done;
    }
    const char *arch = av->v.str.s;
    bnc_tr_config c = {0};
    if (strcmp(arch, "llama") == 0)
        c.arch = BNC_TR_LLAMA;
    else if (strcmp(arch, "bitnet") == 0)
        c.arch = BNC_TR_BITNET;
    else {
        rc = bnc_err_set(err, BNC_ENOTSUP, "%s: architecture '%s' (gptq/awq handle llama, bitnet)",
                         o->in, arch);
        goto done;
    }
    int64_t kv = 0;
    rc = get_u32(g, o->in, arch, "embedding_length", &c.dim, -1, err);
    if (!rc) rc = get_u32(g, o->in, arch, "block_count", &c.n_layers, -1, err);
    if (!rc) rc = get_u32(g, o->in, arch, "feed_forward_length", &c.ff, -1, err);
    if (!rc) rc = get_u32(g, o->in, arch, "attention.head_count", &c.n_heads, -1, err);
    if (!rc) rc = get_u32(g, o->in, arch, "attention.head_count_kv", &kv, c.n_heads, err);
    if (!rc) rc = get_u32(g, o->in, arch, "context_length", &c.ctx, 128, err);
    if (rc) goto done;
    if (kv != c.n_heads) {
        rc = bnc_err_set(err, BNC_ENOTSUP,
                         "%s: grouped-query attention (%lld kv heads of %lld) is not handled by "
                         "gptq/awq",
                         o->in, (long long)kv, (long long)c.n_heads);
        goto done;
    }
    long te = bnc_gguf_find_tensor(g, "token_embd.weight");
    if (te < 0 || bnc_gguf_find_tensor(g, "output.weight") < 0) {
        rc = bnc_err_set(err, BNC_ENOTSUP, "%s: gptq/awq need token_embd.weight and output.weight",
                         o->in);
        goto done;
    }
    c.vocab = g->tensors[te].ne[1];
    c.rope_base = get_f32(g, arch, "rope.freq_base", 10000.0f);
    c.norm_eps = get_f32(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f);
    c.quant = BNC_TR_QUANT_NONE;
    if (o->ctx > 0 && o->ctx < c.ctx) c.ctx = o->ctx;
    if ((rc = bnc_tr_layout_init(&L, &c, err))) {
        bnc_err_prefix(err, "%s: ", o->in);
        goto done;
    }
    w = malloc(L.n_params * sizeof *w);
    if (!w) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < L.n_tensors; i++) {
        const bnc_tr_tensor *t = &L.t[i];
        long ti = bnc_gguf_find_tensor(g, t->name);
        if (ti < 0) {
            rc = bnc_err_set(err, BNC_ENOTSUP, "%s: tensor %s missing (not bnc train's layout)",
                             o->in, t->name);
            goto done;
        }
        const bnc_gguf_tensor *gt = &g->tensors[ti];
        if (gt->ne[0] != t->cols || (gt->n_dims > 1 ? gt->ne[1] : 1) != t->rows) {
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "%s: tensor %s has shape %lldx%lld, expected %lldx%lld", o->in,
                             t->name, (long long)gt->ne[1], (long long)gt->ne[0],
                             (long long)t->rows, (long long)t->cols);
            goto done;
        }
        const uint8_t *src = buf + g->data_offset + gt->offset;
        int64_t ne = t->rows * t->cols;
        if (gt->type == bnc_train_ggml_id("f32"))
            memcpy(w + t->off, src, (size_t)ne * 4);
        else if (gt->type == bnc_train_ggml_id("f16"))
            bnc_f16_to_f32_row(src, w + t->off, ne);
        else {
            rc = bnc_err_set(err, BNC_ENOTSUP,
                             "%s: tensor %s is already quantized (gptq/awq start from f32 or f16)",
                             o->in, t->name);
            goto done;
        }
        if (t->linear && t->cols % qs->block) {
            rc = bnc_err_set(err, BNC_EINVAL, "%s: %s rows of %lld do not fill %s blocks of %lld",
                             o->in, t->name, (long long)t->cols, qs->name, (long long)qs->block);
            goto done;
        }
    }
    if ((rc = bnc_tr_corpus_read(o->calib, (size_t)c.ctx + 2, &cal, err))) goto done;
    memcpy(res->calib_sha256, cal.sha256, sizeof res->calib_sha256);
    if ((rc = bnc_tr_ws_new(&L, &ws, err))) goto done;

    /* calibration: one pass of the f32 model */
    const int64_t NL = c.n_layers, T = c.ctx, nseq = o->calib_seqs > 0 ? o->calib_seqs : 32;
    Hs = calloc((size_t)(NL * 4), sizeof *Hs);
    sample = calloc((size_t)(NL * 4), sizeof *sample);
    nsample = calloc((size_t)(NL * 4), sizeof *nsample);
    int32_t *x = malloc((size_t)T * 4), *y = malloc((size_t)T * 4);
    double *xd = malloc((size_t)(T * (c.ff > c.dim ? c.ff : c.dim)) * sizeof *xd);
    int ok = Hs && sample && nsample && x && y && xd;
    for (int64_t i = 0; ok && i < NL * 4; i++) {
        int64_t d = (i % 4) == BNC_TR_IN_FFN_DOWN ? c.ff : c.dim;
        ok = (Hs[i] = calloc((size_t)(d * d), sizeof(double))) != NULL &&
             (sample[i] = malloc((size_t)(AWQ_SAMPLE * d) * sizeof(float))) != NULL;
    }
    if (!ok) {
        free(x);
        free(y);
        free(xd);
        rc = bnc_err_set(err, BNC_ENOMEM, "ptq: out of memory (calibration)");
        goto done;
    }
    size_t span = cal.n - (size_t)T;
    for (int64_t sq = 0; sq < nseq && !rc; sq++) {
        size_t off = nseq > 1 ? (size_t)((double)span * (double)sq / (double)(nseq - 1)) : 0;
        x[0] = BNC_TR_BOS;
        for (int64_t t = 0; t < T; t++) {
            y[t] = cal.bytes[off + (size_t)t];
            if (t + 1 < T) x[t + 1] = y[t];
        }
        double loss;
        rc = bnc_tr_loss_grad(&L, w, x, y, T, NULL, &loss, ws, err);
        for (int64_t l = 0; l < NL && !rc; l++)
            for (int k = 0; k < 4; k++) {
                int64_t d = k == BNC_TR_IN_FFN_DOWN ? c.ff : c.dim;
                const float *X = bnc_tr_ws_input(ws, l, k);
                for (int64_t i = 0; i < T * d; i++)
                    xd[i] = X[i];
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)T, 1.0,
                            xd, (int)d, xd, (int)d, 1.0, Hs[l * 4 + k], (int)d);
                int64_t *ns = &nsample[l * 4 + k];
                /* a sample spread over the sequences: every (nseq*T/AWQ_SAMPLE)-th row */
                for (int64_t t = 0; t < T && *ns < AWQ_SAMPLE; t++)
                    if (((sq * T + t) * AWQ_SAMPLE) / (nseq * T) == *ns) {
                        memcpy(sample[l * 4 + k] + *ns * d, X + t * d, (size_t)d * 4);
                        (*ns)++;
                    }
            }
    }
    free(x);
    free(y);
    free(xd);
    if (rc) goto done;
    const double scaleH = 2.0 / (double)(nseq * T);
    for (int64_t i = 0; i < NL * 4; i++) {
        int64_t d = (i % 4) == BNC_TR_IN_FFN_DOWN ? c.ff : c.dim;
        for (int64_t j = 0; j < d * d; j++)
            Hs[i][j] *= scaleH;
    }

    /* AWQ: scales per group, folded into what precedes the group's input */
    double awq_e = 0, awq_e0 = 0;
    int awq_n = 0;
    if (o->method == BNC_PTQ_AWQ) {
        for (int64_t l = 0; l < NL && !rc; l++) {
            lin_ref lr[7];
            if (layer_linears(&L, l, lr)) {
                rc = bnc_err_set(err, BNC_EINTERNAL, "ptq: layout");
                break;
            }
            struct {
                int in, first, count, fold_norm; /* fold into a norm or into rows of a linear */
                const char *norm;
                int fold_rows; /* linear whose rows take 1/s (llama attn_output, ffn_down) */
            } grp[4] = {
                {BNC_TR_IN_ATTN, 0, 3, 1, "attn_norm.weight", -1},
                {BNC_TR_IN_ATTN_OUT, 3, 1, c.arch == BNC_TR_BITNET, "attn_sub_norm.weight",
                 lr[2].tensor},
                {BNC_TR_IN_FFN, 4, 2, 1, "ffn_norm.weight", -1},
                {BNC_TR_IN_FFN_DOWN, 6, 1, c.arch == BNC_TR_BITNET, "ffn_sub_norm.weight",
                 lr[5].tensor},
            };
            for (int gi = 0; gi < 4 && !rc; gi++) {
                const float *Wk[3];
                int64_t rows[3];
                int64_t cols = L.t[lr[grp[gi].first].tensor].cols;
                for (int k = 0; k < grp[gi].count; k++) {
                    const bnc_tr_tensor *t = &L.t[lr[grp[gi].first + k].tensor];
                    Wk[k] = w + t->off;
                    rows[k] = t->rows;
                }
                float *s = malloc((size_t)cols * sizeof *s);
                if (!s) {
                    rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
                    break;
                }
                double alpha, e, e0;
                rc = bnc_awq_search(qs, sample[l * 4 + grp[gi].in], nsample[l * 4 + grp[gi].in],
                                    cols, Wk, rows, grp[gi].count, o->awq_grid, s, &alpha, &e, &e0,
                                    err);
                if (!rc) {
                    awq_e += e;
                    awq_e0 += e0;
                    awq_n++;
                    for (int k = 0; k < grp[gi].count; k++) {
                        const bnc_tr_tensor *t = &L.t[lr[grp[gi].first + k].tensor];
                        for (int64_t r = 0; r < t->rows; r++)
                            for (int64_t j = 0; j < cols; j++)
                                w[t->off + r * cols + j] *= s[j];
                    }
                    if (grp[gi].fold_norm) {
                        int ni = find_in(&L, l, grp[gi].norm);
                        for (int64_t j = 0; j < cols; j++)
                            w[L.t[ni].off + j] /= s[j];
                    } else { /* rows j of the linear producing input channel j */
                        const bnc_tr_tensor *t = &L.t[grp[gi].fold_rows];
                        for (int64_t r = 0; r < t->rows; r++)
                            for (int64_t j = 0; j < t->cols; j++)
                                w[t->off + r * t->cols + j] /= s[r];
                    }
                    /* the sample of this input now reads x / s */
                    float *X = sample[l * 4 + grp[gi].in];
                    for (int64_t t = 0; t < nsample[l * 4 + grp[gi].in]; t++)
                        for (int64_t j = 0; j < cols; j++)
                            X[t * cols + j] /= s[j];
                }
                free(s);
            }
        }
        if (rc) goto done;
    }

    /* the output file: the input's keys and tensors, linears quantized */
    og = bnc_gguf_new();
    odata = calloc(g->n_tensors, sizeof *odata);
    owned = calloc(g->n_tensors, sizeof *owned);
    if (!og || !odata || !owned) {
        rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < g->n_kv && !rc; i++)
        rc = bnc_gguf_set(og, g->kv[i].key, &g->kv[i].value, err);
    bnc_gguf_value v = bnc_gguf_v_str(o->method == BNC_PTQ_GPTQ ? "gptq" : "awq");
    if (!rc) rc = bnc_gguf_set(og, "bnc.quantize.method", &v, err);
    v = bnc_gguf_v_str(qs->name);
    if (!rc) rc = bnc_gguf_set(og, "bnc.quantize.type", &v, err);
    v = bnc_gguf_v_str(cal.sha256);
    if (!rc) rc = bnc_gguf_set(og, "bnc.quantize.calib_sha256", &v, err);
    v = bnc_gguf_v_u32((uint32_t)nseq);
    if (!rc) rc = bnc_gguf_set(og, "bnc.quantize.calib_seqs", &v, err);
    double err_sum = 0, rtn_sum = 0;
    for (size_t i = 0; i < g->n_tensors && !rc; i++) {
        const bnc_gguf_tensor *gt = &g->tensors[i];
        int li = bnc_tr_layout_find(&L, gt->name);
        const bnc_tr_tensor *t = li >= 0 ? &L.t[li] : NULL;
        if (t && t->linear) {
            int64_t rows = t->rows, cols = t->cols;
            size_t ne = (size_t)(rows * cols);
            double *Wd = malloc(ne * 8), *W0 = malloc(ne * 8), *R = malloc(ne * 8);
            int32_t *codes = malloc(ne * 4);
            float *scales = malloc(ne / 32 * 4 + 4);
            size_t nb = bnc_ptq_nbytes(qs, rows, cols);
            owned[i] = malloc(nb);
            if (!Wd || !W0 || !R || !codes || !scales || !owned[i]) {
                rc = bnc_err_set(err, BNC_ENOMEM, "out of memory");
            } else {
                for (size_t j = 0; j < ne; j++)
                    Wd[j] = W0[j] = R[j] = w[t->off + j];
                /* which input this linear reads */
                int64_t l = -1;
                sscanf(gt->name, "blk.%lld.", (long long *)&l);
                int in = strstr(gt->name, "attn_output") ? BNC_TR_IN_ATTN_OUT
                         : strstr(gt->name, "ffn_down")  ? BNC_TR_IN_FFN_DOWN
                         : strstr(gt->name, "ffn_")      ? BNC_TR_IN_FFN
                                                         : BNC_TR_IN_ATTN;
                if (o->method == BNC_PTQ_GPTQ)
                    rc = bnc_gptq(qs, Wd, rows, cols, Hs[l * 4 + in], o->damp > 0 ? o->damp : 0.01,
                                  o->block > 0 ? o->block : 128, codes, scales, err);
                else
                    rc = bnc_ptq_rtn(qs, Wd, rows, cols, codes, scales, err);
                if (!rc) rc = bnc_ptq_pack(qs, codes, scales, rows, cols, owned[i], nb, err);
                if (!rc) rc = bnc_ptq_rtn(qs, R, rows, cols, NULL, NULL, err);
                if (!rc && o->method == BNC_PTQ_AWQ) {
                    res->tensors++;
                } else if (!rc) {
                    /* output errors on the kept sample (for AWQ in the scaled space, where
                     * the sample was divided by the scales) */
                    int64_t ns = nsample[l * 4 + in];
                    double *Xd = malloc((size_t)(ns * cols) * 8);
                    if (Xd) {
                        for (int64_t j = 0; j < ns * cols; j++)
                            Xd[j] = sample[l * 4 + in][j];
                        err_sum += bnc_ptq_output_error(Xd, ns, cols, W0, Wd, rows);
                        rtn_sum += bnc_ptq_output_error(Xd, ns, cols, W0, R, rows);
                        free(Xd);
                    }
                    res->tensors++;
                }
            }
            free(Wd);
            free(W0);
            free(R);
            free(codes);
            free(scales);
            if (!rc) rc = bnc_gguf_add_tensor(og, gt->name, gt->n_dims, gt->ne, qs->ggml_type, err);
            odata[i] = owned[i];
        } else if (t && o->method == BNC_PTQ_AWQ && t->rows == 1) {
            /* norms (possibly divided by AWQ's scales) as f32 */
            rc = bnc_gguf_add_tensor(og, gt->name, gt->n_dims, gt->ne, bnc_train_ggml_id("f32"),
                                     err);
            odata[i] = w + t->off;
        } else {
            rc = bnc_gguf_add_tensor(og, gt->name, gt->n_dims, gt->ne, gt->type, err);
            odata[i] = buf + g->data_offset + gt->offset;
        }
    }
    if (!rc) rc = bnc_gguf_write_file(og, o->out, (const void *const *)odata, err);
    if (!rc && o->method == BNC_PTQ_AWQ && awq_n) {
        res->rel_err = awq_e / awq_n;
        res->rel_err_rtn = awq_e0 / awq_n;
    } else if (!rc && res->tensors) {
        res->rel_err = err_sum / res->tensors;
        res->rel_err_rtn = rtn_sum / res->tensors;
    }
done:
    res->seconds = bnc_now() - t0;
    if (owned)
        for (size_t i = 0; g && i < g->n_tensors; i++)
            free(owned[i]);
    free(owned);
    free(odata);
    bnc_gguf_free(og);
    if (Hs)
        for (int64_t i = 0; i < L.cfg.n_layers * 4; i++)
            free(Hs[i]);
    if (sample)
        for (int64_t i = 0; i < L.cfg.n_layers * 4; i++)
            free(sample[i]);
    free(Hs);
    free(sample);
    free(nsample);
    bnc_tr_ws_free(ws);
    bnc_tr_corpus_free(&cal);
    free(w);
    bnc_tr_layout_free(&L);
    bnc_gguf_free(g);
    free(buf);
    return rc;
}
