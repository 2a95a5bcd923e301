/* bnc-cuda-quant-check: the GPU quantizers against the CPU scheme table,
 * byte for byte, for every scheme with a GPU quantizer and shapes that
 * exercise the edges (bitnet rows that are not a multiple of 128, tensors
 * of more than one 65536-element chunk, groups of 256, one-block tensors),
 * then GB/s of f32 input for a large tensor next to the host-to-device
 * bandwidth measured in the same run. One JSON line per case; exit 1 on
 * any difference, 77 without a CUDA device. --quick: the small shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_cuda_quant.h"
#include "bnc_kernels.h"
#include "bnc_rng.h"

#include <cuda_runtime_api.h>

typedef struct shape {
    int64_t rows, cols, group;
} shape;

static int one(const char *scheme, shape sh, int big, int *fails)
{
    const bnc_scheme *s = bnc_scheme_find(scheme);
    if (!s) {
        printf("{\"check\":\"cuda_quant\",\"scheme\":\"%s\",\"error\":\"not in the table\"}\n",
               scheme);
        (*fails)++;
        return 0;
    }
    bnc_qparams p = {.group = sh.group};
    size_t need = s->qsize(sh.rows, sh.cols, &p);
    if (need == 0) return 0; /* a shape this scheme does not take */
    int64_t n = sh.rows * sh.cols;
    float *x = malloc((size_t)n * sizeof(float));
    uint8_t *a = malloc(need), *b = malloc(need);
    if (!x || !a || !b) {
        free(x), free(a), free(b);
        return -1;
    }
    bnc_rng g;
    bnc_rng_init(&g, 42, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) /* heavy tails, like LLM weights */
        x[i] = (float)(bnc_rng_normal(&g) * (i % 97 == 0 ? 8.0 : 0.02));
    bnc_err err = {0};
    size_t wa = 0, wb = 0;
    int rc = s->quantize(x, sh.rows, sh.cols, &p, a, need, &wa, &err);
    bnc_cuda_quant_times t = {0};
    int rg = rc ? rc : bnc_cuda_quantize(s, &p, x, sh.rows, sh.cols, b, need, &wb, &t, &err);
    size_t diff = 0, first = (size_t)-1;
    if (!rc && !rg)
        for (size_t i = 0; i < need; i++)
            if (a[i] != b[i]) {
                if (first == (size_t)-1) first = i;
                diff++;
            }
    int ok = !rc && !rg && wa == wb && diff == 0;
    if (!ok) (*fails)++;
    printf("{\"check\":\"cuda_quant\",\"scheme\":\"%s\",\"rows\":%lld,\"cols\":%lld,\"group\":%lld,"
           "\"bytes\":%zu,\"bytes_differing\":%zu,\"first_difference\":%lld,\"ok\":%s,"
           "\"gpu_s\":%.6f,\"h2d_s\":%.6f,\"kernel_s\":%.6f,\"kernel_GBps\":%.2f%s%s%s}\n",
           scheme, (long long)sh.rows, (long long)sh.cols, (long long)sh.group, need, diff,
           first == (size_t)-1 ? -1LL : (long long)first, ok ? "true" : "false", t.total, t.h2d,
           t.kernels, t.kernels > 0 ? (double)n * 4 / t.kernels / 1e9 : 0.0,
           rc || rg ? ",\"error\":\"" : "", rc || rg ? err.msg : "", rc || rg ? "\"" : "");
    (void)big;
    free(x);
    free(a);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("bnc-cuda-quant-check: no CUDA device: skipping\n");
        return 77;
    }
    static const char *schemes[] = {"bitnet", "bitnet-row", "bitnet-group", "tq2_0",
                                    "tq1_0",  "q8_0",       "q4_0",         "f16"};
    shape small[] = {{1, 256, 0}, {7, 300, 0},     {3, 4096, 256}, {64, 1024, 0},
                     {5, 33, 0},  {300, 512, 128}, {1, 70000, 0},  {129, 2048, 0}};
    shape large[] = {{4096, 4096, 0}, {11008, 4096, 0}};
    int fails = 0;
    for (size_t si = 0; si < sizeof schemes / sizeof *schemes; si++) {
        for (size_t k = 0; k < sizeof small / sizeof *small; k++)
            if (one(schemes[si], small[k], 0, &fails)) return 1;
        if (!quick)
            for (size_t k = 0; k < sizeof large / sizeof *large; k++)
                if (one(schemes[si], large[k], 1, &fails)) return 1;
    }
    double h2d = 0;
    bnc_err err = {0};
    if (!bnc_cuda_h2d_bandwidth((size_t)256 << 20, &h2d, &err))
        printf("{\"check\":\"cuda_h2d\",\"pinned_GBps\":%.2f}\n", h2d);
    printf("%s: %d cases differ from the CPU bytes\n", fails ? "FAIL" : "ok", fails);
    return fails ? 1 : 0;
}
