/* The codec table and the codecs that the kernels' scheme table does not
 * hold (QSGD, scaled sign, top-k, random-k). */
#include "bnc_fed_compress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_kernels.h"
#include "bnc_rng.h"
#include "bnc_select.h"

/* ---- little-endian helpers ---------------------------------------------- */

static void put_u32(uint8_t *d, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        d[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}
static void put_f32(uint8_t *d, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(d, v);
}
static float get_f32(const uint8_t *s)
{
    uint32_t v = get_u32(s);
    float f;
    memcpy(&f, &v, 4);
    return f;
}
static void put_u64(uint8_t *d, uint64_t v)
{
    put_u32(d, (uint32_t)v);
    put_u32(d + 4, (uint32_t)(v >> 32));
}
static uint64_t get_u64(const uint8_t *s)
{
    return get_u32(s) | (uint64_t)get_u32(s + 4) << 32;
}

int bnc_fed_check_finite(const float *x, int64_t n, bnc_err *err)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return bnc_err_set(err, BNC_ERANGE, "non-finite value %g at index %lld", (double)x[i],
                               (long long)i);
    return 0;
}

static int need_cap(const char *name, size_t cap, size_t need, bnc_err *err)
{
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "%s: buffer of %zu bytes, need %zu", name, cap, need);
    return 0;
}

static int need_len(const char *name, size_t len, size_t need, int64_t n, bnc_err *err)
{
    if (len != need)
        return bnc_err_set(err, BNC_EFORMAT,
                           "%s: payload of %zu bytes for %lld values, expected %zu", name, len,
                           (long long)n, need);
    return 0;
}

/* ---- codecs backed by a kernels/ scheme ---------------------------------- */
/* The tensor is one row of n values padded with zeros to the scheme's block. */

static const bnc_scheme *scheme_of(const char *name, bnc_err *err)
{
    const bnc_scheme *s = bnc_scheme_find(name);
    if (!s) bnc_err_set(err, BNC_ENOTSUP, "kernels: no '%s' scheme in this build", name);
    return s;
}

static int64_t padded(const bnc_scheme *s, int64_t n)
{
    int64_t b = s->block > 0 ? s->block : 1;
    return (n + b - 1) / b * b;
}

static size_t scheme_bound(const char *name, int64_t n)
{
    const bnc_scheme *s = bnc_scheme_find(name);
    if (!s) return 0;
    bnc_qparams qp = {0};
    return s->qsize(1, padded(s, n), &qp);
}

static int scheme_encode(const char *name, const float *x, int64_t n, uint64_t seed,
                         uint64_t stream, uint8_t *dst, size_t cap, size_t *written, bnc_err *err)
{
    const bnc_scheme *s = scheme_of(name, err);
    if (!s) return BNC_ENOTSUP;
    bnc_qparams qp = {0};
    qp.seed = seed;
    qp.stream = stream;
    int64_t np = padded(s, n);
    if (np == n) return s->quantize(x, 1, n, &qp, dst, cap, written, err);
    float *tmp = calloc((size_t)np, sizeof *tmp);
    if (!tmp) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", name);
    memcpy(tmp, x, (size_t)n * sizeof *tmp);
    int rc = s->quantize(tmp, 1, np, &qp, dst, cap, written, err);
    free(tmp);
    return rc;
}

static int scheme_decode(const char *name, const uint8_t *src, size_t len, int64_t n, float *y,
                         bnc_err *err)
{
    const bnc_scheme *s = scheme_of(name, err);
    if (!s) return BNC_ENOTSUP;
    bnc_qparams qp = {0};
    int64_t np = padded(s, n);
    if (np == n) return s->dequantize(src, len, 1, n, &qp, y, err);
    float *tmp = malloc((size_t)np * sizeof *tmp);
    if (!tmp) return bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", name);
    int rc = s->dequantize(src, len, 1, np, &qp, tmp, err);
    if (!rc) memcpy(y, tmp, (size_t)n * sizeof *y);
    free(tmp);
    return rc;
}

