// GPU quantize kernels (see bnc_cuda_quant.h): one thread per ggml block,
// one thread per absmean lane and per 128-weight bitnet block. Every float
// operation is the CPU scalar code's, with round-to-nearest intrinsics so
// nvcc cannot contract a multiply and an add into an FMA.
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include "bnc_cuda_quant.h"
}

namespace
{

enum kind { K_NONE, K_BITNET_T, K_BITNET_R, K_BITNET_G, K_TQ2, K_TQ1, K_Q8, K_Q4, K_F16 };

kind kind_of(const bnc_scheme *s)
{
    static const struct {
        const char *name;
        kind k;
    } map[] = {{"bitnet", K_BITNET_T},
               {"bitnet-row", K_BITNET_R},
               {"bitnet-group", K_BITNET_G},
               {"tq2_0", K_TQ2},
               {"tq1_0", K_TQ1},
               {"q8_0", K_Q8},
               {"q4_0", K_Q4},
               {"f16", K_F16}};
    if (!s || !s->name) return K_NONE;
    for (const auto &m : map)
        if (!strcmp(s->name, m.name)) return m.k;
    return K_NONE;
}

const int64_t CHUNK = 65536; // BNC_BITNET_CHUNK: elements per partial sum of the tensor mean
const float EPS = 1e-5f;     // BitNet's epsilon in 1 / (gamma + eps)

// bnc_f32_to_f16 (kernels' fp16 converter), the same bit operations.
__device__ uint16_t f32_to_f16(float f)
{
    uint32_t x = __float_as_uint(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)
        return (uint16_t)(sign | 0x7c00u |
                          (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) {
        uint32_t r = ax - (112u << 23);
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    uint32_t e = ax >> 23;
    if (e == 0) return (uint16_t)sign;
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;
    if (shift > 24) return (uint16_t)sign;
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

__device__ bool f16_finite(uint16_t h)
{
    return (h & 0x7c00u) != 0x7c00u;
}

__device__ void st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

// One thread per (segment, lane): lane l of a segment sums |x| of the
// segment's elements l, l + 16, ... in order, in double (the CPU's lanes).
// Segment s starts at start(s) and has len(s) elements: tensor mode
// segments are the CHUNK-element chunks of the flat tensor; group mode
// segments are (row, group) pairs.
__global__ void k_lanes(const float *__restrict__ x, int64_t nseg, int64_t rows, int64_t cols,
                        int64_t group, int tensor_mode, int64_t n, double *__restrict__ lanes)
{
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= nseg * 16) return;
    int64_t s = t / 16, l = t % 16, start, len;
    if (tensor_mode) {
        start = s * CHUNK;
        len = n - start < CHUNK ? n - start : CHUNK;
    } else {
        int64_t ng = (cols + group - 1) / group, r = s / ng, g = s % ng;
        start = r * cols + g * group;
        len = cols - g * group < group ? cols - g * group : group;
    }
    double acc = 0;
    for (int64_t i = l; i < len; i += 16)
        acc = __dadd_rn(acc, fabs((double)x[start + i]));
    lanes[t] = acc;
}

// Group mode: gamma of each segment = (float)(sum of its 16 lanes in lane
// order / len), as the CPU's absum and pass_rows.
__global__ void k_group_gamma(const double *__restrict__ lanes, int64_t nseg, int64_t cols,
                              int64_t group, float *__restrict__ gamma, int *__restrict__ bad)
{
    int64_t s = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= nseg) return;
    double sum = 0;
    for (int l = 0; l < 16; l++)
        sum = __dadd_rn(sum, lanes[s * 16 + l]);
    int64_t ng = (cols + group - 1) / group, g = s % ng;
    int64_t len = cols - g * group < group ? cols - g * group : group;
    float gm = (float)__ddiv_rn(sum, (double)len);
    gamma[s] = gm;
    if (!isfinite(gm)) atomicOr(bad, 1);
}

// Tensor mode: chunk sums (lanes in order), then chunks in order, all on one
// thread (nchunks is n / 65536: small).
__global__ void k_tensor_gamma(const double *__restrict__ lanes, int64_t nchunks, int64_t n,
                               float *__restrict__ gamma, int *__restrict__ bad)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double sum = 0;
    for (int64_t c = 0; c < nchunks; c++) {
        double cs = 0;
        for (int l = 0; l < 16; l++)
            cs = __dadd_rn(cs, lanes[c * 16 + l]);
        sum = __dadd_rn(sum, cs);
    }
    if (!isfinite(sum)) atomicOr(bad, 1);
    gamma[0] = (float)__ddiv_rn(sum, (double)n);
}

// One thread per (row, 128-weight block): 32 bytes of 2-bit codes, element
// e of the block in byte e % 32, bits 2 (e / 32) (I2_S), code t + 1 with
// t = clip(round(x / (gamma + eps)), -1, 1); padding past the row codes 1.
__global__ void k_bitnet_pack(const float *__restrict__ x, int64_t rows, int64_t cols,
                              int64_t group, int tensor_mode, const float *__restrict__ gamma,
                              uint8_t *__restrict__ codes)
{
    int64_t nb = (cols + 127) / 128;
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= rows * nb) return;
    int64_t r = t / nb, b = t % nb;
    float gm = tensor_mode ? gamma[0] : gamma[r * ((cols + group - 1) / group) + b * 128 / group];
    float inv = __fdiv_rn(1.0f, __fadd_rn(gm, EPS));
    const float *xr = x + r * cols + b * 128;
    int64_t n = cols - b * 128 < 128 ? cols - b * 128 : 128;
    uint8_t out[32];
    for (int i = 0; i < 32; i++)
        out[i] = 0;
    for (int e = 0; e < 128; e++) {
        int q = 0;
        if (e < n) {
            float v = roundf(__fmul_rn(xr[e], inv));
            q = v > 1.0f ? 1 : (v < -1.0f ? -1 : (int)v);
        }
        out[e % 32] |= (uint8_t)((q + 1) << (2 * (e / 32)));
    }
    uint8_t *o = codes + r * (nb * 32) + b * 32;
    for (int i = 0; i < 32; i++)
        o[i] = out[i];
}

