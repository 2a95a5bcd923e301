/* IDX loading through zlib and the partitioners. */
#include "bnc_fed_data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bnc_rng.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_COUNT 100000000u
#define IDX_MAX_SIDE 4096u

/* Fashion-MNIST's training-set pixel mean and standard deviation. */
#define FMNIST_MEAN 0.2860f
#define FMNIST_STD 0.3530f

static int read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what,
                      bnc_err *err)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        size_t chunk = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(f, p + got, (unsigned)chunk);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(f, &zerr);
            return bnc_err_set(err, BNC_EFORMAT, "%s: gzip error reading %s: %s", path, what, m);
        }
        if (r == 0)
            return bnc_err_set(err, BNC_EFORMAT,
                               "%s: truncated: %s needs %zu bytes, file ends after %zu", path, what,
                               n, got);
        got += (size_t)r;
    }
    return 0;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens path and reads an IDX header with ndims dimensions; checks magic. */
static int idx_open(const char *path, uint32_t magic, int ndims, gzFile *out, uint32_t *dims,
                    bnc_err *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return bnc_err_set(err, errno == ENOENT || errno == ENOTDIR ? BNC_EINVAL : BNC_EIO,
                           "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    uint8_t hdr[16];
    size_t hn = 4 + 4 * (size_t)ndims;
    int rc = read_exact(f, path, hdr, hn, "the header", err);
    if (rc) {
        gzclose(f);
        return rc;
    }
    uint32_t m = be32(hdr);
    if (m != magic) {
        gzclose(f);
        return bnc_err_set(err, BNC_EFORMAT, "%s: bad magic 0x%08x, expected 0x%08x", path, m,
                           magic);
    }
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        uint32_t lim = i == 0 ? IDX_MAX_COUNT : IDX_MAX_SIDE;
        if (dims[i] == 0 || dims[i] > lim) {
            gzclose(f);
            return bnc_err_set(err, BNC_EFORMAT, "%s: dimension %d is %u (must be 1..%u)", path, i,
                               dims[i], lim);
        }
    }
    *out = f;
    return 0;
}

/* Fails unless f is at its end. */
static int expect_eof(gzFile f, const char *path, bnc_err *err)
{
    uint8_t extra;
    int r = gzread(f, &extra, 1);
    if (r < 0) {
        int zerr;
        return bnc_err_set(err, BNC_EFORMAT, "%s: gzip error: %s", path, gzerror(f, &zerr));
    }
    if (r > 0)
        return bnc_err_set(err, BNC_EFORMAT, "%s: trailing data after the declared count", path);
    return 0;
}

void bnc_fed_dataset_free(bnc_fed_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

int bnc_fed_idx_load(const char *images_path, const char *labels_path, bnc_fed_dataset *out,
                     bnc_err *err)
{
    memset(out, 0, sizeof *out);
    gzFile fi = NULL, fl = NULL;
    uint32_t di[3], dl[1];
    int rc = idx_open(images_path, IDX_MAGIC_IMAGES, 3, &fi, di, err);
    if (rc) return rc;
    rc = idx_open(labels_path, IDX_MAGIC_LABELS, 1, &fl, dl, err);
    if (rc) goto fail;
    if (di[0] != dl[0]) {
        rc = bnc_err_set(err, BNC_EFORMAT, "%s holds %u images but %s holds %u labels", images_path,
                         di[0], labels_path, dl[0]);
        goto fail;
    }
    out->n = di[0];
    out->rows = (int)di[1];
    out->cols = (int)di[2];
    out->dim = (int64_t)di[1] * di[2];
    out->x = malloc((size_t)(out->n * out->dim));
    out->y = malloc((size_t)out->n);
    if (!out->x || !out->y) {
        rc = bnc_err_set(err, BNC_ENOMEM, "%s: cannot allocate %lld images", images_path,
                         (long long)out->n);
        goto fail;
    }
    rc = read_exact(fi, images_path, out->x, (size_t)(out->n * out->dim), "the pixels", err);
    if (!rc) rc = expect_eof(fi, images_path, err);
    if (!rc) rc = read_exact(fl, labels_path, out->y, (size_t)out->n, "the labels", err);
    if (!rc) rc = expect_eof(fl, labels_path, err);
    if (rc) goto fail;
    for (int64_t i = 0; i < out->n; i++)
        if (out->y[i] >= BNC_FED_NCLASSES) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s: label %u at index %lld is not below %d",
                             labels_path, out->y[i], (long long)i, BNC_FED_NCLASSES);
            goto fail;
        }
    gzclose(fi);
    gzclose(fl);
    return 0;
