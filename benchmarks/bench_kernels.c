/* Kernel throughput against streaming read bandwidth, both measured in this
 * run with the same thread count (the ratio is the result; wall-clock times
 * alone mean little on a shared machine).
 *
 * GEMV: packed weights are rotated over enough copies to fill the
 * footprint (default 2 x LLC, 256 MiB to 1 GiB), so every call streams its
 * weights from memory; GB/s counts the packed bytes read (codes/blocks +
 * scales). The L2-sized shape runs on one copy (in_cache: true) and may
 * exceed 1. Quantize: GB/s of f32 input read, inputs rotated the same way.
 * Bandwidth: every thread reads its part of the next slice of the same
 * footprint, as one stream and as 8 streams side by side, and the better
 * pattern is the figure (bnc_stream.h; the bandwidth line gives both).
 * Timing: many short repetitions (default 20 of >= 5 ms, rotation carried
 * on across them), best kept, for the kernel and, right before it, for the
 * bandwidth: on a machine shared with other jobs the best short repetition
 * is the one that ran alone, and both sides of the ratio get the same
 * treatment. */
#include "bnc_bench_kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_gemv.h"
#include "bnc_stream.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"
#include "bnc_time.h"

typedef struct shape {
    int64_t rows, cols;
    int in_cache;
} shape;

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    fclose(f);
}

/* ---- helpers ------------------------------------------------------------- */

static int split(const char *list, char out[][32], int max)
{
    int n = 0;
    const char *p = list;
    while (*p && n < max) {
        size_t l = strcspn(p, ",");
        if (l > 0 && l < 32) {
            memcpy(out[n], p, l);
            out[n][l] = 0;
            n++;
        }
        p += l;
        if (*p == ',') p++;
    }
    return n;
}

static void fill_normal(float *x, int64_t n, uint64_t seed)
{
    bnc_rng r;
    bnc_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)bnc_rng_normal(&r);
}

/* Weights for a GEMV timing: bitnet schemes quantize normal floats; block
 * schemes quantize a few rows of normal floats with the row's quantizer
 * and repeat them (speed does not depend on the values; correctness is the
 * tests' job). Geometry comes from the scheme's row. */
static int make_weights(const bnc_scheme *s, const bnc_qparams *p, int64_t rows, int64_t cols,
                        uint8_t *w, size_t wbytes, bnc_isa isa, bnc_err *err)
{
    int64_t nx = s->layout == BNC_LAYOUT_BITNET ? rows : rows < 16 ? rows : 16;
    float *x = malloc((size_t)(nx * cols) * sizeof *x);
    if (!x) return bnc_err_set(err, BNC_ENOMEM, "bench: out of memory");
    fill_normal(x, nx * cols, 5);
    int rc;
    if (s->layout == BNC_LAYOUT_BITNET) {
        size_t wr;
        rc = bnc_bitnet_quantize_ex(x, rows, cols, s->bitnet_mode, p->group ? p->group : 128, w,
                                    wbytes, &wr, isa, NULL, err);
    } else {
        size_t rb = wbytes / (size_t)rows;
        rc = s->quantize_row(x, w, nx * cols, err);
        for (int64_t r = nx; r < rows && !rc; r++)
            memcpy(w + (size_t)r * rb, w + (size_t)(r % nx) * rb, rb);
    }
    free(x);
    return rc;
}

typedef struct row_out {
    char op[12], scheme[24], isa[8];
    int threads;
    int64_t rows, cols;
    double gbps, bw, ratio;
} row_out;

typedef struct ctx {
    FILE *out;
    row_out *rows;
    int nrows, cap;
    double min_s;
    int reps;
} ctx;

static void emit(ctx *c, const char *op, const char *scheme, const char *variant, bnc_isa isa,
                 int threads, const shape *sh, int batch, size_t bytes, int copies, double secs,
                 double gbps, double bw, double fp_mb)
{
    double ratio = bw > 0 ? gbps / bw : 0;
    fprintf(c->out,
            "{\"bench\":\"kernels\",\"op\":\"%s\",\"scheme\":\"%s\",\"variant\":\"%s\","
            "\"isa\":\"%s\",\"threads\":%d,\"rows\":%lld,\"cols\":%lld,\"batch\":%d,"
            "\"bytes\":%zu,\"copies\":%d,\"footprint_mb\":%.1f,\"in_cache\":%s,"
            "\"seconds\":%.6f,\"gbps\":%.3f,\"gweights_per_s\":%.3f,\"bw_gbps\":%.3f,"
            "\"ratio\":%.3f,\"load1\":%.2f}\n",
            op, scheme, variant, bnc_isa_name(isa), threads, (long long)sh->rows,
            (long long)sh->cols, batch, bytes, copies, fp_mb, sh->in_cache ? "true" : "false", secs,
            gbps, (double)(sh->rows * sh->cols) / secs / 1e9, bw, ratio, load1());
    fflush(c->out);
    if (c->nrows == c->cap) {
        int nc = c->cap ? 2 * c->cap : 64;
        row_out *nr = realloc(c->rows, (size_t)nc * sizeof *nr);
        if (!nr) return;
        c->rows = nr;
        c->cap = nc;
    }
    row_out *r = &c->rows[c->nrows++];
    snprintf(r->op, sizeof r->op, "%s", op);
    snprintf(r->scheme, sizeof r->scheme, "%s%s%s", scheme, strcmp(variant, "lut") ? "" : "/",
             strcmp(variant, "lut") ? "" : variant);
    snprintf(r->isa, sizeof r->isa, "%s", bnc_isa_name(isa));
    r->threads = threads;
    r->rows = sh->rows;
    r->cols = sh->cols;
    r->gbps = gbps;
    r->bw = bw;
    r->ratio = ratio;
}

