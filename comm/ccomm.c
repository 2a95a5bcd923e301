/* Compressed allreduce: codecs (one row each), the two-phase exchange of
 * 1-bit Adam for block codecs, the sparse exchange of top-k, and a host
 * simulation that computes the same bytes in the same order. */
#include "bnc_ccomm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_select.h"

/* ---- block codecs -----------------------------------------------------------
 * A payload of n values (n a multiple of the block) is nb = n / block
 * blocks, each an f32 scale (little-endian, as memcpy writes it on the
 * machines we run on) followed by the codes. */

typedef struct codec {
    int block;
    size_t code_bytes; /* bytes of codes per block */
    void (*enc)(const float *v, int block, uint8_t *dst);
    void (*dec)(const uint8_t *src, int block, float *y);
} codec;

static float absmax(const float *v, int n)
{
    float m = 0;
    for (int i = 0; i < n; i++)
        m = fmaxf(m, fabsf(v[i]));
    return m;
}

static float absmean(const float *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabsf(v[i]);
    return (float)(s / n);
}

static void int8_enc(const float *v, int block, uint8_t *dst)
{
    float d = absmax(v, block) / 127.0f;
    float inv = d > 0 ? 1.0f / d : 0.0f;
    memcpy(dst, &d, 4);
    for (int i = 0; i < block; i++) {
        float q = roundf(v[i] * inv);
        q = q > 127 ? 127 : q < -127 ? -127 : q;
        dst[4 + i] = (uint8_t)(int8_t)q;
    }
}

static void int8_dec(const uint8_t *src, int block, float *y)
{
    float d;
    memcpy(&d, src, 4);
    for (int i = 0; i < block; i++)
        y[i] = (float)(int8_t)src[4 + i] * d;
}

/* BitNet b1.58's absmean ternary: q = clip(round(v / mean|v|), -1, 1),
 * stored as q + 1 in 2 bits, four values a byte, lowest bits first. */
static void tern_enc(const float *v, int block, uint8_t *dst)
{
    float s = absmean(v, block);
    float inv = s > 0 ? 1.0f / s : 0.0f;
    memcpy(dst, &s, 4);
    memset(dst + 4, 0, (size_t)block / 4);
    for (int i = 0; i < block; i++) {
        float q = roundf(v[i] * inv);
        int c = q > 0 ? 2 : q < 0 ? 0 : 1;
        dst[4 + i / 4] |= (uint8_t)(c << (2 * (i % 4)));
    }
}

static void tern_dec(const uint8_t *src, int block, float *y)
{
    float s;
    memcpy(&s, src, 4);
    for (int i = 0; i < block; i++) {
        int c = (src[4 + i / 4] >> (2 * (i % 4))) & 3;
        y[i] = (float)(c - 1) * s;
    }
}

/* Scaled sign: bit 1 for v >= 0, the value is +-mean|v|. */
static void sign_enc(const float *v, int block, uint8_t *dst)
{
    float s = absmean(v, block);
    memcpy(dst, &s, 4);
    memset(dst + 4, 0, (size_t)block / 8);
    for (int i = 0; i < block; i++)
        if (v[i] >= 0) dst[4 + i / 8] |= (uint8_t)(1u << (i % 8));
}

static void sign_dec(const uint8_t *src, int block, float *y)
{
    float s;
    memcpy(&s, src, 4);
    for (int i = 0; i < block; i++)
        y[i] = (src[4 + i / 8] >> (i % 8)) & 1 ? s : -s;
}

static const codec *codec_of(bnc_car_algo a)
{
    static const codec c_int8 = {64, 64, int8_enc, int8_dec};
    static const codec c_tern = {256, 64, tern_enc, tern_dec};
    static const codec c_sign = {256, 32, sign_enc, sign_dec};
    switch (a) {
    case BNC_CAR_INT8:
        return &c_int8;
    case BNC_CAR_TERNARY:
        return &c_tern;
    case BNC_CAR_SIGN:
        return &c_sign;
    default:
        return NULL;
    }
}

