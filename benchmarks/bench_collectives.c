/* bnc bench collectives: nccl-tests' all_reduce_perf for the f32 allreduce
 * and the compressed allreduces of comm/ccomm.c.
 *
 * Per algorithm and size: warm-up calls, then `iters` timed calls between
 * barriers; the time is the slowest rank's average (every rank waits for
 * the slowest one in a collective). algbw = bytes / time, busbw = algbw x
 * 2 (n-1) / n, nccl-tests' allreduce factor, with bytes the f32 vector's
 * size whatever the algorithm sends, so the compressed rows read as "an
 * f32 allreduce this fast". #wrong (sizes up to check_max): fresh
 * residuals, every rank's input regenerated on every rank, and the
 * elements of this rank's result that differ (bitwise) from the host
 * simulation of all ranks, summed over ranks; the f32 check uses integer
 * data so its sum is exact in any order, as nccl-tests' is. */
#include "bnc_bench_collectives.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_rng.h"
#include "bnc_time.h"

static void fill_gauss(int r, size_t n, float *x)
{
    bnc_rng g;
    bnc_rng_init(&g, 0xC011EC7ull, (uint64_t)r);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)bnc_rng_normal(&g);
}

static void fill_int(int r, size_t n, float *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int)((i * 7 + (size_t)r * 13) % 17) - 8);
}

/* One timed measurement: the slowest rank's average microseconds a call. */
typedef struct run_ctx {
    bnc_comm *c;
    bnc_car *car; /* compressed (host buffers) */
    bnc_car_algo algo;
    void *x, *y; /* backend buffers for f32; host for compressed */
    size_t n;
} run_ctx;

static int call_once(run_ctx *r, int in_place, bnc_err *err)
{
    void *dst = in_place ? r->x : r->y;
    if (r->algo == BNC_CAR_F32)
        return bnc_comm_allreduce(r->c, r->x, dst, r->n, BNC_DT_F32, BNC_OP_SUM, err);
    return bnc_car_allreduce(r->car, r->x, dst, NULL, err);
}

static int timed(run_ctx *r, int in_place, int warmup, int iters, double *us, bnc_err *err)
{
    for (int i = 0; i < warmup; i++) {
        int rc = call_once(r, in_place, err);
        if (rc) return rc;
    }
    MPI_Barrier(bnc_comm_mpi(r->c));
    double t0 = bnc_now();
    for (int i = 0; i < iters; i++) {
        int rc = call_once(r, in_place, err);
        if (rc) return rc;
    }
    int rc = bnc_comm_sync(r->c, err);
    if (rc) return rc;
    double t = (bnc_now() - t0) / iters * 1e6, worst = t;
    MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, bnc_comm_mpi(r->c));
    *us = worst;
    return 0;
}

/* The check of one size: wrong elements (summed over ranks) out of place
 * and in place, and the relative error of the result against the exact
 * sum of the inputs. */