/* ---- the benchmark ------------------------------------------------------- */

int bnc_bench_kernels(const bnc_bench_kernels_opts *o, FILE *out, bnc_err *err)
{
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    int maxt = o->max_threads;
    if (maxt <= 0) { /* BNC_THREADS, else the CPUs this rank may use */
        int rc = bnc_threads_default(&maxt, err);
        if (rc) return rc;
    }
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = 32L << 20;
    size_t fp;
    if (o->footprint_mb > 0)
        fp = (size_t)o->footprint_mb << 20;
    else if (o->quick)
        fp = 32u << 20;
    else {
        fp = 2 * (size_t)llc;
        fp = fp < (256u << 20) ? (256u << 20) : fp > (1u << 30) ? (1u << 30) : fp;
    }
    ctx c = {.out = out,
             .min_s = o->min_seconds > 0 ? o->min_seconds
                      : o->quick         ? 0.002
                                         : 0.005,
             .reps = o->reps > 0 ? o->reps
                     : o->quick  ? 3
                                 : 20};
    int batch = o->batch > 0 ? o->batch : 1;

    char schemes[16][32], isas[4][32], shapes_s[16][32];
    int ns = split(o->schemes ? o->schemes : "bitnet,bitnet-row,bitnet-group,tq2_0,tq1_0,q8_0,q4_0",
                   schemes, 16);
    bnc_isa isa_list[4];
    int ni = 0;
    if (o->isas) {
        int n = split(o->isas, isas, 4);
        for (int i = 0; i < n; i++) {
            int rc = bnc_isa_parse(isas[i], &isa_list[ni], err);
            if (rc) return rc;
            if (!bnc_isa_supported(isa_list[ni]))
                return bnc_err_set(err, BNC_ENOTSUP, "bench: ISA %s not on this CPU", isas[i]);
            ni++;
        }
    } else {
        int rc = bnc_isa_select(&isa_list[0], err);
        if (rc) return rc;
        ni = 1;
    }
    shape shapes[16];
    int nsh = 0;
    const char *shp = o->shapes  ? o->shapes
                      : o->quick ? "1024x1024,2048x1024,1024x2048,256x1024"
                                 : "4096x4096,11008x4096,4096x11008,1024x2048";
    int nss = split(shp, shapes_s, 16);
    for (int i = 0; i < nss; i++) {
        long long r, cc;
        if (sscanf(shapes_s[i], "%lldx%lld", &r, &cc) != 2 || r < 1 || cc < 1)
            return bnc_err_set(err, BNC_EINVAL, "bench: bad shape '%s' (RxC)", shapes_s[i]);
        shapes[nsh].rows = r;
        shapes[nsh].cols = cc;
        shapes[nsh].in_cache = 0;
        nsh++;
    }
    /* the last default shape is the L2-sized one: 1024x2048 2-bit is 512 KiB */
    if (!o->shapes && nsh > 0) shapes[nsh - 1].in_cache = 1;
    const bnc_scheme *rowof[16];
    for (int i = 0; i < ns; i++) {
        rowof[i] = bnc_scheme_find(schemes[i]);
        if (!bnc_gemv_supported(rowof[i]))
            return bnc_err_set(err, BNC_EINVAL, "bench: no GEMV for scheme '%s'", schemes[i]);
    }

    char model[256];
    cpu_model(model, sizeof model);
    fprintf(out,
            "{\"bench\":\"kernels\",\"op\":\"machine\",\"cpu\":\"%s\",\"nproc\":%ld,"
            "\"llc_bytes\":%ld,\"footprint_mb\":%.1f,\"llc_exceeded\":%s,\"load1\":%.2f}\n",
            model, nproc, llc, (double)fp / 1048576.0, fp > (size_t)llc ? "true" : "false",
            load1());

    uint8_t *arena = aligned_alloc(64, fp);
    if (!arena) return bnc_err_set(err, BNC_ENOMEM, "bench: cannot allocate %zu bytes", fp);
    memset(arena, 1, fp);
    float *normals[16] = {0};
    int rc = 0;
    for (int t = 1; t <= maxt && !rc; t++) {
        bnc_pool *pool;
        rc = bnc_pool_new(t, &pool, err);
        if (rc) break;
        bnc_stream_bw pat;
        double bw0 = bnc_stream_read(pool, arena, fp, c.min_s, c.reps, &pat);
        fprintf(out,
                "{\"bench\":\"kernels\",\"op\":\"bandwidth\",\"threads\":%d,\"bytes\":%zu,"
                "\"bw_gbps\":%.3f,\"bw_one_stream_gbps\":%.3f,\"bw_multi_stream_gbps\":%.3f,"
                "\"load1\":%.2f}\n",
                t, fp, bw0, pat.one_stream, pat.multi_stream, load1());
        for (int ii = 0; ii < ni && !rc; ii++) {
            bnc_isa isa = isa_list[ii];
            /* quantize (bitnet schemes): f32 inputs rotated over the footprint */
            for (int si = 0; si < 3 && !rc; si++) {
                const char *qs[3] = {"bitnet", "bitnet-row", "bitnet-group"};
                for (int h = 0; h < nsh && !rc; h++) {
                    const shape *sh = &shapes[h];
                    size_t in_bytes = (size_t)(sh->rows * sh->cols) * sizeof(float);
                    size_t cap =
                        bnc_gemv_weight_bytes(bnc_scheme_find(qs[si]), NULL, sh->rows, sh->cols);
                    int copies = sh->in_cache ? 1 : (int)(fp / in_bytes);
                    if (copies < 1) {
                        copies = 1;
                    }
                    if ((size_t)copies * in_bytes > fp) /* shape larger than the footprint */
                        continue;
                    if (!normals[h]) { /* generated once per shape */
                        normals[h] = malloc(in_bytes);
                        if (!normals[h]) {
                            rc = bnc_err_set(err, BNC_ENOMEM, "bench: out of memory");
                            break;
                        }
                        fill_normal(normals[h], sh->rows * sh->cols, 9);
                    }
                    for (int k = 0; k < copies; k++)
                        memcpy(arena + (size_t)k * in_bytes, normals[h], in_bytes);
                    uint8_t *dst = malloc(cap);
                    if (!dst) {
                        rc = bnc_err_set(err, BNC_ENOMEM, "bench: out of memory");
                        break;
                    }
                    double bw = bnc_stream_read_gbps(pool, arena, fp, c.min_s, c.reps);
                    double best = 0, bsec = 0;
                    size_t wr;
                    long pos = 0;
                    for (int rep = 0; rep <= c.reps && !rc; rep++) {
                        double t0 = bnc_now(), el;
                        long it = 0;
                        do {
                            const float *x =
                                (const float *)(const void *)(arena +
                                                              (size_t)(pos++ % copies) * in_bytes);
                            rc = bnc_bitnet_quantize_ex(x, sh->rows, sh->cols, si, 128, dst, cap,
                                                        &wr, isa, pool, err);
                            it++;
                            el = bnc_now() - t0;
                        } while (!rc && el < c.min_s);
                        double g = (double)in_bytes * (double)it / el / 1e9;
                        if (rep > 0 && g > best) { /* rep 0 warms up */
                            best = g;
                            bsec = el / (double)it;
                        }
                    }
                    free(dst);
                    if (!rc)
                        emit(&c, "quantize", qs[si], "pack", isa, t, sh, 1, in_bytes, copies, bsec,
                             best, bw, (double)fp / 1048576.0);
                }
            }
            for (int si = 0; si < ns && !rc; si++) {
                for (int h = 0; h < nsh && !rc; h++) {
                    const shape *sh = &shapes[h];
                    bnc_qparams p = {.group = 128};
                    size_t wb = bnc_gemv_weight_bytes(rowof[si], &p, sh->rows, sh->cols);
                    if (wb == 0 || wb > fp) continue;
                    int copies = sh->in_cache ? 1 : (int)(fp / wb);
                    size_t stride = (wb + 63) / 64 * 64;
                    while (copies > 1 && (size_t)copies * stride > fp)
                        copies--;
                    rc = make_weights(rowof[si], &p, sh->rows, sh->cols, arena, wb, isa, err);
                    if (rc) break;
                    for (int k = 1; k < copies; k++)
                        memcpy(arena + (size_t)k * stride, arena, wb);
                    bnc_act *a;
                    rc = bnc_act_new(batch, sh->cols, &a, err);
                    if (rc) break;
                    float *xf = malloc((size_t)(batch * sh->cols) * sizeof *xf);
                    float *y = malloc((size_t)(batch * sh->rows) * sizeof *y);
                    if (!xf || !y) {
                        free(xf);
                        free(y);
                        bnc_act_free(a);
                        rc = bnc_err_set(err, BNC_ENOMEM, "bench: out of memory");
                        break;
                    }
                    fill_normal(xf, batch * sh->cols, 10);
                    rc = bnc_act_quantize(a, xf, err);
                    double bw = bnc_stream_read_gbps(pool, arena, fp, c.min_s, c.reps);
                    double best = 0, bsec = 0;
                    long pos = 0;
                    for (int rep = 0; rep <= c.reps && !rc; rep++) {
                        double t0 = bnc_now(), el;
                        long it = 0;
                        do {
                            rc = bnc_gemv(rowof[si], &p, arena + (size_t)(pos++ % copies) * stride,
                                          wb, sh->rows, a, y, isa, pool, err);
                            it++;
                            el = bnc_now() - t0;
                        } while (!rc && el < c.min_s);
                        double g = (double)wb * (double)it / el / 1e9;
                        if (rep > 0 && g > best) {
                            best = g;
                            bsec = el / (double)it;
                        }
                    }
                    if (!rc)
                        emit(&c, "gemv", schemes[si], "mad", isa, t, sh, batch, wb, copies, bsec,
                             best, bw, (double)fp / 1048576.0);
                    /* the lookup-table kernel on the same weights, repacked */
                    int mode = rowof[si]->layout == BNC_LAYOUT_BITNET &&
                                       rowof[si]->bitnet_mode != BNC_BITNET_GROUP
                                   ? rowof[si]->bitnet_mode
                                   : -1;
                    size_t lb = mode >= 0 ? bnc_bitnet_lut_bytes(mode, sh->rows, sh->cols) : 0;
                    if (!rc && lb && isa == BNC_ISA_AVX512 && lb <= fp) {
                        uint8_t *tmp = malloc(lb);
                        if (!tmp) {
                            rc = bnc_err_set(err, BNC_ENOMEM, "bench: out of memory");
                        } else {
                            rc = bnc_bitnet_lut_pack(arena, wb, mode, sh->rows, sh->cols, tmp, lb,
                                                     err);
                            size_t ls = (lb + 63) / 64 * 64;
                            int lc = sh->in_cache ? 1 : (int)(fp / ls);
                            lc = lc < 1 ? 1 : lc;
                            for (int k = 0; k < lc && !rc; k++)
                                memcpy(arena + (size_t)k * ls, tmp, lb);
                            free(tmp);
                            double lbw = bnc_stream_read_gbps(pool, arena, fp, c.min_s, c.reps);
                            double lbest = 0, lsec = 0;
                            long lpos = 0;
                            for (int rep = 0; rep <= c.reps && !rc; rep++) {
                                double t0 = bnc_now(), el;
                                long it = 0;
                                do {
                                    rc = bnc_bitnet_lut_gemv(arena + (size_t)(lpos++ % lc) * ls, lb,
                                                             mode, sh->rows, a, y, pool, err);
                                    it++;
                                    el = bnc_now() - t0;
                                } while (!rc && el < c.min_s);
                                double g = (double)lb * (double)it / el / 1e9;
                                if (rep > 0 && g > lbest) {
                                    lbest = g;
                                    lsec = el / (double)it;
                                }
                            }
                            if (!rc)
                                emit(&c, "gemv", schemes[si], "lut", isa, t, sh, batch, lb, lc,
                                     lsec, lbest, lbw, (double)fp / 1048576.0);
                        }
                    }
                    free(xf);
                    free(y);
                    bnc_act_free(a);
                }
            }
        }
        bnc_pool_free(pool);
    }
    free(arena);
    for (int h = 0; h < nsh; h++)
        free(normals[h]);
    if (!rc) {
        fprintf(out, "# %-8s %-16s %-6s %3s %13s %9s %9s %6s\n", "op", "scheme", "isa", "thr",
                "shape", "GB/s", "bw GB/s", "ratio");
        for (int i = 0; i < c.nrows; i++) {
            const row_out *r = &c.rows[i];
            char shs[32];
            snprintf(shs, sizeof shs, "%lldx%lld", (long long)r->rows, (long long)r->cols);
            fprintf(out, "# %-8s %-16s %-6s %3d %13s %9.2f %9.2f %6.3f\n", r->op, r->scheme, r->isa,
                    r->threads, shs, r->gbps, r->bw, r->ratio);
        }
        fprintf(out, "# cpu: %s; load average now %.2f\n", model, load1());
    }
    free(c.rows);
    return rc;
}
