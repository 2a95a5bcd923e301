/* The forward and backward pass of one sequence, written once for a real
 * type R: train_model.c includes this file twice, for float (training) and
 * double (gradient checks). Expects R, GEMM (cblas_sgemm/cblas_dgemm),
 * WS (the workspace type) and FN(name) (the function name for the type). */

struct WS {
    bnc_tr_layout L;  /* a copy of the shape (t borrowed) */
    int64_t T;        /* capacity in positions */
    R *cos_t, *sin_t; /* T x hd/2 */
    /* per layer saved activations, n_layers of each */
    R **h_in, **a, **a_q, **q, **k, **v, **P, **o, **o_n, **o_q, **h_mid, **b, **b_q, **g, **u, **m,
        **m_n, **m_q;
    R **r_a, **r_o, **r_b, **r_m; /* 1/rms per row */
    R *h_out, *hf, *r_f, *logits;
    /* backward scratch */
    R *dh, *dx, *dq, *dk, *dv, *dP, *dS, *dtmp, *dg, *du, *dm, *dff;
};

static void FN(ws_free)(struct WS *w)
{
    if (!w) return;
    R ***arrs[] = {&w->h_in, &w->a,   &w->a_q,   &w->q,   &w->k,   &w->v,  &w->P, &w->o,
                   &w->o_n,  &w->o_q, &w->h_mid, &w->b,   &w->b_q, &w->g,  &w->u, &w->m,
                   &w->m_n,  &w->m_q, &w->r_a,   &w->r_o, &w->r_b, &w->r_m};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        if (*arrs[i])
            for (int64_t l = 0; l < w->L.cfg.n_layers; l++)
                free((*arrs[i])[l]);
        free(*arrs[i]);
    }
    R **flat[] = {&w->cos_t, &w->sin_t, &w->h_out, &w->hf, &w->r_f, &w->logits,
                  &w->dh,    &w->dx,    &w->dq,    &w->dk, &w->dv,  &w->dP,
                  &w->dS,    &w->dtmp,  &w->dg,    &w->du, &w->dm,  &w->dff};
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++)
        free(*flat[i]);
    free(w);
}

static int FN(ws_new)(const bnc_tr_layout *L, struct WS **out, bnc_err *err)
{
    const bnc_tr_config *c = &L->cfg;
    int64_t T = c->ctx, D = c->dim, F = c->ff, H = c->n_heads, V = c->vocab, hd = D / H;
    struct WS *w = calloc(1, sizeof *w);
    if (!w) return bnc_err_set(err, BNC_ENOMEM, "train: out of memory (workspace)");
    w->L = *L;
    w->T = T;
    int ok = 1;
#define ALLOC(p, n) ok = ok && ((p) = calloc((size_t)(n), sizeof(R))) != NULL
#define ALLOCL(p, n)                                                                               \
    do {                                                                                           \
        ok = ok && ((p) = calloc((size_t)c->n_layers, sizeof(R *))) != NULL;                       \
        for (int64_t l = 0; ok && l < c->n_layers; l++)                                            \
            ALLOC((p)[l], n);                                                                      \
    } while (0)
    ALLOC(w->cos_t, T * hd / 2);
    ALLOC(w->sin_t, T * hd / 2);
    ALLOCL(w->h_in, T * D);
    ALLOCL(w->a, T * D);
    ALLOCL(w->a_q, T * D);
    ALLOCL(w->q, T * D);
    ALLOCL(w->k, T * D);
    ALLOCL(w->v, T * D);
    ALLOCL(w->P, H * T * T);
    ALLOCL(w->o, T * D);
    ALLOCL(w->o_n, T * D);
    ALLOCL(w->o_q, T * D);
    ALLOCL(w->h_mid, T * D);
    ALLOCL(w->b, T * D);
    ALLOCL(w->b_q, T * D);
    ALLOCL(w->g, T * F);
    ALLOCL(w->u, T * F);
    ALLOCL(w->m, T * F);
    ALLOCL(w->m_n, T * F);
    ALLOCL(w->m_q, T * F);
    ALLOCL(w->r_a, T);
    ALLOCL(w->r_o, T);
    ALLOCL(w->r_b, T);
    ALLOCL(w->r_m, T);
    ALLOC(w->h_out, T * D);
    ALLOC(w->hf, T * D);
    ALLOC(w->r_f, T);
    ALLOC(w->logits, T * V);
    ALLOC(w->dh, T * D);
    ALLOC(w->dx, T * D);
    ALLOC(w->dq, T * D);
    ALLOC(w->dk, T * D);
    ALLOC(w->dv, T * D);
    ALLOC(w->dP, T * T);
    ALLOC(w->dS, T * T);
    ALLOC(w->dtmp, T * (F > D ? F : D));
    ALLOC(w->dg, T * F);
    ALLOC(w->du, T * F);
    ALLOC(w->dm, T * F);
    ALLOC(w->dff, T * (F > V ? F : V));
#undef ALLOC
#undef ALLOCL
    if (!ok) {
        FN(ws_free)(w);
        return bnc_err_set(err, BNC_ENOMEM, "train: out of memory (workspace for ctx %lld)",
                           (long long)T);
    }
    /* llama.cpp's RoPE: pair (2i, 2i+1) of each head turns by p * base^(-2i/hd). */
    for (int64_t p = 0; p < T; p++)
        for (int64_t i = 0; i < hd / 2; i++) {
            double th = (double)p * pow((double)c->rope_base, -2.0 * (double)i / (double)hd);
            w->cos_t[p * (hd / 2) + i] = (R)cos(th);
            w->sin_t[p * (hd / 2) + i] = (R)sin(th);
        }
    *out = w;
    return 0;
}

