/* A small YAML document tree (libyaml events -> nodes) that keeps the line of
 * every node and key, so spec validation can name file, line and key. */
#ifndef BNC_YAML_H
#define BNC_YAML_H

#include <stddef.h>

#include "bnc_err.h"

typedef enum { BNC_Y_SCALAR, BNC_Y_SEQ, BNC_Y_MAP } bnc_ykind;

typedef struct bnc_ynode bnc_ynode;
struct bnc_ynode {
    bnc_ykind kind;
    int line;          /* 1-based line where the node starts */
    char *scalar;      /* BNC_Y_SCALAR: the text */
    int quoted;        /* scalar was quoted: always a string */
    size_t n;          /* items (SEQ) or pairs (MAP) */
    bnc_ynode **items; /* SEQ items or MAP values */
    char **keys;       /* MAP keys */
    int *key_lines;    /* MAP key lines */
};

/* Parses text (named `file` in messages) into *out (free with
 * bnc_ynode_free). Syntax errors and duplicate keys give BNC_EINVAL with
 * file:line. An empty document gives an empty map. */
int bnc_yaml_parse(const char *text, size_t n, const char *file, bnc_ynode **out, bnc_err *err);
void bnc_ynode_free(bnc_ynode *node);
/* Value of key in a map, or NULL; *line gets the key's line when found. */
const bnc_ynode *bnc_ymap_get(const bnc_ynode *map, const char *key, int *line);

#endif
