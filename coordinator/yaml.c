#include "bnc_yaml.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

static bnc_ynode *node_new(bnc_ykind kind, int line)
{
    bnc_ynode *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

void bnc_ynode_free(bnc_ynode *node)
{
    if (!node) return;
    for (size_t i = 0; i < node->n; i++) {
        bnc_ynode_free(node->items[i]);
        if (node->keys) free(node->keys[i]);
    }
    free(node->items);
    free(node->keys);
    free(node->key_lines);
    free(node->scalar);
    free(node);
}

static int push_child(bnc_ynode *parent, bnc_ynode *child, char *key, int key_line)
{
    bnc_ynode **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
    if (!items) return -1;
    parent->items = items;
    if (parent->kind == BNC_Y_MAP) {
        char **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);
        if (!keys) return -1;
        parent->keys = keys;
        int *kl = realloc(parent->key_lines, (parent->n + 1) * sizeof *kl);
        if (!kl) return -1;
        parent->key_lines = kl;
        keys[parent->n] = key;
        kl[parent->n] = key_line;
    }
    items[parent->n++] = child;
    return 0;
}

/* The parser's state: the open collections, and for each open mapping the
 * key waiting for its value. */
typedef struct yparse {
    const char *file;
    bnc_err *err;
    bnc_ynode *stack[MAX_DEPTH];
    char *pending_key[MAX_DEPTH];
    int pending_line[MAX_DEPTH];
    int depth, docs;
    bnc_ynode *root;
} yparse;

/* The node an event opens (scalar, sequence, mapping), or NULL for events
 * that open none; *closes is set for the end of a collection. */
static int node_of(yparse *y, const yaml_event_t *ev, int line, bnc_ynode **node, int *closes)
{
    *node = NULL;
    *closes = 0;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        /* A second document would be ignored silently: refuse it. */
        if (++y->docs > 1)
            return bnc_err_set(y->err, BNC_EINVAL,
                               "%s:%d: a second YAML document starts here; a spec is one "
                               "document (remove the '---' or split the file)",
                               y->file, line);
        return 0;
    case YAML_ALIAS_EVENT:
        return bnc_err_set(y->err, BNC_EINVAL, "%s:%d: YAML aliases are not supported in specs",
                           y->file, line);
    case YAML_SCALAR_EVENT:
        *node = node_new(BNC_Y_SCALAR, line);
        if (*node) {
            (*node)->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
            (*node)->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                              ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            if (!(*node)->scalar) {
                free(*node);
                *node = NULL;
            }
        }
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        *node = node_new(ev->type == YAML_SEQUENCE_START_EVENT ? BNC_Y_SEQ : BNC_Y_MAP, line);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        *closes = 1;
        return 0;
    default:
        return 0;
    }
    return *node ? 0 : bnc_err_set(y->err, BNC_ENOMEM, "%s: out of memory", y->file);
}

/* A scalar in key position of the open mapping: remember it as the key. */
static int take_key(yparse *y, bnc_ynode *parent, bnc_ynode *node, int line)
{
    int rc = 0;
    if (node->kind != BNC_Y_SCALAR)
        rc = bnc_err_set(y->err, BNC_EINVAL, "%s:%d: mapping keys must be scalars", y->file, line);
    for (size_t i = 0; !rc && i < parent->n; i++)
        if (strcmp(parent->keys[i], node->scalar) == 0)
            rc = bnc_err_set(y->err, BNC_EINVAL, "%s:%d: duplicate key '%s' (first at line %d)",
                             y->file, line, node->scalar, parent->key_lines[i]);
    if (!rc) {
        y->pending_key[y->depth - 1] = node->scalar;
        y->pending_line[y->depth - 1] = line;
        node->scalar = NULL;
    }
    bnc_ynode_free(node);
    return rc;
}

/* Puts a new node in place: the root, a key, or a value of the open
 * collection; a collection becomes the open one. Owns node. */
static int attach(yparse *y, bnc_ynode *node, int line)
{
    if (y->depth == 0 && node->kind == BNC_Y_SCALAR) {
        y->root = node; /* a scalar document: kept so the caller can reject it */
        return 0;
    }
    if (y->depth > 0) {
        bnc_ynode *parent = y->stack[y->depth - 1];
        int is_map = parent->kind == BNC_Y_MAP;
        if (is_map && !y->pending_key[y->depth - 1]) return take_key(y, parent, node, line);
        char *key = is_map ? y->pending_key[y->depth - 1] : NULL;
        if (push_child(parent, node, key, is_map ? y->pending_line[y->depth - 1] : 0)) {
            bnc_ynode_free(node);
            return bnc_err_set(y->err, BNC_ENOMEM, "%s: out of memory", y->file);
        }
        if (is_map) y->pending_key[y->depth - 1] = NULL;
    }
    if (node->kind == BNC_Y_SCALAR) return 0;
    if (y->depth >= MAX_DEPTH) {
        if (y->depth == 0) bnc_ynode_free(node);
        return bnc_err_set(y->err, BNC_EINVAL, "%s:%d: nesting deeper than %d levels", y->file,
                           line, MAX_DEPTH);
    }
    y->pending_key[y->depth] = NULL;
    y->stack[y->depth++] = node;
    return 0;
}

/* The end of the open collection. */
static void close_top(yparse *y)
{
    bnc_ynode *top = y->stack[--y->depth];
    if (top->kind == BNC_Y_MAP && y->pending_key[y->depth]) {
        free(y->pending_key[y->depth]);
        y->pending_key[y->depth] = NULL;
    }
    if (y->depth == 0) y->root = top;
}

/* One event; *done at the end of the stream. */
static int step(yparse *y, yaml_parser_t *p, int *done)
{
    yaml_event_t ev;
    if (!yaml_parser_parse(p, &ev))
        return bnc_err_set(y->err, BNC_EINVAL, "%s:%zu: YAML syntax error: %s", y->file,
                           p->problem_mark.line + 1, p->problem ? p->problem : "unknown");
    int line = (int)ev.start_mark.line + 1, closes;
    *done = ev.type == YAML_STREAM_END_EVENT;
    bnc_ynode *node;
    int rc = node_of(y, &ev, line, &node, &closes);
    yaml_event_delete(&ev);
    if (rc) return rc;
    if (closes) close_top(y);
    return node ? attach(y, node, line) : 0;
}

int bnc_yaml_parse(const char *text, size_t n, const char *file, bnc_ynode **out, bnc_err *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return bnc_err_set(err, BNC_ENOMEM, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    yparse y = {.file = file, .err = err};
    int rc = 0, done = 0;
    while (!done && !rc)
        rc = step(&y, &p, &done);
    yaml_parser_delete(&p);
    if (rc) {
        for (int i = 0; i < y.depth; i++)
            if (y.stack[i]->kind == BNC_Y_MAP) free(y.pending_key[i]);
        bnc_ynode_free(y.depth > 0 ? y.stack[0] : y.root);
        return rc;
    }
    *out = y.root ? y.root : node_new(BNC_Y_MAP, 1);
    return 0;
}

const bnc_ynode *bnc_ymap_get(const bnc_ynode *map, const char *key, int *line)
{
    if (!map || map->kind != BNC_Y_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) {
            if (line) *line = map->key_lines[i];
            return map->items[i];
        }
    return NULL;
}