/* y = rmsnorm(x) * g per row; r[t] = 1/rms. */
static void FN(rmsnorm)(const R *x, const R *g, R *y, R *r, int64_t T, int64_t D, double eps)
{
    for (int64_t t = 0; t < T; t++) {
        const R *xt = x + t * D;
        double ss = 0;
        for (int64_t j = 0; j < D; j++)
            ss += (double)xt[j] * (double)xt[j];
        R rt = (R)(1.0 / sqrt(ss / (double)D + eps));
        r[t] = rt;
        for (int64_t j = 0; j < D; j++)
            y[t * D + j] = xt[j] * rt * g[j];
    }
}

/* Backward of rmsnorm: dx (+)= ..., dg += ...; dy is the gradient of y. */
static void FN(rmsnorm_back)(const R *x, const R *g, const R *r, const R *dy, R *dx, R *dg,
                             int64_t T, int64_t D, int accumulate)
{
    for (int64_t t = 0; t < T; t++) {
        const R *xt = x + t * D, *dyt = dy + t * D;
        R rt = r[t];
        double dot = 0;
        for (int64_t j = 0; j < D; j++) {
            dot += (double)dyt[j] * (double)g[j] * (double)xt[j];
            dg[j] += dyt[j] * xt[j] * rt;
        }
        R c = (R)(dot * (double)rt * (double)rt * (double)rt / (double)D);
        for (int64_t j = 0; j < D; j++) {
            R v = rt * dyt[j] * g[j] - xt[j] * c;
            dx[t * D + j] = accumulate ? dx[t * D + j] + v : v;
        }
    }
}

static void FN(act_quant_rows)(R *x, int64_t T, int64_t D)
{
    for (int64_t t = 0; t < T; t++) {
        R *xt = x + t * D;
        R amax = 0;
        for (int64_t j = 0; j < D; j++) {
            R a = xt[j] < 0 ? -xt[j] : xt[j];
            if (a > amax) amax = a;
        }
        if (amax == 0) continue;
        R s = (R)127 / amax, is = amax / (R)127;
        for (int64_t j = 0; j < D; j++) {
            R q = (R)round((double)(xt[j] * s));
            if (q > 127) q = 127;
            if (q < -128) q = -128;
            xt[j] = q * is;
        }
    }
}

/* y[T x out] = x[T x in] W^T */
static void FN(linear)(const R *x, const R *W, R *y, int64_t T, int64_t out, int64_t in)
{
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)out, (int)in, (R)1, x, (int)in, W,
         (int)in, (R)0, y, (int)out);
}

/* dx[T x in] (+)= dy W; dW[out x in] += dy^T x */
static void FN(linear_back)(const R *x, const R *W, const R *dy, R *dx, R *dW, int64_t T,
                            int64_t out, int64_t in, int accumulate_dx)
{
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)in, (int)out, (R)1, dy,
             (int)out, W, (int)in, accumulate_dx ? (R)1 : (R)0, dx, (int)in);
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)T, (R)1, dy, (int)out, x,
         (int)in, (R)1, dW, (int)in);
}