static size_t payload_bytes(const codec *k, size_t n)
{
    return n / (size_t)k->block * (4 + k->code_bytes);
}

static void encode(const codec *k, const float *v, size_t n, uint8_t *dst)
{
    size_t pb = 4 + k->code_bytes;
    for (size_t b = 0; b < n / (size_t)k->block; b++)
        k->enc(v + b * (size_t)k->block, k->block, dst + b * pb);
}

static void decode(const codec *k, const uint8_t *src, size_t n, float *y)
{
    size_t pb = 4 + k->code_bytes;
    for (size_t b = 0; b < n / (size_t)k->block; b++)
        k->dec(src + b * pb, k->block, y + b * (size_t)k->block);
}

/* ---- names and sizes ---------------------------------------------------------- */

static const char *const names[BNC_CAR_COUNT] = {"f32", "int8", "ternary", "sign", "topk"};

const char *bnc_car_name(bnc_car_algo a)
{
    return a < BNC_CAR_COUNT ? names[a] : "?";
}

int bnc_car_parse(const char *s, bnc_car_algo *out, bnc_err *err)
{
    for (int i = 0; i < BNC_CAR_COUNT; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (bnc_car_algo)i;
            return 0;
        }
    return bnc_err_set(err, BNC_EINVAL,
                       "unknown allreduce algorithm '%s' (f32, int8, ternary, sign, topk)",
                       s ? s : "");
}

static bnc_car_opts opts_of(const bnc_car_opts *o)
{
    bnc_car_opts r = o ? *o : (bnc_car_opts){0};
    if (r.topk_frac <= 0) r.topk_frac = 0.01;
    return r;
}

static size_t topk_k(const bnc_car_opts *o, size_t n)
{
    size_t k = (size_t)ceil(o->topk_frac * (double)n);
    return n == 0 ? 0 : k < 1 ? 1 : k > n ? n : k;
}

/* Chunk length per rank: ceil(n / size) rounded up to the codec's block. */
static size_t chunk_len(const codec *k, int size, size_t n)
{
    size_t c = (n + (size_t)size - 1) / (size_t)size;
    size_t b = (size_t)k->block;
    c = (c + b - 1) / b * b;
    return c ? c : b;
}

uint64_t bnc_car_wire_bytes(bnc_car_algo a, const bnc_car_opts *o, int size, size_t n)
{
    bnc_car_opts op = opts_of(o);
    uint64_t p1 = (uint64_t)(size - 1);
    if (a == BNC_CAR_F32) return size > 1 ? 2 * p1 * (uint64_t)n * 4 / (uint64_t)size : 0;
    if (a == BNC_CAR_TOPK) return p1 * topk_k(&op, n) * 8;
    const codec *k = codec_of(a);
    return 2 * p1 * payload_bytes(k, chunk_len(k, size, n));
}

/* ---- top-k selection ------------------------------------------------------------ */

/* Picks the k largest |v| (ties by lowest index) into idx/val, in index
 * order. scratch holds n floats. */
static void topk_pick(const float *v, size_t n, size_t k, float *scratch, uint32_t *idx, float *val)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = fabsf(v[i]);
    float thr = bnc_select_kth_largest(scratch, (int64_t)n, (int64_t)k);
    size_t above = 0;
    for (size_t i = 0; i < n; i++)
        above += fabsf(v[i]) > thr;
    size_t ties = k - above, m = 0;
    for (size_t i = 0; i < n && m < k; i++) {
        float a = fabsf(v[i]);
        if (a > thr || (a == thr && ties > 0)) {
            if (a == thr) ties--;
            idx[m] = (uint32_t)i;
            val[m] = v[i];
            m++;
        }
    }
}

/* ---- state ------------------------------------------------------------------------ */

/* One rank's view: worker residual (padded length) and, for two-phase
 * codecs, the server residual of its own chunk. */
typedef struct side {
    float *ew; /* size * chunk (two-phase) or n (topk) */
    float *es; /* chunk */
} side;

