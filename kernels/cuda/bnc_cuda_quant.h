/* GPU quantize kernels for the scheme table's bitnet (tensor, row and group
 * absmean), tq2_0, tq1_0, q8_0, q4_0 and f16: the bytes are identical to
 * the CPU table's quantize (itself byte-identical to llama.cpp's for the
 * ggml types). Identity by construction: every float operation is the
 * CPU scalar code's, written with explicit round-to-nearest intrinsics
 * (no FMA contraction), and the absmean sums are the CPU's 16 double lanes
 * in the same order (one GPU thread per lane), combined in the same order.
 * Built only when CMake found CUDA. */
#ifndef BNC_CUDA_QUANT_H
#define BNC_CUDA_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when scheme s has a GPU quantizer here. */
int bnc_cuda_quant_supported(const bnc_scheme *s);

/* Timings of one call (seconds): host to device, kernels, device to host,
 * and the whole call. */
typedef struct bnc_cuda_quant_times {
    double h2d, kernels, d2h, total;
} bnc_cuda_quant_times;

/* Quantizes x (rows x cols f32, host memory) with scheme s and params p on
 * the current CUDA device into dst (cap bytes, host), sets *written. The
 * input streams to the device through two pinned staging buffers on two
 * streams (copy of slab k+1 overlaps the transfer of slab k). times may be
 * NULL. BNC_ENOTSUP for a scheme without a GPU quantizer or no device;
 * BNC_EINVAL for a shape the scheme rejects (same message as the CPU);
 * BNC_ERANGE for a non-finite input or a scale fp16 cannot hold: the CPU
 * quantizer is run then to name the first offending index, as the CPU
 * path would; BNC_ENET naming the CUDA call and the device on a CUDA
 * failure. */
int bnc_cuda_quantize(const bnc_scheme *s, const bnc_qparams *p, const float *x, int64_t rows,
                      int64_t cols, void *dst, size_t cap, size_t *written,
                      bnc_cuda_quant_times *times, bnc_err *err);

/* A reusable context: device buffers grown on demand, two pinned staging
 * buffers and two streams, for many calls (a model's tensors). Uses the
 * current CUDA device. BNC_ENOTSUP without a device, BNC_ENET on a CUDA
 * failure. */
typedef struct bnc_cuda_qctx bnc_cuda_qctx;
int bnc_cuda_qctx_new(bnc_cuda_qctx **out, bnc_err *err);
void bnc_cuda_qctx_free(bnc_cuda_qctx *q);
/* bnc_cuda_quantize through q. */
int bnc_cuda_quantize_ctx(bnc_cuda_qctx *q, const bnc_scheme *s, const bnc_qparams *p,
                          const float *x, int64_t rows, int64_t cols, void *dst, size_t cap,
                          size_t *written, bnc_cuda_quant_times *times, bnc_err *err);
/* Selects the CUDA device of node-local rank local_rank (local_rank modulo
 * the devices) and writes its index and name. BNC_ENOTSUP without one. */
int bnc_cuda_select_device(int local_rank, int *device, char *name, size_t n, bnc_err *err);

/* Host-to-device bandwidth from pinned memory, measured now over bytes
 * (GB/s). */
int bnc_cuda_h2d_bandwidth(size_t bytes, double *gbps, bnc_err *err);

#ifdef __cplusplus
}
#endif

#endif
