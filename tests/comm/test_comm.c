/* The collective layer under mpirun (any rank count): every check runs on
 * every rank, and a failure on any rank fails the program.
 *  - allreduce (sum, max; int32, float, double), allgather, broadcast and
 *    all-to-all equal what each rank computes from every rank's data
 *    (integer-valued, so the sums are exact in any order);
 *  - every compressed allreduce equals, bit for bit, the host simulation of
 *    all ranks (bnc_car_simulate), over several calls with the residuals
 *    carried, on lengths that are not multiples of the blocks;
 *  - its error against the f32 sum stays within each codec's bound;
 *  - error feedback: the accumulated error of 40 calls, relative to the
 *    accumulated sum, shrinks as calls accumulate (and is far below the
 *    same run without error feedback);
 *  - a NaN on one rank is refused on every rank, with no rank left waiting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_ccomm.h"
#include "bnc_comm.h"
#include "bnc_rng.h"

static int rank, size, failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Rank r's value i: a small integer, so every sum is exact. */
static float ival(int r, size_t i)
{
    return (float)((int)((i * 7 + (size_t)r * 13) % 17) - 8);
}

static void gauss(uint64_t seed, int r, size_t n, float *x)
{
    bnc_rng g;
    bnc_rng_init(&g, seed, (uint64_t)r);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)bnc_rng_normal(&g);
}

static void plain(bnc_comm *c)
{
    bnc_err err = {0};
    size_t n = 1001;
    float *x = malloc(n * 4), *y = malloc(n * 4), *g = malloc(n * 4 * (size_t)size);
    double *xd = malloc(n * 8);
    int32_t *xi = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        x[i] = ival(rank, i);
        xd[i] = ival(rank, i) * 0.5;
        xi[i] = (int32_t)ival(rank, i);
    }
    CHECK(!bnc_comm_allreduce(c, x, y, n, BNC_DT_F32, BNC_OP_SUM, &err), "%s", err.msg);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float s = 0;
        for (int r = 0; r < size; r++)
            s += ival(r, i);
        bad += y[i] != s;
    }
    CHECK(bad == 0, "allreduce sum float: %zu wrong", bad);
    CHECK(!bnc_comm_allreduce(c, x, y, n, BNC_DT_F32, BNC_OP_MAX, &err), "%s", err.msg);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        float m = -1e9f;
        for (int r = 0; r < size; r++)
            m = fmaxf(m, ival(r, i));
        bad += y[i] != m;
    }
    CHECK(bad == 0, "allreduce max float: %zu wrong", bad);
    CHECK(!bnc_comm_allreduce(c, xd, xd, n, BNC_DT_F64, BNC_OP_SUM, &err), "%s", err.msg);
    CHECK(!bnc_comm_allreduce(c, xi, xi, n, BNC_DT_I32, BNC_OP_SUM, &err), "%s", err.msg);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        int s = 0;
        for (int r = 0; r < size; r++)
            s += (int)ival(r, i);
        bad += xi[i] != s || xd[i] != s * 0.5;
    }
    CHECK(bad == 0, "allreduce in place int32/double: %zu wrong", bad);

    CHECK(!bnc_comm_allgather(c, x, g, n, BNC_DT_F32, &err), "%s", err.msg);
    bad = 0;
    for (int r = 0; r < size; r++)
        for (size_t i = 0; i < n; i++)
            bad += g[(size_t)r * n + i] != ival(r, i);
    CHECK(bad == 0, "allgather: %zu wrong", bad);

    int root = size - 1;
    for (size_t i = 0; i < n; i++)
        y[i] = rank == root ? ival(100, i) : -99.0f;
    CHECK(!bnc_comm_bcast(c, y, n, BNC_DT_F32, root, &err), "%s", err.msg);
    bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += y[i] != ival(100, i);
    CHECK(bad == 0, "broadcast from %d: %zu wrong", root, bad);
    CHECK(bnc_comm_bcast(c, y, n, BNC_DT_F32, size, &err) == BNC_EINVAL && strstr(err.msg, "root"),
          "a root outside the communicator must be refused, got '%s'", err.msg);

    /* all-to-all: block j of rank r is 1000 r + j. */
    int32_t *s = malloc(4 * (size_t)size), *d = malloc(4 * (size_t)size);
    for (int j = 0; j < size; j++)
        s[j] = 1000 * rank + j;
    CHECK(!bnc_comm_alltoall(c, s, d, 1, BNC_DT_I32, &err), "%s", err.msg);
    for (int r = 0; r < size; r++)
        CHECK(d[r] == 1000 * r + rank, "alltoall block %d: %d", r, d[r]);
    free(s);
    free(d);
    free(x);
    free(y);
    free(g);
    free(xd);
    free(xi);
}

