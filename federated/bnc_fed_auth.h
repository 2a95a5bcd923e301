/* CURVE authentication of the federated sockets: key files made by
 * `bnc fed keygen`, the server's allow-list binding each client id to one
 * public key, and the ZAP handler that enforces it. */
#ifndef BNC_FED_AUTH_H
#define BNC_FED_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_FED_ZAP_DOMAIN "bnc-fed"

/* Keys as ZeroMQ's Z85 text (40 characters and a NUL). */
typedef struct bnc_fed_keypair {
    char pub[41], sec[41];
} bnc_fed_keypair;

/* The server's key pair and allow-list: client id i may only use key
 * allowed[i] (binary, 32 bytes); ids without a key are refused. */
typedef struct bnc_fed_keys {
    bnc_fed_keypair server;
    int nclients;
    uint8_t (*allowed)[32]; /* nclients entries */
    uint8_t *has;           /* nclients flags */
} bnc_fed_keys;

/* Writes DIR/server.key, DIR/client-K.key (K in 0..clients) and
 * DIR/allow (one "K Z85-public-key" line per client) with fresh CURVE key
 * pairs; secret files are mode 0600. Creates DIR (0700) when missing;
 * refuses to overwrite an existing server.key (BNC_EINVAL). BNC_ENOTSUP when
 * libzmq lacks CURVE. */
int bnc_fed_keygen(const char *dir, int clients, bnc_err *err);

/* Reads a key file ("public Z85" and "secret Z85" lines; a file holding only
 * the public line loads with sec empty). BNC_EFORMAT names the file. */
int bnc_fed_keypair_load(const char *path, bnc_fed_keypair *kp, bnc_err *err);

/* Loads DIR/server.key and DIR/allow for a run of nclients. An allow line
 * for an id >= nclients is ignored; a malformed line or a key listed for two
 * ids is BNC_EFORMAT naming DIR/allow:LINE. Free with bnc_fed_keys_free. */
int bnc_fed_keys_load(const char *dir, int nclients, bnc_fed_keys *k, bnc_err *err);
void bnc_fed_keys_free(bnc_fed_keys *k);

/* The client id whose allowed key is key (32 bytes), or -1. */
int bnc_fed_keys_lookup(const bnc_fed_keys *k, const uint8_t *key);

/* Configures sock (a DEALER) as a CURVE client of server_pub with key pair
 * kp. BNC_ENET on a ZeroMQ error. */
int bnc_fed_curve_client(void *sock, const char *server_pub, const bnc_fed_keypair *kp,
                         bnc_err *err);

#endif
