/* fed sim: the server and every client in one job. One process: the server
 * in a thread on inproc://, the clients spread over a thread pool. Under
 * mpirun with several ranks: rank 0 serves on tcp://127.0.0.1 (loopback
 * only) and the other ranks run the clients. */
#include <mpi.h>
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bnc_fed.h"
#include "bnc_rng.h"

/* The secagg_drop client ids (of a seeded order) that vanish after
 * sending their masked update, as a 0/1 array over ids. */
static void drop_ids(const bnc_fed_config *cfg, uint8_t *out)
{
    for (int i = 0; i < cfg->clients; i++) {
        uint64_t ki = bnc_mix64(bnc_mix64(cfg->seed, 0xd20b), (uint64_t)i);
        int below = 0;
        for (int j = 0; j < cfg->clients; j++) {
            uint64_t kj = bnc_mix64(bnc_mix64(cfg->seed, 0xd20b), (uint64_t)j);
            below += kj < ki || (kj == ki && j < i);
        }
        out[i] = below < cfg->secagg_drop;
    }
}

typedef struct sim_server {
    const bnc_fed_config *cfg;
    bnc_fed_server_opts so;
    bnc_fed_summary sum;
    bnc_err err;
    int rc;
    atomic_int *stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int listening;
    char endpoint[512];
} sim_server;

typedef struct sim_worker {
    bnc_fed_client_opts co;
    int *ids;
    int n;
    double timeout_s;
    bnc_err err;
    int rc;
} sim_worker;

static void on_listen(void *ctx, const char *ep)
{
    sim_server *s = ctx;
    pthread_mutex_lock(&s->mu);
    snprintf(s->endpoint, sizeof s->endpoint, "%s", ep);
    s->listening = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *server_main(void *arg)
{
    sim_server *s = arg;
    openblas_set_num_threads(1);
    bnc_err_clear(&s->err);
    s->rc = bnc_fed_server_run(s->cfg, &s->so, &s->sum, &s->err);
    /* Wake a waiter if the server failed before listening, and stop the
     * clients if it failed at all. */
    pthread_mutex_lock(&s->mu);
    s->listening = -1 + 2 * s->listening;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->rc || s->cfg->stop_after) atomic_store(s->stop, 1);
    return NULL;
}

static void *worker_main(void *arg)
{
    sim_worker *w = arg;
    openblas_set_num_threads(1);
    bnc_err_clear(&w->err);
    w->rc = bnc_fed_clients_run(&w->co, w->ids, w->n, w->timeout_s, &w->err);
    return NULL;
}

/* Runs the clients ids[k] with k % nthreads == t in thread t; the first
 * failure wins. */
static int run_clients(const bnc_fed_client_opts *base, const int *ids, int n, int nthreads,
                       double timeout_s, bnc_err *err)
{
    if (nthreads > n) nthreads = n;
    if (nthreads < 1) return 0;
    sim_worker *ws = calloc((size_t)nthreads, sizeof *ws);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    int rc = 0, started = 0;
    if (!ws || !th) {
        free(ws);
        free(th);
        return bnc_err_set(err, BNC_ENOMEM, "sim: out of memory");
    }
    for (int t = 0; t < nthreads; t++) {
        ws[t].co = *base;
        ws[t].timeout_s = timeout_s;
        ws[t].ids = malloc((size_t)(n / nthreads + 1) * sizeof(int));
        if (!ws[t].ids) {
            rc = bnc_err_set(err, BNC_ENOMEM, "sim: out of memory");
            break;
        }
        for (int k = t; k < n; k += nthreads)
            ws[t].ids[ws[t].n++] = ids[k];
    }
    for (int t = 0; t < nthreads && !rc; t++) {
        if (pthread_create(&th[t], NULL, worker_main, &ws[t]) != 0) {
            rc = bnc_err_set(err, BNC_EINTERNAL, "sim: cannot start a client thread");
            if (base->stop) atomic_store(base->stop, 1);
            break;
        }
        started++;
    }
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (ws[t].rc && !rc) {
            rc = ws[t].rc;
            if (err) *err = ws[t].err;
        }
    }
    for (int t = 0; t < nthreads; t++)
        free(ws[t].ids);
    free(ws);
    free(th);
    return rc;
}

