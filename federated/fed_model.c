/* Forward and backward passes of the dense models, on cblas_sgemm. */
#include "bnc_fed_model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_kernels.h"
#include "bnc_rng.h"

struct bnc_fed_trainer {
    bnc_fed_arch a;
    int max_batch;
    float *x;                       /* max_batch x dims[0] */
    float *act[BNC_FED_MAX_LAYERS]; /* max_batch x dims[l+1] */
    float *d1, *d2;                 /* max_batch x max width */
    float *grad, *mom, *wq;         /* nparams each */
    uint8_t *qbuf;                  /* packed ternary scratch */
    size_t qcap;
    int64_t *perm;
    int64_t perm_cap;
};

int bnc_fed_arch_init(bnc_fed_arch *a, const char *name, int64_t in_dim, int nclasses, bnc_err *err)
{
    memset(a, 0, sizeof *a);
    if (in_dim < 1 || nclasses < 2)
        return bnc_err_set(err, BNC_EINVAL, "model: input %lld, classes %d", (long long)in_dim,
                           nclasses);
    if (strcmp(name, "softmax") == 0) {
        a->kind = BNC_FED_MODEL_SOFTMAX;
        a->nlayers = 1;
        a->dims[0] = (int)in_dim;
        a->dims[1] = nclasses;
    } else if (strcmp(name, "mlp") == 0) {
        a->kind = BNC_FED_MODEL_MLP;
        a->nlayers = 3;
        a->dims[0] = (int)in_dim;
        a->dims[1] = 256;
        a->dims[2] = 128;
        a->dims[3] = nclasses;
    } else {
        return bnc_err_set(err, BNC_EINVAL, "model '%s': expected softmax or mlp", name);
    }
    int64_t off = 0;
    for (int l = 0; l < a->nlayers; l++) {
        a->w_off[l] = off;
        off += (int64_t)a->dims[l] * a->dims[l + 1];
        a->b_off[l] = off;
        off += a->dims[l + 1];
    }
    a->nparams = off;
    return 0;
}

const char *bnc_fed_arch_name(const bnc_fed_arch *a)
{
    return a->kind == BNC_FED_MODEL_MLP ? "mlp" : "softmax";
}

int bnc_fed_arch_ntensors(const bnc_fed_arch *a)
{
    return 2 * a->nlayers;
}

int64_t bnc_fed_arch_tensor(const bnc_fed_arch *a, int t, int64_t *off)
{
    int l = t / 2;
    if (t % 2 == 0) {
        *off = a->w_off[l];
        return (int64_t)a->dims[l] * a->dims[l + 1];
    }
    *off = a->b_off[l];
    return a->dims[l + 1];
}

void bnc_fed_model_init(const bnc_fed_arch *a, float *w, uint64_t seed)
{
    bnc_rng r;
    bnc_rng_init(&r, seed, 0x1417);
    for (int l = 0; l < a->nlayers; l++) {
        int64_t nw = (int64_t)a->dims[l] * a->dims[l + 1];
        double sd = sqrt((l + 1 < a->nlayers ? 2.0 : 1.0) / a->dims[l]);
        for (int64_t i = 0; i < nw; i++)
            w[a->w_off[l] + i] = (float)(bnc_rng_normal(&r) * sd);
        memset(w + a->b_off[l], 0, (size_t)a->dims[l + 1] * sizeof(float));
    }
}

void bnc_fed_trainer_free(bnc_fed_trainer *t)
{
    if (!t) return;
    free(t->x);
    for (int l = 0; l < BNC_FED_MAX_LAYERS; l++)
        free(t->act[l]);
    free(t->d1);
    free(t->d2);
    free(t->grad);
    free(t->mom);
    free(t->wq);
    free(t->qbuf);
    free(t->perm);
    free(t);
}

bnc_fed_trainer *bnc_fed_trainer_new(const bnc_fed_arch *a, int max_batch)
{
    if (max_batch < 1) return NULL;
    bnc_fed_trainer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->a = *a;
    t->max_batch = max_batch;
    size_t B = (size_t)max_batch;
    int widest = 0;
    for (int l = 0; l <= a->nlayers; l++)
        if (a->dims[l] > widest) widest = a->dims[l];
    int ok = (t->x = malloc(B * (size_t)a->dims[0] * sizeof(float))) != NULL;
    for (int l = 0; l < a->nlayers; l++)
        ok &= (t->act[l] = malloc(B * (size_t)a->dims[l + 1] * sizeof(float))) != NULL;
    ok &= (t->d1 = malloc(B * (size_t)widest * sizeof(float))) != NULL;
    ok &= (t->d2 = malloc(B * (size_t)widest * sizeof(float))) != NULL;
    ok &= (t->grad = malloc((size_t)a->nparams * sizeof(float))) != NULL;
    ok &= (t->mom = malloc((size_t)a->nparams * sizeof(float))) != NULL;
    ok &= (t->wq = malloc((size_t)a->nparams * sizeof(float))) != NULL;
    if (!ok) {
        bnc_fed_trainer_free(t);
        return NULL;
    }
    return t;
}