static double rel_err(const float *y, const double *ref, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        e += (y[i] - ref[i]) * (y[i] - ref[i]);
        r += ref[i] * ref[i];
    }
    return sqrt(e / r);
}

/* The compressed allreduce equals the simulation bit for bit, call after
 * call, and its error stays within the codec's bound. */
static void against_simulation(bnc_comm *c, bnc_car_algo a, size_t n)
{
    static const double bound[BNC_CAR_COUNT] = {0, 0.02, 0.9, 1.0, 1.0};
    bnc_err err = {0};
    bnc_car_opts o = {.topk_frac = 0.05};
    bnc_car *s = NULL;
    bnc_car_sim *sim = NULL;
    CHECK(!bnc_car_new(c, a, &o, n, &s, &err), "%s", err.msg);
    CHECK(!bnc_car_sim_new(a, &o, size, n, &sim, &err), "%s", err.msg);
    if (!s || !sim) return;
    float **in = malloc(sizeof(float *) * (size_t)size);
    for (int r = 0; r < size; r++)
        in[r] = malloc(n * 4);
    float *y = malloc(n * 4), *ys = malloc(n * 4);
    double *ref = malloc(n * 8);
    for (int call = 0; call < 4; call++) {
        for (int r = 0; r < size; r++) {
            gauss(1000u + (uint64_t)call, r, n, in[r]);
            /* MPI sums f32 in an order of its own: exact data for it. */
            if (a == BNC_CAR_F32)
                for (size_t i = 0; i < n; i++)
                    in[r][i] = ival(r + call, i);
        }
        bnc_car_stats st;
        CHECK(!bnc_car_allreduce(s, in[rank], y, &st, &err), "%s: %s", bnc_car_name(a), err.msg);
        CHECK(!bnc_car_simulate(sim, (const float *const *)in, ys, &err), "%s", err.msg);
        CHECK(!memcmp(y, ys, n * 4), "%s n=%zu call %d: differs from the host simulation",
              bnc_car_name(a), n, call);
        for (size_t i = 0; i < n; i++) {
            ref[i] = 0;
            for (int r = 0; r < size; r++)
                ref[i] += in[r][i];
        }
        /* Later calls carry earlier residuals: the bound is for a fresh state. */
        double e = rel_err(y, ref, n);
        if (a != BNC_CAR_F32 && call == 0)
            CHECK(e < bound[a], "%s call %d: relative error %.4f above %.2f", bnc_car_name(a), call,
                  e, bound[a]);
        CHECK(st.wire_bytes == bnc_car_wire_bytes(a, &o, size, n), "wire bytes");
        if (size > 1 && a != BNC_CAR_F32)
            CHECK(st.wire_bytes < st.f32_bytes, "%s sends %llu bytes, f32 %llu", bnc_car_name(a),
                  (unsigned long long)st.wire_bytes, (unsigned long long)st.f32_bytes);
    }
    for (int r = 0; r < size; r++)
        free(in[r]);
    free(in);
    free(y);
    free(ys);
    free(ref);
    bnc_car_free(s);
    bnc_car_sim_free(sim);
}

