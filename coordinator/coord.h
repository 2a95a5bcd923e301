/* Internal to coordinator/: the state of rank 0 and the pieces the campaign
 * loop is made of (run.c sets up and finishes, schedule.c hands out tasks,
 * rank_worker.c is a worker rank's loop, sendq.c the non-blocking sends,
 * wire.c turns runtime results into protobuf, launcher.c watches mpirun). */
#ifndef BNC_COORD_H
#define BNC_COORD_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bnc.pb-c.h"
#include "bnc_campaign.h"
#include "bnc_db.h"
#include "bnc_exec.h"
#include "bnc_journal.h"
#include "bnc_plan.h"
#include "bnc_sink.h"
#include "bnc_store.h"
#include "bnc_spec.h"

enum { TAG_TASKS = 11, TAG_RESULTS = 12, TAG_STOP = 13 };

/* ---- a set of task ids (open addressing; ids are already hashes) ---- */

typedef struct bnc_idset {
    char (*slot)[33];
    size_t cap, n;
} bnc_idset;

/* Adds id; returns 1 when it was new, 0 when present, BNC_ENOMEM. */
int bnc_idset_add(bnc_idset *s, const char *id);
/* 1 when id is in s. */
int bnc_idset_has(const bnc_idset *s, const char *id);
void bnc_idset_free(bnc_idset *s);

/* ---- the process that launched this rank (mpirun or orted) ---- */

typedef struct bnc_launcher {
    pid_t pid;     /* 0: not started by an MPI launcher, nothing to watch */
    int is_parent; /* the launcher is our parent: getppid() tells */
    int lost;      /* it was seen gone */
    double next_check;
} bnc_launcher;

/* Finds the launcher of this rank from Open MPI's environment. */
void bnc_launcher_init(bnc_launcher *l);
/* 1 when the launcher has ended (checked at most every 10 ms): this rank
 * is an orphan and must stop before it writes anything more. */
int bnc_launcher_lost(bnc_launcher *l);

/* ---- non-blocking sends whose buffers live until they complete ---- */

typedef struct bnc_sendq {
    struct pending_send *v;
    size_t n, cap;
} bnc_sendq;

/* Sends buf (taking ownership; freed when the send completes). */
int bnc_sendq_isend(bnc_sendq *q, MPI_Comm comm, int dest, int tag, uint8_t *buf, size_t len);
/* Waits for every pending send and frees the queue. */
void bnc_sendq_drain(bnc_sendq *q);
/* Sleeps from 20 us up to 1 ms as *idle grows, so an idle rank leaves the
 * cores to the busy ones. */
void bnc_idle_sleep(int *idle);

/* ---- results on the wire ---- */

/* Fills r's outcome (ok, error, times, metrics) from x; r's strings and
 * metrics point into x, which must outlive r. Returns BNC_ENOMEM. */
int bnc_wire_result(const bnc_exec_result *x, const bnc_task_ctx *ctx, Bnc__TaskResult *r);
/* Frees the metric arrays bnc_wire_result allocated. */
void bnc_wire_result_free(Bnc__TaskResult *r);

/* ---- rank 0 ---- */

/* Task lanes: CPU tasks and tasks that need a GPU. */
typedef struct lane {
    size_t *q; /* plan indices, largest cost first */
    size_t n, head;
    size_t *retry; /* tasks to try again, taken before the queue */
    size_t nretry;
} lane;

static inline int lane_empty(const lane *l)
{
    return l->head >= l->n && l->nretry == 0;
}
static inline size_t lane_pop(lane *l)
{
    return l->nretry ? l->retry[--l->nretry] : l->q[l->head++];
}

typedef struct coord {
    const bnc_run_opts *o;
    bnc_spec *spec;
    bnc_plan plan;
    bnc_task_ctx ctx;
    PGconn *db;
    bnc_live_sink *sink; /* owns the connection once the campaign is prepared */
    bnc_journal *journal;
    bnc_run_summary *sum;
    uint32_t *attempts; /* per plan task */
    int *has_gpu;       /* per rank, from the gathered provenance */
    lane lanes[2];      /* [0] CPU tasks, [1] GPU tasks */
    double last_flush, last_progress, t0;
    size_t to_run; /* tasks to run in this run */
    int tty;
    bnc_launcher launcher;
} coord;

/* run.c: the database sink and the progress line. */
void bnc_coord_sink_flush(coord *c, int force);
void bnc_coord_db_lost(coord *c, const char *msg);
void bnc_coord_progress(coord *c, int final);
/* 1 when the task at plan index idx needs a GPU. */
int bnc_coord_needs_gpu(const coord *c, size_t idx);
/* Sets an error and marks the run orphaned when mpirun is gone. */
int bnc_coord_orphaned(coord *c, bnc_err *err);

/* schedule.c: rank 0 runs every task itself, or hands them to workers. */
int bnc_coord_run_alone(coord *c, bnc_err *err);
int bnc_coord_run_workers(coord *c, MPI_Comm comm, int size, size_t nq, bnc_err *err);

/* rank_worker.c: a worker rank's loop until rank 0 says stop. */
int bnc_worker_loop(MPI_Comm comm, const bnc_run_opts *o, const bnc_task_ctx *ctx,
                    bnc_launcher *launcher, bnc_err *err);

#endif
