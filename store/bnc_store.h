/* The typed face of the database: the one module that names the columns of
 * campaigns, environments, tasks, metrics and analyses. Callers pass and get
 * plain structs; no PGresult leaves store/.
 *
 * Lists returned by a bnc_store_* function own their strings; free them with
 * the matching *_free (NULL and zeroed lists are no-ops). Every function
 * returns 0 or a negative BNC_E* code with a message in err (BNC_EDB for a
 * failed statement). */
#ifndef BNC_STORE_H
#define BNC_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

/* ---- campaigns ------------------------------------------------------------ */

typedef struct bnc_campaign_row {
    const char *name, *description, *status; /* status: running, done or failed */
    const char *spec_hash, *spec_text;
    const char *created, *updated; /* "YYYY-MM-DD HH:MM UTC" */
    int64_t total_tasks;           /* planned tasks (0: not known) */
    int64_t done, failed;          /* task rows stored */
    int64_t metric_rows;           /* only filled by bnc_store_campaign_get */
} bnc_campaign_row;

typedef struct bnc_campaign_list {
    bnc_campaign_row *v;
    size_t n;
    void *priv;
} bnc_campaign_list;

/* Every campaign, oldest first (metric_rows left 0). */
int bnc_store_campaign_list(PGconn *c, bnc_campaign_list *out, bnc_err *err);
/* The campaign called name: out->n is 1, or 0 when there is none. */
int bnc_store_campaign_get(PGconn *c, const char *name, bnc_campaign_list *out, bnc_err *err);
void bnc_campaign_list_free(bnc_campaign_list *l);

/* What a run or a tool declares about a campaign it writes to. */
typedef struct bnc_campaign_def {
    const char *name, *description, *spec_text, *spec_hash;
    const char *spec_file; /* for messages (may be NULL) */
    int64_t total_tasks;
    const char *status; /* bnc_store_campaign_ensure only: the status of a new row */
    int any_spec;       /* bnc_store_campaign_ensure only: accept another stored spec hash */
} bnc_campaign_def;

/* A campaign run starts: refuses (BNC_EINVAL) a stored campaign of that name
 * with another spec hash, else creates the row or marks it running again. */
int bnc_store_campaign_begin(PGconn *c, const bnc_campaign_def *d, bnc_err *err);
/* Creates the campaign row when it does not exist (status d->status, or
 * running), fills a stored total of 0 (unknown) from d->total_tasks, and
 * unless d->any_spec checks that a stored one has d's spec hash
 * (BNC_EINVAL naming spec_file or the campaign). */
int bnc_store_campaign_ensure(PGconn *c, const bnc_campaign_def *d, bnc_err *err);
/* Deletes the campaign and, by cascade, its tasks, metrics, environments
 * and analyses (benchmarks clean up with it). */
int bnc_store_campaign_delete(PGconn *c, const char *name, bnc_err *err);
/* Sets the status (running, done, failed) and the update time. */
int bnc_store_campaign_set_status(PGconn *c, const char *name, const char *status, bnc_err *err);
/* After results were loaded without the run that planned them (bnc db sync,
 * a reconnected sink): when every planned task has a row (or the plan size
 * is not known), sets the status to failed if one failed, else done. *status
 * (may be NULL, 16 bytes) receives the status now stored. */
int bnc_store_campaign_settle(PGconn *c, const char *name, char *status, bnc_err *err);

/* ---- environments ----------------------------------------------------------- */

typedef struct bnc_env_row {
    const char *host;
    int64_t ranks;
    const char *cpu_model, *cpu_flags;
    int64_t mem_bytes; /* -1: not known */
    const char *gpu, *gpu_driver, *compiler, *mpi_version, *nccl_version, *libpq_version;
    const char *bnc_version, *git_rev;
    int git_dirty;        /* 1, 0, or -1: not known */
    const char *recorded; /* "YYYY-MM-DD HH:MM UTC"; read only */
} bnc_env_row;

typedef struct bnc_env_list {
    bnc_env_row *v;
    size_t n;
    void *priv;
} bnc_env_list;

/* Groups the provenance of every rank (a JSON array of objects, one per rank,
 * with the keys named like the columns) into one row per distinct host with
 * its rank count. BNC_EFORMAT when json is not such an array. */
int bnc_env_rows_from_json(const char *json, bnc_env_list *out, bnc_err *err);
/* Adds one environments row per element of rows to the campaign. */
int bnc_store_environments_add(PGconn *c, const char *campaign, const bnc_env_row *rows, size_t n,
                               bnc_err *err);
/* The campaign's environments in the order they were recorded. */
int bnc_store_environments(PGconn *c, const char *campaign, bnc_env_list *out, bnc_err *err);
void bnc_env_list_free(bnc_env_list *l);

/* ---- tasks and metrics ------------------------------------------------------- */

