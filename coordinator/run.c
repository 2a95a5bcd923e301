/* Campaign execution, set up and finished here: rank 0 reads and shares the
 * spec, gathers provenance, plans, prepares the database and the journal,
 * and skips stored tasks; schedule.c then hands the rest to the workers
 * (rank_worker.c), which run them with the task runtime (worker/exec.c). */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bnc_mfile.h"
#include "bnc_time.h"
#include "coord.h"

/* Turns a lost database into a warning: results stay in the journal. */
void bnc_coord_db_lost(coord *c, const char *msg)
{
    if (c->sum->db_lost) return;
    c->sum->db_lost = 1;
    snprintf(c->sum->db_error, sizeof c->sum->db_error, "%s", msg);
    fprintf(stderr,
            "\nbnc: warning: %s\nbnc: the campaign goes on; every result is in the journal %s, "
            "loaded when the database is back (or later with `bnc db sync %s --db URL`)\n",
            msg, c->sum->journal, c->sum->journal);
}

/* Call after the journal was synced: the sink flushes when due, and while
 * the database is away it reconnects with backoff and loads the backlog. */
void bnc_coord_sink_flush(coord *c, int force)
{
    if (!c->sink || c->sum->orphaned) return;
    uint64_t loaded = 0;
    int ev = bnc_live_sink_poll(c->sink, bnc_now(), force, &c->sum->new_task_rows,
                                &c->sum->new_metric_rows, &loaded);
    if (ev == BNC_LIVE_LOST) bnc_coord_db_lost(c, bnc_live_sink_error(c->sink));
    if (ev == BNC_LIVE_BACK) {
        c->sum->db_lost = 0;
        fprintf(stderr, "\nbnc: the database is back: %llu results of the journal loaded\n",
                (unsigned long long)loaded);
    }
}

void bnc_coord_progress(coord *c, int final)
{
    if (c->o->progress < 0) return;
    double now = bnc_now();
    double every = c->tty ? 0.2 : (c->o->progress_every_s > 0 ? c->o->progress_every_s : 5.0);
    if (!final && now - c->last_progress < every) return;
    c->last_progress = now;
    size_t fin = c->sum->done + c->sum->failed;
    double el = now - c->t0, rate = el > 0 ? (double)fin / el : 0;
    double eta = rate > 0 ? (double)(c->to_run - fin) / rate : 0;
    if (c->tty) {
        int width = 30,
            filled = c->to_run ? (int)((double)width * (double)fin / (double)c->to_run) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu  %.1f tasks/s  ETA %.0fs  failed %zu ", bar, fin, c->to_run,
                rate, eta, c->sum->failed);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "bnc: %s: %zu/%zu done, %.1f tasks/s, ETA %.0f s, %zu failed\n",
                c->spec->name, fin, c->to_run, rate, eta, c->sum->failed);
    }
    fflush(stderr);
}

int bnc_coord_needs_gpu(const coord *c, size_t idx)
{
    return c->spec->groups[c->plan.tasks[idx].group].gpu > 0;
}

int bnc_coord_orphaned(coord *c, bnc_err *err)
{
    if (!bnc_launcher_lost(&c->launcher)) return 0;
    c->sum->orphaned = 1;
    return bnc_err_set(err, BNC_ENET,
                       "the MPI launcher (pid %d) is gone: rank 0 stops before it writes more; "
                       "every acknowledged result is in the journal %s, so running again resumes",
                       (int)c->launcher.pid, c->sum->journal);
}

typedef struct scan_ctx {
    coord *c;
    bnc_idset *done;
    bnc_idset *in_db;
    size_t replayed;
    int rc;
    bnc_err *err;
} scan_ctx;

static int scan_visit(const Bnc__TaskResult *r, void *arg)
{
    scan_ctx *s = arg;
    if (!r->ok) return 0;
    if (bnc_idset_add(s->done, r->task_id) < 0) return BNC_ENOMEM;
    if (s->c->sink && !bnc_idset_has(s->in_db, r->task_id)) {
        bnc_live_sink_add(s->c->sink, r);
        s->replayed++;
    }
    return 0;
}

static int add_in_db(const char *id, void *arg)
{
    return bnc_idset_add(arg, id) < 0 ? BNC_ENOMEM : 0;
}

/* The campaign row, one environments row per distinct host of this run, the
 * ids already stored; then the sink takes the connection over. */