fail:
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    bnc_fed_dataset_free(out);
    return rc;
}

int bnc_fed_mnist_load(const char *dir, bnc_fed_dataset *train, bnc_fed_dataset *test, bnc_err *err)
{
    if (!dir || !*dir) dir = BNC_FED_MNIST_DIR;
    const char *stems[2] = {"train", "t10k"};
    bnc_fed_dataset *outs[2] = {train, test};
    for (int s = 0; s < 2; s++) {
        if (!outs[s]) continue;
        char ip[4096], lp[4096];
        snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, stems[s]);
        snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, stems[s]);
        int rc = bnc_fed_idx_load(ip, lp, outs[s], err);
        if (rc) {
            if (s == 1 && train) bnc_fed_dataset_free(train);
            return rc;
        }
    }
    if (train && test && train->dim != test->dim) {
        bnc_fed_dataset_free(train);
        bnc_fed_dataset_free(test);
        return bnc_err_set(err, BNC_EFORMAT, "%s: training and test images differ in size", dir);
    }
    return 0;
}

void bnc_fed_dataset_batch(const bnc_fed_dataset *d, const int64_t *idx, int64_t n, float *x)
{
    const float a = 1.0f / (255.0f * FMNIST_STD), b = -FMNIST_MEAN / FMNIST_STD;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *src = d->x + idx[i] * d->dim;
        float *dst = x + i * d->dim;
        for (int64_t j = 0; j < d->dim; j++)
            dst[j] = (float)src[j] * a + b;
    }
}

/* ---- partitioners ------------------------------------------------------ */

int bnc_fed_partition_parse(const char *s, bnc_fed_partition_spec *spec, bnc_err *err)
{
    memset(spec, 0, sizeof *spec);
    const char *colon = strchr(s, ':');
    size_t nl = colon ? (size_t)(colon - s) : strlen(s);
    char *end = NULL;
    if (nl == 3 && strncmp(s, "iid", 3) == 0 && !colon) {
        spec->kind = BNC_FED_PART_IID;
        return 0;
    }
    if (colon && ((nl == 9 && strncmp(s, "dirichlet", 9) == 0) ||
                  (nl == 8 && strncmp(s, "quantity", 8) == 0))) {
        spec->kind = s[0] == 'd' ? BNC_FED_PART_DIRICHLET : BNC_FED_PART_QUANTITY;
        errno = 0;
        spec->alpha = strtod(colon + 1, &end);
        if (errno || end == colon + 1 || *end || !(spec->alpha > 0) || !isfinite(spec->alpha))
            return bnc_err_set(err, BNC_EINVAL, "partition '%s': alpha must be a number > 0", s);
        return 0;
    }
    if (colon && nl == 7 && strncmp(s, "classes", 7) == 0) {
        spec->kind = BNC_FED_PART_CLASSES;
        long k = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || k < 1 || k > BNC_FED_NCLASSES)
            return bnc_err_set(err, BNC_EINVAL, "partition '%s': k must be 1..%d", s,
                               BNC_FED_NCLASSES);
        spec->k = (int)k;
        return 0;
    }
    return bnc_err_set(err, BNC_EINVAL,
                       "partition '%s': expected iid, dirichlet:ALPHA, classes:K or quantity:ALPHA",
                       s);
}

void bnc_fed_partition_format(const bnc_fed_partition_spec *spec, char *buf, size_t n)
{
    switch (spec->kind) {
    case BNC_FED_PART_DIRICHLET:
        snprintf(buf, n, "dirichlet:%g", spec->alpha);
        break;
    case BNC_FED_PART_QUANTITY:
        snprintf(buf, n, "quantity:%g", spec->alpha);
        break;
    case BNC_FED_PART_CLASSES:
        snprintf(buf, n, "classes:%d", spec->k);
        break;
    default:
        snprintf(buf, n, "iid");
    }
}

void bnc_fed_partition_free(bnc_fed_partition *p)
{
    if (!p) return;
    free(p->idx);
    free(p->off);
    memset(p, 0, sizeof *p);
}