static void FN(rope)(R *x, const struct WS *w, int64_t T, int64_t D, int64_t hd, int inverse)
{
    int64_t half = hd / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h0 = 0; h0 < D; h0 += hd)
            for (int64_t i = 0; i < half; i++) {
                R c = w->cos_t[t * half + i], s = w->sin_t[t * half + i];
                if (inverse) s = -s;
                R *p = x + t * D + h0 + 2 * i;
                R x0 = p[0], x1 = p[1];
                p[0] = x0 * c - x1 * s;
                p[1] = x0 * s + x1 * c;
            }
}

static int FN(loss_grad)(const bnc_tr_layout *L, const R *W, const int32_t *x, const int32_t *y,
                         int64_t T, R *G, double *loss_sum, struct WS *w, bnc_err *err)
{
    const bnc_tr_config *c = &L->cfg;
    const int64_t D = c->dim, F = c->ff, H = c->n_heads, V = c->vocab, hd = D / H;
    const int bitnet = c->arch == BNC_TR_BITNET;
    const int aq = c->quant != BNC_TR_QUANT_NONE && c->act_quant;
    const double eps = c->norm_eps;
    const R sc = (R)(1.0 / sqrt((double)hd));
    if (T < 1 || T > w->T)
        return bnc_err_set(err, BNC_EINVAL, "train: sequence of %lld tokens (ctx %lld)",
                           (long long)T, (long long)w->T);
    for (int64_t t = 0; t < T; t++)
        if (x[t] < 0 || x[t] >= V || y[t] < 0 || y[t] >= V)
            return bnc_err_set(err, BNC_ERANGE, "train: token at position %lld out of range",
                               (long long)t);
    /* tensor index: 0 token_embd, then per layer n_per, then output_norm, output */
    const int n_per = bitnet ? 11 : 9;
#define TW(i) (W + L->t[i].off)
#define TG(i) (G + L->t[i].off)
    R *h = w->h_out;
    for (int64_t t = 0; t < T; t++)
        memcpy(h + t * D, TW(0) + (size_t)x[t] * (size_t)D, (size_t)D * sizeof(R));

    for (int64_t l = 0; l < c->n_layers; l++) {
        int b0 = 1 + (int)l * n_per;
        /* indices in the layer: attn_norm q k v o [attn_sub_norm] ffn_norm gate up down
         * [ffn_sub_norm] */
        int i_an = b0, i_q = b0 + 1, i_k = b0 + 2, i_v = b0 + 3, i_o = b0 + 4;
        int i_asn = bitnet ? b0 + 5 : -1, i_fn = bitnet ? b0 + 6 : b0 + 5;
        int i_g = i_fn + 1, i_u = i_fn + 2, i_d = i_fn + 3, i_fsn = bitnet ? i_fn + 4 : -1;
        memcpy(w->h_in[l], h, (size_t)(T * D) * sizeof(R));
        FN(rmsnorm)(h, TW(i_an), w->a[l], w->r_a[l], T, D, eps);
        memcpy(w->a_q[l], w->a[l], (size_t)(T * D) * sizeof(R));
        if (aq) FN(act_quant_rows)(w->a_q[l], T, D);
        FN(linear)(w->a_q[l], TW(i_q), w->q[l], T, D, D);
        FN(linear)(w->a_q[l], TW(i_k), w->k[l], T, D, D);
        FN(linear)(w->a_q[l], TW(i_v), w->v[l], T, D, D);
        FN(rope)(w->q[l], w, T, D, hd, 0);
        FN(rope)(w->k[l], w, T, D, hd, 0);
        for (int64_t hh = 0; hh < H; hh++) {
            R *P = w->P[l] + hh * T * T;
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)hd, sc,
                 w->q[l] + hh * hd, (int)D, w->k[l] + hh * hd, (int)D, (R)0, P, (int)T);
            for (int64_t i = 0; i < T; i++) {
                R *row = P + i * T;
                R mx = row[0];
                for (int64_t j = 1; j <= i; j++)
                    if (row[j] > mx) mx = row[j];
                double s = 0;
                for (int64_t j = 0; j <= i; j++) {
                    row[j] = (R)exp((double)(row[j] - mx));
                    s += (double)row[j];
                }
                R is = (R)(1.0 / s);
                for (int64_t j = 0; j <= i; j++)
                    row[j] *= is;
                for (int64_t j = i + 1; j < T; j++)
                    row[j] = 0;
            }
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)hd, (int)T, (R)1, P,
                 (int)T, w->v[l] + hh * hd, (int)D, (R)0, w->o[l] + hh * hd, (int)D);
        }
        if (bitnet)
            FN(rmsnorm)(w->o[l], TW(i_asn), w->o_n[l], w->r_o[l], T, D, eps);
        else
            memcpy(w->o_n[l], w->o[l], (size_t)(T * D) * sizeof(R));
        memcpy(w->o_q[l], w->o_n[l], (size_t)(T * D) * sizeof(R));
        if (aq) FN(act_quant_rows)(w->o_q[l], T, D);
        FN(linear)(w->o_q[l], TW(i_o), w->dtmp, T, D, D);
        for (int64_t j = 0; j < T * D; j++)
            h[j] += w->dtmp[j];
        memcpy(w->h_mid[l], h, (size_t)(T * D) * sizeof(R));
        FN(rmsnorm)(h, TW(i_fn), w->b[l], w->r_b[l], T, D, eps);
        memcpy(w->b_q[l], w->b[l], (size_t)(T * D) * sizeof(R));
        if (aq) FN(act_quant_rows)(w->b_q[l], T, D);
        FN(linear)(w->b_q[l], TW(i_g), w->g[l], T, F, D);
        FN(linear)(w->b_q[l], TW(i_u), w->u[l], T, F, D);
        for (int64_t j = 0; j < T * F; j++) {
            R gv = w->g[l][j];
            R act;
            if (bitnet) {
                R rl = gv > 0 ? gv : 0;
                act = rl * rl;
            } else {
                act = gv / ((R)1 + (R)exp(-(double)gv));
            }
            w->m[l][j] = act * w->u[l][j];
        }
        if (bitnet)
            FN(rmsnorm)(w->m[l], TW(i_fsn), w->m_n[l], w->r_m[l], T, F, eps);
        else
            memcpy(w->m_n[l], w->m[l], (size_t)(T * F) * sizeof(R));
        memcpy(w->m_q[l], w->m_n[l], (size_t)(T * F) * sizeof(R));
        if (aq) FN(act_quant_rows)(w->m_q[l], T, F);
        FN(linear)(w->m_q[l], TW(i_d), w->dtmp, T, D, F);
        for (int64_t j = 0; j < T * D; j++)
            h[j] += w->dtmp[j];
    }
    const int i_on = 1 + (int)c->n_layers * n_per, i_out = i_on + 1;
    FN(rmsnorm)(h, TW(i_on), w->hf, w->r_f, T, D, eps);
    FN(linear)(w->hf, TW(i_out), w->logits, T, V, D);
    double loss = 0;
    for (int64_t t = 0; t < T; t++) {
        R *z = w->logits + t * V;
        R mx = z[0];
        for (int64_t j = 1; j < V; j++)
            if (z[j] > mx) mx = z[j];
        double s = 0;
        for (int64_t j = 0; j < V; j++)
            s += exp((double)(z[j] - mx));
        double lse = (double)mx + log(s);
        loss += lse - (double)z[y[t]];
        if (G) {
            for (int64_t j = 0; j < V; j++)
                z[j] = (R)exp((double)z[j] - lse);
            z[y[t]] -= (R)1;
        }
    }
    *loss_sum = loss;
    if (!G) return 0;

    /* ---- backward ---- */
    R *dh = w->dh;
    FN(linear_back)(w->hf, TW(i_out), w->logits, w->dx, TG(i_out), T, V, D, 0);
    FN(rmsnorm_back)(h, TW(i_on), w->r_f, w->dx, dh, TG(i_on), T, D, 0);
    for (int64_t l = c->n_layers - 1; l >= 0; l--) {
        int b0 = 1 + (int)l * n_per;
        int i_an = b0, i_q = b0 + 1, i_k = b0 + 2, i_v = b0 + 3, i_o = b0 + 4;
        int i_asn = bitnet ? b0 + 5 : -1, i_fn = bitnet ? b0 + 6 : b0 + 5;
        int i_g = i_fn + 1, i_u = i_fn + 2, i_d = i_fn + 3, i_fsn = bitnet ? i_fn + 4 : -1;
        /* FFN: h = h_mid + down(m_q) */
        R *dmn = w->dm;
        FN(linear_back)(w->m_q[l], TW(i_d), dh, dmn, TG(i_d), T, D, F, 0);
        R *dmm = w->dff;
        if (bitnet)
            FN(rmsnorm_back)(w->m[l], TW(i_fsn), w->r_m[l], dmn, dmm, TG(i_fsn), T, F, 0);
        else
            memcpy(dmm, dmn, (size_t)(T * F) * sizeof(R));
        for (int64_t j = 0; j < T * F; j++) {
            R gv = w->g[l][j], uv = w->u[l][j], d = dmm[j];
            if (bitnet) {
                R rl = gv > 0 ? gv : 0;
                w->du[j] = d * rl * rl;
                w->dg[j] = d * uv * (R)2 * rl;
            } else {
                R s = (R)(1.0 / (1.0 + exp(-(double)gv)));
                w->du[j] = d * gv * s;
                w->dg[j] = d * uv * s * ((R)1 + gv * ((R)1 - s));
            }
        }
        FN(linear_back)(w->b_q[l], TW(i_g), w->dg, w->dtmp, TG(i_g), T, F, D, 0);
        FN(linear_back)(w->b_q[l], TW(i_u), w->du, w->dtmp, TG(i_u), T, F, D, 1);
        FN(rmsnorm_back)(w->h_mid[l], TW(i_fn), w->r_b[l], w->dtmp, dh, TG(i_fn), T, D, 1);
        /* attention: h_mid = h_in + o_proj(o_q) */
        FN(linear_back)(w->o_q[l], TW(i_o), dh, w->dtmp, TG(i_o), T, D, D, 0);
        R *dov = w->dx;
        if (bitnet)
            FN(rmsnorm_back)(w->o[l], TW(i_asn), w->r_o[l], w->dtmp, dov, TG(i_asn), T, D, 0);
        else
            memcpy(dov, w->dtmp, (size_t)(T * D) * sizeof(R));
        for (int64_t hh = 0; hh < H; hh++) {
            const R *P = w->P[l] + hh * T * T;
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)hd, (R)1,
                 dov + hh * hd, (int)D, w->v[l] + hh * hd, (int)D, (R)0, w->dP, (int)T);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hd, (int)T, (R)1, P, (int)T,
                 dov + hh * hd, (int)D, (R)0, w->dv + hh * hd, (int)D);
            for (int64_t i = 0; i < T; i++) {
                const R *pr = P + i * T;
                R *dpr = w->dP + i * T, *dsr = w->dS + i * T;
                double dot = 0;
                for (int64_t j = 0; j <= i; j++)
                    dot += (double)pr[j] * (double)dpr[j];
                for (int64_t j = 0; j <= i; j++)
                    dsr[j] = pr[j] * (dpr[j] - (R)dot);
                for (int64_t j = i + 1; j < T; j++)
                    dsr[j] = 0;
            }
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)hd, (int)T, sc, w->dS,
                 (int)T, w->k[l] + hh * hd, (int)D, (R)0, w->dq + hh * hd, (int)D);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hd, (int)T, sc, w->dS,
                 (int)T, w->q[l] + hh * hd, (int)D, (R)0, w->dk + hh * hd, (int)D);
        }
        FN(rope)(w->dq, w, T, D, hd, 1);
        FN(rope)(w->dk, w, T, D, hd, 1);
        FN(linear_back)(w->a_q[l], TW(i_q), w->dq, w->dtmp, TG(i_q), T, D, D, 0);
        FN(linear_back)(w->a_q[l], TW(i_k), w->dk, w->dtmp, TG(i_k), T, D, D, 1);
        FN(linear_back)(w->a_q[l], TW(i_v), w->dv, w->dtmp, TG(i_v), T, D, D, 1);
        FN(rmsnorm_back)(w->h_in[l], TW(i_an), w->r_a[l], w->dtmp, dh, TG(i_an), T, D, 1);
    }
    for (int64_t t = 0; t < T; t++) {
        R *ge = TG(0) + (size_t)x[t] * (size_t)D;
        for (int64_t j = 0; j < D; j++)
            ge[j] += dh[t * D + j];
    }
#undef TW
#undef TG
    return 0;
}
