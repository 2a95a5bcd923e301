/* The training loop of `bnc train` over MPI (see bnc_train.h): data shards,
 * the exact fixed-point gradient sum or the compressed exchange with error
 * feedback, AdamW, the schedule, evaluation, checkpoints, the database. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_db.h"
#include "bnc_rng.h"
#include "bnc_time.h"
#include "bnc_train.h"
#include "train_db.h"

/* Per-sequence gradients enter the sum as round(g * 2^32) in int64: integer
 * addition is associative, so the total is the same for any partition of
 * the batch over ranks and any reduction order. |g| must stay below 2^28. */
#define FIX_SCALE 4294967296.0
#define FIX_LIMIT 268435456.0
#define GC_BLOCK 256

void bnc_train_opts_default(bnc_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg.arch = BNC_TR_LLAMA;
    o->cfg.quant = BNC_TR_QUANT_NONE;
    o->cfg.act_quant = 1;
    o->cfg.dim = 256;
    o->cfg.n_layers = 2;
    o->cfg.n_heads = 4;
    o->cfg.ff = 512;
    o->cfg.vocab = BNC_TR_VOCAB;
    o->cfg.ctx = 128;
    o->cfg.rope_base = 10000.0f;
    o->cfg.norm_eps = 1e-5f;
    o->steps = 200;
    o->batch = 8;
    o->warmup = 20;
    o->lr = 3e-3;
    o->min_lr_frac = 0.1;
    o->weight_decay = 0.1;
    o->beta1 = 0.9;
    o->beta2 = 0.95;
    o->adam_eps = 1e-8;
    o->clip = 1.0;
    o->seed = 1;
    o->eval_every = 50;
    o->eval_seqs = 64;
}

/* ---- collective error agreement ---- */

/* Every rank passes its status; the lowest failing rank's code and message
 * become everyone's. Returns the agreed code (0 when all succeeded). */
static int agree(MPI_Comm comm, int rc, bnc_err *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    int mine = rc ? rank : INT_MAX, first = INT_MAX;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == INT_MAX) return 0;
    int code = rc;
    char msg[BNC_ERR_MSG_MAX];
    if (rank == first) snprintf(msg, sizeof msg, "%s", err ? err->msg : "error");
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, comm);
    if (rank != first) bnc_err_set(err, code, "%s", msg);
    return code;
}

static int bcast_bytes(MPI_Comm comm, uint8_t **buf, size_t *n)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    unsigned long long nn = *n;
    MPI_Bcast(&nn, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
    if (rank != 0) {
        *n = (size_t)nn;
        *buf = malloc(*n ? *n : 1);
    }
    int ok = *buf != NULL, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (!all) return BNC_ENOMEM;
    for (size_t off = 0; off < *n; off += (size_t)1 << 30) {
        size_t k = *n - off < ((size_t)1 << 30) ? *n - off : ((size_t)1 << 30);
        MPI_Bcast(*buf + off, (int)k, MPI_BYTE, 0, comm);
    }
    return 0;
}