struct bnc_car {
    bnc_comm *c;
    bnc_car_algo algo;
    bnc_car_opts o;
    const codec *k;
    size_t n, chunk, pb; /* pb: payload bytes of one chunk */
    side me;
    float *v, *tmp, *sum;
    uint8_t *sendb, *recvb, *mine, *all;
    uint32_t *idx;
    float *val;
};

static int ef_on(const bnc_car_opts *o)
{
    return o->error_feedback >= 0;
}

void bnc_car_free(bnc_car *s)
{
    if (!s) return;
    free(s->me.ew);
    free(s->me.es);
    free(s->v);
    free(s->tmp);
    free(s->sum);
    free(s->sendb);
    free(s->recvb);
    free(s->mine);
    free(s->all);
    free(s->idx);
    free(s->val);
    free(s);
}

void bnc_car_reset(bnc_car *s)
{
    size_t nw = s->k ? (size_t)bnc_comm_size(s->c) * s->chunk : s->n;
    if (s->me.ew) memset(s->me.ew, 0, nw * sizeof(float));
    if (s->me.es) memset(s->me.es, 0, s->chunk * sizeof(float));
}

int bnc_car_new(bnc_comm *c, bnc_car_algo a, const bnc_car_opts *o, size_t n, bnc_car **out,
                bnc_err *err)
{
    *out = NULL;
    if (a >= BNC_CAR_COUNT)
        return bnc_err_set(err, BNC_EINVAL, "allreduce algorithm %d unknown", (int)a);
    if (bnc_comm_backend_of(c) != BNC_COMM_MPI && a != BNC_CAR_F32)
        return bnc_err_set(err, BNC_ENOTSUP,
                           "compressed allreduce '%s' runs on host buffers (MPI backend) only",
                           bnc_car_name(a));
    if (n > UINT32_MAX)
        return bnc_err_set(err, BNC_EINVAL, "allreduce of %zu values: at most 2^32-1", n);
    bnc_car *s = calloc(1, sizeof *s);
    if (!s) return bnc_err_set(err, BNC_ENOMEM, "allreduce state: out of memory");
    s->c = c;
    s->algo = a;
    s->o = opts_of(o);
    s->n = n;
    s->k = codec_of(a);
    int size = bnc_comm_size(c), ok = 1;
    if (s->k) {
        s->chunk = chunk_len(s->k, size, n);
        s->pb = payload_bytes(s->k, s->chunk);
        size_t padded = (size_t)size * s->chunk;
        ok = (s->me.ew = calloc(padded, sizeof(float))) &&
             (s->me.es = calloc(s->chunk, sizeof(float))) &&
             (s->v = calloc(padded, sizeof(float))) &&
             (s->tmp = malloc(s->chunk * sizeof(float))) &&
             (s->sum = malloc(s->chunk * sizeof(float))) &&
             (s->sendb = malloc((size_t)size * s->pb)) &&
             (s->recvb = malloc((size_t)size * s->pb)) && (s->mine = malloc(s->pb)) &&
             (s->all = malloc((size_t)size * s->pb));
    } else if (a == BNC_CAR_TOPK) {
        size_t k = topk_k(&s->o, n);
        ok = (s->me.ew = calloc(n ? n : 1, sizeof(float))) &&
             (s->v = malloc((n ? n : 1) * sizeof(float))) &&
             (s->tmp = malloc((n ? n : 1) * sizeof(float))) && (s->sendb = malloc(k * 8 + 1)) &&
             (s->all = malloc((size_t)size * k * 8 + 1)) && (s->idx = malloc(k * 4 + 4)) &&
             (s->val = malloc(k * 4 + 4));
    }
    if (!ok) {
        bnc_car_free(s);
        return bnc_err_set(err, BNC_ENOMEM, "allreduce state for %zu values: out of memory", n);
    }
    *out = s;
    return 0;
}

/* ---- the exchange's local steps, shared by the ranks and the simulation ---- */