/* Accumulated relative error after T calls: || sum_t y_t - sum_t ref_t ||
 * over || sum_t ref_t ||, for T = 1 and T = 40. */
static void error_feedback(bnc_comm *c, bnc_car_algo a)
{
    bnc_err err = {0};
    size_t n = 4096;
    double acc[2][2]; /* [ef][T=1, T=40] */
    for (int ef = 0; ef < 2; ef++) {
        bnc_car_opts o = {.topk_frac = 0.1, .error_feedback = ef ? 0 : -1};
        bnc_car *s = NULL;
        CHECK(!bnc_car_new(c, a, &o, n, &s, &err), "%s", err.msg);
        if (!s) return;
        float *x = malloc(n * 4), *y = malloc(n * 4);
        double *sy = calloc(n, 8), *sr = calloc(n, 8);
        for (int t = 1; t <= 40; t++) {
            /* Gradients with a common direction plus noise, as in training. */
            gauss(7, rank, n, x);
            float *noise = malloc(n * 4);
            gauss(100u + (uint64_t)t, rank, n, noise);
            for (size_t i = 0; i < n; i++)
                x[i] = 0.3f * x[i] + noise[i];
            free(noise);
            CHECK(!bnc_car_allreduce(s, x, y, NULL, &err), "%s", err.msg);
            double *xs = calloc(n, 8);
            float *all = malloc(n * 4 * (size_t)size);
            bnc_comm_allgather(c, x, all, n, BNC_DT_F32, &err);
            for (int r = 0; r < size; r++)
                for (size_t i = 0; i < n; i++)
                    xs[i] += all[(size_t)r * n + i];
            for (size_t i = 0; i < n; i++) {
                sy[i] += y[i];
                sr[i] += xs[i];
            }
            free(xs);
            free(all);
            if (t == 1 || t == 40) {
                double e = 0, r = 0;
                for (size_t i = 0; i < n; i++) {
                    e += (sy[i] - sr[i]) * (sy[i] - sr[i]);
                    r += sr[i] * sr[i];
                }
                acc[ef][t == 40] = sqrt(e / r);
            }
        }
        free(x);
        free(y);
        free(sy);
        free(sr);
        bnc_car_free(s);
    }
    if (rank == 0)
        printf("%-8s accumulated relative error: EF %.4f -> %.4f over 40 calls, without EF %.4f -> "
               "%.4f\n",
               bnc_car_name(a), acc[1][0], acc[1][1], acc[0][0], acc[0][1]);
    CHECK(acc[1][1] < 0.25 * acc[1][0],
          "%s: error feedback did not shrink the accumulated error (%.4f -> %.4f)", bnc_car_name(a),
          acc[1][0], acc[1][1]);
    CHECK(acc[1][1] < 0.5 * acc[0][1], "%s: with error feedback %.4f, without %.4f",
          bnc_car_name(a), acc[1][1], acc[0][1]);
}

static void nonfinite(bnc_comm *c)
{
    bnc_err err = {0};
    size_t n = 300;
    bnc_car *s = NULL;
    CHECK(!bnc_car_new(c, BNC_CAR_TERNARY, NULL, n, &s, &err), "%s", err.msg);
    float *x = calloc(n, 4);
    if (rank == size - 1) x[17] = NAN;
    int rc = bnc_car_allreduce(s, x, x, NULL, &err);
    CHECK(rc == BNC_ERANGE && strstr(err.msg, "non-finite"), "NaN on rank %d: rc %d '%s'", size - 1,
          rc, err.msg);
    free(x);
    bnc_car_free(s);
}

/* --nccl: allreduce (sum, max), allgather and broadcast on device buffers
 * over NCCL against the same host references; 77 where the build has no
 * NCCL or the machine no GPU. */