__device__ bool block_amax(const float *xb, int n, float *amax, int *bad)
{
    float m = 0.0f;
    for (int j = 0; j < n; j++) {
        if (!isfinite(xb[j])) {
            atomicOr(bad, 1);
            return false;
        }
        m = fmaxf(m, fabsf(xb[j]));
    }
    *amax = m;
    return true;
}

__global__ void k_q8_0(const float *__restrict__ x, int64_t nblocks, uint8_t *__restrict__ out,
                       int *__restrict__ bad)
{
    int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    const float *xb = x + b * 32;
    float amax;
    if (!block_amax(xb, 32, &amax, bad)) return;
    float d = __fdiv_rn(amax, 127.0f);
    float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
    uint16_t dh = f32_to_f16(d);
    if (!f16_finite(dh)) atomicOr(bad, 1);
    uint8_t *blk = out + b * 34;
    st16(blk, dh);
    for (int j = 0; j < 32; j++)
        blk[2 + j] = (uint8_t)(int8_t)roundf(__fmul_rn(xb[j], id));
}

__global__ void k_q4_0(const float *__restrict__ x, int64_t nblocks, uint8_t *__restrict__ out,
                       int *__restrict__ bad)
{
    int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    const float *xb = x + b * 32;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (!isfinite(xb[j])) {
            atomicOr(bad, 1);
            return;
        }
        if (amax < fabsf(xb[j])) {
            amax = fabsf(xb[j]);
            max = xb[j];
        }
    }
    float d = __fdiv_rn(max, -8.0f);
    float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
    uint16_t dh = f32_to_f16(d);
    if (!f16_finite(dh)) atomicOr(bad, 1);
    uint8_t *blk = out + b * 18;
    st16(blk, dh);
    for (int j = 0; j < 16; j++) {
        int c0 = (int)(int8_t)__fadd_rn(__fmul_rn(xb[j], id), 8.5f);
        int c1 = (int)(int8_t)__fadd_rn(__fmul_rn(xb[j + 16], id), 8.5f);
        uint8_t q0 = (uint8_t)(c0 < 15 ? c0 : 15);
        uint8_t q1 = (uint8_t)(c1 < 15 ? c1 : 15);
        blk[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

__device__ unsigned trit(float x, float id)
{
    return (unsigned)((long)roundf(__fmul_rn(x, id)) + 1);
}

__device__ uint8_t frac_byte(unsigned v)
{
    return (uint8_t)((v * 256u + 242u) / 243u);
}

__global__ void k_tq2_0(const float *__restrict__ x, int64_t nblocks, uint8_t *__restrict__ out,
                        int *__restrict__ bad)
{
    int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    const float *xb = x + b * 256;
    float amax;
    if (!block_amax(xb, 256, &amax, bad)) return;
    float d = amax, id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
    uint16_t dh = f32_to_f16(d);
    if (!f16_finite(dh)) atomicOr(bad, 1);
    uint8_t *blk = out + b * 66;
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 32; m++) {
            unsigned q = 0;
            for (int k = 0; k < 4; k++)
                q |= (trit(xb[128 * c + m + 32 * k], id) & 3u) << (2 * k);
            blk[32 * c + m] = (uint8_t)q;
        }
    st16(blk + 64, dh);
}

__global__ void k_tq1_0(const float *__restrict__ x, int64_t nblocks, uint8_t *__restrict__ out,
                        int *__restrict__ bad)
{
    int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    const float *xb = x + b * 256;
    float amax;
    if (!block_amax(xb, 256, &amax, bad)) return;
    float d = amax, id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
    uint16_t dh = f32_to_f16(d);
    if (!f16_finite(dh)) atomicOr(bad, 1);
    uint8_t *blk = out + b * 54;
    for (int m = 0; m < 32; m++) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++)
            v = v * 3 + trit(xb[m + 32 * k], id);
        blk[m] = frac_byte(v);
    }
    for (int m = 0; m < 16; m++) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++)
            v = v * 3 + trit(xb[160 + m + 16 * k], id);
        blk[32 + m] = frac_byte(v);
    }
    for (int j = 0; j < 4; j++) {
        unsigned v = 0;
        for (int k = 0; k < 4; k++)
            v = v * 3 + trit(xb[240 + j + 4 * k], id);
        blk[48 + j] = frac_byte(v * 3);
    }
    st16(blk + 52, dh);
}