/* Phase 1 on one rank: v = x (+ worker residual), each chunk compressed
 * into send (size payloads), the residual updated. */
static void phase1(const codec *k, const bnc_car_opts *o, int size, size_t n, size_t chunk,
                   const float *x, float *v, float *ew, float *tmp, uint8_t *send)
{
    size_t padded = (size_t)size * chunk, pb = payload_bytes(k, chunk);
    memcpy(v, x, n * sizeof(float));
    memset(v + n, 0, (padded - n) * sizeof(float));
    if (ef_on(o))
        for (size_t i = 0; i < padded; i++)
            v[i] += ew[i];
    for (int j = 0; j < size; j++) {
        float *vj = v + (size_t)j * chunk;
        encode(k, vj, chunk, send + (size_t)j * pb);
        if (ef_on(o)) {
            decode(k, send + (size_t)j * pb, chunk, tmp);
            for (size_t i = 0; i < chunk; i++)
                ew[(size_t)j * chunk + i] = vj[i] - tmp[i];
        }
    }
}

/* Phase 2 on one rank: sum the size contributions to its chunk in rank
 * order (+ server residual), recompress into mine. */
static void phase2(const codec *k, const bnc_car_opts *o, int size, size_t chunk,
                   const uint8_t *recv, float *sum, float *es, float *tmp, uint8_t *mine)
{
    size_t pb = payload_bytes(k, chunk);
    memset(sum, 0, chunk * sizeof(float));
    for (int r = 0; r < size; r++) {
        decode(k, recv + (size_t)r * pb, chunk, tmp);
        for (size_t i = 0; i < chunk; i++)
            sum[i] += tmp[i];
    }
    if (ef_on(o))
        for (size_t i = 0; i < chunk; i++)
            sum[i] += es[i];
    encode(k, sum, chunk, mine);
    if (ef_on(o)) {
        decode(k, mine, chunk, tmp);
        for (size_t i = 0; i < chunk; i++)
            es[i] = sum[i] - tmp[i];
    }
}

/* Final step: every rank's compressed sum decoded into y. */
static void unpack_all(const codec *k, int size, size_t n, size_t chunk, const uint8_t *all,
                       float *tmp, float *y)
{
    size_t pb = payload_bytes(k, chunk);
    for (int j = 0; j < size; j++) {
        size_t off = (size_t)j * chunk;
        if (off >= n) break;
        decode(k, all + (size_t)j * pb, chunk, tmp);
        size_t m = n - off < chunk ? n - off : chunk;
        memcpy(y + off, tmp, m * sizeof(float));
    }
}

/* Top-k on one rank: v = x (+ residual), k picked into (idx, val) packed as
 * 4-byte index then 4-byte value each, residual = v without them. */
static void topk_local(const bnc_car_opts *o, size_t n, const float *x, float *v, float *ew,
                       float *scratch, uint32_t *idx, float *val, uint8_t *send)
{
    size_t k = topk_k(o, n);
    for (size_t i = 0; i < n; i++)
        v[i] = x[i] + (ef_on(o) ? ew[i] : 0.0f);
    topk_pick(v, n, k, scratch, idx, val);
    for (size_t m = 0; m < k; m++) {
        memcpy(send + m * 8, &idx[m], 4);
        memcpy(send + m * 8 + 4, &val[m], 4);
    }
    if (ef_on(o)) {
        memcpy(ew, v, n * sizeof(float));
        for (size_t m = 0; m < k; m++)
            ew[idx[m]] = 0;
    }
}

static void topk_sum(int size, size_t n, size_t k, const uint8_t *all, float *y)
{
    memset(y, 0, n * sizeof(float));
    for (int r = 0; r < size; r++)
        for (size_t m = 0; m < k; m++) {
            uint32_t i;
            float v;
            memcpy(&i, all + ((size_t)r * k + m) * 8, 4);
            memcpy(&v, all + ((size_t)r * k + m) * 8 + 4, 4);
            if (i < n) y[i] += v;
        }
}

