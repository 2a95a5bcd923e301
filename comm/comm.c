/* The collective layer's front: argument checks, the MPI backend, and the
 * dispatch to the NCCL backend (comm_nccl.c) where it is built. */
#include "bnc_comm.h"

#include <stdlib.h>
#include <string.h>

#include "comm_impl.h"

size_t bnc_dtype_size(bnc_dtype t)
{
    switch (t) {
    case BNC_DT_U8:
        return 1;
    case BNC_DT_I32:
    case BNC_DT_F32:
        return 4;
    case BNC_DT_F64:
        return 8;
    }
    return 0;
}

const char *bnc_dtype_name(bnc_dtype t)
{
    switch (t) {
    case BNC_DT_U8:
        return "uint8";
    case BNC_DT_I32:
        return "int32";
    case BNC_DT_F32:
        return "float";
    case BNC_DT_F64:
        return "double";
    }
    return "?";
}

const char *bnc_redop_name(bnc_redop op)
{
    return op == BNC_OP_MAX ? "max" : "sum";
}

const char *bnc_comm_backend_name(bnc_comm_backend b)
{
    return b == BNC_COMM_NCCL ? "nccl" : "mpi";
}

int bnc_comm_backend_parse(const char *s, bnc_comm_backend *out, bnc_err *err)
{
    if (s && !strcmp(s, "mpi")) {
        *out = BNC_COMM_MPI;
        return 0;
    }
    if (s && !strcmp(s, "nccl")) {
        *out = BNC_COMM_NCCL;
        return 0;
    }
    return bnc_err_set(err, BNC_EINVAL, "unknown collective backend '%s' (mpi, nccl)", s ? s : "");
}

int bnc_comm_backend_built(bnc_comm_backend b)
{
    if (b == BNC_COMM_MPI) return 1;
#ifdef BNC_HAVE_NCCL
    return 1;
#else
    return 0;
#endif
}

static MPI_Datatype mpi_type(bnc_dtype t)
{
    switch (t) {
    case BNC_DT_U8:
        return MPI_UINT8_T;
    case BNC_DT_I32:
        return MPI_INT32_T;
    case BNC_DT_F32:
        return MPI_FLOAT;
    case BNC_DT_F64:
        return MPI_DOUBLE;
    }
    return MPI_DATATYPE_NULL;
}

/* MPI counts are int: larger buffers go in slices of at most this many. */
#define MPI_SLICE ((size_t)1 << 30)

int bnc_comm_mpi_fail(bnc_comm *c, const char *call, int rc, bnc_err *err)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return bnc_err_set(err, BNC_ENET, "%s failed on rank %d of %d: %s", call, c->rank, c->size,
                       msg);
}

int bnc_comm_new(MPI_Comm mpi, bnc_comm_backend backend, bnc_comm **out, bnc_err *err)
{
    *out = NULL;
    if (!bnc_comm_backend_built(backend))
        return bnc_err_set(err, BNC_ENOTSUP,
                           "collective backend %s: this bnc was built without NCCL/CUDA",
                           bnc_comm_backend_name(backend));
    bnc_comm *c = calloc(1, sizeof *c);
    if (!c) return bnc_err_set(err, BNC_ENOMEM, "collective layer: out of memory");
    c->backend = backend;
    c->device = -1;
    int rc = MPI_Comm_dup(mpi, &c->mpi);
    if (rc != MPI_SUCCESS) {
        free(c);
        return bnc_err_set(err, BNC_ENET, "MPI_Comm_dup failed");
    }
    MPI_Comm_set_errhandler(c->mpi, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->mpi, &c->rank);
    MPI_Comm_size(c->mpi, &c->size);
#ifdef BNC_HAVE_NCCL
    if (backend == BNC_COMM_NCCL) {
        rc = bnc_comm_nccl_init(c, err);
        if (rc) {
            MPI_Comm_free(&c->mpi);
            free(c);
            return rc;
        }
    }
#endif
    *out = c;
    return 0;
}

void bnc_comm_free(bnc_comm *c)
{
    if (!c) return;
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) bnc_comm_nccl_fini(c);
#endif
    MPI_Comm_free(&c->mpi);
    free(c);
}

int bnc_comm_rank(const bnc_comm *c)
{
    return c->rank;
}
int bnc_comm_size(const bnc_comm *c)
{
    return c->size;
}
bnc_comm_backend bnc_comm_backend_of(const bnc_comm *c)
{
    return c->backend;
}
int bnc_comm_device(const bnc_comm *c)
{
    return c->device;
}
MPI_Comm bnc_comm_mpi(const bnc_comm *c)
{
    return c->mpi;
}

static int check_args(bnc_comm *c, const char *call, const void *a, const void *b, size_t count,
                      bnc_dtype t, bnc_err *err)
{
    if (!bnc_dtype_size(t))
        return bnc_err_set(err, BNC_EINVAL, "%s on rank %d: unknown element type %d", call, c->rank,
                           (int)t);
    if (count && (!a || !b))
        return bnc_err_set(err, BNC_EINVAL, "%s on rank %d: NULL buffer for %zu elements", call,
                           c->rank, count);
    return 0;
}