#define SCHEME_CODEC(fn, scheme)                                                                   \
    static size_t fn##_bound(int64_t n, const bnc_fed_cparams *p)                                  \
    {                                                                                              \
        (void)p;                                                                                   \
        return scheme_bound(scheme, n);                                                            \
    }                                                                                              \
    static int fn##_encode(const float *x, int64_t n, const bnc_fed_cparams *p, uint64_t seed,     \
                           uint64_t stream, uint8_t *dst, size_t cap, size_t *written,             \
                           bnc_err *err)                                                           \
    {                                                                                              \
        (void)p;                                                                                   \
        return scheme_encode(scheme, x, n, seed, stream, dst, cap, written, err);                  \
    }                                                                                              \
    static int fn##_decode(const uint8_t *src, size_t len, int64_t n, const bnc_fed_cparams *p,    \
                           float *y, bnc_err *err)                                                 \
    {                                                                                              \
        (void)p;                                                                                   \
        return scheme_decode(scheme, src, len, n, y, err);                                         \
    }

SCHEME_CODEC(none, "f32")
SCHEME_CODEC(f16, "f16")
SCHEME_CODEC(int8, "int8")
SCHEME_CODEC(ternary, "bitnet")
SCHEME_CODEC(terngrad, "ternary-stochastic")

/* ---- QSGD (Alistarh et al. 2017) ----------------------------------------
 * Layout: f32 L2 norm, then per value a sign bit and a level 0..s in
 * bits(s) bits, packed LSB first. Value = sign * norm * level / s, with
 * level = floor(|x| / norm * s + u), u uniform: unbiased. */

static int level_bits(int s)
{
    int b = 0;
    while ((1 << b) <= s)
        b++;
    return b;
}

static size_t qsgd_bound(int64_t n, const bnc_fed_cparams *p)
{
    int per = 1 + level_bits(p->qsgd_levels);
    return 4 + (size_t)(((uint64_t)n * (uint64_t)per + 7) / 8);
}

static int qsgd_encode(const float *x, int64_t n, const bnc_fed_cparams *p, uint64_t seed,
                       uint64_t stream, uint8_t *dst, size_t cap, size_t *written, bnc_err *err)
{
    size_t need = qsgd_bound(n, p);
    int rc = need_cap("qsgd", cap, need, err);
    if (rc || (rc = bnc_fed_check_finite(x, n, err))) return rc;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float norm = (float)sqrt(ss);
    memset(dst, 0, need);
    put_f32(dst, norm);
    int s = p->qsgd_levels, lb = level_bits(s), per = 1 + lb;
    bnc_rng r;
    bnc_rng_init(&r, seed, stream);
    uint8_t *bits = dst + 4;
    for (int64_t i = 0; i < n; i++) {
        uint32_t code = 0;
        if (norm > 0) {
            double a = fabs((double)x[i]) / norm * s;
            int l = (int)floor(a);
            if (bnc_rng_uniform(&r) < a - l) l++;
            if (l > s) l = s;
            code = (uint32_t)l << 1 | (x[i] < 0);
        }
        uint64_t at = (uint64_t)i * (uint64_t)per;
        for (int b = 0; b < per; b++, at++)
            if (code >> b & 1) bits[at / 8] |= (uint8_t)(1u << (at % 8));
    }
    *written = need;
    return 0;
}

