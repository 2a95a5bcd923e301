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
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++) {
        bnc_ynode_free(node->items[i]);
        if (node->keys)
            free(node->keys[i]);
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
    if (!items)
        return -1;
    parent->items = items;
    if (parent->kind == BNC_Y_MAP) {
        char **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);
        if (!keys)
            return -1;
        parent->keys = keys;
        int *kl = realloc(parent->key_lines, (parent->n + 1) * sizeof *kl);
        if (!kl)
            return -1;
        parent->key_lines = kl;
        keys[parent->n] = key;
        kl[parent->n] = key_line;
    }
    items[parent->n++] = child;
    return 0;
}

int bnc_yaml_parse(const char *text, size_t n, const char *file, bnc_ynode **out, bnc_err *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return bnc_err_set(err, BNC_ENOMEM, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);

    bnc_ynode *stack[MAX_DEPTH];
    char *pending_key[MAX_DEPTH];
    int pending_line[MAX_DEPTH];
    int depth = 0, rc = 0, done = 0, docs = 0;
    bnc_ynode *root = NULL;

    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = bnc_err_set(err, BNC_EINVAL, "%s:%zu: YAML syntax error: %s", file,
                             p.problem_mark.line + 1, p.problem ? p.problem : "unknown");
            break;
        }
        int line = (int)ev.start_mark.line + 1;
        bnc_ynode *node = NULL;
        int closes = 0;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_DOCUMENT_START_EVENT:
            /* A second document would be ignored silently: refuse it. */
            if (++docs > 1)
                rc = bnc_err_set(err, BNC_EINVAL,
                                 "%s:%d: a second YAML document starts here; a spec is one "
                                 "document (remove the '---' or split the file)",
                                 file, line);
            break;
        case YAML_ALIAS_EVENT:
            rc = bnc_err_set(err, BNC_EINVAL, "%s:%d: YAML aliases are not supported in specs",
                             file, line);
            break;
        case YAML_SCALAR_EVENT:
            node = node_new(BNC_Y_SCALAR, line);
            if (node) {
                node->scalar = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
                node->quoted = ev.data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                               ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
                if (!node->scalar) {
                    free(node);
                    node = NULL;
                }
            }
            if (!node)
                rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", file);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            node = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? BNC_Y_SEQ : BNC_Y_MAP, line);
            if (!node)
                rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", file);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: closes = 1; break;
        default: break;
        }
        yaml_event_delete(&ev);
        if (rc)
            break;
        if (closes) {
            bnc_ynode *top = stack[--depth];
            if (top->kind == BNC_Y_MAP && pending_key[depth]) {
                free(pending_key[depth]);
                pending_key[depth] = NULL;
            }
            if (depth == 0)
                root = top;
            continue;
        }
        if (!node)
            continue;
        if (depth == 0) {
            if (node->kind == BNC_Y_SCALAR) {
                /* A scalar document: keep it so the caller can reject it. */
                root = node;
                continue;
            }
        } else {
            bnc_ynode *parent = stack[depth - 1];
            if (parent->kind == BNC_Y_MAP && !pending_key[depth - 1]) {
                /* This node is a key. */
                if (node->kind != BNC_Y_SCALAR) {
                    rc = bnc_err_set(err, BNC_EINVAL, "%s:%d: mapping keys must be scalars", file,
                                     line);
                    bnc_ynode_free(node);
                    break;
                }
                for (size_t i = 0; i < parent->n; i++)
                    if (strcmp(parent->keys[i], node->scalar) == 0) {
                        rc = bnc_err_set(err, BNC_EINVAL,
                                         "%s:%d: duplicate key '%s' (first at line %d)", file, line,
                                         node->scalar, parent->key_lines[i]);
                        break;
                    }
                if (rc) {
                    bnc_ynode_free(node);
                    break;
                }
                pending_key[depth - 1] = node->scalar;
                pending_line[depth - 1] = line;
                node->scalar = NULL;
                bnc_ynode_free(node);
                continue;
            }
            char *key = parent->kind == BNC_Y_MAP ? pending_key[depth - 1] : NULL;
            if (push_child(parent, node, key, parent->kind == BNC_Y_MAP ? pending_line[depth - 1] : 0)) {
                bnc_ynode_free(node);
                rc = bnc_err_set(err, BNC_ENOMEM, "%s: out of memory", file);
                break;
            }
            if (parent->kind == BNC_Y_MAP)
                pending_key[depth - 1] = NULL;
        }
        if (node->kind != BNC_Y_SCALAR) {
            if (depth >= MAX_DEPTH) {
                rc = bnc_err_set(err, BNC_EINVAL, "%s:%d: nesting deeper than %d levels", file,
                                 line, MAX_DEPTH);
                if (depth == 0)
                    bnc_ynode_free(node);
                break;
            }
            pending_key[depth] = NULL;
            stack[depth++] = node;
        }
    }
    yaml_parser_delete(&p);
    if (rc) {
        for (int i = 0; i < depth; i++)
            if (stack[i]->kind == BNC_Y_MAP)
                free(pending_key[i]);
        bnc_ynode_free(depth > 0 ? stack[0] : root);
        return rc;
    }
    if (!root)
        root = node_new(BNC_Y_MAP, 1);
    *out = root;
    return 0;
}

const bnc_ynode *bnc_ymap_get(const bnc_ynode *map, const char *key, int *line)
{
    if (!map || map->kind != BNC_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) {
            if (line)
                *line = map->key_lines[i];
            return map->items[i];
        }
    return NULL;
}
