/* The GPU side of model quantization (bnc quantize --device gpu, and the
 * kinds with resources {gpu: 1}): picks this rank's GPU by node-local rank
 * and plugs the CUDA quantizers into bnc_quant_opts.device. A slab the GPU
 * cannot take (a scheme without a GPU quantizer) is done on the CPU with a
 * log line; the bytes are the same either way. Without CUDA in the build
 * bnc_gpu_quant_new fails with BNC_ENOTSUP. */
#ifndef BNC_GPU_QUANT_H
#define BNC_GPU_QUANT_H

#include <stdio.h>

#include "bnc_err.h"
#include "bnc_quantize.h"

typedef struct bnc_gpu_quant bnc_gpu_quant;

/* rank and local_rank name this process in messages and choose its GPU.
 * log (may be NULL) receives the fallback lines. */
int bnc_gpu_quant_new(int rank, int local_rank, FILE *log, bnc_gpu_quant **out, bnc_err *err);
void bnc_gpu_quant_free(bnc_gpu_quant *g);
/* Sets o->device and o->device_ctx to g. */
void bnc_gpu_quant_attach(bnc_gpu_quant *g, bnc_quant_opts *o);
/* Totals of this rank: f32 bytes quantized on the GPU, seconds (upload,
 * kernels, download), slabs done on the CPU, the device and its name. */
typedef struct bnc_gpu_quant_stats {
    double f32_bytes, seconds, h2d_seconds;
    long slabs_gpu, slabs_cpu;
    int device;
    char name[128];
} bnc_gpu_quant_stats;
void bnc_gpu_quant_stats_get(const bnc_gpu_quant *g, bnc_gpu_quant_stats *s);
/* Host-to-device bandwidth of this rank's GPU from pinned memory, measured
 * now (GB/s). */
int bnc_gpu_quant_h2d(bnc_gpu_quant *g, double *gbps, bnc_err *err);

/* For task kinds on a GPU lane (ctx->gpu >= 0): quantizes x with scheme s
 * on CUDA device `device`, sets *seconds (upload, kernels, download).
 * BNC_ENOTSUP without CUDA or that device, or for a scheme with no GPU
 * quantizer: the caller then quantizes on the CPU. */
int bnc_gpu_quantize_on(int device, const bnc_scheme *s, const bnc_qparams *p, const float *x,
                        int64_t rows, int64_t cols, void *dst, size_t cap, size_t *written,
                        double *seconds, bnc_err *err);

#endif