static int check_size(bnc_comm *c, bnc_car_algo a, const bnc_car_opts *co, size_t n,
                      int64_t wrong[2], double *rel, bnc_err *err)
{
    int size = bnc_comm_size(c), rank = bnc_comm_rank(c), rc = 0;
    float **in = calloc((size_t)size, sizeof *in);
    float *yref = malloc(n * 4 + 4), *y = malloc(n * 4 + 4);
    void *dx = NULL, *dy = NULL;
    bnc_car_sim *sim = NULL;
    int ok = in && yref && y;
    for (int r = 0; ok && r < size; r++) {
        ok = (in[r] = malloc(n * 4 + 4)) != NULL;
        if (ok) (a == BNC_CAR_F32 ? fill_int : fill_gauss)(r, n, in[r]);
    }
    if (!ok) {
        rc = bnc_err_set(err, BNC_ENOMEM, "rank %d: check of %zu values on %d ranks: out of memory",
                         rank, n, size);
        goto out;
    }
    if ((rc = bnc_car_sim_new(a, co, size, n, &sim, err)) ||
        (rc = bnc_car_simulate(sim, (const float *const *)in, yref, err)))
        goto out;
    double e = 0, s = 0;
    for (int ip = 0; ip < 2; ip++) {
        int64_t bad = 0;
        if (a == BNC_CAR_F32) {
            if ((rc = bnc_comm_buf_new(c, n * 4, &dx, err)) ||
                (rc = bnc_comm_buf_new(c, n * 4, &dy, err)) ||
                (rc = bnc_comm_buf_put(c, dx, in[rank], n * 4, err)) ||
                (rc = bnc_comm_allreduce(c, dx, ip ? dx : dy, n, BNC_DT_F32, BNC_OP_SUM, err)) ||
                (rc = bnc_comm_buf_get(c, y, ip ? dx : dy, n * 4, err)))
                goto out;
            bnc_comm_buf_free(c, dx);
            bnc_comm_buf_free(c, dy);
            dx = dy = NULL;
        } else {
            bnc_car *car = NULL;
            if ((rc = bnc_car_new(c, a, co, n, &car, err))) goto out;
            /* out of place reads in[rank] and writes y; in place works on y */
            if (ip) memcpy(y, in[rank], n * 4);
            rc = bnc_car_allreduce(car, ip ? y : in[rank], y, NULL, err);
            bnc_car_free(car);
            if (rc) goto out;
        }
        for (size_t i = 0; i < n; i++)
            bad += memcmp(&y[i], &yref[i], 4) != 0;
        int64_t tot = bad;
        MPI_Allreduce(&bad, &tot, 1, MPI_INT64_T, MPI_SUM, bnc_comm_mpi(c));
        wrong[ip] = tot;
    }
    for (size_t i = 0; i < n; i++) {
        double ref = 0;
        for (int r = 0; r < size; r++)
            ref += in[r][i];
        e += (y[i] - ref) * (y[i] - ref);
        s += ref * ref;
    }
    *rel = s > 0 ? sqrt(e / s) : 0;
out:
    if (in)
        for (int r = 0; r < size; r++)
            free(in[r]);
    free(in);
    free(yref);
    free(y);
    bnc_comm_buf_free(c, dx);
    bnc_comm_buf_free(c, dy);
    bnc_car_sim_free(sim);
    return rc;
}

static void header(FILE *out, const bnc_bench_coll_opts *o, bnc_car_algo a, bnc_comm *c)
{
    fprintf(out,
            "# bnc bench collectives: algorithm %s, backend %s, %d ranks\n"
            "# minBytes %llu maxBytes %llu step: %g(factor) warmup iters: %d iters: %d "
            "validation: %d\n#\n",
            bnc_car_name(a), bnc_comm_backend_name(bnc_comm_backend_of(c)), bnc_comm_size(c),
            (unsigned long long)o->min_bytes, (unsigned long long)o->max_bytes, o->factor,
            o->warmup, o->iters, o->check);
    fprintf(out, "#%71s%34s\n", "out-of-place", "in-place");
    fprintf(out, "#%11s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size",
            "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw",
            "busbw", "#wrong");
    fprintf(out, "#%11s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)",
            "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
            "");
}

static void fmt_time(char *b, size_t n, double us)
{
    snprintf(b, n, us < 10000 ? "%7.2f" : "%7.0f", us);
}

static void fmt_wrong(char *b, size_t n, int64_t w)
{
    if (w < 0)
        snprintf(b, n, "%6s", "N/A");
    else
        snprintf(b, n, "%6lld", (long long)w);
}

