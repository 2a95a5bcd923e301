/* Non-blocking MPI sends whose buffers live until the send completes. */
#include <stdlib.h>
#include <time.h>

#include "coord.h"

typedef struct pending_send {
    MPI_Request req;
    uint8_t *buf;
} pending_send;

/* Frees the buffers of the sends that have completed. */
static void reap(bnc_sendq *q)
{
    size_t w = 0;
    for (size_t i = 0; i < q->n; i++) {
        int done = 0;
        MPI_Test(&q->v[i].req, &done, MPI_STATUS_IGNORE);
        if (done)
            free(q->v[i].buf);
        else
            q->v[w++] = q->v[i];
    }
    q->n = w;
}

int bnc_sendq_isend(bnc_sendq *q, MPI_Comm comm, int dest, int tag, uint8_t *buf, size_t len)
{
    reap(q);
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        pending_send *v = realloc(q->v, cap * sizeof *v);
        if (!v) {
            free(buf);
            return BNC_ENOMEM;
        }
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n].buf = buf;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, tag, comm, &q->v[q->n].req) != MPI_SUCCESS) {
        free(buf);
        return BNC_ENET;
    }
    q->n++;
    return 0;
}

void bnc_sendq_drain(bnc_sendq *q)
{
    for (size_t i = 0; i < q->n; i++) {
        MPI_Wait(&q->v[i].req, MPI_STATUS_IGNORE);
        free(q->v[i].buf);
    }
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}

void bnc_idle_sleep(int *idle)
{
    long ns = 20000L << (*idle < 6 ? *idle : 6);
    if (ns > 1000000L) ns = 1000000L;
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
    (*idle)++;
}
