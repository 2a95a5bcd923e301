/* Integration tests over real TCP sockets on 127.0.0.1 with real `bnc fed
 * server` and `bnc fed client` processes and PostgreSQL (BNC_TEST_DB; exit
 * 77 when unset). Scenarios:
 *   malformed  a foreign peer sends garbage and forged updates mid-run
 *   oversized  a foreign peer sends a message above --max-msg
 *   kill       a client kills itself when round 2 starts
 *   slow       a client answers after the deadline every round
 *   restart    the server is SIGKILLed after round 2 and started again
 * In each the run finishes, every round 1..R is stored exactly once with
 * sampled = finished + dropped, and the rejections are logged with the
 * peer's id. Usage: fed_socket_test BNC SCENARIO */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bnc_db.h"
#include "bnc_time.h"
#include "fed.pb-c.h"

extern char **environ;

#define NCLIENTS 4

static const char *bnc_path;
static char dir[256], run[128], ep[256], ckpt[300], epfile[300];
static const char *url;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            dump_logs();                                                                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void dump_logs(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tail -n 30 %s/*.log >&2", dir);
    if (system(cmd) != 0) fprintf(stderr, "(no logs)\n");
}

static pid_t spawn(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    posix_spawn_file_actions_addopen(&fa, 2, path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(rc));
        exit(1);
    }
    return pid;
}

static const char *deadline = "10";

static pid_t start_server(const char *bind, int rounds, const char *extra1, const char *extra2)
{
    char r[16];
    snprintf(r, sizeof r, "%d", rounds);
    char *argv[48];
    int k = 0;
    argv[k++] = (char *)bnc_path;
    argv[k++] = "fed";
    argv[k++] = "server";
    argv[k++] = "--bind";
    argv[k++] = (char *)bind;
    argv[k++] = "--endpoint-file";
    argv[k++] = epfile;
    argv[k++] = "--run";
    argv[k++] = run;
    argv[k++] = "--model";
    argv[k++] = "softmax";
    argv[k++] = "--clients";
    argv[k++] = "4";
    argv[k++] = "--per-round";
    argv[k++] = "4";
    argv[k++] = "--rounds";
    argv[k++] = r;
    argv[k++] = "--deadline";
    argv[k++] = (char *)deadline;
    argv[k++] = "--join-timeout";
    argv[k++] = "30";
    argv[k++] = "--lr";
    argv[k++] = "0.01";
    argv[k++] = "--checkpoint";
    argv[k++] = ckpt;
    argv[k++] = "--db";
    argv[k++] = (char *)url;
    argv[k++] = "--quiet";
    if (extra1) argv[k++] = (char *)extra1;
    if (extra2) argv[k++] = (char *)extra2;
    argv[k] = NULL;
    unlink(epfile);
    pid_t pid = spawn(argv, "server.log");
    /* Wait for the endpoint file. */
    double until = bnc_now() + 60;
    while (bnc_now() < until) {
        FILE *f = fopen(epfile, "r");
        if (f) {
            int ok = fgets(ep, sizeof ep, f) != NULL;
            fclose(f);
            if (ok) {
                ep[strcspn(ep, "\n")] = 0;
                return pid;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "server exited early (status %d)\n", st);
            dump_logs();
            exit(1);
        }
        usleep(50000);
    }
    fprintf(stderr, "no endpoint from the server\n");
    exit(1);
}

static pid_t start_client(int id, const char *extra1, const char *extra2)
{
    char cid[16], log[32];
    snprintf(cid, sizeof cid, "%d", id);
    snprintf(log, sizeof log, "client-%d.log", id);
    char *argv[20];
    int k = 0;
    argv[k++] = (char *)bnc_path;
    argv[k++] = "fed";
    argv[k++] = "client";
    argv[k++] = "--connect";
    argv[k++] = ep;
    argv[k++] = "--client-id";
    argv[k++] = cid;
    argv[k++] = "--heartbeat";
    argv[k++] = "0.5";
    argv[k++] = "--timeout";
    argv[k++] = "90";
    if (extra1) argv[k++] = (char *)extra1;
    if (extra2) argv[k++] = (char *)extra2;
    argv[k] = NULL;
    return spawn(argv, log);
}