static int db_prepare(coord *c, const char *env_json_all, bnc_idset *in_db, bnc_err *err)
{
    bnc_campaign_def d = {c->spec->name, c->spec->description, c->spec->text, c->spec->hash,
                          c->spec->file, (int64_t)c->plan.n,   NULL,          0};
    bnc_env_list envs = {0};
    int rc = bnc_db_migrate(c->db, err);
    if (!rc) rc = bnc_store_campaign_begin(c->db, &d, err);
    if (!rc) rc = bnc_env_rows_from_json(env_json_all, &envs, err);
    if (!rc) rc = bnc_store_environments_add(c->db, c->spec->name, envs.v, envs.n, err);
    bnc_env_list_free(&envs);
    if (!rc) rc = bnc_store_done_task_ids(c->db, c->spec->name, add_in_db, in_db, err);
    if (rc == BNC_ENOMEM) return bnc_err_set(err, rc, "out of memory");
    if (rc) return rc;
    PGconn *db = c->db;
    c->db = NULL; /* the sink's from now on */
    return bnc_live_sink_new(db, c->o->db_url, c->sum->journal, &c->sink, err);
}

static int mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    return 0;
}

/* Marks which ranks have a GPU (from their provenance) and refuses a plan
 * whose GPU tasks no rank could take. */
static int find_gpus(coord *c, const char *env_all, int size, bnc_err *err)
{
    c->has_gpu = calloc((size_t)size, sizeof *c->has_gpu);
    if (!c->has_gpu) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    json_error_t je;
    json_t *envs = json_loads(env_all, 0, &je);
    int gpu_ranks = 0;
    for (int r = 0; r < size; r++) {
        json_t *env = json_array_get(envs, (size_t)r);
        c->has_gpu[r] = json_integer_value(json_object_get(env, "gpus")) > 0;
        gpu_ranks += r > 0 || size == 1 ? c->has_gpu[r] : 0;
    }
    json_decref(envs);
    size_t gpu_tasks = 0;
    for (size_t i = 0; i < c->plan.n; i++)
        gpu_tasks += (size_t)bnc_coord_needs_gpu(c, i);
    if (gpu_tasks && !gpu_ranks)
        return bnc_err_set(err, BNC_EINVAL,
                           "%s: %zu tasks need a GPU (resources: {gpu: ...}) but no %s has one",
                           c->spec->file, gpu_tasks, size == 1 ? "rank" : "worker rank");
    return 0;
}

/* Opens the journal (creating its folder) and reads what it holds into
 * done, handing results the database lacks to the sink. */
static int open_journal(coord *c, bnc_idset *done, bnc_idset *in_db, bnc_err *err)
{
    if (mkdirs(c->sum->journal) != 0)
        return bnc_err_set(err, BNC_EIO, "cannot create the folder of journal %s: %s",
                           c->sum->journal, strerror(errno));
    bnc_journal_opened info;
    int rc = bnc_journal_open_planned(c->sum->journal, c->spec->name, c->spec->hash, c->spec->text,
                                      (uint64_t)c->plan.n, c->o->salvage, &info, &c->journal, err);
    if (!rc && (info.check.torn || info.check.n_damaged)) {
        char d[700];
        bnc_journal_check_describe(&info.check, d, sizeof d);
        snprintf(c->sum->journal_note, sizeof c->sum->journal_note, "%s%s%s%s", d,
                 info.moved_to[0] ? "; the damaged file was moved aside to " : "", info.moved_to,
                 info.moved_to[0] ? " and the journal now holds what verified" : "");
        fprintf(stderr, "bnc: journal %s: %s\n", c->sum->journal, c->sum->journal_note);
    }
    scan_ctx sc = {c, done, in_db, 0, 0, err};
    if (!rc) rc = bnc_journal_scan(c->sum->journal, NULL, scan_visit, &sc, NULL, err);
    if (!rc && sc.replayed)
        fprintf(stderr, "bnc: loading %zu results from the journal that were not in the database\n",
                sc.replayed);
    if (!rc) bnc_coord_sink_flush(c, 1);
    return rc;
}

