/* The task runtime: run a kind in this process, or in a forked child with a
 * time limit. The child sends its result through a pipe in a small record of
 * its own (the child is a fork of this binary, so bnc_metric travels as it
 * lies in memory) and leaves with _exit, touching neither MPI nor the
 * parent's buffers. */
#include "bnc_exec.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bnc_time.h"

#define PIPE_MAGIC 0x62ec7e5cu

/* The record a child writes: this header, the error text, the metrics. */
typedef struct pipe_head {
    uint32_t magic;
    int32_t ok;
    uint64_t error_len;
    uint64_t n_metrics;
} pipe_head;

void bnc_exec_result_reset(bnc_exec_result *r)
{
    free(r->error);
    r->error = NULL;
    r->ok = 0;
    bnc_metrics_reset(&r->m);
    r->started_at = r->finished_at = 0;
}

void bnc_exec_result_free(bnc_exec_result *r)
{
    bnc_exec_result_reset(r);
    bnc_metrics_free(&r->m);
}

static void fail(bnc_exec_result *r, const char *msg)
{
    r->ok = 0;
    free(r->error);
    r->error = strdup(msg);
    bnc_metrics_reset(&r->m);
}

/* Runs the task here; the kind writes straight into r->m. */
static void run_here(const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx, const char *kind,
                     const char *params_json, uint64_t seed, bnc_exec_result *r)
{
    bnc_err e;
    bnc_err_clear(&e);
    bnc_metrics_reset(&r->m);
    r->started_at = bnc_wall();
    int rc;
    const bnc_task_kind *k = bnc_task_kind_find(kinds, kind);
    json_error_t jerr;
    json_t *params = json_loads(params_json, 0, &jerr);
    if (!k)
        rc = bnc_err_set(&e, BNC_EINVAL, "unknown task kind '%s' on rank %d", kind, ctx->rank);
    else if (!params)
        rc = bnc_err_set(&e, BNC_EFORMAT, "malformed parameters: %s", jerr.text);
    else
        rc = k->run(params, seed, ctx, &r->m, &e);
    json_decref(params);
    r->finished_at = bnc_wall();
    r->ok = rc == 0;
    if (rc) fail(r, e.msg[0] ? e.msg : bnc_strerror(rc));
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* In the child: run, send the record, leave. */
static void child(int fd, const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx,
                  const char *kind, const char *params_json, uint64_t seed)
{
    bnc_exec_result r = {0};
    run_here(kinds, ctx, kind, params_json, seed, &r);
    pipe_head h = {PIPE_MAGIC, r.ok, r.error ? strlen(r.error) : 0, r.m.n};
    int bad = write_all(fd, &h, sizeof h) || write_all(fd, r.error ? r.error : "", h.error_len) ||
              write_all(fd, r.m.v, r.m.n * sizeof *r.m.v);
    _exit(bad ? 3 : 0);
}

/* Reads the child's record until EOF or the deadline; 1 when it timed out. */
static int read_until(int fd, double deadline, char **buf, size_t *n)
{
    size_t cap = 0;
    for (;;) {
        double left = deadline - bnc_wall();
        if (left <= 0) return 1;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(left * 1000.0) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) return 1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(*buf, cap);
            if (!p) return 0;
            *buf = p;
        }
        ssize_t got = read(fd, *buf + *n, cap - *n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 0;
        *n += (size_t)got;
    }
}

/* Parses the child's record into r; 0 when it was whole. */
static int parse_record(const char *buf, size_t n, bnc_exec_result *r)
{
    pipe_head h;
    if (n < sizeof h) return -1;
    memcpy(&h, buf, sizeof h);
    size_t left = n - sizeof h;
    if (h.magic != PIPE_MAGIC || h.error_len > left ||
        h.n_metrics != (left - h.error_len) / sizeof(bnc_metric) ||
        (left - h.error_len) % sizeof(bnc_metric))
        return -1;
    const char *p = buf + sizeof h;
    r->ok = h.ok != 0;
    if (!r->ok) {
        char *msg = strndup(p, (size_t)h.error_len);
        fail(r, msg ? msg : "out of memory");
        free(msg);
        return 0;
    }
    const bnc_metric *v = (const bnc_metric *)(const void *)(p + h.error_len);
    for (size_t i = 0; i < h.n_metrics; i++) {
        bnc_metric m;
        memcpy(&m, &v[i], sizeof m);
        m.name[sizeof m.name - 1] = m.unit[sizeof m.unit - 1] = '\0';
        if (bnc_metrics_add(&r->m, m.name, m.value, m.unit)) {
            fail(r, "out of memory for metrics");
            break;
        }
    }
    return 0;
}

static void run_limited(const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx,
                        const char *kind, const char *params_json, uint64_t seed, double timeout_s,
                        bnc_exec_result *r)
{
    int fds[2];
    if (pipe(fds) != 0) {
        run_here(kinds, ctx, kind, params_json, seed, r);
        return;
    }
    fflush(NULL);
    double started = bnc_wall();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], kinds, ctx, kind, params_json, seed);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        run_here(kinds, ctx, kind, params_json, seed, r);
        return;
    }
    char *buf = NULL;
    size_t n = 0;
    int timed_out = read_until(fds[0], started + timeout_s, &buf, &n);
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    bnc_metrics_reset(&r->m);
    int whole = !timed_out && parse_record(buf, n, r) == 0;
    free(buf);
    r->started_at = started;
    r->finished_at = bnc_wall();
    if (whole) return;
    char msg[200];
    if (timed_out)
        snprintf(msg, sizeof msg, "timed out after %g s (killed)", timeout_s);
    else if (WIFSIGNALED(status))
        snprintf(msg, sizeof msg, "crashed with signal %d", WTERMSIG(status));
    else
        snprintf(msg, sizeof msg, "ended without a result (exit status %d)", WEXITSTATUS(status));
    fail(r, msg);
}

void bnc_exec_task(const bnc_task_kind *const *kinds, const bnc_task_ctx *ctx, const char *kind,
                   const char *params_json, uint64_t seed, double timeout_s, bnc_exec_result *r)
{
    free(r->error);
    r->error = NULL;
    if (timeout_s > 0)
        run_limited(kinds, ctx, kind, params_json, seed, timeout_s, r);
    else
        run_here(kinds, ctx, kind, params_json, seed, r);
}