/* Ternarizes the weight matrices of w into out through the kernels' bitnet
 * row; q and qcap hold packed scratch, grown as needed. */
static int ternarize(const bnc_fed_arch *a, const float *w, float *out, uint8_t **q, size_t *qcap,
                     bnc_err *err)
{
    const bnc_scheme *s = bnc_scheme_find("bitnet");
    if (!s) return bnc_err_set(err, BNC_ENOTSUP, "kernels: no bitnet scheme");
    bnc_qparams qp = {0};
    for (int l = 0; l < a->nlayers; l++) {
        int64_t rows = a->dims[l], cols = a->dims[l + 1];
        size_t need = s->qsize(rows, cols, &qp), got = 0;
        if (need > *qcap) {
            uint8_t *nq = realloc(*q, need);
            if (!nq) return bnc_err_set(err, BNC_ENOMEM, "ternarize: out of memory");
            *q = nq;
            *qcap = need;
        }
        int rc = s->quantize(w + a->w_off[l], rows, cols, &qp, *q, need, &got, err);
        if (!rc) rc = s->dequantize(*q, got, rows, cols, &qp, out + a->w_off[l], err);
        if (rc) return rc;
        memcpy(out + a->b_off[l], w + a->b_off[l], (size_t)cols * sizeof(float));
    }
    return 0;
}

int bnc_fed_ternarize(const bnc_fed_arch *a, const float *w, float *out, bnc_err *err)
{
    uint8_t *q = NULL;
    size_t cap = 0;
    int rc = ternarize(a, w, out, &q, &cap, err);
    free(q);
    return rc;
}

/* Forward pass of B examples in t->x with weights w; leaves softmax
 * probabilities in act[last]. Adds the loss and correct count. */
static void forward(bnc_fed_trainer *t, const float *w, int B, const uint8_t *labels,
                    double *loss_sum, int64_t *correct)
{
    const bnc_fed_arch *a = &t->a;
    const float *h = t->x;
    for (int l = 0; l < a->nlayers; l++) {
        int in = a->dims[l], out = a->dims[l + 1];
        float *z = t->act[l];
        const float *b = w + a->b_off[l];
        for (int i = 0; i < B; i++)
            memcpy(z + (size_t)i * out, b, (size_t)out * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1.0f, h, in,
                    w + a->w_off[l], out, 1.0f, z, out);
        if (l + 1 < a->nlayers)
            for (size_t i = 0; i < (size_t)B * out; i++)
                z[i] = z[i] > 0 ? z[i] : 0;
        h = z;
    }
    int C = a->dims[a->nlayers];
    float *p = t->act[a->nlayers - 1];
    for (int i = 0; i < B; i++) {
        float *row = p + (size_t)i * C;
        float m = row[0];
        int arg = 0;
        for (int c = 1; c < C; c++)
            if (row[c] > m) {
                m = row[c];
                arg = c;
            }
        double s = 0;
        for (int c = 0; c < C; c++)
            s += row[c] = expf(row[c] - m);
        float inv = (float)(1.0 / s);
        for (int c = 0; c < C; c++)
            row[c] *= inv;
        double py = row[labels[i]];
        *loss_sum -= log(py > 1e-30 ? py : 1e-30);
        *correct += arg == labels[i];
    }
}

/* Backward pass: gradient of the mean loss into t->grad (w: the weights the
 * forward pass used). */
static void backward(bnc_fed_trainer *t, const float *w, int B, const uint8_t *labels)
{
    const bnc_fed_arch *a = &t->a;
    int L = a->nlayers, C = a->dims[L];
    float *g = t->d1, *gp = t->d2;
    const float *p = t->act[L - 1];
    float invB = 1.0f / (float)B;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++)
            g[(size_t)i * C + c] = (p[(size_t)i * C + c] - (c == labels[i] ? 1.0f : 0.0f)) * invB;
    for (int l = L - 1; l >= 0; l--) {
        int in = a->dims[l], out = a->dims[l + 1];
        const float *h = l == 0 ? t->x : t->act[l - 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, B, 1.0f, h, in, g, out, 0.0f,
                    t->grad + a->w_off[l], out);
        float *gb = t->grad + a->b_off[l];
        memset(gb, 0, (size_t)out * sizeof(float));
        for (int i = 0; i < B; i++)
            for (int c = 0; c < out; c++)
                gb[c] += g[(size_t)i * out + c];
        if (l == 0) break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, out, 1.0f, g, out,
                    w + a->w_off[l], out, 0.0f, gp, in);
        for (size_t i = 0; i < (size_t)B * in; i++)
            if (!(h[i] > 0)) gp[i] = 0;
        float *tmp = g;
        g = gp;
        gp = tmp;
    }
}

