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

/* Flush the database sink at this many buffered results, or this often. */
#define SINK_BATCH 20000
#define SINK_EVERY_S 0.5

/* Turns a lost database into a warning: results stay in the journal. */
void bnc_coord_db_lost(coord *c, const bnc_err *e)
{
    if (c->sum->db_lost) return;
    c->sum->db_lost = 1;
    snprintf(c->sum->db_error, sizeof c->sum->db_error, "%s", e->msg);
    fprintf(stderr,
            "\nbnc: warning: %s\nbnc: the campaign goes on; every result is in the journal %s; "
            "load it later with `bnc db sync %s --db URL`\n",
            e->msg, c->sum->journal, c->sum->journal);
}

void bnc_coord_sink_flush(coord *c, int force)
{
    if (!c->sink || c->sum->db_lost || c->sum->orphaned || bnc_sink_pending(c->sink) == 0) return;
    double now = bnc_now();
    if (!force && bnc_sink_pending(c->sink) < SINK_BATCH && now - c->last_flush < SINK_EVERY_S)
        return;
    bnc_err e;
    if (bnc_sink_flush(c->sink, &c->sum->new_task_rows, &c->sum->new_metric_rows, &e))
        bnc_coord_db_lost(c, &e);
    c->last_flush = now;
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
        bnc_err e;
        if (bnc_sink_add(s->c->sink, r, &e)) return BNC_ENOMEM;
        s->replayed++;
    }
    return 0;
}

static int db_prepare(coord *c, const char *env_json_all, int size, bnc_idset *in_db, bnc_err *err)
{
    int rc = bnc_db_migrate(c->db, err);
    if (rc) return rc;
    PGresult *r;
    const char *p1[] = {c->spec->name};
    rc = bnc_db_query(c->db, "SELECT spec_hash FROM campaigns WHERE name = $1", 1, p1, &r, err);
    if (rc) return rc;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), c->spec->hash) != 0) {
        rc = bnc_err_set(err, BNC_EINVAL,
                         "%s: campaign '%s' already exists in the database with a different "
                         "spec (hash %s, this spec %s); give the campaign a new name",
                         c->spec->file, c->spec->name, PQgetvalue(r, 0, 0), c->spec->hash);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    char total[32];
    snprintf(total, sizeof total, "%zu", c->plan.n);
    const char *p2[] = {c->spec->name, c->spec->description, c->spec->text, c->spec->hash, total};
    rc =
        bnc_db_query(c->db,
                     "INSERT INTO campaigns (name, description, spec_text, spec_hash, total_tasks) "
                     "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
                     "status = 'running', updated_at = now()",
                     5, p2, &r, err);
    if (rc) return rc;
    PQclear(r);
    /* One environment row per distinct host of this run. */
    json_error_t je;
    json_t *envs = json_loads(env_json_all, 0, &je);
    json_t *hosts = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(envs, i, e)
    {
        const char *host = json_string_value(json_object_get(e, "host"));
        json_t *h = json_object_get(hosts, host ? host : "");
        if (h) {
            json_object_set_new(h, "ranks",
                                json_integer(json_integer_value(json_object_get(h, "ranks")) + 1));
            continue;
        }
        json_object_set_new(e, "ranks", json_integer(1));
        json_object_set(hosts, host ? host : "", e);
    }
    const char *hk;
    json_t *h;
    json_object_foreach(hosts, hk, h)
    {
        char ranks[16], mem[32];
        snprintf(ranks, sizeof ranks, "%lld",
                 (long long)json_integer_value(json_object_get(h, "ranks")));
        snprintf(mem, sizeof mem, "%lld",
                 (long long)json_integer_value(json_object_get(h, "mem_bytes")));
#define S(k)                                                                                       \
    (json_string_value(json_object_get(h, k)) ? json_string_value(json_object_get(h, k)) : "")
        const char *pe[] = {c->spec->name,
                            hk,
                            ranks,
                            S("cpu_model"),
                            S("cpu_flags"),
                            mem,
                            S("gpu"),
                            S("gpu_driver"),
                            S("compiler"),
                            S("mpi_version"),
                            S("nccl_version"),
                            S("libpq_version"),
                            S("bnc_version"),
                            S("git_rev"),
                            json_is_true(json_object_get(h, "git_dirty")) ? "true" : "false"};
#undef S
        rc = bnc_db_query(c->db,
                          "INSERT INTO environments (campaign, host, ranks, cpu_model, cpu_flags, "
                          "mem_bytes, gpu, gpu_driver, compiler, mpi_version, nccl_version, "
                          "libpq_version, bnc_version, git_rev, git_dirty) VALUES ($1, $2, $3, $4, "
                          "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                          15, pe, &r, err);
        if (rc) break;
        PQclear(r);
    }
    json_decref(hosts);
    json_decref(envs);
    (void)size;
    if (rc) return rc;
    rc = bnc_db_query(c->db, "SELECT id FROM tasks WHERE campaign = $1 AND status = 'done'", 1, p1,
                      &r, err);
    if (rc) return rc;
    for (int k = 0; k < PQntuples(r); k++)
        if (bnc_idset_add(in_db, PQgetvalue(r, k, 0)) < 0) {
            PQclear(r);
            return bnc_err_set(err, BNC_ENOMEM, "out of memory");
        }
    PQclear(r);
    return bnc_sink_new(c->db, &c->sink, err);
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
    int rc = bnc_journal_open(c->sum->journal, c->spec->name, c->spec->hash, c->spec->text,
                              &c->journal, err);
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
    int rc = bnc_plan_build(c->spec, c->o->kinds, &c->ctx, &c->plan, err);
    if (rc) return rc;
    c->sum->planned = c->plan.n;
    if (c->o->dry_run) return 0;
    if ((rc = find_gpus(c, env_all, size, err)) != 0) return rc;
    if (c->o->journal_path)
        snprintf(c->sum->journal, sizeof c->sum->journal, "%s", c->o->journal_path);
    else
        snprintf(c->sum->journal, sizeof c->sum->journal, "var/journal/%s.journal", c->spec->name);
    bnc_idset in_db = {0}, done = {0};
    if (!c->o->no_db) {
        rc = bnc_db_connect(c->o->db_url, &c->db, err);
        if (!rc) rc = db_prepare(c, env_all, size, &in_db, err);
    }
    if (!rc) rc = open_journal(c, &done, &in_db, err);
    if (!rc) rc = queue_tasks(c, &done, &in_db, nq, err);
    bnc_idset_free(&in_db);
    bnc_idset_free(&done);
    return rc;
}

static int finish_db(coord *c)
{
    if (!c->db || c->sum->db_lost || c->sum->orphaned) return 0;
    bnc_coord_sink_flush(c, 1);
    if (c->sum->db_lost) return 0;
    bnc_err e;
    PGresult *r;
    const char *p[] = {c->spec->name, c->sum->failed ? "failed" : "done"};
    if (bnc_db_query(c->db, "UPDATE campaigns SET status = $2, updated_at = now() WHERE name = $1",
                     2, p, &r, &e) == 0)
        PQclear(r);
    else
        bnc_coord_db_lost(c, &e);
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
    bnc_sink_free(c->sink);
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
