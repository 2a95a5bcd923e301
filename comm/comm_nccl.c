/* The NCCL backend: device buffers, one stream per communicator, the
 * communicator bootstrapped over MPI (rank 0's ncclUniqueId broadcast), one
 * GPU per rank chosen by node-local rank. Built only with NCCL. */
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "comm_impl.h"

static int cuda_fail(bnc_comm *c, const char *call, cudaError_t e, bnc_err *err)
{
    return bnc_err_set(err, BNC_ENET, "%s failed on rank %d (device %d): %s", call, c->rank,
                       c->device, cudaGetErrorString(e));
}

static int nccl_fail(bnc_comm *c, const char *call, ncclResult_t r, bnc_err *err)
{
    return bnc_err_set(err, BNC_ENET, "%s failed on rank %d (device %d): %s", call, c->rank,
                       c->device, ncclGetErrorString(r));
}

static ncclDataType_t nccl_type(bnc_dtype t)
{
    switch (t) {
    case BNC_DT_U8:
        return ncclUint8;
    case BNC_DT_I32:
        return ncclInt32;
    case BNC_DT_F32:
        return ncclFloat32;
    case BNC_DT_F64:
        return ncclFloat64;
    }
    return ncclFloat32;
}

int bnc_comm_nccl_init(bnc_comm *c, bnc_err *err)
{
    MPI_Comm node;
    int local = 0,
        rc = MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS) return bnc_comm_mpi_fail(c, "MPI_Comm_split_type", rc, err);
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
        (e == cudaSuccess && ndev < 1))
        return bnc_err_set(err, BNC_ENOTSUP, "rank %d: no CUDA device for the NCCL backend (%s)",
                           c->rank, cudaGetErrorString(e));
    if (e != cudaSuccess) return cuda_fail(c, "cudaGetDeviceCount", e, err);
    c->device = local % ndev;
    if ((e = cudaSetDevice(c->device)) != cudaSuccess) return cuda_fail(c, "cudaSetDevice", e, err);
    cudaStream_t s;
    if ((e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)) != cudaSuccess)
        return cuda_fail(c, "cudaStreamCreate", e, err);
    ncclUniqueId id;
    ncclResult_t r = ncclSuccess;
    if (c->rank == 0) r = ncclGetUniqueId(&id);
    /* Every rank must learn whether rank 0 has an id before waiting on it. */
    int ok = r == ncclSuccess;
    MPI_Bcast(&ok, 1, MPI_INT, 0, c->mpi);
    if (!ok) {
        cudaStreamDestroy(s);
        return c->rank == 0 ? nccl_fail(c, "ncclGetUniqueId", r, err)
                            : bnc_err_set(err, BNC_ENET,
                                          "rank %d: rank 0 could not make an NCCL id", c->rank);
    }
    rc = MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, c->mpi);
    if (rc != MPI_SUCCESS) {
        cudaStreamDestroy(s);
        return bnc_comm_mpi_fail(c, "MPI_Bcast(ncclUniqueId)", rc, err);
    }
    ncclComm_t nc;
    if ((r = ncclCommInitRank(&nc, c->size, id, c->rank)) != ncclSuccess) {
        cudaStreamDestroy(s);
        return nccl_fail(c, "ncclCommInitRank", r, err);
    }
    c->nccl = nc;
    c->stream = s;
    return 0;
}

void bnc_comm_nccl_fini(bnc_comm *c)
{
    if (c->nccl) ncclCommDestroy((ncclComm_t)c->nccl);
    if (c->stream) cudaStreamDestroy((cudaStream_t)c->stream);
}

int bnc_comm_nccl_sync(bnc_comm *c, bnc_err *err)
{
    cudaError_t e = cudaStreamSynchronize((cudaStream_t)c->stream);
    return e == cudaSuccess ? 0 : cuda_fail(c, "cudaStreamSynchronize", e, err);
}

int bnc_comm_nccl_allreduce(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                            bnc_redop op, bnc_err *err)
{
    ncclResult_t r =
        ncclAllReduce(send, recv, count, nccl_type(t), op == BNC_OP_MAX ? ncclMax : ncclSum,
                      (ncclComm_t)c->nccl, (cudaStream_t)c->stream);
    if (r != ncclSuccess) return nccl_fail(c, "ncclAllReduce", r, err);
    return bnc_comm_nccl_sync(c, err);
}

int bnc_comm_nccl_allgather(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                            bnc_err *err)
{
    ncclResult_t r = ncclAllGather(send, recv, count, nccl_type(t), (ncclComm_t)c->nccl,
                                   (cudaStream_t)c->stream);
    if (r != ncclSuccess) return nccl_fail(c, "ncclAllGather", r, err);
    return bnc_comm_nccl_sync(c, err);
}

int bnc_comm_nccl_bcast(bnc_comm *c, void *buf, size_t count, bnc_dtype t, int root, bnc_err *err)
{
    ncclResult_t r = ncclBroadcast(buf, buf, count, nccl_type(t), root, (ncclComm_t)c->nccl,
                                   (cudaStream_t)c->stream);
    if (r != ncclSuccess) return nccl_fail(c, "ncclBroadcast", r, err);
    return bnc_comm_nccl_sync(c, err);
}

int bnc_comm_nccl_buf_new(bnc_comm *c, size_t bytes, void **out, bnc_err *err)
{
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    return e == cudaSuccess ? 0 : cuda_fail(c, "cudaMalloc", e, err);
}

void bnc_comm_nccl_buf_free(bnc_comm *c, void *buf)
{
    (void)c;
    if (buf) cudaFree(buf);
}

int bnc_comm_nccl_copy(bnc_comm *c, void *dst, const void *src, size_t bytes, int to_device,
                       bnc_err *err)
{
    cudaError_t e =
        cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? 0 : cuda_fail(c, "cudaMemcpy", e, err);
}
