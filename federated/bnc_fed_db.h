/* Federated results in PostgreSQL (tables fed_runs and fed_rounds,
 * results/migrations/004_federated.sql). */
#ifndef BNC_FED_DB_H
#define BNC_FED_DB_H

#include "bnc_err.h"
#include "bnc_fed.h"

typedef struct bnc_fed_db bnc_fed_db;

/* Connects to url (NULL or "": the default database) and applies pending
 * migrations. *out owns the connection (bnc_fed_db_close). BNC_EDB on
 * failure, naming the URL. */
int bnc_fed_db_open(const char *url, bnc_fed_db **out, bnc_err *err);
void bnc_fed_db_close(bnc_fed_db *db);

/* Fills sink's run_start/round/run_end with hooks that store the run in db
 * (log is left as it is). run_start upserts fed_runs (a resume increments
 * resumes); round upserts one fed_rounds row; run_end marks the run done
 * with its totals summed over the stored rounds. */
void bnc_fed_db_sink(bnc_fed_db *db, bnc_fed_sink *sink);
/* Marks a run failed (after an error), best effort. */
void bnc_fed_db_fail(bnc_fed_db *db, const char *run);

#endif