static int nccl_mode(void)
{
    bnc_err err = {0};
    bnc_comm *c = NULL;
    if (!bnc_comm_backend_built(BNC_COMM_NCCL)) {
        if (rank == 0) printf("built without NCCL: skipping\n");
        return 77;
    }
    int rc = bnc_comm_new(MPI_COMM_WORLD, BNC_COMM_NCCL, &c, &err);
    if (rc == BNC_ENOTSUP) {
        if (rank == 0) printf("%s: skipping\n", err.msg);
        return 77;
    }
    CHECK(!rc, "%s", err.msg);
    if (rc) return 1;
    size_t n = 1 << 20;
    float *h = malloc(n * 4), *g = malloc(n * 4 * (size_t)size);
    void *dx = NULL, *dy = NULL, *dg = NULL;
    for (size_t i = 0; i < n; i++)
        h[i] = ival(rank, i);
    CHECK(!bnc_comm_buf_new(c, n * 4, &dx, &err) && !bnc_comm_buf_new(c, n * 4, &dy, &err) &&
              !bnc_comm_buf_new(c, n * 4 * (size_t)size, &dg, &err),
          "%s", err.msg);
    CHECK(!bnc_comm_buf_put(c, dx, h, n * 4, &err), "%s", err.msg);
    for (int op = 0; op < 2; op++) {
        CHECK(!bnc_comm_allreduce(c, dx, dy, n, BNC_DT_F32, (bnc_redop)op, &err), "%s", err.msg);
        CHECK(!bnc_comm_buf_get(c, g, dy, n * 4, &err), "%s", err.msg);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            float want = op ? -1e9f : 0;
            for (int r = 0; r < size; r++)
                want = op ? fmaxf(want, ival(r, i)) : want + ival(r, i);
            bad += g[i] != want;
        }
        CHECK(bad == 0, "nccl allreduce %s: %zu wrong", op ? "max" : "sum", bad);
    }
    CHECK(!bnc_comm_allgather(c, dx, dg, n, BNC_DT_F32, &err), "%s", err.msg);
    CHECK(!bnc_comm_buf_get(c, g, dg, n * 4 * (size_t)size, &err), "%s", err.msg);
    size_t bad = 0;
    for (int r = 0; r < size; r++)
        for (size_t i = 0; i < n; i++)
            bad += g[(size_t)r * n + i] != ival(r, i);
    CHECK(bad == 0, "nccl allgather: %zu wrong", bad);
    CHECK(!bnc_comm_bcast(c, dx, n, BNC_DT_F32, 0, &err), "%s", err.msg);
    CHECK(!bnc_comm_buf_get(c, h, dx, n * 4, &err), "%s", err.msg);
    bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += h[i] != ival(0, i);
    CHECK(bad == 0, "nccl broadcast: %zu wrong", bad);
    if (rank == 0)
        printf("nccl on device %d: allreduce sum/max, allgather, broadcast checked\n",
               bnc_comm_device(c));
    bnc_comm_buf_free(c, dx);
    bnc_comm_buf_free(c, dy);
    bnc_comm_buf_free(c, dg);
    free(h);
    free(g);
    bnc_comm_free(c);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1 && !strcmp(argv[1], "--nccl")) {
        int rc = nccl_mode(), worst = rc;
        MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        MPI_Finalize();
        return worst;
    }
    bnc_err err = {0};
    bnc_comm *c = NULL;
    if (bnc_comm_new(MPI_COMM_WORLD, BNC_COMM_MPI, &c, &err)) {
        fprintf(stderr, "rank %d: %s\n", rank, err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    plain(c);
    const size_t lens[] = {1000, 70001};
    for (int a = 0; a < BNC_CAR_COUNT; a++)
        for (size_t l = 0; l < 2; l++)
            against_simulation(c, (bnc_car_algo)a, lens[l]);
    for (int a = BNC_CAR_INT8; a < BNC_CAR_COUNT; a++)
        error_feedback(c, (bnc_car_algo)a);
    nonfinite(c);
    bnc_comm_free(c);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s: %d failed checks on %d ranks\n", total ? "FAIL" : "ok", total, size);
    MPI_Finalize();
    return total ? 1 : 0;
}