static int qsgd_decode(const uint8_t *src, size_t len, int64_t n, const bnc_fed_cparams *p,
                       float *y, bnc_err *err)
{
    int rc = need_len("qsgd", len, qsgd_bound(n, p), n, err);
    if (rc) return rc;
    float norm = get_f32(src);
    if (!isfinite(norm) || norm < 0)
        return bnc_err_set(err, BNC_EFORMAT, "qsgd: bad norm %g", (double)norm);
    int s = p->qsgd_levels, per = 1 + level_bits(s);
    const uint8_t *bits = src + 4;
    for (int64_t i = 0; i < n; i++) {
        uint64_t at = (uint64_t)i * (uint64_t)per;
        uint32_t code = 0;
        for (int b = 0; b < per; b++, at++)
            code |= (uint32_t)(bits[at / 8] >> (at % 8) & 1) << b;
        uint32_t l = code >> 1;
        if (l > (uint32_t)s)
            return bnc_err_set(err, BNC_EFORMAT, "qsgd: level %u > %d at index %lld", l, s,
                               (long long)i);
        float v = norm * (float)l / (float)s;
        y[i] = code & 1 ? -v : v;
    }
    return 0;
}

/* ---- scaled sign (signSGD; EF-signSGD's scale mean |x|) ------------------
 * Layout: f32 scale, then one bit per value (1: negative), LSB first. */

static size_t sign_bound(int64_t n, const bnc_fed_cparams *p)
{
    (void)p;
    return 4 + (size_t)((n + 7) / 8);
}

static int sign_encode(const float *x, int64_t n, const bnc_fed_cparams *p, uint64_t seed,
                       uint64_t stream, uint8_t *dst, size_t cap, size_t *written, bnc_err *err)
{
    (void)seed, (void)stream;
    size_t need = sign_bound(n, p);
    int rc = need_cap("sign", cap, need, err);
    if (rc || (rc = bnc_fed_check_finite(x, n, err))) return rc;
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)x[i]);
    memset(dst, 0, need);
    put_f32(dst, n ? (float)(s / (double)n) : 0.0f);
    for (int64_t i = 0; i < n; i++)
        if (x[i] < 0) dst[4 + i / 8] |= (uint8_t)(1u << (i % 8));
    *written = need;
    return 0;
}

static int sign_decode(const uint8_t *src, size_t len, int64_t n, const bnc_fed_cparams *p,
                       float *y, bnc_err *err)
{
    int rc = need_len("sign", len, sign_bound(n, p), n, err);
    if (rc) return rc;
    float scale = get_f32(src);
    if (!isfinite(scale) || scale < 0)
        return bnc_err_set(err, BNC_EFORMAT, "sign: bad scale %g", (double)scale);
    for (int64_t i = 0; i < n; i++)
        y[i] = src[4 + i / 8] >> (i % 8) & 1 ? -scale : scale;
    if (n % 8 && src[len - 1] >> (n % 8))
        return bnc_err_set(err, BNC_EFORMAT, "sign: padding bits set");
    return 0;
}

/* ---- top-k ----------------------------------------------------------------
 * Layout: u32 k, k u32 indices strictly increasing, k f32 values. */

static int64_t keep_count(int64_t n, double frac)
{
    int64_t k = (int64_t)ceil(frac * (double)n);
    if (n <= 0) return 0;
    return k < 1 ? 1 : (k > n ? n : k);
}

static size_t topk_bound(int64_t n, const bnc_fed_cparams *p)
{
    return 4 + 8 * (size_t)keep_count(n, p->k_frac);
}

static int topk_encode(const float *x, int64_t n, const bnc_fed_cparams *p, uint64_t seed,
                       uint64_t stream, uint8_t *dst, size_t cap, size_t *written, bnc_err *err)
{
    (void)seed, (void)stream;
    size_t need = topk_bound(n, p);
    int rc = need_cap("topk", cap, need, err);
    if (rc || (rc = bnc_fed_check_finite(x, n, err))) return rc;
    int64_t k = keep_count(n, p->k_frac);
    put_u32(dst, (uint32_t)k);
    *written = need;
    if (k == 0) return 0;
    float *mag = malloc((size_t)n * sizeof *mag);
    if (!mag) return bnc_err_set(err, BNC_ENOMEM, "topk: out of memory");
    for (int64_t i = 0; i < n; i++)
        mag[i] = fabsf(x[i]);
    float thr = bnc_select_kth_largest(mag, n, k);
    free(mag);
    int64_t above = 0;
    for (int64_t i = 0; i < n; i++)
        above += fabsf(x[i]) > thr;
    int64_t ties = k - above, j = 0;
    put_u32(dst, (uint32_t)k);
    uint8_t *ix = dst + 4, *vx = dst + 4 + 4 * (size_t)k;
    for (int64_t i = 0; i < n && j < k; i++) {
        float m = fabsf(x[i]);
        if (m > thr || (m == thr && ties-- > 0)) {
            put_u32(ix + 4 * j, (uint32_t)i);
            put_f32(vx + 4 * j, x[i]);
            j++;
        }
    }
    *written = need;
    return 0;
}