__global__ void k_f16(const float *__restrict__ x, int64_t n, uint8_t *__restrict__ out,
                      int *__restrict__ bad)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint16_t h = f32_to_f16(x[i]);
    if (!isfinite(x[i]) || !f16_finite(h)) atomicOr(bad, 1);
    st16(out + 2 * i, h);
}

unsigned grid(int64_t n, int threads)
{
    return (unsigned)((n + threads - 1) / threads);
}

double now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cuda_fail(bnc_err *err, const char *call, cudaError_t e)
{
    int dev = -1;
    cudaGetDevice(&dev);
    return bnc_err_set(err, BNC_ENET, "%s failed on device %d: %s", call, dev,
                       cudaGetErrorString(e));
}

} // namespace

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            rc = cuda_fail(err, #call, e_);                                                        \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

extern "C" int bnc_cuda_quant_supported(const bnc_scheme *s)
{
    return kind_of(s) != K_NONE;
}

extern "C" int bnc_cuda_h2d_bandwidth(size_t bytes, double *gbps, bnc_err *err)
{
    int rc = 0;
    void *h = NULL, *d = NULL;
    cudaEvent_t a = NULL, b = NULL;
    float ms = 0;
    CK(cudaMallocHost(&h, bytes));
    CK(cudaMalloc(&d, bytes));
    memset(h, 1, bytes);
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice)); // warm-up
    CK(cudaEventRecord(a));
    for (int i = 0; i < 5; i++)
        CK(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice));
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaEventElapsedTime(&ms, a, b));
    *gbps = 5.0 * (double)bytes / (ms * 1e-3) / 1e9;
done:
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
    cudaFreeHost(h);
    cudaFree(d);
    return rc;
}

struct bnc_cuda_qctx {
    float *dx;
    size_t cap_x;
    uint8_t *dout;
    size_t cap_out;
    double *dlanes;
    size_t cap_lanes;
    float *dgamma;
    size_t cap_gamma;
    int *dbad;
    void *stage[2];
    cudaStream_t st[2];
};

static const size_t SLAB = (size_t)64 << 20;