int bnc_comm_allreduce(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                       bnc_redop op, bnc_err *err)
{
    int rc = check_args(c, "allreduce", send, recv, count, t, err);
    if (rc) return rc;
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL)
        return bnc_comm_nccl_allreduce(c, send, recv, count, t, op, err);
#endif
    size_t es = bnc_dtype_size(t);
    for (size_t off = 0; off < count; off += MPI_SLICE) {
        size_t n = count - off < MPI_SLICE ? count - off : MPI_SLICE;
        const char *s = send == recv ? MPI_IN_PLACE : (const char *)send + off * es;
        rc = MPI_Allreduce(s, (char *)recv + off * es, (int)n, mpi_type(t),
                           op == BNC_OP_MAX ? MPI_MAX : MPI_SUM, c->mpi);
        if (rc != MPI_SUCCESS) return bnc_comm_mpi_fail(c, "MPI_Allreduce", rc, err);
    }
    return 0;
}

int bnc_comm_allgather(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                       bnc_err *err)
{
    int rc = check_args(c, "allgather", send, recv, count, t, err);
    if (rc) return rc;
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) return bnc_comm_nccl_allgather(c, send, recv, count, t, err);
#endif
    if (count > MPI_SLICE)
        return bnc_err_set(err, BNC_EINVAL,
                           "allgather on rank %d: %zu elements per rank (at most %zu)", c->rank,
                           count, MPI_SLICE);
    rc = MPI_Allgather(send, (int)count, mpi_type(t), recv, (int)count, mpi_type(t), c->mpi);
    if (rc != MPI_SUCCESS) return bnc_comm_mpi_fail(c, "MPI_Allgather", rc, err);
    return 0;
}

int bnc_comm_bcast(bnc_comm *c, void *buf, size_t count, bnc_dtype t, int root, bnc_err *err)
{
    int rc = check_args(c, "broadcast", buf, buf, count, t, err);
    if (rc) return rc;
    if (root < 0 || root >= c->size)
        return bnc_err_set(err, BNC_EINVAL, "broadcast on rank %d: root %d of %d ranks", c->rank,
                           root, c->size);
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) return bnc_comm_nccl_bcast(c, buf, count, t, root, err);
#endif
    size_t es = bnc_dtype_size(t);
    for (size_t off = 0; off < count; off += MPI_SLICE) {
        size_t n = count - off < MPI_SLICE ? count - off : MPI_SLICE;
        rc = MPI_Bcast((char *)buf + off * es, (int)n, mpi_type(t), root, c->mpi);
        if (rc != MPI_SUCCESS) return bnc_comm_mpi_fail(c, "MPI_Bcast", rc, err);
    }
    return 0;
}

int bnc_comm_alltoall(bnc_comm *c, const void *send, void *recv, size_t count, bnc_dtype t,
                      bnc_err *err)
{
    int rc = check_args(c, "alltoall", send, recv, count, t, err);
    if (rc) return rc;
    if (c->backend != BNC_COMM_MPI)
        return bnc_err_set(err, BNC_ENOTSUP, "alltoall on rank %d: MPI backend only", c->rank);
    if (count > MPI_SLICE)
        return bnc_err_set(err, BNC_EINVAL,
                           "alltoall on rank %d: %zu elements per block (at most %zu)", c->rank,
                           count, MPI_SLICE);
    rc = MPI_Alltoall(send, (int)count, mpi_type(t), recv, (int)count, mpi_type(t), c->mpi);
    if (rc != MPI_SUCCESS) return bnc_comm_mpi_fail(c, "MPI_Alltoall", rc, err);
    return 0;
}

int bnc_comm_buf_new(bnc_comm *c, size_t bytes, void **out, bnc_err *err)
{
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) return bnc_comm_nccl_buf_new(c, bytes, out, err);
#endif
    *out = malloc(bytes ? bytes : 1);
    if (!*out)
        return bnc_err_set(err, BNC_ENOMEM, "rank %d: %zu bytes for a collective buffer", c->rank,
                           bytes);
    return 0;
}

void bnc_comm_buf_free(bnc_comm *c, void *buf)
{
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) {
        bnc_comm_nccl_buf_free(c, buf);
        return;
    }
#endif
    (void)c;
    free(buf);
}

int bnc_comm_buf_put(bnc_comm *c, void *dst, const void *host, size_t bytes, bnc_err *err)
{
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) return bnc_comm_nccl_copy(c, dst, host, bytes, 1, err);
#endif
    (void)c;
    (void)err;
    memcpy(dst, host, bytes);
    return 0;
}

int bnc_comm_buf_get(bnc_comm *c, void *host, const void *src, size_t bytes, bnc_err *err)
{
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) return bnc_comm_nccl_copy(c, host, src, bytes, 0, err);
#endif
    (void)c;
    (void)err;
    memcpy(host, src, bytes);
    return 0;
}

int bnc_comm_sync(bnc_comm *c, bnc_err *err)
{
#ifdef BNC_HAVE_NCCL
    if (c->backend == BNC_COMM_NCCL) return bnc_comm_nccl_sync(c, err);
#endif
    (void)c;
    (void)err;
    return 0;
}