/* Queues every planned task that is neither journaled nor stored. */
static int queue_tasks(coord *c, const bnc_idset *done, const bnc_idset *in_db, size_t *nq,
                       bnc_err *err)
{
    c->attempts = calloc(c->plan.n + 1, sizeof *c->attempts);
    for (int l = 0; l < 2; l++) {
        c->lanes[l].q = calloc(c->plan.n + 1, sizeof *c->lanes[l].q);
        c->lanes[l].retry = calloc(c->plan.n + 1, sizeof *c->lanes[l].retry);
        if (!c->lanes[l].q || !c->lanes[l].retry)
            return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    }
    if (!c->attempts) return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->plan.n; i++) {
        c->attempts[i] = 1;
        if (bnc_idset_has(done, c->plan.tasks[i].id) || bnc_idset_has(in_db, c->plan.tasks[i].id)) {
            c->sum->skipped++;
        } else {
            lane *l = &c->lanes[bnc_coord_needs_gpu(c, i)];
            l->q[l->n++] = i;
            (*nq)++;
        }
    }
    return 0;
}

/* Rank 0's part before scheduling: plan, database, journal, skip set. On
 * success the lanes hold the plan indices still to run and *nq their count. */
static int prepare(coord *c, const char *env_all, int size, size_t *nq, bnc_err *err)
{
    /* Count before expanding: a grid of 1e9 tasks must not be planned. */
    int rc = bnc_plan_check_size(c->spec, c->o->max_tasks, NULL, err);
    if (!rc) rc = bnc_plan_build(c->spec, c->o->kinds, &c->ctx, &c->plan, err);
    if (rc) return rc;
    c->sum->planned = c->plan.n;
    if (c->o->dry_run) return 0;
    if ((rc = find_gpus(c, env_all, size, err)) != 0) return rc;
    if (c->o->journal_path)
        snprintf(c->sum->journal, sizeof c->sum->journal, "%s", c->o->journal_path);
    else
        snprintf(c->sum->journal, sizeof c->sum->journal, "var/journal/%s.journal", c->spec->name);
    bnc_idset in_db = {0}, done = {0};
    /* A journal another run is writing: refuse before writing anywhere. */
    if ((rc = bnc_journal_probe_lock(c->sum->journal, err)) != 0) return rc;
    if (!c->o->no_db) {
        rc = bnc_db_connect(c->o->db_url, &c->db, err);
        if (!rc) rc = db_prepare(c, env_all, &in_db, err);
    }
    if (!rc) rc = open_journal(c, &done, &in_db, err);
    if (!rc) rc = queue_tasks(c, &done, &in_db, nq, err);
    bnc_idset_free(&in_db);
    bnc_idset_free(&done);
    return rc;
}

static int finish_db(coord *c)
{
    if (!c->sink || c->sum->orphaned) return 0;
    /* Up: the last rows. Away: one more try, which loads the backlog. */
    bnc_coord_sink_flush(c, 1);
    PGconn *db = bnc_live_sink_conn(c->sink);
    if (!db) return 0;
    bnc_err e;
    if (bnc_store_campaign_set_status(db, c->spec->name, c->sum->failed ? "failed" : "done", &e))
        bnc_coord_db_lost(c, e.msg);
    return 0;
}

/* Rank 0 reads the spec and shares its text: every rank parses the same
 * bytes, so workers need no shared file system. */
static int share_spec(MPI_Comm comm, int rank, const char *path, bnc_spec **spec, bnc_err *err)
{
    char *text = NULL;
    size_t n = 0;
    long long len = -1;
    int rc = 0;
    if (rank == 0) {
        rc = bnc_read_file(path, &text, &n, err);
        len = rc ? -1 : (long long)n;
    }
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm);
    if (len < 0) {
        if (rank != 0) bnc_err_set(err, BNC_EINVAL, "rank 0 could not read the spec");
        return rank == 0 ? rc : BNC_EINVAL;
    }
    if (rank != 0 && !(text = malloc((size_t)len + 1)))
        return bnc_err_set(err, BNC_ENOMEM, "out of memory");
    MPI_Bcast(text, (int)len, MPI_CHAR, 0, comm);
    text[len] = '\0';
    rc = bnc_spec_parse(text, (size_t)len, path, spec, err);
    free(text);
    return rc;
}

/* Where this rank's tasks run: rank, GPU by local rank (ranks on a node
 * share its GPUs round-robin), one cache of open model files per process. */
static void set_context(coord *c, int rank, const char *host, char *spec_dir)
{
    c->ctx.rank = rank;
    c->ctx.local_rank = rank;
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (lr) c->ctx.local_rank = atoi(lr);
    c->ctx.threads = c->o->threads > 0 ? c->o->threads : 1;
    c->ctx.cache = bnc_mcache_new(0, 0);
    int ngpu = bnc_gpu_count();
    c->ctx.gpu = ngpu > 0 ? c->ctx.local_rank % ngpu : -1;
    c->ctx.host = host;
    c->ctx.spec_dir = dirname(spec_dir);
    if (c->spec) {
        c->ctx.tensors = c->spec->tensors;
        c->ctx.models = c->spec->models;
        snprintf(c->sum->campaign, sizeof c->sum->campaign, "%s", c->spec->name);
    }
    bnc_launcher_init(&c->launcher);
}