/* Rank 0 reads path; every rank gets the bytes and hash. */
static int corpus_bcast(MPI_Comm comm, const char *path, size_t min_bytes, bnc_tr_corpus *c,
                        bnc_err *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(c, 0, sizeof *c);
    int rc = rank == 0 ? bnc_tr_corpus_read(path, min_bytes, c, err) : 0;
    if ((rc = agree(comm, rc, err))) return rc;
    if (bcast_bytes(comm, &c->bytes, &c->n))
        return agree(comm, bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", path), err);
    MPI_Bcast(c->sha256, 65, MPI_CHAR, 0, comm);
    if (rank != 0) c->path = strdup(path);
    return 0;
}

/* ---- data ---- */

/* Global sequence i of step s: BOS then ctx-1 bytes from a random offset,
 * targets the ctx bytes after BOS. */
static void sample_seq(const bnc_tr_corpus *c, uint64_t seed, int64_t step, int64_t i,
                       int64_t batch, int64_t T, int32_t *x, int32_t *y)
{
    bnc_rng r;
    bnc_rng_init(&r, bnc_mix64(seed, 0x64617461), (uint64_t)(step * batch + i));
    size_t off = (size_t)bnc_rng_below(&r, (uint64_t)(c->n - (size_t)T));
    x[0] = BNC_TR_BOS;
    for (int64_t t = 0; t < T; t++) {
        y[t] = c->bytes[off + (size_t)t];
        if (t + 1 < T) x[t + 1] = y[t];
    }
}

/* Evaluation sequence i of n: evenly spread over the file. */
static void eval_seq(const bnc_tr_corpus *c, int64_t i, int64_t n, int64_t T, int32_t *x,
                     int32_t *y)
{
    size_t span = c->n - (size_t)T;
    size_t off = n > 1 ? (size_t)((double)span * (double)i / (double)(n - 1)) : 0;
    if (off > span) off = span;
    x[0] = BNC_TR_BOS;
    for (int64_t t = 0; t < T; t++) {
        y[t] = c->bytes[off + (size_t)t];
        if (t + 1 < T) x[t + 1] = y[t];
    }
}

static void shard(int64_t n, int rank, int size, int64_t *lo, int64_t *hi)
{
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}

/* Mean loss per byte of the evaluation sequences of c, sharded over ranks,
 * summed in sequence order on every rank. */
static int eval_loss(MPI_Comm comm, const bnc_tr_layout *L, const float *w, const bnc_tr_corpus *c,
                     int64_t nseq, bnc_tr_ws *ws, int32_t *x, int32_t *y, double *out, bnc_err *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t T = L->cfg.ctx;
    if ((size_t)T + 1 > c->n) {
        *out = NAN;
        return 0;
    }
    double *all = calloc((size_t)nseq, sizeof *all);
    int *cnt = calloc((size_t)size, sizeof *cnt), *dsp = calloc((size_t)size, sizeof *dsp);
    int rc = all && cnt && dsp ? 0 : bnc_err_set(err, BNC_ENOMEM, "out of memory");
    if ((rc = agree(comm, rc, err))) goto done;
    int64_t lo, hi;
    for (int r = 0; r < size; r++) {
        shard(nseq, r, size, &lo, &hi);
        cnt[r] = (int)(hi - lo);
        dsp[r] = (int)lo;
    }
    shard(nseq, rank, size, &lo, &hi);
    for (int64_t i = lo; i < hi && !rc; i++) {
        eval_seq(c, i, nseq, T, x, y);
        rc = bnc_tr_loss_grad(L, w, x, y, T, NULL, &all[i], ws, err);
    }
    if ((rc = agree(comm, rc, err))) goto done;
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, cnt, dsp, MPI_DOUBLE, comm);
    double s = 0;
    for (int64_t i = 0; i < nseq; i++)
        s += all[i];
    *out = s / (double)(nseq * T);
done:
    free(all);
    free(cnt);
    free(dsp);
    return rc;
}

/* ---- compressed exchange ---- */

static size_t gc_payload(int gc, size_t n)
{
    size_t nb = (n + GC_BLOCK - 1) / GC_BLOCK;
    switch (gc) {
    case BNC_TR_GC_INT8:
        return nb * 4 + n;
    case BNC_TR_GC_TERNARY:
        return nb * 4 + (n + 3) / 4;
    case BNC_TR_GC_SIGN:
        return nb * 4 + (n + 7) / 8;
    default:
        return n * 8;
    }
}

/* Encodes v[0..n) into out (gc_payload bytes: nb float scales, then codes)
 * and writes the decoded values into dec. */
