/* Campaign specs (YAML). A spec names the campaign, its seeds, synthetic
 * tensors and model files, and groups of tasks, each a task kind with a
 * parameter grid (cartesian product) plus exclude and include lists:
 *
 *   name: hello
 *   seeds: [1, 2, 3]
 *   tensors:
 *     gauss: {rows: 256, cols: 4096, distribution: normal, seed: 7}
 *   groups:
 *     - kind: quant_error
 *       grid: {tensor: [gauss], scheme: [f32, bitnet]}
 *
 * See docs/campaigns.md for every key. Validation errors name the file, the
 * line and the key. */
#ifndef BNC_SPEC_H
#define BNC_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

typedef struct bnc_spec_group {
    char *kind;
    int line; /* line of the group's `kind` key */
    int grid_line;
    json_t *grid;     /* object: parameter -> array of scalar values */
    json_t *exclude;  /* array of objects */
    json_t *include;  /* array of objects */
    double timeout_s; /* 0: none */
    int cpu, gpu;     /* resources a task needs */
} bnc_spec_group;

typedef struct bnc_spec {
    char *file;
    char *text;
    char hash[33]; /* hash of the spec text */
    char *name;
    char *description;
    uint64_t *seeds;
    size_t nseeds;
    int repetitions;
    int retries;     /* extra attempts after a task fails */
    json_t *tensors; /* object: name -> {rows, cols, distribution, seed, ...} */
    json_t *models;  /* object: name -> {path: ...} or {synth: {...}} */
    bnc_spec_group *groups;
    size_t ngroups;
} bnc_spec;

/* Longest campaign name: NAME.journal and the copies store/journal.c makes
 * beside it (NAME.journal.salvage.PID, NAME.journal.damaged.N) must fit in
 * one file name (255 bytes). */
#define BNC_SPEC_NAME_MAX 200

/* Parses a spec from text (named file in messages). *out owns the result. */
int bnc_spec_parse(const char *text, size_t n, const char *file, bnc_spec **out, bnc_err *err);
/* Reads and parses the spec at path. */
int bnc_spec_load(const char *path, bnc_spec **out, bnc_err *err);
void bnc_spec_free(bnc_spec *s);

/* Reads a whole file into a NUL-terminated buffer the caller frees. */
int bnc_read_file(const char *path, char **out, size_t *n, bnc_err *err);

#endif