/* ---- the collective ------------------------------------------------------------------ */

int bnc_car_allreduce(bnc_car *s, const float *x, float *y, bnc_car_stats *stats, bnc_err *err)
{
    bnc_comm *c = s->c;
    int size = bnc_comm_size(c), rank = bnc_comm_rank(c);
    /* Every rank learns whether any rank holds a non-finite value. */
    int bad = 0;
    if (bnc_comm_backend_of(c) == BNC_COMM_MPI)
        for (size_t i = 0; i < s->n && !bad; i++)
            bad = !isfinite(x[i]);
    int anybad = bad;
    if (s->algo != BNC_CAR_F32) {
        int rc = bnc_comm_allreduce(c, &bad, &anybad, 1, BNC_DT_I32, BNC_OP_MAX, err);
        if (rc) return rc;
    }
    if (anybad)
        return bnc_err_set(err, BNC_ERANGE, "allreduce %s: rank %d %s a non-finite value",
                           bnc_car_name(s->algo), rank,
                           bad ? "holds" : "was told another rank holds");
    if (stats) {
        stats->wire_bytes = bnc_car_wire_bytes(s->algo, &s->o, size, s->n);
        stats->f32_bytes = bnc_car_wire_bytes(BNC_CAR_F32, &s->o, size, s->n);
    }
    if (s->algo == BNC_CAR_F32)
        return bnc_comm_allreduce(c, x, y, s->n, BNC_DT_F32, BNC_OP_SUM, err);
    if (s->algo == BNC_CAR_TOPK) {
        size_t k = topk_k(&s->o, s->n);
        if (k == 0) return 0;
        topk_local(&s->o, s->n, x, s->v, s->me.ew, s->tmp, s->idx, s->val, s->sendb);
        int rc = bnc_comm_allgather(c, s->sendb, s->all, k * 8, BNC_DT_U8, err);
        if (rc) return rc;
        topk_sum(size, s->n, k, s->all, y);
        return 0;
    }
    phase1(s->k, &s->o, size, s->n, s->chunk, x, s->v, s->me.ew, s->tmp, s->sendb);
    int rc = bnc_comm_alltoall(c, s->sendb, s->recvb, s->pb, BNC_DT_U8, err);
    if (rc) return rc;
    phase2(s->k, &s->o, size, s->chunk, s->recvb, s->sum, s->me.es, s->tmp, s->mine);
    rc = bnc_comm_allgather(c, s->mine, s->all, s->pb, BNC_DT_U8, err);
    if (rc) return rc;
    unpack_all(s->k, size, s->n, s->chunk, s->all, s->tmp, y);
    return 0;
}

/* ---- the host simulation ---------------------------------------------------------------- */

struct bnc_car_sim {
    bnc_car_algo algo;
    bnc_car_opts o;
    const codec *k;
    int size;
    size_t n, chunk, pb;
    side *ranks;
    float *v, *tmp, *sum;
    uint8_t *send, *recv, *all;
    uint32_t *idx;
    float *val;
};

void bnc_car_sim_free(bnc_car_sim *s)
{
    if (!s) return;
    if (s->ranks)
        for (int r = 0; r < s->size; r++) {
            free(s->ranks[r].ew);
            free(s->ranks[r].es);
        }
    free(s->ranks);
    free(s->v);
    free(s->tmp);
    free(s->sum);
    free(s->send);
    free(s->recv);
    free(s->all);
    free(s->idx);
    free(s->val);
    free(s);
}