static int topk_decode(const uint8_t *src, size_t len, int64_t n, const bnc_fed_cparams *p,
                       float *y, bnc_err *err)
{
    int rc = need_len("topk", len, topk_bound(n, p), n, err);
    if (rc) return rc;
    int64_t k = keep_count(n, p->k_frac);
    if (get_u32(src) != (uint32_t)k)
        return bnc_err_set(err, BNC_EFORMAT, "topk: k is %u, expected %lld", get_u32(src),
                           (long long)k);
    memset(y, 0, (size_t)n * sizeof *y);
    int64_t prev = -1;
    for (int64_t j = 0; j < k; j++) {
        int64_t i = get_u32(src + 4 + 4 * j);
        float v = get_f32(src + 4 + 4 * (size_t)k + 4 * j);
        if (i <= prev || i >= n)
            return bnc_err_set(err, BNC_EFORMAT, "topk: index %lld out of order or range",
                               (long long)i);
        if (!isfinite(v))
            return bnc_err_set(err, BNC_EFORMAT, "topk: non-finite value at index %lld",
                               (long long)i);
        y[i] = v;
        prev = i;
    }
    return 0;
}

/* ---- random-k --------------------------------------------------------------
 * Layout: u64 key, k f32 values scaled by n/k. The k indices are drawn by
 * selection sampling (Knuth's algorithm S) from the key, so they cost no
 * bytes and come out sorted. */

static size_t randk_bound(int64_t n, const bnc_fed_cparams *p)
{
    return 8 + 4 * (size_t)keep_count(n, p->k_frac);
}

/* Calls back with the sorted indices of the key's sample. */
static void randk_indices(uint64_t key, int64_t n, int64_t k, int64_t *out)
{
    bnc_rng r;
    bnc_rng_init(&r, key, 0x7a4d);
    int64_t got = 0;
    for (int64_t i = 0; i < n && got < k; i++)
        if ((double)(n - i) * bnc_rng_uniform(&r) < (double)(k - got)) out[got++] = i;
}

static int randk_encode(const float *x, int64_t n, const bnc_fed_cparams *p, uint64_t seed,
                        uint64_t stream, uint8_t *dst, size_t cap, size_t *written, bnc_err *err)
{
    size_t need = randk_bound(n, p);
    int rc = need_cap("randk", cap, need, err);
    if (rc || (rc = bnc_fed_check_finite(x, n, err))) return rc;
    int64_t k = keep_count(n, p->k_frac);
    int64_t *ix = malloc((size_t)k * sizeof *ix);
    if (!ix) return bnc_err_set(err, BNC_ENOMEM, "randk: out of memory");
    uint64_t key = bnc_mix64(seed, stream);
    randk_indices(key, n, k, ix);
    put_u64(dst, key);
    float scale = (float)((double)n / (double)k);
    for (int64_t j = 0; j < k; j++)
        put_f32(dst + 8 + 4 * j, x[ix[j]] * scale);
    free(ix);
    *written = need;
    return 0;
}

