/* Training runs in PostgreSQL (tables train_runs and train_steps,
 * store/migrations/006_train.sql). Used by bnc_train_run on rank 0 only. */
#ifndef BNC_TRAIN_DB_H
#define BNC_TRAIN_DB_H

#include <libpq-fe.h>

#include "bnc_err.h"
#include "bnc_train.h"

/* The facts a run row records besides the options. */
typedef struct bnc_tr_db_run {
    const char *name, *checkpoint;
    const char *train_sha, *valid_sha, *test_sha, *ood_sha; /* test/ood may be NULL */
    int ranks, resumed;
    size_t params;
    double unigram_bits;
} bnc_tr_db_run;

/* Connects to url and applies pending migrations; *out owns the
 * connection (PQfinish through bnc_db_close). BNC_EDB naming the URL. */
int bnc_tr_db_open(const char *url, PGconn **out, bnc_err *err);
/* Upserts the run row as running (a resume increments resumes). */
int bnc_tr_db_start(PGconn *c, const bnc_train_opts *o, const bnc_tr_db_run *r, bnc_err *err);
/* Upserts n step rows of run. */
int bnc_tr_db_steps(PGconn *c, const char *run, const bnc_train_step *s, size_t n, bnc_err *err);
/* Marks the run done, failed or stopped with its figures and error text
 * (may be NULL). */
int bnc_tr_db_finish(PGconn *c, const char *run, const char *status, const bnc_train_result *res,
                     const char *error, bnc_err *err);

#endif
