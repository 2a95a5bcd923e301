/* bnc quantize --device gpu: the CUDA quantizers behind bnc_quant_opts. */
#include "bnc_gpu_quant.h"

#include <stdlib.h>
#include <string.h>

#ifdef BNC_HAVE_CUDA
#include "bnc_cuda_quant.h"
#endif

struct bnc_gpu_quant {
    int rank;
    FILE *log;
    bnc_gpu_quant_stats st;
#ifdef BNC_HAVE_CUDA
    bnc_cuda_qctx *q;
#endif
};

#ifdef BNC_HAVE_CUDA
static int device_quantize(void *ctx, const bnc_scheme *s, const bnc_qparams *p, const float *x,
                           int64_t rows, int64_t cols, void *dst, size_t cap, size_t *written,
                           bnc_err *err)
{
    bnc_gpu_quant *g = ctx;
    if (!bnc_cuda_quant_supported(s)) {
        if (g->log && g->st.slabs_cpu++ == 0)
            fprintf(g->log, "bnc quantize: rank %d: %s has no GPU quantizer; done on the CPU\n",
                    g->rank, s->name);
        return BNC_ENOTSUP;
    }
    bnc_cuda_quant_times t = {0};
    int rc = bnc_cuda_quantize_ctx(g->q, s, p, x, rows, cols, dst, cap, written, &t, err);
    if (rc == BNC_ENET)
        return bnc_err_prefix(err, "rank %d, GPU %d (%s): ", g->rank, g->st.device, g->st.name);
    if (!rc) {
        g->st.f32_bytes += (double)rows * (double)cols * 4.0;
        g->st.seconds += t.total;
        g->st.h2d_seconds += t.h2d;
        g->st.slabs_gpu++;
    }
    return rc;
}
#endif

int bnc_gpu_quant_new(int rank, int local_rank, FILE *log, bnc_gpu_quant **out, bnc_err *err)
{
    *out = NULL;
#ifdef BNC_HAVE_CUDA
    bnc_gpu_quant *g = calloc(1, sizeof *g);
    if (!g) return bnc_err_set(err, BNC_ENOMEM, "rank %d: out of memory", rank);
    g->rank = rank;
    g->log = log;
    int rc = bnc_cuda_select_device(local_rank, &g->st.device, g->st.name, sizeof g->st.name, err);
    if (!rc) rc = bnc_cuda_qctx_new(&g->q, err);
    if (rc) {
        bnc_err_prefix(err, "rank %d: --device gpu: ", rank);
        free(g);
        return rc;
    }
    *out = g;
    return 0;
#else
    (void)local_rank;
    (void)log;
    return bnc_err_set(err, BNC_ENOTSUP, "rank %d: --device gpu: this bnc was built without CUDA",
                       rank);
#endif
}

void bnc_gpu_quant_free(bnc_gpu_quant *g)
{
    if (!g) return;
#ifdef BNC_HAVE_CUDA
    bnc_cuda_qctx_free(g->q);
#endif
    free(g);
}

void bnc_gpu_quant_attach(bnc_gpu_quant *g, bnc_quant_opts *o)
{
#ifdef BNC_HAVE_CUDA
    o->device = device_quantize;
    o->device_ctx = g;
#else
    (void)g;
    (void)o;
#endif
}

void bnc_gpu_quant_stats_get(const bnc_gpu_quant *g, bnc_gpu_quant_stats *s)
{
    *s = g->st;
}

int bnc_gpu_quant_h2d(bnc_gpu_quant *g, double *gbps, bnc_err *err)
{
#ifdef BNC_HAVE_CUDA
    (void)g;
    return bnc_cuda_h2d_bandwidth((size_t)256 << 20, gbps, err);
#else
    (void)g;
    *gbps = 0;
    return bnc_err_set(err, BNC_ENOTSUP, "built without CUDA");
#endif
}

int bnc_gpu_quantize_on(int device, const bnc_scheme *s, const bnc_qparams *p, const float *x,
                        int64_t rows, int64_t cols, void *dst, size_t cap, size_t *written,
                        double *seconds, bnc_err *err)
{
#ifdef BNC_HAVE_CUDA
    if (!bnc_cuda_quant_supported(s))
        return bnc_err_set(err, BNC_ENOTSUP, "%s: no GPU quantizer", s->name);
    int dev = 0;
    char name[128];
    int rc = bnc_cuda_select_device(device, &dev, name, sizeof name, err);
    if (rc) return rc;
    bnc_cuda_quant_times t = {0};
    rc = bnc_cuda_quantize(s, p, x, rows, cols, dst, cap, written, &t, err);
    *seconds = t.total;
    return rc;
#else
    (void)device, (void)s, (void)p, (void)x, (void)rows, (void)cols, (void)dst, (void)cap;
    (void)written, (void)seconds;
    return bnc_err_set(err, BNC_ENOTSUP, "built without CUDA");
#endif
}