int bnc_fed_sim_run(const bnc_fed_config *cfg, const bnc_fed_sim_opts *o, bnc_fed_summary *out,
                    bnc_err *err)
{
    memset(out, 0, sizeof *out);
    int rank = 0, size = 1, inited = 0;
    if (!o->local) {
        MPI_Initialized(&inited);
        if (inited) {
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);
            MPI_Comm_size(MPI_COMM_WORLD, &size);
        }
    }
    int threads = o->threads > 0 ? o->threads : 2;
    int is_server = rank == 0, has_clients = size == 1 || rank > 0;
    bnc_fed_dataset train = {0}, test = {0};
    bnc_fed_partition part = {0};
    int rc =
        bnc_fed_mnist_load(o->data_dir, has_clients ? &train : NULL, is_server ? &test : NULL, err);
    if (!rc && has_clients)
        rc = bnc_fed_partition_make(train.y, train.n, BNC_FED_NCLASSES, cfg->clients,
                                    &cfg->partition, cfg->seed, &part, err);
    /* Every rank must agree to go on before any waits on another. */
    if (size > 1) {
        int bad = rc != 0, any = 0;
        MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any && !rc)
            rc = bnc_err_set(err, BNC_EINTERNAL, "sim: another rank failed to load the data");
    }
    if (rc) goto done;
    void *zctx = zmq_ctx_new();
    if (!zctx) {
        rc = bnc_err_set(err, BNC_ENET, "zmq_ctx_new failed");
        goto done;
    }
    zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, cfg->clients + 64);
    atomic_int stop = 0;
    sim_server srv;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.cv, NULL);
    pthread_t sth;
    int server_started = 0;
    char endpoint[512] = "";
    bnc_fed_config scfg;
    if (is_server) {
        char bind[256];
        if (size > 1)
            snprintf(bind, sizeof bind, "tcp://127.0.0.1:*");
        else
            snprintf(bind, sizeof bind, "inproc://bnc-fed-%p", (void *)&srv);
        /* Every client is ours: wait for all of them before round 1, so
         * the sample (and the run) does not depend on thread timing. */
        scfg = *cfg;
        scfg.min_clients = cfg->clients;
        srv.cfg = &scfg;
        srv.stop = &stop;
        srv.so.bind = bind;
        srv.so.zmq_ctx = zctx;
        srv.so.test = &test;
        if (has_clients) srv.so.part = &part;
        srv.so.sink = o->sink;
        srv.so.on_listen = on_listen;
        srv.so.on_listen_ctx = &srv;
        if (pthread_create(&sth, NULL, server_main, &srv) != 0) {
            rc = bnc_err_set(err, BNC_EINTERNAL, "sim: cannot start the server thread");
        } else {
            server_started = 1;
            pthread_mutex_lock(&srv.mu);
            while (srv.listening == 0)
                pthread_cond_wait(&srv.cv, &srv.mu);
            snprintf(endpoint, sizeof endpoint, "%s", srv.endpoint);
            if (srv.listening < 0) endpoint[0] = 0;
            pthread_mutex_unlock(&srv.mu);
        }
    }
    if (size > 1) MPI_Bcast(endpoint, sizeof endpoint, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!rc && endpoint[0] && has_clients) {
        int nrank = size > 1 ? size - 1 : 1, me = size > 1 ? rank - 1 : 0;
        int *ids = malloc((size_t)cfg->clients * sizeof *ids);
        int n = 0;
        if (!ids) {
            rc = bnc_err_set(err, BNC_ENOMEM, "sim: out of memory");
        } else {
            for (int k = me; k < cfg->clients; k += nrank)
                ids[n++] = k;
            bnc_fed_client_opts co;
            memset(&co, 0, sizeof co);
            co.connect = endpoint;
            co.zmq_ctx = zctx;
            co.train = &train;
            co.part = &part;
            co.sink.log = o->sink.log;
            co.sink.ctx = o->sink.ctx;
            co.heartbeat_s = size > 1 ? 2.0 : 0;
            co.stop = &stop;
            co.attack = cfg->attack;
            co.attack_scale = cfg->attack_scale;
            uint8_t *evil = calloc((size_t)cfg->clients, 1);
            if (evil)
                for (int k = 0; k < cfg->clients; k++)
                    evil[k] = (uint8_t)bnc_fed_is_attacker(cfg, k);
            co.attacker = evil;
            uint8_t *gone = cfg->secagg_drop > 0 ? calloc((size_t)cfg->clients, 1) : NULL;
            if (gone) drop_ids(cfg, gone);
            co.drop_unmask = gone;
            double timeout = cfg->join_timeout_s + 4 * cfg->deadline_s;
            rc = evil ? run_clients(&co, ids, n, threads, timeout, err)
                      : bnc_err_set(err, BNC_ENOMEM, "sim: out of memory");
            free(evil);
            free(gone);
            free(ids);
            if (rc) atomic_store(&stop, 1);
        }
    }
    if (server_started) {
        pthread_join(sth, NULL);
        *out = srv.sum;
        if (srv.rc) {
            rc = srv.rc;
            if (err) *err = srv.err;
        }
    }
    pthread_mutex_destroy(&srv.mu);
    pthread_cond_destroy(&srv.cv);
    zmq_ctx_term(zctx);
    if (size > 1) {
        int bad = rc != 0, any = 0;
        MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any && !rc && is_server)
            rc = bnc_err_set(err, BNC_EINTERNAL, "sim: a client rank failed");
    }
done:
    bnc_fed_partition_free(&part);
    bnc_fed_dataset_free(&train);
    bnc_fed_dataset_free(&test);
    return rc;
}