/* Waits up to secs for pid; returns its status, or -1 after killing it. */
static int wait_for(pid_t pid, double secs)
{
    double until = bnc_now() + secs;
    int st;
    while (bnc_now() < until) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static PGconn *db;

static int stored_rounds(void)
{
    const char *p[1] = {run};
    PGresult *r;
    bnc_err e;
    if (bnc_db_query(db, "SELECT count(*) FROM fed_rounds WHERE run = $1", 1, p, &r, &e)) return -1;
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

typedef struct row {
    int round, sampled, finished, dropped, rejected;
    double acc;
} row;

/* Loads the stored rounds; checks they are exactly 1..R and consistent. */
static int load_rounds(row *rows, int R)
{
    const char *p[1] = {run};
    PGresult *r;
    bnc_err e;
    CHECK(bnc_db_query(db,
                       "SELECT round, clients_sampled, clients_finished, clients_dropped, "
                       "messages_rejected, accuracy FROM fed_rounds WHERE run = $1 ORDER BY round",
                       1, p, &r, &e) == 0,
          "%s", e.msg);
    int n = PQntuples(r);
    CHECK(n == R, "%d rounds stored, expected %d", n, R);
    for (int i = 0; i < n; i++) {
        rows[i].round = atoi(PQgetvalue(r, i, 0));
        rows[i].sampled = atoi(PQgetvalue(r, i, 1));
        rows[i].finished = atoi(PQgetvalue(r, i, 2));
        rows[i].dropped = atoi(PQgetvalue(r, i, 3));
        rows[i].rejected = atoi(PQgetvalue(r, i, 4));
        rows[i].acc = atof(PQgetvalue(r, i, 5));
        CHECK(rows[i].round == i + 1, "round %d at position %d", rows[i].round, i);
        CHECK(rows[i].sampled == rows[i].finished + rows[i].dropped, "round %d inconsistent",
              i + 1);
        CHECK(rows[i].acc > 0.5 && rows[i].acc <= 1, "round %d accuracy %g", i + 1, rows[i].acc);
    }
    PQclear(r);
    CHECK(bnc_db_query(db, "SELECT status, resumes FROM fed_runs WHERE name = $1", 1, p, &r, &e) ==
              0,
          "%s", e.msg);
    CHECK(PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "done") == 0, "run not done");
    int resumes = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    return resumes;
}

static int log_has(const char *log, const char *needle)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void wait_rounds(int n, double secs)
{
    double until = bnc_now() + secs;
    while (stored_rounds() < n && bnc_now() < until)
        usleep(50000);
    CHECK(stored_rounds() >= n, "round %d never stored", n);
}

/* A foreign DEALER with a readable routing id. */
static void *evil_peer(void *ctx)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, "evil-peer", 9);
    int linger = 1000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_connect(s, ep) == 0, "connect %s", ep);
    return s;
}

static void send_update(void *s, uint32_t client, uint32_t round)
{
    Bnc__Fed__Msg m = BNC__FED__MSG__INIT;
    Bnc__Fed__Update u = BNC__FED__UPDATE__INIT;
    u.round = round;
    u.client_id = client;
    u.examples = 100;
    m.body_case = BNC__FED__MSG__BODY_UPDATE;
    m.update = &u;
    uint8_t buf[256];
    size_t n = bnc__fed__msg__pack(&m, buf);
    zmq_send(s, buf, n, 0);
}

static void start_clients(pid_t *cl, const char *extra1, const char *extra2)
{
    for (int i = 0; i < NCLIENTS; i++)
        cl[i] =
            start_client(i, i == NCLIENTS - 1 ? extra1 : NULL, i == NCLIENTS - 1 ? extra2 : NULL);
}

