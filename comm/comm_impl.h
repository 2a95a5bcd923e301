/* Internal to comm/: the communicator and the NCCL backend's entry points. */
#ifndef BNC_COMM_IMPL_H
#define BNC_COMM_IMPL_H

#include "bnc_comm.h"

struct bnc_comm {
    bnc_comm_backend backend;
    MPI_Comm mpi;
    int rank, size;
    int device;   /* CUDA device (NCCL), -1 otherwise */
    void *nccl;   /* ncclComm_t */
    void *stream; /* cudaStream_t */
};

/* Names the MPI call, the rank and MPI's reason. */
int bnc_comm_mpi_fail(bnc_comm *c, const char *call, int rc, bnc_err *err);

#ifdef BNC_HAVE_NCCL
int bnc_comm_nccl_init(bnc_comm *c, bnc_err *err);
void bnc_comm_nccl_fini(bnc_comm *c);
int bnc_comm_nccl_allreduce(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                            bnc_redop op, bnc_err *err);
int bnc_comm_nccl_allgather(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                            bnc_err *err);
int bnc_comm_nccl_bcast(bnc_comm *c, void *buf, size_t count, bnc_dtype t, int root, bnc_err *err);
int bnc_comm_nccl_sync(bnc_comm *c, bnc_err *err);
int bnc_comm_nccl_buf_new(bnc_comm *c, size_t bytes, void **out, bnc_err *err);
void bnc_comm_nccl_buf_free(bnc_comm *c, void *buf);
/* to_device: host -> device, else device -> host. */
int bnc_comm_nccl_copy(bnc_comm *c, void *dst, const void *src, size_t bytes, int to_device,
                       bnc_err *err);
#endif

#endif