int bnc_car_sim_new(bnc_car_algo a, const bnc_car_opts *o, int size, size_t n, bnc_car_sim **out,
                    bnc_err *err)
{
    *out = NULL;
    if (a >= BNC_CAR_COUNT || size < 1)
        return bnc_err_set(err, BNC_EINVAL, "allreduce simulation: algorithm %d, %d ranks", (int)a,
                           size);
    bnc_car_sim *s = calloc(1, sizeof *s);
    if (!s) return bnc_err_set(err, BNC_ENOMEM, "allreduce simulation: out of memory");
    s->algo = a;
    s->o = opts_of(o);
    s->k = codec_of(a);
    s->size = size;
    s->n = n;
    size_t nn = n ? n : 1, k = topk_k(&s->o, n);
    int ok = (s->ranks = calloc((size_t)size, sizeof(side))) != NULL;
    if (ok && s->k) {
        s->chunk = chunk_len(s->k, size, n);
        s->pb = payload_bytes(s->k, s->chunk);
        size_t padded = (size_t)size * s->chunk;
        for (int r = 0; r < size && ok; r++)
            ok = (s->ranks[r].ew = calloc(padded, sizeof(float))) &&
                 (s->ranks[r].es = calloc(s->chunk, sizeof(float)));
        ok = ok && (s->v = malloc(padded * sizeof(float))) &&
             (s->tmp = malloc(s->chunk * sizeof(float))) &&
             (s->sum = malloc(s->chunk * sizeof(float))) &&
             (s->send = malloc((size_t)size * (size_t)size * s->pb)) &&
             (s->recv = malloc((size_t)size * s->pb)) && (s->all = malloc((size_t)size * s->pb));
    } else if (ok && a == BNC_CAR_TOPK) {
        for (int r = 0; r < size && ok; r++)
            ok = (s->ranks[r].ew = calloc(nn, sizeof(float))) != NULL;
        ok = ok && (s->v = malloc(nn * sizeof(float))) && (s->tmp = malloc(nn * sizeof(float))) &&
             (s->all = malloc((size_t)size * k * 8 + 1)) && (s->idx = malloc(k * 4 + 4)) &&
             (s->val = malloc(k * 4 + 4));
    }
    if (!ok) {
        bnc_car_sim_free(s);
        return bnc_err_set(err, BNC_ENOMEM, "allreduce simulation of %zu values: out of memory", n);
    }
    *out = s;
    return 0;
}

int bnc_car_simulate(bnc_car_sim *s, const float *const *inputs, float *y, bnc_err *err)
{
    int size = s->size;
    for (int r = 0; r < size; r++)
        for (size_t i = 0; i < s->n; i++)
            if (!isfinite(inputs[r][i]))
                return bnc_err_set(err, BNC_ERANGE,
                                   "allreduce simulation: rank %d value %zu is not finite", r, i);
    if (s->algo == BNC_CAR_F32) {
        /* MPI may sum in any order: exact for the integer-valued data the
         * checks use, so rank order stands for all of them. */
        memcpy(y, inputs[0], s->n * sizeof(float));
        for (int r = 1; r < size; r++)
            for (size_t i = 0; i < s->n; i++)
                y[i] += inputs[r][i];
        return 0;
    }
    if (s->algo == BNC_CAR_TOPK) {
        size_t k = topk_k(&s->o, s->n);
        for (int r = 0; r < size; r++)
            topk_local(&s->o, s->n, inputs[r], s->v, s->ranks[r].ew, s->tmp, s->idx, s->val,
                       s->all + (size_t)r * k * 8);
        topk_sum(size, s->n, k, s->all, y);
        return 0;
    }
    /* send[r] holds rank r's size payloads. */
    for (int r = 0; r < size; r++)
        phase1(s->k, &s->o, size, s->n, s->chunk, inputs[r], s->v, s->ranks[r].ew, s->tmp,
               s->send + (size_t)r * (size_t)size * s->pb);
    for (int j = 0; j < size; j++) {
        for (int r = 0; r < size; r++)
            memcpy(s->recv + (size_t)r * s->pb,
                   s->send + ((size_t)r * (size_t)size + (size_t)j) * s->pb, s->pb);
        phase2(s->k, &s->o, size, s->chunk, s->recv, s->sum, s->ranks[j].es, s->tmp,
               s->all + (size_t)j * s->pb);
    }
    unpack_all(s->k, size, s->n, s->chunk, s->all, s->tmp, y);
    return 0;
}