extern "C" void bnc_cuda_qctx_free(bnc_cuda_qctx *q)
{
    if (!q) return;
    for (int i = 0; i < 2; i++) {
        if (q->st[i]) cudaStreamDestroy(q->st[i]);
        if (q->stage[i]) cudaFreeHost(q->stage[i]);
    }
    cudaFree(q->dx);
    cudaFree(q->dout);
    cudaFree(q->dlanes);
    cudaFree(q->dgamma);
    cudaFree(q->dbad);
    free(q);
}

extern "C" int bnc_cuda_qctx_new(bnc_cuda_qctx **out, bnc_err *err)
{
    *out = NULL;
    int ndev = 0, rc = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1)
        return bnc_err_set(err, BNC_ENOTSUP, "no CUDA device");
    bnc_cuda_qctx *q = (bnc_cuda_qctx *)calloc(1, sizeof *q);
    if (!q) return bnc_err_set(err, BNC_ENOMEM, "GPU quantizer: out of memory");
    CK(cudaMalloc((void **)&q->dbad, sizeof(int)));
    for (int i = 0; i < 2; i++) {
        CK(cudaMallocHost(&q->stage[i], SLAB));
        CK(cudaStreamCreateWithFlags(&q->st[i], cudaStreamNonBlocking));
    }
    *out = q;
    return 0;
done:
    bnc_cuda_qctx_free(q);
    return rc;
}

extern "C" int bnc_cuda_select_device(int local_rank, int *device, char *name, size_t n,
                                      bnc_err *err)
{
    int ndev = 0, rc = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev < 1)
        return bnc_err_set(err, BNC_ENOTSUP, "no CUDA device (%s)",
                           e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    *device = local_rank % ndev;
    cudaDeviceProp prop;
    CK(cudaSetDevice(*device));
    CK(cudaGetDeviceProperties(&prop, *device));
    snprintf(name, n, "%s", prop.name);
done:
    return rc;
}

/* Grows a device buffer to at least bytes. */
static int grow(void **p, size_t *cap, size_t bytes, bnc_err *err)
{
    if (*cap >= bytes) return 0;
    cudaFree(*p);
    *p = NULL;
    *cap = 0;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) return cuda_fail(err, "cudaMalloc", e);
    *cap = bytes;
    return 0;
}