/* Provenance of every rank, gathered on rank 0 as a JSON array text (rank
 * 0 frees it; NULL elsewhere). */
static char *gather_environments(MPI_Comm comm, int rank, int size)
{
    enum { ENV_MAX = 8192 };
    char *env = bnc_environment_json();
    char mine[ENV_MAX] = "";
    snprintf(mine, sizeof mine, "%s", env ? env : "{}");
    free(env);
    char *all = rank == 0 ? calloc((size_t)size, ENV_MAX) : NULL;
    MPI_Gather(mine, ENV_MAX, MPI_CHAR, all, ENV_MAX, MPI_CHAR, 0, comm);
    if (rank != 0 || !all) return NULL;
    bnc_buf b = {0};
    bnc_buf_puts(&b, "[");
    for (int i = 0; i < size; i++) {
        bnc_buf_puts(&b, i ? "," : "");
        bnc_buf_puts(&b, all + (size_t)i * ENV_MAX);
    }
    bnc_buf_puts(&b, "]");
    free(all);
    return b.p;
}

/* Rank 0 runs the queued tasks (alone or with workers) and finishes. */
static int run_rank0(coord *c, MPI_Comm comm, int size, size_t nq, bnc_err *err)
{
    c->to_run = nq;
    c->t0 = bnc_now();
    c->last_flush = c->last_progress = c->t0;
    int rc =
        size == 1 ? bnc_coord_run_alone(c, err) : bnc_coord_run_workers(c, comm, size, nq, err);
    if (c->sum->orphaned) return rc;
    bnc_coord_progress(c, 1);
    if (!rc) rc = bnc_journal_sync(c->journal, err);
    finish_db(c);
    bnc_run_summary *sum = c->sum;
    sum->seconds = bnc_now() - c->t0;
    sum->tasks_per_s = sum->seconds > 0 ? (double)(sum->done + sum->failed) / sum->seconds : 0;
    if (!rc && sum->failed)
        rc = bnc_err_set(err, BNC_EINTERNAL, "%zu of %zu tasks failed after %d retries",
                         sum->failed, nq, c->spec->retries);
    return rc;
}

static void coord_free(coord *c)
{
    free(c->attempts);
    free(c->has_gpu);
    bnc_mcache_free(c->ctx.cache);
    for (int l = 0; l < 2; l++) {
        free(c->lanes[l].q);
        free(c->lanes[l].retry);
    }
    bnc_journal_close(c->journal);
    bnc_live_sink_free(c->sink);
    bnc_db_close(c->db);
    bnc_plan_free(&c->plan);
    bnc_spec_free(c->spec);
}

int bnc_campaign_run(MPI_Comm comm, const bnc_run_opts *o, bnc_run_summary *sum, bnc_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(sum, 0, sizeof *sum);
    coord c = {.o = o, .sum = sum, .t0 = bnc_now()};
    c.tty = o->progress == 0 && isatty(2);
    int rc = share_spec(comm, rank, o->spec_path, &c.spec, err);
    char host[256] = "", spec_dir[1024];
    gethostname(host, sizeof host - 1);
    snprintf(spec_dir, sizeof spec_dir, "%s", o->spec_path);
    set_context(&c, rank, host, spec_dir);
    char *env_all = gather_environments(comm, rank, size);
    size_t nq = 0;
    if (rank == 0 && !rc) rc = prepare(&c, env_all, size, &nq, err);
    free(env_all);
    /* go: 0 schedule, a negative status: stop with it, 1: stop (dry run). */
    int go = rc ? rc : (o->dry_run ? 1 : 0);
    MPI_Bcast(&go, 1, MPI_INT, 0, comm);
    if (go < 0 && rank != 0 && !rc) rc = bnc_err_set(err, go, "rank 0 stopped before scheduling");
    if (go == 0 && rank == 0)
        rc = run_rank0(&c, comm, size, nq, err);
    else if (go == 0)
        rc = bnc_worker_loop(comm, o, &c.ctx, &c.launcher, err);
    if (go == 0 && rank != 0 && c.launcher.lost) sum->orphaned = 1;
    coord_free(&c);
    return rc;
}
