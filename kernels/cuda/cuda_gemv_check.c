/* bnc-cuda-gemv-check [--quick]: the CUDA GEMV against the CPU scalar
 * reference (bitwise), then its bandwidth against the device's streaming
 * read and memcpy bandwidth measured in the same run. JSON lines on
 * stdout. Exit 0 when every comparison matched, 1 on a mismatch or error,
 * 77 when there is no CUDA device (tests skip). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_cuda_gemv.h"
#include "bnc_gemv.h"
#include "bnc_rng.h"

static void fill(float *x, int64_t n, uint64_t seed)
{
    bnc_rng r;
    bnc_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)bnc_rng_normal(&r);
}

/* Weights: bitnet schemes by the CPU quantizer; tq2_0 random codes 0..2
 * with random positive fp16 scales. */
static uint8_t *weights(const bnc_scheme *s, int64_t rows, int64_t cols, size_t *n, bnc_err *err)
{
    *n = bnc_gemv_weight_bytes(s, NULL, rows, cols);
    uint8_t *w = malloc(*n);
    if (!w) return NULL;
    if (s->layout == BNC_LAYOUT_BLOCKS) { /* tq2_0 */
        bnc_rng r;
        bnc_rng_init(&r, 3, 0);
        for (size_t b = 0; b < *n; b += 66) {
            for (int i = 0; i < 64; i++) {
                uint8_t v = 0;
                for (int f = 0; f < 4; f++)
                    v |= (uint8_t)(bnc_rng_below(&r, 3) << (2 * f));
                w[b + (size_t)i] = v;
            }
            uint16_t h = (uint16_t)(0x2000 + bnc_rng_below(&r, 0x1000)); /* ~0.008..0.06 */
            memcpy(w + b + 64, &h, 2);
        }
        return w;
    }
    float *x = malloc((size_t)(rows * cols) * sizeof *x);
    if (!x) {
        free(w);
        return NULL;
    }
    fill(x, rows * cols, 4);
    size_t wr;
    int mode = s->bitnet_mode;
    if (bnc_bitnet_quantize_ex(x, rows, cols, mode, 128, w, *n, &wr, bnc_isa_best(), NULL, err)) {
        free(w);
        w = NULL;
    }
    free(x);
    return w;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    bnc_err err;
    char name[256];
    if (bnc_cuda_device_count() < 1) {
        printf("{\"bench\":\"cuda_gemv\",\"op\":\"skip\",\"reason\":\"no CUDA device\"}\n");
        return 77;
    }
    bnc_cuda_device_name(name, sizeof name, &err);
    double rd = 0, cp = 0;
    if (bnc_cuda_bandwidth((size_t)1 << 30, &rd, &cp, &err)) {
        fprintf(stderr, "cuda bandwidth: %s\n", err.msg);
        return 1;
    }
    printf("{\"bench\":\"cuda_gemv\",\"op\":\"bandwidth\",\"device\":\"%s\",\"bytes\":%zu,"
           "\"read_gbps\":%.1f,\"memcpy_gbps\":%.1f}\n",
           name, (size_t)1 << 30, rd, cp);
    const char *schemes[] = {"bitnet", "bitnet-row", "tq2_0"};
    const int64_t shapes[][2] = {
        {4096, 4096}, {11008, 4096}, {4096, 11008}, {16384, 16384}, {37, 300}};
    const int64_t batches[] = {1, 8};
    int bad = 0;
    for (size_t si = 0; si < 3; si++)
        for (size_t h = 0; h < sizeof shapes / sizeof shapes[0]; h++)
            for (size_t bi = 0; bi < 2; bi++) {
                int64_t rows = shapes[h][0], cols = shapes[h][1], batch = batches[bi];
                const bnc_scheme *row = bnc_scheme_find(schemes[si]);
                if (cols % row->block) continue;
                if ((quick || batch > 1) && rows * cols > 4096 * 11008) continue;
                size_t wn;
                uint8_t *w = weights(row, rows, cols, &wn, &err);
                bnc_act *a;
                if (!w || bnc_act_new(batch, cols, &a, &err)) {
                    fprintf(stderr, "setup: %s\n", err.msg);
                    return 1;
                }
                float *x = malloc((size_t)(batch * cols) * sizeof *x);
                float *ref = malloc((size_t)(batch * rows) * sizeof *ref);
                float *y = malloc((size_t)(batch * rows) * sizeof *y);
                fill(x, batch * cols, 5 + bi);
                if (bnc_act_quantize(a, x, &err) ||
                    bnc_gemv(row, NULL, w, wn, rows, a, ref, bnc_isa_best(), NULL, &err)) {
                    fprintf(stderr, "cpu: %s\n", err.msg);
                    return 1;
                }
                /* copies so that the weights exceed the L2 (50 MiB): 512 MiB */
                int copies = (int)((512u << 20) / wn);
                copies = copies < 1 ? 1 : copies > 64 ? 64 : copies;
                double sec;
                if (bnc_cuda_gemv(row, w, wn, rows, a, y, copies, quick ? 3 : 10, &sec, &err)) {
                    fprintf(stderr, "cuda: %s\n", err.msg);
                    return 1;
                }
                int64_t mism = 0;
                double maxd = 0;
                for (int64_t i = 0; i < batch * rows; i++)
                    if (memcmp(&y[i], &ref[i], sizeof *y)) {
                        mism++;
                        double dd = fabs((double)y[i] - ref[i]);
                        maxd = dd > maxd ? dd : maxd;
                    }
                bad += mism != 0;
                double gbps = (double)wn / sec / 1e9;
                printf(
                    "{\"bench\":\"cuda_gemv\",\"op\":\"gemv\",\"scheme\":\"%s\",\"device\":\"%s\","
                    "\"rows\":%lld,\"cols\":%lld,\"batch\":%lld,\"bytes\":%zu,\"copies\":%d,"
                    "\"us\":%.2f,\"gbps\":%.1f,\"read_gbps\":%.1f,\"ratio\":%.3f,"
                    "\"memcpy_gbps\":%.1f,\"ratio_memcpy\":%.3f,\"mismatches\":%lld,"
                    "\"max_abs_diff\":%.3g}\n",
                    schemes[si], name, (long long)rows, (long long)cols, (long long)batch, wn,
                    copies, sec * 1e6, gbps, rd, gbps / rd, cp, gbps / cp, (long long)mism, maxd);
                fflush(stdout);
                free(w);
                free(x);
                free(ref);
                free(y);
                bnc_act_free(a);
            }
    printf("{\"bench\":\"cuda_gemv\",\"op\":\"summary\",\"device\":\"%s\",\"failed_cases\":%d}\n",
           name, bad);
    return bad ? 1 : 0;
}