static void finish_clients(pid_t *cl, int *status)
{
    for (int i = 0; i < NCLIENTS; i++)
        status[i] = wait_for(cl[i], 30);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fed_socket_test BNC SCENARIO\n");
        return 2;
    }
    url = getenv("BNC_TEST_DB");
    if (!url || !*url) {
        printf("BNC_TEST_DB unset: skipped\n");
        return 77;
    }
    bnc_path = argv[1];
    const char *sc = argv[2];
    snprintf(dir, sizeof dir, "/tmp/bnc-fedsock-%s-XXXXXX", sc);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(run, sizeof run, "fedtest-%s-%ld-%ld", sc, (long)getpid(), (long)time(NULL));
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(epfile, sizeof epfile, "%s/endpoint", dir);
    bnc_err e;
    CHECK(bnc_db_connect(url, &db, &e) == 0, "%s", e.msg);
    pid_t cl[NCLIENTS];
    int cst[NCLIENTS];
    row rows[16];

    if (!strcmp(sc, "malformed") || !strcmp(sc, "oversized")) {
        int R = 4;
        pid_t srv = start_server("tcp://127.0.0.1:*", R, "--max-msg", "100000");
        start_clients(cl, NULL, NULL);
        void *ctx = zmq_ctx_new();
        void *s = evil_peer(ctx);
        wait_rounds(1, 60);
        if (!strcmp(sc, "malformed")) {
            const char garbage[] = "\xff\xff\xff\x01 this is not a protobuf";
            zmq_send(s, garbage, sizeof garbage, 0);
            send_update(s, 99, 2);            /* unknown client */
            send_update(s, 0, 2);             /* forged: evil-peer did not join as client 0 */
            zmq_send(s, "a", 1, ZMQ_SNDMORE); /* two frames */
            zmq_send(s, "b", 1, 0);
        } else {
            size_t big = 200000;
            char *b = calloc(big, 1);
            zmq_send(s, b, big, 0);
            free(b);
        }
        int st = wait_for(srv, 90);
        CHECK(st == 0, "server status %d", st);
        zmq_close(s);
        zmq_ctx_term(ctx);
        finish_clients(cl, cst);
        for (int i = 0; i < NCLIENTS; i++)
            CHECK(cst[i] == 0, "client %d status %d", i, cst[i]);
        load_rounds(rows, R);
        int rej = 0;
        for (int i = 0; i < R; i++) {
            rej += rows[i].rejected;
            CHECK(rows[i].finished == NCLIENTS, "round %d: %d finished", i + 1, rows[i].finished);
        }
        if (!strcmp(sc, "malformed")) {
            CHECK(rej == 4, "%d rejections stored, expected 4", rej);
            CHECK(log_has("server.log", "rejected message from peer evil-peer"), "log");
            CHECK(log_has("server.log", "malformed message"), "log malformed");
            CHECK(log_has("server.log", "unknown client id 99"), "log unknown id");
            CHECK(log_has("server.log", "did not join as it"), "log forged");
            CHECK(log_has("server.log", "2 frames, expected one"), "log frames");
        } else {
            CHECK(rej == 1, "%d rejections stored, expected 1", rej);
            CHECK(log_has("server.log", "rejected message from peer evil-peer"), "log");
            CHECK(log_has("server.log", "oversized message of 200000 bytes (limit 100000)"),
                  "log oversized");
        }
    } else if (!strcmp(sc, "kill")) {
        int R = 4;
        pid_t srv = start_server("tcp://127.0.0.1:*", R, NULL, NULL);
        start_clients(cl, "--crash-at-round", "2");
        int st = wait_for(srv, 90);
        CHECK(st == 0, "server status %d", st);
        finish_clients(cl, cst);
        CHECK(WIFSIGNALED(cst[NCLIENTS - 1]) && WTERMSIG(cst[NCLIENTS - 1]) == SIGKILL,
              "client %d was not killed (%d)", NCLIENTS - 1, cst[NCLIENTS - 1]);
        for (int i = 0; i < NCLIENTS - 1; i++)
            CHECK(cst[i] == 0, "client %d status %d", i, cst[i]);
        load_rounds(rows, R);
        CHECK(rows[0].finished == NCLIENTS && rows[0].dropped == 0, "round 1");
        CHECK(rows[1].sampled == NCLIENTS && rows[1].finished == NCLIENTS - 1 &&
                  rows[1].dropped == 1,
              "round 2: sampled %d finished %d dropped %d", rows[1].sampled, rows[1].finished,
              rows[1].dropped);
        for (int i = 2; i < R; i++)
            CHECK(rows[i].finished == NCLIENTS - 1, "round %d: %d finished", i + 1,
                  rows[i].finished);
        CHECK(log_has("server.log", "dropped"), "log dropped");
    } else if (!strcmp(sc, "slow")) {
        /* Client 3 sleeps 4 s before training, past the 2.5 s deadline:
         * dropped every round, its late update rejected as stale. */
        int R = 3;
        deadline = "2.5";
        pid_t srv = start_server("tcp://127.0.0.1:*", R, NULL, NULL);
        start_clients(cl, "--slow", "4");
        int st = wait_for(srv, 90);
        CHECK(st == 0, "server status %d", st);
        finish_clients(cl, cst);
        for (int i = 0; i < NCLIENTS; i++)
            CHECK(cst[i] == 0, "client %d status %d", i, cst[i]);
        load_rounds(rows, R);
        int rej = 0;
        for (int i = 0; i < R; i++) {
            CHECK(rows[i].finished == NCLIENTS - 1 && rows[i].dropped == 1,
                  "round %d: finished %d dropped %d", i + 1, rows[i].finished, rows[i].dropped);
            rej += rows[i].rejected;
        }
        CHECK(rej >= 1, "no stale update rejected");
        CHECK(log_has("server.log", "client 3 missed the deadline, dropped"), "log dropped");
        CHECK(log_has("server.log", "rejected message from peer client-3"), "log stale");
    } else if (!strcmp(sc, "restart")) {
        int R = 5;
        pid_t srv = start_server("tcp://127.0.0.1:*", R, NULL, NULL);
        start_clients(cl, NULL, NULL);
        wait_rounds(2, 60);
        kill(srv, SIGKILL);
        int st;
        waitpid(srv, &st, 0);
        char bind[256];
        snprintf(bind, sizeof bind, "%s", ep); /* the same port: clients reconnect */
        srv = start_server(bind, R, NULL, NULL);
        st = wait_for(srv, 90);
        CHECK(st == 0, "restarted server status %d", st);
        finish_clients(cl, cst);
        for (int i = 0; i < NCLIENTS; i++)
            CHECK(cst[i] == 0, "client %d status %d", i, cst[i]);
        int resumes = load_rounds(rows, R);
        CHECK(resumes == 1, "resumes %d", resumes);
        CHECK(log_has("server.log", "resuming after round"), "log resume");
    } else {
        fprintf(stderr, "unknown scenario %s\n", sc);
        return 2;
    }
    bnc_db_close(db);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("fed socket %s: ok (run %s)\n", sc, run);
    return 0;
}