static void gc_encode(int gc, const float *v, size_t n, uint8_t *out, float *dec)
{
    size_t nb = (n + GC_BLOCK - 1) / GC_BLOCK;
    uint8_t *codes = out + nb * 4;
    memset(codes, 0, gc_payload(gc, n) - nb * 4);
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * GC_BLOCK, hi = lo + GC_BLOCK < n ? lo + GC_BLOCK : n;
        float s = 0, thr = 0;
        if (gc == BNC_TR_GC_INT8) {
            for (size_t i = lo; i < hi; i++)
                s = fmaxf(s, fabsf(v[i]));
            s /= 127.0f;
        } else if (gc == BNC_TR_GC_TERNARY) {
            /* ternary weight networks' rule: threshold 0.7 mean|v|, scale the mean
             * magnitude above it (the least-squares scale for that support) */
            double a = 0, above = 0;
            size_t k = 0;
            for (size_t i = lo; i < hi; i++)
                a += fabs((double)v[i]);
            thr = (float)(0.7 * a / (double)(hi - lo));
            for (size_t i = lo; i < hi; i++)
                if (fabsf(v[i]) > thr) {
                    above += fabs((double)v[i]);
                    k++;
                }
            s = k ? (float)(above / (double)k) : 0.0f;
        } else {
            double a = 0;
            for (size_t i = lo; i < hi; i++)
                a += fabs((double)v[i]);
            s = (float)(a / (double)(hi - lo));
        }
        memcpy(out + b * 4, &s, 4);
        float is = s > 0 ? 1.0f / s : 0.0f;
        if (s == 0) thr = INFINITY;
        for (size_t i = lo; i < hi; i++) {
            if (gc == BNC_TR_GC_INT8) {
                float q = fminf(127.0f, fmaxf(-127.0f, roundf(v[i] * is)));
                codes[i] = (uint8_t)(int8_t)q;
                dec[i] = q * s;
            } else if (gc == BNC_TR_GC_TERNARY) {
                float q = fabsf(v[i]) > thr ? (v[i] > 0 ? 1.0f : -1.0f) : 0.0f;
                codes[i / 4] |= (uint8_t)((int)(q + 1.0f) << (2 * (i % 4)));
                dec[i] = q * s;
            } else {
                int pos = v[i] >= 0;
                if (pos) codes[i / 8] |= (uint8_t)(1u << (i % 8));
                dec[i] = pos ? s : -s;
            }
        }
    }
}

static void gc_decode_add(int gc, const uint8_t *in, size_t n, float *acc)
{
    size_t nb = (n + GC_BLOCK - 1) / GC_BLOCK;
    const uint8_t *codes = in + nb * 4;
    for (size_t b = 0; b < nb; b++) {
        float s;
        memcpy(&s, in + b * 4, 4);
        size_t lo = b * GC_BLOCK, hi = lo + GC_BLOCK < n ? lo + GC_BLOCK : n;
        for (size_t i = lo; i < hi; i++) {
            float q;
            if (gc == BNC_TR_GC_INT8)
                q = (float)(int8_t)codes[i];
            else if (gc == BNC_TR_GC_TERNARY)
                q = (float)((codes[i / 4] >> (2 * (i % 4))) & 3) - 1.0f;
            else
                q = (codes[i / 8] >> (i % 8)) & 1 ? 1.0f : -1.0f;
            acc[i] += q * s;
        }
    }
}

/* ---- the loop ---- */