static int gather_labels(const bnc_fed_dataset *d, const int64_t *idx, int B, uint8_t *lab)
{
    for (int i = 0; i < B; i++)
        lab[i] = d->y[idx[i]];
    return 0;
}

int bnc_fed_train(bnc_fed_trainer *t, float *w, const float *anchor, const bnc_fed_dataset *d,
                  const int64_t *idx, int64_t n, const bnc_fed_train_opts *o, uint64_t seed,
                  uint64_t stream, double *loss, double *acc, bnc_err *err)
{
    const bnc_fed_arch *a = &t->a;
    if (o->batch < 1 || o->batch > t->max_batch)
        return bnc_err_set(err, BNC_EINVAL, "train: batch %d outside 1..%d", o->batch,
                           t->max_batch);
    if (d->dim != a->dims[0])
        return bnc_err_set(err, BNC_EINVAL, "train: data has %lld features, model %d",
                           (long long)d->dim, a->dims[0]);
    if (n > t->perm_cap) {
        int64_t *p = realloc(t->perm, (size_t)n * sizeof *p);
        if (!p) return bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
        t->perm = p;
        t->perm_cap = n;
    }
    uint8_t lab[1024];
    uint8_t *labels = o->batch <= 1024 ? lab : malloc((size_t)o->batch);
    if (!labels) return bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
    memset(t->mom, 0, (size_t)a->nparams * sizeof(float));
    bnc_rng r;
    bnc_rng_init(&r, seed, stream);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    int rc = 0;
    for (int e = 0; e < o->epochs && !rc; e++) {
        memcpy(t->perm, idx, (size_t)n * sizeof *idx);
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)bnc_rng_below(&r, (uint64_t)i + 1);
            int64_t tmp = t->perm[i];
            t->perm[i] = t->perm[j];
            t->perm[j] = tmp;
        }
        for (int64_t s = 0; s < n; s += o->batch) {
            int B = (int)(n - s < o->batch ? n - s : o->batch);
            bnc_fed_dataset_batch(d, t->perm + s, B, t->x);
            gather_labels(d, t->perm + s, B, labels);
            const float *wf = w;
            if (o->qat) {
                rc = ternarize(a, w, t->wq, &t->qbuf, &t->qcap, err);
                if (rc) break;
                wf = t->wq;
            }
            forward(t, wf, B, labels, &loss_sum, &correct);
            backward(t, wf, B, labels);
            seen += B;
            /* SGD with momentum; the STE applies the ternary forward's
             * gradient to the latent f32 weights unchanged. */
            for (int64_t i = 0; i < a->nparams; i++) {
                float gi = t->grad[i] + o->weight_decay * w[i];
                if (anchor && o->prox_mu > 0) gi += o->prox_mu * (w[i] - anchor[i]);
                t->mom[i] = o->momentum * t->mom[i] + gi;
                w[i] -= o->lr * t->mom[i];
            }
        }
        if (!isfinite(loss_sum))
            rc = bnc_err_set(err, BNC_ERANGE, "train: loss diverged in epoch %d (lr %g)", e,
                             (double)o->lr);
    }
    if (labels != lab) free(labels);
    if (rc) return rc;
    *loss = seen ? loss_sum / (double)seen : 0;
    *acc = seen ? (double)correct / (double)seen : 0;
    return 0;
}

int bnc_fed_evaluate(bnc_fed_trainer *t, const float *w, int qat, const bnc_fed_dataset *d,
                     double *loss, double *acc, bnc_err *err)
{
    const bnc_fed_arch *a = &t->a;
    if (d->dim != a->dims[0])
        return bnc_err_set(err, BNC_EINVAL, "evaluate: data has %lld features, model %d",
                           (long long)d->dim, a->dims[0]);
    const float *wf = w;
    if (qat) {
        int rc = ternarize(a, w, t->wq, &t->qbuf, &t->qcap, err);
        if (rc) return rc;
        wf = t->wq;
    }
    int64_t idx[1024];
    uint8_t labels[1024];
    int maxb = t->max_batch < 1024 ? t->max_batch : 1024;
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t s = 0; s < d->n; s += maxb) {
        int B = (int)(d->n - s < maxb ? d->n - s : maxb);
        for (int i = 0; i < B; i++)
            idx[i] = s + i;
        bnc_fed_dataset_batch(d, idx, B, t->x);
        gather_labels(d, idx, B, labels);
        forward(t, wf, B, labels, &loss_sum, &correct);
    }
    *loss = d->n ? loss_sum / (double)d->n : 0;
    *acc = d->n ? (double)correct / (double)d->n : 0;
    return 0;
}