typedef struct bnc_metric_row {
    const char *name;
    double value;
    const char *unit;
} bnc_metric_row;

typedef struct bnc_task_row {
    const char *id, *campaign, *kind, *params_json; /* params: a JSON object */
    int64_t seed;
    int ok; /* status done (1) or failed (0) */
    int attempts, rank;
    const char *host, *error;       /* error: NULL or "" when ok */
    double started_at, finished_at; /* wall-clock seconds */
    const bnc_metric_row *metrics;
    size_t n_metrics;
} bnc_task_row;

/* Stores rows (and their metrics) in one transaction through the results
 * sink: a task already done is kept, a failure is replaced by a newer
 * outcome; nothing is stored twice. Adds the new rows to *new_tasks and
 * *new_metrics (either may be NULL). */
int bnc_store_tasks_add(PGconn *c, const bnc_task_row *rows, size_t n, uint64_t *new_tasks,
                        uint64_t *new_metrics, bnc_err *err);

/* Calls visit(id, arg) for every task of the campaign stored as done; a
 * non-zero return stops and is returned. */
int bnc_store_done_task_ids(PGconn *c, const char *campaign,
                            int (*visit)(const char *id, void *arg), void *arg, bnc_err *err);

/* A failed task (bnc_store_failed_tasks). */
typedef struct bnc_failed_task {
    const char *id, *kind, *params_json, *error;
    int64_t seed, attempts;
} bnc_failed_task;

typedef struct bnc_failed_list {
    bnc_failed_task *v;
    size_t n;
    void *priv;
} bnc_failed_list;

/* The campaign's failed tasks by id, at most limit of them. */
int bnc_store_failed_tasks(PGconn *c, const char *campaign, size_t limit, bnc_failed_list *out,
                           bnc_err *err);
void bnc_failed_list_free(bnc_failed_list *l);

/* Task rows counted by kind and status. */
typedef struct bnc_task_count {
    const char *kind, *status;
    int64_t count;
} bnc_task_count;

typedef struct bnc_task_count_list {
    bnc_task_count *v;
    size_t n;
    void *priv;
} bnc_task_count_list;

int bnc_store_task_counts(PGconn *c, const char *campaign, bnc_task_count_list *out, bnc_err *err);
void bnc_task_count_list_free(bnc_task_count_list *l);

/* One exported task: its row and its metrics (by name). seconds is
 * finished_at - started_at (NaN when unknown); rank -1 when unknown. */
typedef struct bnc_export_task {
    const char *id, *kind, *params_json, *status, *host;
    int64_t seed, rank;
    double seconds;
    const bnc_metric_row *metrics;
    size_t n_metrics;
} bnc_export_task;

/* Calls visit for every task of the campaign in id order; a non-zero return
 * stops and is returned. */
int bnc_store_export(PGconn *c, const char *campaign,
                     int (*visit)(const bnc_export_task *t, void *arg), void *arg, bnc_err *err);

/* ---- analyses ----------------------------------------------------------------- */

/* One observation: a metric value of one task in one group. */
typedef struct bnc_obs {
    const char *metric, *group, *pair; /* pair: the pairing key ("" when none) */
    double value;
} bnc_obs;

/* Which observations to read (see bnc_analyze_opts). */
typedef struct bnc_obs_query {
    const char *campaign;
    const char *by;                    /* grouping parameter */
    const char *paired_by;             /* "seed": every parameter but by, the kind and the seed;
                                        * "none": no pairing; another name: that parameter */
    const char *metric, *kind, *where; /* NULL: any; where: a JSON object */
} bnc_obs_query;

typedef struct bnc_obs_list {
    bnc_obs *v;
    size_t n;
    void *priv;
} bnc_obs_list;

/* The metric values of the campaign's finished tasks that have parameter
 * q->by. BNC_EINVAL when the campaign does not exist or nothing matches. */
int bnc_store_observations(PGconn *c, const bnc_obs_query *q, bnc_obs_list *out, bnc_err *err);
void bnc_obs_list_free(bnc_obs_list *l);

/* One row of the analyses table: a group compared with the baseline, or grp
 * "*" for the omnibus test. NaN stands for NULL. */
typedef struct bnc_analysis_row {
    const char *metric, *baseline, *grp, *test, *correction, *effect_name, *verdict, *note;
    int64_t n;
    double mean, sd, ci_lo, ci_hi, diff, diff_lo, diff_hi, statistic, df, df2, p, p_adj, p_rank,
        effect;
} bnc_analysis_row;

/* Replaces, in one transaction, the stored rows of every (campaign, metric,
 * by) that rows name with rows. */
int bnc_store_analyses_replace(PGconn *c, const char *campaign, const char *by, double alpha,
                               const bnc_analysis_row *rows, size_t n, bnc_err *err);

#endif