int bnc_bench_collectives(const bnc_bench_coll_opts *o, FILE *out, bnc_bench_coll_row **rows,
                          size_t *nrows, bnc_err *err)
{
    bnc_comm *c = NULL;
    int rc = bnc_comm_new(MPI_COMM_WORLD, o->backend, &c, err);
    if (rc) return rc;
    int rank = bnc_comm_rank(c), size = bnc_comm_size(c);
    double bus = size > 1 ? 2.0 * (size - 1) / size : 1.0;
    size_t cap = 64, nr = 0;
    bnc_bench_coll_row *rs = calloc(cap, sizeof *rs);
    double *f32_us = calloc(128, sizeof(double)); /* by size index */
    if (!rs || !f32_us) {
        bnc_comm_free(c);
        free(rs);
        free(f32_us);
        return bnc_err_set(err, BNC_ENOMEM, "bench collectives: out of memory");
    }
    for (int ai = 0; ai < o->nalgos && !rc; ai++) {
        bnc_car_algo a = (bnc_car_algo)o->algos[ai];
        if (a != BNC_CAR_F32 && o->backend != BNC_COMM_MPI) {
            if (rank == 0)
                fprintf(out, "# %s: compressed allreduce runs on host buffers; skipped on %s\n#\n",
                        bnc_car_name(a), bnc_comm_backend_name(o->backend));
            continue;
        }
        if (rank == 0) header(out, o, a, c);
        double bus_sum = 0;
        int bus_n = 0, si = 0;
        size_t first_row = nr;
        for (double b = (double)o->min_bytes; b <= (double)o->max_bytes && !rc;
             b *= o->factor, si++) {
            size_t n = (size_t)b / 4;
            if (n == 0) continue;
            uint64_t bytes = (uint64_t)n * 4;
            run_ctx r = {.c = c, .algo = a, .n = n};
            float *h = malloc(n * 4);
            if (!h) {
                rc = bnc_err_set(err, BNC_ENOMEM, "rank %d: %zu values", rank, n);
                break;
            }
            fill_gauss(rank, n, h);
            if (a == BNC_CAR_F32) {
                if (!(rc = bnc_comm_buf_new(c, n * 4, &r.x, err)) &&
                    !(rc = bnc_comm_buf_new(c, n * 4, &r.y, err)))
                    rc = bnc_comm_buf_put(c, r.x, h, n * 4, err);
            } else {
                r.x = h;
                h = NULL;
                r.y = malloc(n * 4);
                if (!r.y)
                    rc = bnc_err_set(err, BNC_ENOMEM, "rank %d: %zu values", rank, n);
                else
                    rc = bnc_car_new(c, a, &o->car, n, &r.car, err);
            }
            free(h);
            bnc_bench_coll_row row = {.algo = bnc_car_name(a),
                                      .bytes = bytes,
                                      .count = n,
                                      .wrong = {-1, -1},
                                      .rel_error = NAN};
            for (int ip = 0; ip < 2 && !rc; ip++)
                rc = timed(&r, ip, o->warmup, o->iters, &row.time_us[ip], err);
            if (a == BNC_CAR_F32) {
                bnc_comm_buf_free(c, r.x);
                bnc_comm_buf_free(c, r.y);
            } else {
                free(r.x);
                free(r.y);
                bnc_car_free(r.car);
            }
            if (rc) break;
            if (o->check && bytes <= o->check_max_bytes &&
                (rc = check_size(c, a, &o->car, n, row.wrong, &row.rel_error, err)))
                break;
            for (int ip = 0; ip < 2; ip++) {
                row.algbw[ip] = (double)bytes / (row.time_us[ip] * 1e-6) / 1e9;
                row.busbw[ip] = row.algbw[ip] * bus;
                bus_sum += row.busbw[ip];
                bus_n++;
            }
            row.wire_bytes = bnc_car_wire_bytes(a, &o->car, size, n);
            row.f32_wire_bytes = bnc_car_wire_bytes(BNC_CAR_F32, &o->car, size, n);
            if (a == BNC_CAR_F32 && si < 128) f32_us[si] = row.time_us[0];
            if (rank == 0) {
                char t0[16], t1[16], w0[16], w1[16];
                fmt_time(t0, sizeof t0, row.time_us[0]);
                fmt_time(t1, sizeof t1, row.time_us[1]);
                fmt_wrong(w0, sizeof w0, row.wrong[0]);
                fmt_wrong(w1, sizeof w1, row.wrong[1]);
                fprintf(
                    out,
                    "%12llu  %12llu  %8s  %6s  %6d  %s  %6.2f  %6.2f  %s  %s  %6.2f  %6.2f  %s\n",
                    (unsigned long long)bytes, (unsigned long long)n, "float", "sum", -1, t0,
                    row.algbw[0], row.busbw[0], w0, t1, row.algbw[1], row.busbw[1], w1);
            }
            if (nr == cap) {
                bnc_bench_coll_row *g = realloc(rs, 2 * cap * sizeof *rs);
                if (!g) {
                    rc = bnc_err_set(err, BNC_ENOMEM, "bench collectives: out of memory");
                    break;
                }
                rs = g;
                cap *= 2;
            }
            rs[nr++] = row;
        }
        if (rc || rank != 0) continue;
        int64_t oob = 0;
        for (size_t i = first_row; i < nr; i++)
            for (int ip = 0; ip < 2; ip++)
                oob += rs[i].wrong[ip] > 0 ? rs[i].wrong[ip] : 0;
        fprintf(out, "# Out of bounds values : %lld %s\n", (long long)oob, oob ? "FAILED" : "OK");
        fprintf(out, "# Avg bus bandwidth    : %g \n#\n", bus_n ? bus_sum / bus_n : 0.0);
        for (size_t i = first_row; i < nr; i++) {
            const bnc_bench_coll_row *w = &rs[i];
            /* the f32 time of the same size (same index in the size sweep) */
            size_t k = 0;
            for (double b = (double)o->min_bytes; b <= (double)o->max_bytes; b *= o->factor, k++)
                if ((uint64_t)((size_t)b / 4) * 4 == w->bytes) break;
            double base = k < 128 ? f32_us[k] : 0;
            char rel[32], spd[32];
            if (isnan(w->rel_error))
                snprintf(rel, sizeof rel, "null");
            else
                snprintf(rel, sizeof rel, "%.6g", w->rel_error);
            if (base > 0)
                snprintf(spd, sizeof spd, "%.4f", base / w->time_us[0]);
            else
                snprintf(spd, sizeof spd, "null");
            fprintf(
                out,
                "{\"bench\":\"collectives\",\"backend\":\"%s\",\"algo\":\"%s\",\"ranks\":%d,"
                "\"bytes\":%llu,\"count\":%llu,\"time_us\":%.3f,\"time_us_in_place\":%.3f,"
                "\"algbw_GBps\":%.4f,\"busbw_GBps\":%.4f,\"wrong\":%lld,\"wrong_in_place\":%lld,"
                "\"wire_bytes\":%llu,\"f32_wire_bytes\":%llu,\"wire_ratio\":%.5f,"
                "\"rel_error\":%s,\"speedup_vs_f32\":%s}\n",
                bnc_comm_backend_name(o->backend), w->algo, size, (unsigned long long)w->bytes,
                (unsigned long long)w->count, w->time_us[0], w->time_us[1], w->algbw[0],
                w->busbw[0], (long long)w->wrong[0], (long long)w->wrong[1],
                (unsigned long long)w->wire_bytes, (unsigned long long)w->f32_wire_bytes,
                w->f32_wire_bytes ? (double)w->wire_bytes / (double)w->f32_wire_bytes : 0.0, rel,
                spd);
        }
        fflush(out);
    }
    free(f32_us);
    bnc_comm_free(c);
    if (rc || !rows) {
        free(rs);
        if (nrows) *nrows = 0;
        return rc;
    }
    *rows = rs;
    *nrows = nr;
    return 0;
}