static double lr_at(const bnc_train_opts *o, int64_t s)
{
    if (s < o->warmup) return o->lr * (double)(s + 1) / (double)o->warmup;
    double span = (double)(o->steps - o->warmup);
    double p = span > 0 ? (double)(s - o->warmup) / span : 1.0;
    if (p > 1) p = 1;
    double lo = o->lr * o->min_lr_frac;
    return lo + (o->lr - lo) * 0.5 * (1.0 + cos(M_PI * p));
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

typedef struct run_ctx {
    PGconn *db;
    bnc_train_step *pend;
    size_t n_pend, cap_pend;
    const char *run;
} run_ctx;

static int flush_steps(run_ctx *rc_, bnc_err *err)
{
    if (!rc_->db || rc_->n_pend == 0) return 0;
    int rc = bnc_tr_db_steps(rc_->db, rc_->run, rc_->pend, rc_->n_pend, err);
    rc_->n_pend = 0;
    return rc;
}

int bnc_train_run(const bnc_train_opts *o, MPI_Comm comm, bnc_train_result *res, bnc_err *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(res, 0, sizeof *res);
    res->valid_loss = res->test_loss = res->ood_loss = NAN;
    openblas_set_num_threads(1); /* one thread per rank: results independent of the machine */

    bnc_tr_layout L;
    bnc_tr_corpus tr = {0}, va = {0}, te = {0}, oo = {0};
    bnc_tr_state st = {0};
    bnc_tr_ws *ws = NULL;
    float *wq = NULL, *gs = NULL, *g = NULL, *ef = NULL, *dec = NULL;
    int64_t *acc = NULL;
    uint8_t *payload = NULL, *all_payload = NULL;
    int32_t *x = NULL, *y = NULL;
    double *losses = NULL;
    int *cnt = NULL, *dsp = NULL;
    run_ctx db = {0};
    bnc_tr_state prev = {0}; /* the state before the last update (NaN recovery) */
    int have_prev = 0;
    int rc = 0;
    char run_name[256];
    snprintf(run_name, sizeof run_name, "%s",
             o->run_name ? o->run_name : (o->out_path ? base_name(o->out_path) : "train"));
    db.run = run_name;

    if (!o->out_path || !*o->out_path)
        return bnc_err_set(err, BNC_EINVAL, "train: --out FILE is required");
    if (o->steps < 1 || o->batch < 1 || o->warmup < 0 || !(o->lr > 0) || o->eval_seqs < 1 ||
        o->stop_after < 0)
        return bnc_err_set(err, BNC_EINVAL,
                           "train: steps and batch must be >= 1, lr > 0, warmup >= 0");
    if (o->batch < size)
        return bnc_err_set(err, BNC_EINVAL, "train: batch %lld is smaller than the %d ranks",
                           (long long)o->batch, size);
    if ((rc = bnc_tr_layout_init(&L, &o->cfg, err))) return rc;
    const int64_t T = L.cfg.ctx, B = o->batch;
    const size_t n = L.n_params;
    const size_t min_bytes = (size_t)T + 2;

    rc = corpus_bcast(comm, o->train_path, min_bytes, &tr, err);
    if (!rc) rc = corpus_bcast(comm, o->valid_path, min_bytes, &va, err);
    if (!rc && o->test_path) rc = corpus_bcast(comm, o->test_path, min_bytes, &te, err);
    if (!rc && o->ood_path) rc = corpus_bcast(comm, o->ood_path, min_bytes, &oo, err);
    if (rc) goto out;
    res->unigram_bits = bnc_tr_unigram_bits(&tr);
    res->n_params = n;

    /* state: fresh or from the checkpoint (rank 0 reads, everyone receives) */
    if (o->resume_path) {
        rc = rank == 0 ? bnc_tr_load(o->resume_path, &L, &st, err) : 0;
        if ((rc = agree(comm, rc, err))) goto out;
        long long meta[2] = {st.step, st.ef_ranks};
        MPI_Bcast(meta, 2, MPI_LONG_LONG, 0, comm);
        st.step = meta[0];
        st.ef_ranks = (int)meta[1];
        if (rank != 0) {
            st.w = malloc(n * sizeof(float));
            st.m = malloc(n * sizeof(float));
            st.v = malloc(n * sizeof(float));
        }
    } else {
        st.w = malloc(n * sizeof(float));
        st.m = calloc(n, sizeof(float));
        st.v = calloc(n, sizeof(float));
        if (st.w) bnc_tr_init_params(&L, o->seed, st.w);
    }
    rc = st.w && st.m && st.v ? 0 : bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
    if ((rc = agree(comm, rc, err))) goto out;
    if (o->resume_path) {
        MPI_Bcast(st.w, (int)n, MPI_FLOAT, 0, comm);
        MPI_Bcast(st.m, (int)n, MPI_FLOAT, 0, comm);
        MPI_Bcast(st.v, (int)n, MPI_FLOAT, 0, comm);
    }
    if (o->grad_compress) {
        ef = calloc(n, sizeof *ef);
        dec = malloc(n * sizeof *dec);
        payload = malloc(gc_payload(o->grad_compress, n));
        all_payload = malloc(gc_payload(o->grad_compress, n) * (size_t)size);
        rc =
            ef && dec && payload && all_payload ? 0 : bnc_err_set(err, BNC_ENOMEM, "out of memory");
        if (!rc && o->resume_path && st.ef_ranks > 0 && st.ef_ranks != size)
            rc = bnc_err_set(err, BNC_EINVAL,
                             "%s.train: error-feedback state is for %d ranks, this run has %d",
                             o->resume_path, st.ef_ranks, size);
        if ((rc = agree(comm, rc, err))) goto out;
        if (o->resume_path && st.ef_ranks == size)
            MPI_Scatter(rank == 0 ? st.ef : NULL, (int)n, MPI_FLOAT, ef, (int)n, MPI_FLOAT, 0,
                        comm);
    }
    rc = bnc_tr_ws_new(&L, &ws, err);
    if (!rc) {
        gs = malloc(n * sizeof *gs);
        g = malloc(n * sizeof *g);
        acc = malloc(n * sizeof *acc);
        x = malloc((size_t)T * sizeof *x);
        y = malloc((size_t)T * sizeof *y);
        losses = malloc((size_t)B * sizeof *losses);
        cnt = malloc((size_t)size * sizeof *cnt);
        dsp = malloc((size_t)size * sizeof *dsp);
        if (L.cfg.quant) wq = malloc(n * sizeof *wq);
        prev.w = malloc(n * sizeof(float));
        prev.m = malloc(n * sizeof(float));
        prev.v = malloc(n * sizeof(float));
        if (!prev.w || !prev.m || !prev.v)
            rc = bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
        if (!gs || !g || !acc || !x || !y || !losses || !cnt || !dsp || (L.cfg.quant && !wq))
            rc = bnc_err_set(err, BNC_ENOMEM, "train: out of memory");
    }
    if ((rc = agree(comm, rc, err))) goto out;

    if (rank == 0 && o->db_url) {
        rc = bnc_tr_db_open(o->db_url, &db.db, err);
        if (!rc) {
            bnc_tr_db_run r = {.name = run_name,
                               .checkpoint = o->out_path,
                               .train_sha = tr.sha256,
                               .valid_sha = va.sha256,
                               .test_sha = o->test_path ? te.sha256 : NULL,
                               .ood_sha = o->ood_path ? oo.sha256 : NULL,
                               .ranks = size,
                               .resumed = o->resume_path != NULL,
                               .params = n,
                               .unigram_bits = res->unigram_bits};
            rc = bnc_tr_db_start(db.db, o, &r, err);
        }
    }
    if ((rc = agree(comm, rc, err))) goto out;

    for (int r = 0; r < size; r++) {
        int64_t lo, hi;
        shard(B, r, size, &lo, &hi);
        cnt[r] = (int)(hi - lo);
        dsp[r] = (int)lo;
    }
    int64_t lo, hi;
    shard(B, rank, size, &lo, &hi);
    const int64_t last = o->stop_after > 0 && o->stop_after < o->steps ? o->stop_after : o->steps;
    res->start_step = st.step;
    double busy = 0;
    int64_t ran = 0;
    const size_t pay = gc_payload(o->grad_compress, n);
    res->payload_bytes = pay;
    res->sent_bytes = o->grad_compress ? (uint64_t)pay * (uint64_t)(size - 1)
                                       : (uint64_t)((double)pay * 2.0 * (size - 1) / (double)size);

    for (int64_t s = st.step; s < last; s++) {
        double t0 = bnc_now();
        memset(acc, 0, n * sizeof *acc);
        for (int64_t i = lo; i < hi && !rc; i++) {
            sample_seq(&tr, o->seed, s, i, B, T, x, y);
            memset(gs, 0, n * sizeof *gs);
            rc = bnc_tr_step_grad(&L, st.w, wq, x, y, T, gs, &losses[i], ws, err);
            for (size_t j = 0; j < n && !rc; j++) {
                float v = gs[j];
                if (!(fabsf(v) < (float)FIX_LIMIT)) { /* NaN, Inf or too large */
                    losses[i] = NAN;
                    break;
                }
                acc[j] += llrint((double)v * FIX_SCALE);
            }
        }
        if ((rc = agree(comm, rc, err))) goto out;
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, losses, cnt, dsp, MPI_DOUBLE, comm);
        double lsum = 0;
        for (int64_t i = 0; i < B; i++)
            lsum += losses[i];
        double loss = lsum / (double)(B * T);
        if (!isfinite(loss)) {
            /* W_s gave a non-finite loss: the last good state is W_{s-1}, the one
             * before the previous update (kept in prev), when this run made one */
            res->stopped_nan = 1;
            int src = 0;
            if (have_prev && rank == 0) {
                bnc_tr_state ps = {.w = prev.w, .m = prev.m, .v = prev.v, .step = prev.step};
                src = bnc_tr_save(o->out_path, &L, o, &ps, tr.sha256, err);
            }
            src = agree(comm, src, err);
            const char *what = isnan(loss) ? "NaN" : "infinite";
            if (src)
                bnc_err_prefix(err,
                               "step %lld: loss is %s; stopped, and saving the last good "
                               "state failed: ",
                               (long long)(s + 1), what);
            else if (have_prev)
                bnc_err_set(err, BNC_ERANGE,
                            "step %lld: loss is %s (a weight diverged or a gradient overflowed); "
                            "stopped before the update; the last good checkpoint (step %lld, the "
                            "last weights with a finite loss) is %s",
                            (long long)(s + 1), what, (long long)prev.step, o->out_path);
            else
                bnc_err_set(err, BNC_ERANGE,
                            "step %lld: loss is %s at the first step of this run; stopped; %s "
                            "was left as it was",
                            (long long)(s + 1), what, o->out_path);
            rc = err ? err->code : BNC_ERANGE;
            res->steps_done = have_prev ? prev.step : s;
            goto out;
        }
        memcpy(prev.w, st.w, n * sizeof(float));
        memcpy(prev.m, st.m, n * sizeof(float));
        memcpy(prev.v, st.v, n * sizeof(float));
        prev.step = s;
        have_prev = 1;
        /* exchange */
        const double inv = 1.0 / ((double)(B * T) * FIX_SCALE);
        if (!o->grad_compress) {
            MPI_Allreduce(MPI_IN_PLACE, acc, (int)n, MPI_INT64_T, MPI_SUM, comm);
            for (size_t j = 0; j < n; j++)
                g[j] = (float)((double)acc[j] * inv);
        } else {
            /* this rank's share of the mean gradient plus its residual */
            for (size_t j = 0; j < n; j++)
                gs[j] = (float)((double)acc[j] * inv) + ef[j];
            gc_encode(o->grad_compress, gs, n, payload, dec);
            for (size_t j = 0; j < n; j++)
                ef[j] = gs[j] - dec[j];
            MPI_Allgather(payload, (int)pay, MPI_BYTE, all_payload, (int)pay, MPI_BYTE, comm);
            memset(g, 0, n * sizeof *g);
            for (int r = 0; r < size; r++)
                gc_decode_add(o->grad_compress, all_payload + (size_t)r * pay, n, g);
        }
        double ss = 0;
        for (size_t j = 0; j < n; j++)
            ss += (double)g[j] * (double)g[j];
        double gnorm = sqrt(ss);
        float cf = gnorm > o->clip && o->clip > 0 ? (float)(o->clip / gnorm) : 1.0f;
        double lr = lr_at(o, s);
        int64_t t = s + 1;
        double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t);
        float b1 = (float)o->beta1, b2 = (float)o->beta2;
        float a = (float)(lr / bc1), ib2 = (float)(1.0 / sqrt(bc2)), ae = (float)o->adam_eps;
        float wd = (float)(lr * o->weight_decay);
        for (int ti = 0; ti < L.n_tensors; ti++) {
            const bnc_tr_tensor *tt = &L.t[ti];
            size_t e = tt->off + (size_t)(tt->rows * tt->cols);
            for (size_t j = tt->off; j < e; j++) {
                float gj = g[j] * cf;
                st.m[j] = b1 * st.m[j] + (1.0f - b1) * gj;
                st.v[j] = b2 * st.v[j] + (1.0f - b2) * gj * gj;
                float upd = a * st.m[j] / (sqrtf(st.v[j]) * ib2 + ae);
                if (tt->decay) upd += wd * st.w[j];
                st.w[j] -= upd;
            }
        }
        st.step = t;
        double dt = bnc_now() - t0;
        busy += dt;
        ran++;
        bnc_train_step row = {.step = t,
                              .loss = loss,
                              .lr = lr,
                              .grad_norm = gnorm,
                              .valid_loss = NAN,
                              .tokens_per_s = (double)(B * T) / dt,
                              .payload_bytes = pay,
                              .sent_bytes = res->sent_bytes,
                              .wall_s = dt};
        res->final_loss = loss;
        int eval_now = (o->eval_every > 0 && t % o->eval_every == 0) || t == last;
        if (eval_now) {
            const float *we = st.w;
            if (L.cfg.quant) {
                bnc_tr_quantize_weights(&L, st.w, wq);
                we = wq;
            }
            if ((rc = eval_loss(comm, &L, we, &va, o->eval_seqs, ws, x, y, &row.valid_loss, err)))
                goto out;
            res->valid_loss = row.valid_loss;
        }
        if (rank == 0) {
            if (o->on_step) o->on_step(o->on_step_arg, &row);
            if (db.db) {
                if (db.n_pend == db.cap_pend) {
                    size_t nc = db.cap_pend ? 2 * db.cap_pend : 64;
                    bnc_train_step *np = realloc(db.pend, nc * sizeof *np);
                    if (np) {
                        db.pend = np;
                        db.cap_pend = nc;
                    }
                }
                if (db.n_pend < db.cap_pend) db.pend[db.n_pend++] = row;
            }
        }
        int save_now = (o->save_every > 0 && t % o->save_every == 0) || t == last;
        if (save_now || eval_now) {
            int src = 0;
            if (save_now) {
                float *efall = NULL;
                if (o->grad_compress) {
                    efall = rank == 0 ? malloc(n * (size_t)size * sizeof(float)) : NULL;
                    MPI_Gather(ef, (int)n, MPI_FLOAT, efall, (int)n, MPI_FLOAT, 0, comm);
                }
                if (rank == 0) {
                    float *keep = st.ef;
                    st.ef = efall;
                    st.ef_ranks = efall ? size : 0;
                    src = bnc_tr_save(o->out_path, &L, o, &st, tr.sha256, err);
                    st.ef = keep;
                }
                free(efall);
            }
            if (!src && rank == 0) src = flush_steps(&db, err);
            if ((rc = agree(comm, src, err))) goto out;
        }
    }
    res->steps_done = st.step;
    res->tokens_per_s = ran > 0 ? (double)(ran * B * T) / busy : NAN;
    if (ran == 0 || isnan(res->valid_loss)) {
        const float *we = st.w;
        if (L.cfg.quant) {
            bnc_tr_quantize_weights(&L, st.w, wq);
            we = wq;
        }
        if ((rc = eval_loss(comm, &L, we, &va, o->eval_seqs, ws, x, y, &res->valid_loss, err)))
            goto out;
        if (ran == 0 && rank == 0) rc = bnc_tr_save(o->out_path, &L, o, &st, tr.sha256, err);
        if ((rc = agree(comm, rc, err))) goto out;
    }
    if (o->test_path || o->ood_path) {
        const float *we = st.w;
        if (L.cfg.quant) {
            bnc_tr_quantize_weights(&L, st.w, wq);
            we = wq;
        }
        if (o->test_path &&
            (rc = eval_loss(comm, &L, we, &te, o->eval_seqs, ws, x, y, &res->test_loss, err)))
            goto out;
        if (o->ood_path &&
            (rc = eval_loss(comm, &L, we, &oo, o->eval_seqs, ws, x, y, &res->ood_loss, err)))
            goto out;
    }
out:
    if (rank == 0 && db.db) {
        bnc_err e2 = {0};
        flush_steps(&db, &e2);
        const char *status = rc == 0 ? "done" : res->stopped_nan ? "stopped" : "failed";
        if (rc == 0 && res->steps_done < o->steps) status = "stopped";
        bnc_tr_db_finish(db.db, run_name, status, res, rc ? err->msg : NULL, &e2);
        bnc_db_close(db.db);
    }
    free(db.pend);
    bnc_tr_ws_free(ws);
    free(wq);
    free(gs);
    free(g);
    free(acc);
    free(ef);
    free(dec);
    free(payload);
    free(all_payload);
    free(x);
    free(y);
    free(losses);
    free(cnt);
    free(dsp);
    bnc_tr_state_free(&st);
    bnc_tr_state_free(&prev);
    bnc_tr_corpus_free(&tr);
    bnc_tr_corpus_free(&va);
    bnc_tr_corpus_free(&te);
    bnc_tr_corpus_free(&oo);
    bnc_tr_layout_free(&L);
    return rc;
}