extern "C" int bnc_cuda_quantize_ctx(bnc_cuda_qctx *q, const bnc_scheme *s, const bnc_qparams *p,
                                     const float *x, int64_t rows, int64_t cols, void *dst,
                                     size_t cap, size_t *written, bnc_cuda_quant_times *times,
                                     bnc_err *err)
{
    kind k = kind_of(s);
    if (k == K_NONE)
        return bnc_err_set(err, BNC_ENOTSUP, "%s: no GPU quantizer", s ? s->name : "(null)");
    /* The CPU's size check decides which shapes are valid, with its message. */
    size_t need = s->qsize(rows, cols, p);
    if (need == 0 || rows < 1 || cols < 1)
        return s->quantize(x, rows, cols, p, dst, cap, written, err);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "%s: buffer of %zu bytes, need %zu", s->name, cap,
                           need);
    int64_t n = rows * cols;
    size_t xbytes = (size_t)n * sizeof(float);
    int rc = 0, hbad = 0, tensor = k == K_BITNET_T;
    int64_t group = k == K_BITNET_R   ? cols
                    : k == K_BITNET_G ? (p && p->group > 0 ? p->group : 128)
                                      : 0;
    int64_t nseg = tensor  ? (n + CHUNK - 1) / CHUNK
                   : group ? rows * ((cols + group - 1) / group)
                           : 0;
    double t0 = now(), t1 = 0, t2 = 0;
    if ((rc = grow((void **)&q->dx, &q->cap_x, xbytes, err)) ||
        (rc = grow((void **)&q->dout, &q->cap_out, need, err)))
        return rc;
    if (nseg &&
        ((rc = grow((void **)&q->dlanes, &q->cap_lanes, (size_t)nseg * 16 * sizeof(double), err)) ||
         (rc = grow((void **)&q->dgamma, &q->cap_gamma, (size_t)nseg * sizeof(float), err))))
        return rc;
    CK(cudaMemsetAsync(q->dbad, 0, sizeof(int), q->st[0]));
    /* Upload: the host copies slab i into pinned buffer i % 2 while the DMA
     * of slab i - 1 runs on the other stream. */
    for (size_t off = 0, i = 0; off < xbytes; off += SLAB, i++) {
        size_t len = xbytes - off < SLAB ? xbytes - off : SLAB;
        int j = (int)(i % 2);
        CK(cudaStreamSynchronize(q->st[j]));
        memcpy(q->stage[j], (const char *)x + off, len);
        CK(cudaMemcpyAsync((char *)q->dx + off, q->stage[j], len, cudaMemcpyHostToDevice,
                           q->st[j]));
    }
    CK(cudaStreamSynchronize(q->st[1]));
    CK(cudaStreamSynchronize(q->st[0]));
    t1 = now();
    {
        const int T = 256;
        cudaStream_t st = q->st[0];
        if (k == K_BITNET_T || k == K_BITNET_R || k == K_BITNET_G) {
            int64_t nscale = tensor ? 1 : nseg;
            k_lanes<<<grid(nseg * 16, T), T, 0, st>>>(q->dx, nseg, rows, cols, group, tensor, n,
                                                      q->dlanes);
            if (tensor)
                k_tensor_gamma<<<1, 1, 0, st>>>(q->dlanes, nseg, n, q->dgamma, q->dbad);
            else
                k_group_gamma<<<grid(nseg, T), T, 0, st>>>(q->dlanes, nseg, cols, group, q->dgamma,
                                                           q->dbad);
            int64_t nb = (cols + 127) / 128;
            k_bitnet_pack<<<grid(rows * nb, T), T, 0, st>>>(q->dx, rows, cols, group ? group : 128,
                                                            tensor, q->dgamma, q->dout);
            /* the f32 scales follow the codes */
            CK(cudaMemcpyAsync(q->dout + rows * nb * 32, q->dgamma, (size_t)nscale * sizeof(float),
                               cudaMemcpyDeviceToDevice, st));
        } else if (k == K_Q8) {
            k_q8_0<<<grid(n / 32, T), T, 0, st>>>(q->dx, n / 32, q->dout, q->dbad);
        } else if (k == K_Q4) {
            k_q4_0<<<grid(n / 32, T), T, 0, st>>>(q->dx, n / 32, q->dout, q->dbad);
        } else if (k == K_TQ2) {
            k_tq2_0<<<grid(n / 256, T), T, 0, st>>>(q->dx, n / 256, q->dout, q->dbad);
        } else if (k == K_TQ1) {
            k_tq1_0<<<grid(n / 256, T), T, 0, st>>>(q->dx, n / 256, q->dout, q->dbad);
        } else {
            k_f16<<<grid(n, T), T, 0, st>>>(q->dx, n, q->dout, q->dbad);
        }
        CK(cudaGetLastError());
        CK(cudaStreamSynchronize(st));
    }
    t2 = now();
    CK(cudaMemcpy(&hbad, q->dbad, sizeof(int), cudaMemcpyDeviceToHost));
    if (hbad) {
        /* A non-finite value or an fp16 overflow: the CPU names it. */
        rc = s->quantize(x, rows, cols, p, dst, cap, written, err);
        if (!rc)
            rc = bnc_err_set(err, BNC_EINTERNAL, "%s: the GPU flagged a value the CPU accepts",
                             s->name);
        goto done;
    }
    CK(cudaMemcpy(dst, q->dout, need, cudaMemcpyDeviceToHost));
    *written = need;
    if (times) {
        double t3 = now();
        times->h2d = t1 - t0;
        times->kernels = t2 - t1;
        times->d2h = t3 - t2;
        times->total = t3 - t0;
    }
done:
    return rc;
}

extern "C" int bnc_cuda_quantize(const bnc_scheme *s, const bnc_qparams *p, const float *x,
                                 int64_t rows, int64_t cols, void *dst, size_t cap, size_t *written,
                                 bnc_cuda_quant_times *times, bnc_err *err)
{
    if (!bnc_cuda_quant_supported(s))
        return bnc_err_set(err, BNC_ENOTSUP, "%s: no GPU quantizer", s ? s->name : "(null)");
    bnc_cuda_qctx *q = NULL;
    int rc = bnc_cuda_qctx_new(&q, err);
    if (!rc) rc = bnc_cuda_quantize_ctx(q, s, p, x, rows, cols, dst, cap, written, times, err);
    bnc_cuda_qctx_free(q);
    return rc;
}