double bnc_fed_gamma(bnc_rng *r, double shape)
{
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        double u = bnc_rng_uniform_pos_f(r);
        return bnc_fed_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = bnc_rng_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = bnc_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (u > 0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

static void shuffle(int64_t *a, int64_t n, bnc_rng *r)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)bnc_rng_below(r, (uint64_t)i + 1);
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void dirichlet(bnc_rng *r, double alpha, double *p, int k)
{
    double s = 0;
    for (int i = 0; i < k; i++)
        s += p[i] = bnc_fed_gamma(r, alpha);
    if (!(s > 0)) { /* every draw underflowed: put the mass on one client */
        for (int i = 0; i < k; i++)
            p[i] = 0;
        p[bnc_rng_below(r, (uint64_t)k)] = 1;
        return;
    }
    for (int i = 0; i < k; i++)
        p[i] /= s;
}

/* Splits total into k counts proportional to p (largest remainder). */
static void apportion(const double *p, int k, int64_t total, int64_t *cnt)
{
    int64_t used = 0;
    for (int i = 0; i < k; i++) {
        cnt[i] = (int64_t)floor(p[i] * (double)total);
        used += cnt[i];
    }
    for (int64_t left = total - used; left > 0; left--) {
        int best = 0;
        double bestr = -1;
        for (int i = 0; i < k; i++) {
            double rem = p[i] * (double)total - (double)cnt[i];
            if (rem > bestr) {
                bestr = rem;
                best = i;
            }
        }
        cnt[best]++;
    }
}

/* owner[i] is the client of example i; builds idx/off grouped by client, and
 * moves one example into each empty client from the largest one. */
static int group_by_owner(int *owner, int64_t n, int nclients, bnc_fed_partition *out, bnc_err *err)
{
    int64_t *cnt = calloc((size_t)nclients, sizeof *cnt);
    if (!cnt) return bnc_err_set(err, BNC_ENOMEM, "partition: out of memory");
    for (int64_t i = 0; i < n; i++)
        cnt[owner[i]]++;
    for (int c = 0; c < nclients; c++) {
        if (cnt[c] > 0) continue;
        int big = 0;
        for (int j = 1; j < nclients; j++)
            if (cnt[j] > cnt[big]) big = j;
        for (int64_t i = n - 1; i >= 0; i--)
            if (owner[i] == big) {
                owner[i] = c;
                cnt[big]--;
                cnt[c]++;
                break;
            }
    }
    out->off[0] = 0;
    for (int c = 0; c < nclients; c++)
        out->off[c + 1] = out->off[c] + cnt[c];
    for (int c = 0; c < nclients; c++)
        cnt[c] = out->off[c];
    for (int64_t i = 0; i < n; i++)
        out->idx[cnt[owner[i]]++] = i;
    free(cnt);
    return 0;
}

int bnc_fed_partition_make(const uint8_t *labels, int64_t n, int nclasses, int nclients,
                           const bnc_fed_partition_spec *spec, uint64_t seed,
                           bnc_fed_partition *out, bnc_err *err)
{
    memset(out, 0, sizeof *out);
    if (nclients < 1 || nclients > n)
        return bnc_err_set(err, BNC_EINVAL, "partition: %d clients for %lld examples", nclients,
                           (long long)n);
    if (nclasses < 1 || nclasses > 256)
        return bnc_err_set(err, BNC_EINVAL, "partition: %d classes", nclasses);
    if (spec->kind == BNC_FED_PART_CLASSES && (spec->k < 1 || spec->k > nclasses))
        return bnc_err_set(err, BNC_EINVAL, "partition classes:%d: k must be 1..%d", spec->k,
                           nclasses);
    out->nclients = nclients;
    out->n = n;
    out->idx = malloc((size_t)n * sizeof *out->idx);
    out->off = calloc((size_t)nclients + 1, sizeof *out->off);
    int *owner = malloc((size_t)n * sizeof *owner);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    double *p = malloc((size_t)nclients * sizeof *p);
    int64_t *cnt = malloc((size_t)nclients * sizeof *cnt);
    int64_t *cstart = calloc((size_t)nclasses + 1, sizeof *cstart);
    int rc = 0;
    if (!out->idx || !out->off || !owner || !perm || !p || !cnt || !cstart) {
        rc = bnc_err_set(err, BNC_ENOMEM, "partition: out of memory");
        goto done;
    }
    bnc_rng r;
    bnc_rng_init(&r, seed, 0x9a27);
    /* perm: examples grouped by class (stable), each class shuffled. */
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] >= nclasses) {
            rc = bnc_err_set(err, BNC_EINVAL, "partition: label %u at %lld >= %d", labels[i],
                             (long long)i, nclasses);
            goto done;
        }
        cstart[labels[i] + 1]++;
    }
    for (int c = 0; c < nclasses; c++)
        cstart[c + 1] += cstart[c];
    {
        int64_t *fill = malloc((size_t)nclasses * sizeof *fill);
        if (!fill) {
            rc = bnc_err_set(err, BNC_ENOMEM, "partition: out of memory");
            goto done;
        }
        memcpy(fill, cstart, (size_t)nclasses * sizeof *fill);
        for (int64_t i = 0; i < n; i++)
            perm[fill[labels[i]]++] = i;
        free(fill);
    }
    for (int c = 0; c < nclasses; c++)
        shuffle(perm + cstart[c], cstart[c + 1] - cstart[c], &r);

    switch (spec->kind) {
    case BNC_FED_PART_IID:
    case BNC_FED_PART_QUANTITY: {
        for (int64_t i = 0; i < n; i++)
            perm[i] = i;
        shuffle(perm, n, &r);
        if (spec->kind == BNC_FED_PART_IID) {
            for (int c = 0; c < nclients; c++)
                p[c] = 1.0 / nclients;
        } else {
            dirichlet(&r, spec->alpha, p, nclients);
        }
        apportion(p, nclients, n, cnt);
        int64_t at = 0;
        for (int c = 0; c < nclients; c++)
            for (int64_t j = 0; j < cnt[c]; j++)
                owner[perm[at++]] = c;
        break;
    }
    case BNC_FED_PART_DIRICHLET:
        for (int c = 0; c < nclasses; c++) {
            dirichlet(&r, spec->alpha, p, nclients);
            int64_t m = cstart[c + 1] - cstart[c], at = cstart[c];
            apportion(p, nclients, m, cnt);
            for (int k = 0; k < nclients; k++)
                for (int64_t j = 0; j < cnt[k]; j++)
                    owner[perm[at++]] = k;
        }
        break;
    case BNC_FED_PART_CLASSES: {
        /* Client k holds classes (k mod C) plus k-1 more distinct random
         * ones; each class is split evenly among the clients holding it. */
        int k = spec->k;
        uint8_t *has = calloc((size_t)nclients * (size_t)nclasses, 1);
        int64_t *holders = calloc((size_t)nclasses, sizeof *holders);
        if (!has || !holders) {
            free(has);
            free(holders);
            rc = bnc_err_set(err, BNC_ENOMEM, "partition: out of memory");
            goto done;
        }
        for (int c = 0; c < nclients; c++) {
            int first = c % nclasses;
            has[(size_t)c * nclasses + first] = 1;
            for (int got = 1; got < k;) {
                int cls = (int)bnc_rng_below(&r, (uint64_t)nclasses);
                if (!has[(size_t)c * nclasses + cls]) {
                    has[(size_t)c * nclasses + cls] = 1;
                    got++;
                }
            }
            for (int cls = 0; cls < nclasses; cls++)
                holders[cls] += has[(size_t)c * nclasses + cls];
        }
        for (int cls = 0; cls < nclasses; cls++) {
            int64_t m = cstart[cls + 1] - cstart[cls], at = cstart[cls];
            if (holders[cls] == 0) { /* fewer clients than classes: round-robin */
                for (int64_t j = 0; j < m; j++)
                    owner[perm[at + j]] = (int)(j % nclients);
                continue;
            }
            int64_t h = 0;
            for (int c = 0; c < nclients; c++) {
                if (!has[(size_t)c * nclasses + cls]) continue;
                int64_t lo = m * h / holders[cls], hi = m * (h + 1) / holders[cls];
                for (int64_t j = lo; j < hi; j++)
                    owner[perm[at + j]] = c;
                h++;
            }
        }
        free(has);
        free(holders);
        break;
    }
    default:
        rc = bnc_err_set(err, BNC_EINVAL, "partition: unknown kind %d", spec->kind);
        goto done;
    }
    rc = group_by_owner(owner, n, nclients, out, err);
done:
    free(owner);
    free(perm);
    free(p);
    free(cnt);
    free(cstart);
    if (rc) bnc_fed_partition_free(out);
    return rc;
}
