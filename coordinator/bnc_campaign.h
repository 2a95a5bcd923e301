/* Running a campaign under MPI: rank 0 is the coordinator (plans, schedules,
 * journals, stores), every other rank is a worker. With one rank, rank 0
 * runs the tasks itself. Every rank calls bnc_campaign_run. */
#ifndef BNC_CAMPAIGN_H
#define BNC_CAMPAIGN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_task.h"

typedef struct bnc_run_opts {
    const char *spec_path;
    const char *db_url;       /* NULL: the default private database */
    int no_db;                /* journal only; load later with `bnc db sync` */
    int dry_run;              /* validate and plan only: no database, journal or tasks */
    uint64_t max_tasks;       /* refuse a plan above this many tasks (0: BNC_PLAN_MAX_TASKS) */
    int salvage;              /* a damaged journal: move it aside, go on with what verifies */
    const char *journal_path; /* NULL: var/journal/<campaign>.journal */
    int inflight;             /* tasks in flight per worker; 0: adaptive */
    int threads;              /* threads a task may use (0: 1) */
    int progress;             /* -1 never, 0 auto (bar on a terminal, else lines), 1 lines */
    double progress_every_s;  /* line interval when not on a terminal (0: 5 s) */
    const bnc_task_kind *const *kinds;
} bnc_run_opts;

typedef struct bnc_run_summary {
    char campaign[256];
    char journal[1024];
    size_t planned; /* tasks in the plan */
    size_t skipped; /* already stored or journaled */
    size_t done;    /* finished in this run */
    size_t failed;  /* failed after every retry */
    size_t retried; /* attempts that were retried */
    uint64_t new_task_rows, new_metric_rows;
    int db_lost;  /* the database went away: rows wait in the journal */
    int orphaned; /* mpirun went away: this rank stopped at once; the caller
                   * should leave without MPI_Finalize (nothing to finalize with) */
    char db_error[512];
    char journal_note[1400]; /* what opening the journal found and did ("" when intact) */
    double seconds;
    double tasks_per_s;
} bnc_run_summary;

/* Runs the campaign in opts->spec_path over comm. Returns 0 when every task
 * is done, BNC_EINVAL (and writes nothing) for a bad spec, BNC_EDB when the
 * database cannot be reached at the start, BNC_EINTERNAL when tasks failed.
 * Only rank 0's summary and error message are meaningful. */
int bnc_campaign_run(MPI_Comm comm, const bnc_run_opts *opts, bnc_run_summary *sum, bnc_err *err);

/* GPUs this process can use: $BNC_GPUS when set, else the NVIDIA driver's
 * count (0 without a driver). */
int bnc_gpu_count(void);

/* Provenance of this process as a JSON object text (host, CPU, memory, GPU,
 * compiler, MPI, NCCL, libpq, bnc version, git revision); caller frees. */
char *bnc_environment_json(void);

#endif