static int randk_decode(const uint8_t *src, size_t len, int64_t n, const bnc_fed_cparams *p,
                        float *y, bnc_err *err)
{
    int rc = need_len("randk", len, randk_bound(n, p), n, err);
    if (rc) return rc;
    int64_t k = keep_count(n, p->k_frac);
    int64_t *ix = malloc((size_t)k * sizeof *ix);
    if (!ix) return bnc_err_set(err, BNC_ENOMEM, "randk: out of memory");
    randk_indices(get_u64(src), n, k, ix);
    memset(y, 0, (size_t)n * sizeof *y);
    for (int64_t j = 0; j < k; j++) {
        float v = get_f32(src + 8 + 4 * j);
        if (!isfinite(v)) {
            free(ix);
            return bnc_err_set(err, BNC_EFORMAT, "randk: non-finite value %lld", (long long)j);
        }
        y[ix[j]] = v;
    }
    free(ix);
    return 0;
}

/* ---- the table ------------------------------------------------------------- */

static const bnc_fed_codec codecs[] = {
    {"none", BNC_FED_CODEC_NONE, 0, 0, 0, "f32", none_bound, none_encode, none_decode},
    {"f16", BNC_FED_CODEC_F16, 1, 0, 0, "f16", f16_bound, f16_encode, f16_decode},
    {"int8", BNC_FED_CODEC_INT8, 1, 0, 0, "int8", int8_bound, int8_encode, int8_decode},
    {"ternary", BNC_FED_CODEC_TERNARY, 1, 0, 0, "bitnet", ternary_bound, ternary_encode,
     ternary_decode},
    {"terngrad", BNC_FED_CODEC_TERNGRAD, 0, 1, 0, "ternary-stochastic", terngrad_bound,
     terngrad_encode, terngrad_decode},
    {"qsgd", BNC_FED_CODEC_QSGD, 0, 1, 0, NULL, qsgd_bound, qsgd_encode, qsgd_decode},
    {"sign", BNC_FED_CODEC_SIGN, 1, 0, 1, NULL, sign_bound, sign_encode, sign_decode},
    {"topk", BNC_FED_CODEC_TOPK, 1, 0, 0, NULL, topk_bound, topk_encode, topk_decode},
    {"randk", BNC_FED_CODEC_RANDK, 0, 1, 0, NULL, randk_bound, randk_encode, randk_decode},
};

const bnc_fed_codec *bnc_fed_codec_find(const char *name)
{
    if (strcmp(name, "f32") == 0) name = "none";
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (strcmp(codecs[i].name, name) == 0) return &codecs[i];
    return NULL;
}

const bnc_fed_codec *bnc_fed_codec_by_id(int id)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (codecs[i].id == id) return &codecs[i];
    return NULL;
}

int bnc_fed_cparams_check(bnc_fed_cparams *p, bnc_err *err)
{
    if (p->k_frac == 0) p->k_frac = 0.01;
    if (p->qsgd_levels == 0) p->qsgd_levels = 16;
    if (!(p->k_frac > 0 && p->k_frac <= 1))
        return bnc_err_set(err, BNC_EINVAL, "k fraction %g outside (0, 1]", p->k_frac);
    if (p->qsgd_levels < 1 || p->qsgd_levels > 1 << 20)
        return bnc_err_set(err, BNC_EINVAL, "qsgd levels %d outside 1..%d", p->qsgd_levels,
                           1 << 20);
    return 0;
}

int bnc_fed_encode(const bnc_fed_codec *c, const bnc_fed_cparams *p, float *x, int64_t n,
                   float *residual, float *scratch, uint64_t seed, uint64_t stream, uint8_t *dst,
                   size_t cap, size_t *written, bnc_err *err)
{
    if (residual)
        for (int64_t i = 0; i < n; i++)
            x[i] += residual[i];
    int rc = c->encode(x, n, p, seed, stream, dst, cap, written, err);
    if (rc || !residual) return rc;
    rc = c->decode(dst, *written, n, p, scratch, err);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++)
        residual[i] = x[i] - scratch[i];
    return 0;
}
