/* CURVE key files, the allow-list and client socket setup. */
#include "bnc_fed_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static int write_file(const char *path, const char *text, mode_t mode, bnc_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) return bnc_err_set(err, BNC_EIO, "%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int ok = w == (ssize_t)n && fsync(fd) == 0;
    ok &= close(fd) == 0;
    return ok ? 0 : bnc_err_set(err, BNC_EIO, "%s: write failed: %s", path, strerror(errno));
}

int bnc_fed_keygen(const char *dir, int clients, bnc_err *err)
{
    if (!zmq_has("curve"))
        return bnc_err_set(err, BNC_ENOTSUP, "keygen: this libzmq has no CURVE support");
    if (clients < 1 || clients > 100000)
        return bnc_err_set(err, BNC_EINVAL, "keygen: --clients %d outside 1..100000", clients);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return bnc_err_set(err, BNC_EIO, "%s: cannot create: %s", dir, strerror(errno));
    char path[4200], text[160];
    snprintf(path, sizeof path, "%s/server.key", dir);
    if (access(path, F_OK) == 0)
        return bnc_err_set(err, BNC_EINVAL, "%s exists: keys are never overwritten", path);
    bnc_fed_keypair kp;
    if (zmq_curve_keypair(kp.pub, kp.sec) != 0)
        return bnc_err_set(err, BNC_ENET, "zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
    snprintf(text, sizeof text, "public %s\nsecret %s\n", kp.pub, kp.sec);
    int rc = write_file(path, text, 0600, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/server.pub", dir);
    snprintf(text, sizeof text, "public %s\n", kp.pub);
    if ((rc = write_file(path, text, 0644, err))) return rc;
    size_t cap = (size_t)clients * 64 + 1;
    char *allow = malloc(cap);
    if (!allow) return bnc_err_set(err, BNC_ENOMEM, "keygen: out of memory");
    size_t used = 0;
    for (int k = 0; k < clients && !rc; k++) {
        if (zmq_curve_keypair(kp.pub, kp.sec) != 0) {
            rc = bnc_err_set(err, BNC_ENET, "zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
            break;
        }
        snprintf(path, sizeof path, "%s/client-%d.key", dir, k);
        snprintf(text, sizeof text, "public %s\nsecret %s\n", kp.pub, kp.sec);
        rc = write_file(path, text, 0600, err);
        used += (size_t)snprintf(allow + used, cap - used, "%d %s\n", k, kp.pub);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/allow", dir);
        rc = write_file(path, allow, 0644, err);
    }
    free(allow);
    return rc;
}

static int z85_key(const char *s, uint8_t out[32])
{
    if (strlen(s) != 40) return -1;
    return zmq_z85_decode(out, s) ? 0 : -1;
}

int bnc_fed_keypair_load(const char *path, bnc_fed_keypair *kp, bnc_err *err)
{
    memset(kp, 0, sizeof *kp);
    FILE *f = fopen(path, "r");
    if (!f)
        return bnc_err_set(err, errno == ENOENT || errno == ENOTDIR ? BNC_EINVAL : BNC_EIO,
                           "%s: cannot open: %s", path, strerror(errno));
    char line[256];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char key[16], val[64];
        uint8_t bin[32];
        if (line[0] == '\n' || line[0] == '#') continue;
        if (sscanf(line, "%15s %63s", key, val) != 2 || z85_key(val, bin) != 0 ||
            (strcmp(key, "public") && strcmp(key, "secret")))
            rc = bnc_err_set(err, BNC_EFORMAT,
                             "%s:%d: expected 'public KEY' or 'secret KEY' (40 Z85 characters)",
                             path, lineno);
        else
            snprintf(key[0] == 'p' ? kp->pub : kp->sec, 41, "%s", val);
    }
    fclose(f);
    if (!rc && !kp->pub[0]) rc = bnc_err_set(err, BNC_EFORMAT, "%s: no public key", path);
    return rc;
}

void bnc_fed_keys_free(bnc_fed_keys *k)
{
    if (!k) return;
    free(k->allowed);
    free(k->has);
    memset(k, 0, sizeof *k);
}

int bnc_fed_keys_load(const char *dir, int nclients, bnc_fed_keys *k, bnc_err *err)
{
    memset(k, 0, sizeof *k);
    if (!zmq_has("curve"))
        return bnc_err_set(err, BNC_ENOTSUP, "--keys: this libzmq has no CURVE support");
    char path[4200];
    snprintf(path, sizeof path, "%s/server.key", dir);
    int rc = bnc_fed_keypair_load(path, &k->server, err);
    if (rc) return rc;
    if (!k->server.sec[0]) return bnc_err_set(err, BNC_EFORMAT, "%s: no secret key", path);
    k->nclients = nclients;
    k->allowed = calloc((size_t)nclients, sizeof *k->allowed);
    k->has = calloc((size_t)nclients, 1);
    if (!k->allowed || !k->has) {
        bnc_fed_keys_free(k);
        return bnc_err_set(err, BNC_ENOMEM, "--keys: out of memory");
    }
    snprintf(path, sizeof path, "%s/allow", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        bnc_fed_keys_free(k);
        return bnc_err_set(err, e == ENOENT || e == ENOTDIR ? BNC_EINVAL : BNC_EIO,
                           "%s: cannot open: %s", path, strerror(e));
    }
    char line[256];
    int lineno = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '#') continue;
        long id;
        char val[64];
        uint8_t bin[32];
        if (sscanf(line, "%ld %63s", &id, val) != 2 || id < 0 || z85_key(val, bin) != 0) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s:%d: expected 'CLIENT-ID Z85-PUBLIC-KEY'", path,
                             lineno);
            break;
        }
        if (id >= nclients) continue;
        if (k->has[id]) {
            rc = bnc_err_set(err, BNC_EFORMAT, "%s:%d: client %ld listed twice", path, lineno, id);
        } else if (bnc_fed_keys_lookup(k, bin) >= 0) {
            rc =
                bnc_err_set(err, BNC_EFORMAT, "%s:%d: the key of client %ld is already client %d's",
                            path, lineno, id, bnc_fed_keys_lookup(k, bin));
        } else {
            memcpy(k->allowed[id], bin, 32);
            k->has[id] = 1;
        }
    }
    fclose(f);
    if (rc) bnc_fed_keys_free(k);
    return rc;
}

int bnc_fed_keys_lookup(const bnc_fed_keys *k, const uint8_t *key)
{
    for (int i = 0; i < k->nclients; i++)
        if (k->has[i] && memcmp(k->allowed[i], key, 32) == 0) return i;
    return -1;
}

int bnc_fed_curve_client(void *sock, const char *server_pub, const bnc_fed_keypair *kp,
                         bnc_err *err)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->sec, 40) != 0)
        return bnc_err_set(err, BNC_ENET, "CURVE client keys: %s", zmq_strerror(zmq_errno()));
    return 0;
}
