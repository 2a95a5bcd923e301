/* One collective layer for every component: allreduce (sum, max),
 * allgather, broadcast and all-to-all on host buffers over MPI, or on
 * device buffers over NCCL, chosen per run. The NCCL communicator is
 * bootstrapped over MPI: rank 0 makes the ncclUniqueId and broadcasts it,
 * and each rank takes the GPU of its node-local rank (local rank modulo the
 * devices it sees).
 *
 * Every call is collective: all ranks of the communicator make it with the
 * same count, type and operation, as in MPI. Errors become bnc_err values
 * naming the call, the rank and (NCCL) the device; a failed collective
 * leaves the communicator unusable, as MPI's and NCCL's do. */
#ifndef BNC_COMM_H
#define BNC_COMM_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "bnc_err.h"

typedef enum bnc_comm_backend {
    BNC_COMM_MPI = 0,  /* host buffers */
    BNC_COMM_NCCL = 1, /* device buffers (CUDA), only where built with NCCL */
} bnc_comm_backend;

typedef enum bnc_dtype {
    BNC_DT_U8 = 0,
    BNC_DT_I32 = 1,
    BNC_DT_F32 = 2,
    BNC_DT_F64 = 3,
} bnc_dtype;

typedef enum bnc_redop {
    BNC_OP_SUM = 0,
    BNC_OP_MAX = 1,
} bnc_redop;

typedef struct bnc_comm bnc_comm;

/* Bytes of one element of t. */
size_t bnc_dtype_size(bnc_dtype t);
/* "uint8", "int32", "float", "double" (nccl-tests' names). */
const char *bnc_dtype_name(bnc_dtype t);
/* "sum", "max". */
const char *bnc_redop_name(bnc_redop op);
/* "mpi", "nccl"; bnc_comm_backend_parse fails with BNC_EINVAL naming s. */
const char *bnc_comm_backend_name(bnc_comm_backend b);
int bnc_comm_backend_parse(const char *s, bnc_comm_backend *out, bnc_err *err);
/* True when this build can use backend b (NCCL needs the CUDA toolkit and
 * NCCL at build time). */
int bnc_comm_backend_built(bnc_comm_backend b);

/* Makes a communicator over the ranks of mpi (duplicated; the caller keeps
 * mpi). Collective over mpi. NCCL: picks the device by node-local rank,
 * then ncclCommInitRank. *out is freed with bnc_comm_free. BNC_ENOTSUP
 * for NCCL in a build without it, BNC_ENET (an MPI, CUDA or NCCL failure,
 * naming the call, rank and device), BNC_ENOMEM. */
int bnc_comm_new(MPI_Comm mpi, bnc_comm_backend backend, bnc_comm **out, bnc_err *err);
/* Collective; NULL is a no-op. */
void bnc_comm_free(bnc_comm *c);

int bnc_comm_rank(const bnc_comm *c);
int bnc_comm_size(const bnc_comm *c);
bnc_comm_backend bnc_comm_backend_of(const bnc_comm *c);
/* The CUDA device this rank uses (NCCL), else -1. */
int bnc_comm_device(const bnc_comm *c);
/* The MPI communicator underneath (host-side exchanges, barriers). */
MPI_Comm bnc_comm_mpi(const bnc_comm *c);

/* recv = op over ranks of send (count elements of type t). send == recv is
 * in place. Host pointers for MPI, device pointers for NCCL. */
int bnc_comm_allreduce(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                       bnc_redop op, bnc_err *err);
/* recv (size x count elements, rank r's block at r * count) = every rank's
 * send (count elements). */
int bnc_comm_allgather(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                       bnc_err *err);
/* buf (count elements) on every rank = root's buf. */
int bnc_comm_bcast(bnc_comm *c, void *buf, size_t count, bnc_dtype t, int root, bnc_err *err);
/* recv block r (count elements) = rank r's send block of index this rank.
 * MPI only today (BNC_ENOTSUP on NCCL). */
int bnc_comm_alltoall(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                      bnc_err *err);
/* Buffers where the backend wants them: host memory (MPI) or device
 * memory of this rank's GPU (NCCL). bnc_comm_buf_new allocates bytes
 * (free with bnc_comm_buf_free; NULL is a no-op); put/get copy between a
 * host buffer and such a buffer. BNC_ENOMEM, BNC_ENET naming the CUDA call. */
int bnc_comm_buf_new(bnc_comm *c, size_t bytes, void **out, bnc_err *err);
void bnc_comm_buf_free(bnc_comm *c, void *buf);
int bnc_comm_buf_put(bnc_comm *c, void *dst, const void *host, size_t bytes, bnc_err *err);
int bnc_comm_buf_get(bnc_comm *c, void *host, const void *src, size_t bytes, bnc_err *err);

/* Waits for the device work of the collectives issued so far (NCCL); a
 * no-op on MPI. */
int bnc_comm_sync(bnc_comm *c, bnc_err *err);

#endif
