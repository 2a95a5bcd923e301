/* CUDA GEMV for the bitnet 2-bit layouts (bitnet, bitnet-row) and tq2_0
 * against int8 activations (one warp per row, dp4a). Built only when CMake
 * found CUDA (BNC_HAVE_CUDA). Integer sums are exact and the float
 * operations follow the scalar reference's order without contraction, so
 * results equal bnc_gemv(..., BNC_ISA_SCALAR, ...) bitwise. */
#ifndef BNC_CUDA_GEMV_H
#define BNC_CUDA_GEMV_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_gemv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices (0 when none or no driver). */
int bnc_cuda_device_count(void);
/* Name of device 0 into buf. 0 ok, BNC_ENOTSUP without a device. */
int bnc_cuda_device_name(char *buf, size_t n, bnc_err *err);

/* Runs the GEMV on device 0: uploads `copies` copies of w (wbytes each),
 * the activations and their sums, runs one call per copy in turn `iters`
 * times after one warm-up round, downloads y from the last call, and
 * reports the mean seconds per call (CUDA events). s: the row of
 * "bitnet", "bitnet-row" or "tq2_0". BNC_ENOTSUP for another scheme or no device,
 * BNC_EFORMAT when wbytes does not match, BNC_ENOMEM, BNC_EINTERNAL with
 * the CUDA error string. */
int bnc_cuda_gemv(const bnc_scheme *s, const void *w, size_t wbytes, int64_t rows, const bnc_act *a,
                  float *y, int copies, int iters, double *sec_per_call, bnc_err *err);

/* Device bandwidth measured now on `bytes` bytes: a streaming read kernel
 * (*read_gbps, bytes read / s) and cudaMemcpy device to device
 * (*copy_gbps, bytes read + bytes written / s). */
int bnc_cuda_bandwidth(size_t bytes, double *read_gbps, double *copy_gbps, bnc_err *err);

#ifdef __cplusplus
}
#endif

#endif
