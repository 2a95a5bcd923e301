/* AWQ's activation-aware scale search for one group of linear layers that
 * share an input (see bnc_ptq.h). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_ptq.h"

int bnc_awq_search(const bnc_ptq_scheme *s, const float *X, int64_t n, int64_t cols,
                   const float *const *W, const int64_t *rows, int nW, int grid, float *s_out,
                   double *alpha_out, double *err_out, double *err_rtn, bnc_err *err)
{
    if (grid < 1) grid = 20;
    int64_t maxr = 0;
    for (int k = 0; k < nW; k++)
        if (rows[k] > maxr) maxr = rows[k];
    double *mag = calloc((size_t)cols, sizeof *mag);
    float *sc = malloc((size_t)cols * sizeof *sc), *Xs = malloc((size_t)(n * cols) * sizeof *Xs);
    double *Wd = malloc((size_t)(maxr * cols) * sizeof *Wd);
    float *Qf = malloc((size_t)(maxr * cols) * sizeof *Qf);
    float *Yq = malloc((size_t)(n * maxr) * sizeof *Yq);
    float **Yref = calloc((size_t)nW, sizeof *Yref);
    int rc = 0;
    if (!mag || !sc || !Xs || !Wd || !Qf || !Yq || !Yref) {
        rc = bnc_err_set(err, BNC_ENOMEM, "awq: out of memory");
        goto done;
    }
    for (int k = 0; k < nW; k++) {
        Yref[k] = malloc((size_t)(n * rows[k]) * sizeof(float));
        if (!Yref[k]) {
            rc = bnc_err_set(err, BNC_ENOMEM, "awq: out of memory");
            goto done;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows[k], (int)cols, 1.0f,
                    X, (int)cols, W[k], (int)cols, 0.0f, Yref[k], (int)rows[k]);
    }
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < cols; j++)
            mag[j] += fabs((double)X[t * cols + j]);
    for (int64_t j = 0; j < cols; j++)
        mag[j] = fmax(mag[j] / (double)n, 1e-4);
    double ref = 0;
    for (int k = 0; k < nW; k++)
        for (int64_t i = 0; i < n * rows[k]; i++)
            ref += (double)Yref[k][i] * (double)Yref[k][i];
    if (!(ref > 0)) ref = 1;
    double best = INFINITY, best_a = 0;
    for (int gi = 0; gi < grid; gi++) {
        double a = (double)gi / (double)grid, mx = 0, mn = INFINITY;
        for (int64_t j = 0; j < cols; j++) {
            double v = pow(mag[j], a);
            sc[j] = (float)v;
            mx = fmax(mx, v);
            mn = fmin(mn, v);
        }
        float nrm = (float)(1.0 / sqrt(mx * mn));
        for (int64_t j = 0; j < cols; j++)
            sc[j] *= nrm;
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0; j < cols; j++)
                Xs[t * cols + j] = X[t * cols + j] / sc[j];
        double e = 0;
        for (int k = 0; k < nW && !rc; k++) {
            for (int64_t r = 0; r < rows[k]; r++)
                for (int64_t j = 0; j < cols; j++)
                    Wd[r * cols + j] = (double)(W[k][r * cols + j] * sc[j]);
            rc = bnc_ptq_rtn(s, Wd, rows[k], cols, NULL, NULL, err);
            for (int64_t i = 0; i < rows[k] * cols; i++)
                Qf[i] = (float)Wd[i];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows[k], (int)cols,
                        1.0f, Xs, (int)cols, Qf, (int)cols, 0.0f, Yq, (int)rows[k]);
            for (int64_t i = 0; i < n * rows[k]; i++) {
                double d = (double)Yref[k][i] - (double)Yq[i];
                e += d * d;
            }
        }
        if (rc) goto done;
        e /= ref;
        if (gi == 0) *err_rtn = e;
        if (e < best) {
            best = e;
            best_a = a;
            memcpy(s_out, sc, (size_t)cols * sizeof *s_out);
        }
    }
    *alpha_out = best_a;
    *err_out = best;
done:
    if (Yref)
        for (int k = 0; k < nW; k++)
            free(Yref[k]);
    free(Yref);
    free(mag);
    free(sc);
    free(Xs);
    free(Wd);
    free(Qf);
    free(Yq);
    return rc;
}
