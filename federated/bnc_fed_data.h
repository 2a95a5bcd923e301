/* Fashion-MNIST (IDX files, gzip) and the seeded partitioners that split a
 * training set over federated clients. */
#ifndef BNC_FED_DATA_H
#define BNC_FED_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

#define BNC_FED_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define BNC_FED_NCLASSES 10

/* n examples of dim pixels each (uint8, row-major) and their labels. */
typedef struct bnc_fed_dataset {
    int64_t n;
    int64_t dim; /* rows * cols */
    int rows, cols;
    uint8_t *x; /* n * dim */
    uint8_t *y; /* n, each < BNC_FED_NCLASSES */
} bnc_fed_dataset;

/* Reads an IDX image file and its label file (gzip or plain; zlib reads
 * both). Checks the magic numbers (0x803, 0x801), that dimensions are
 * non-zero and bounded, that the counts agree, that the data is exactly as
 * long as the header says (a truncated or over-long file fails), and that
 * labels are < BNC_FED_NCLASSES. On success *out owns its arrays (free with
 * bnc_fed_dataset_free); on failure BNC_EFORMAT/BNC_EIO names the file. */
int bnc_fed_idx_load(const char *images_path, const char *labels_path, bnc_fed_dataset *out,
                     bnc_err *err);
/* Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz from dir (NULL: the
 * Debian package's directory). Either output may be NULL to skip it. */
int bnc_fed_mnist_load(const char *dir, bnc_fed_dataset *train, bnc_fed_dataset *test,
                       bnc_err *err);
void bnc_fed_dataset_free(bnc_fed_dataset *d);

/* Writes the standardised pixels of examples idx[0..n) into x (n * dim
 * floats): (p / 255 - mean) / std with Fashion-MNIST's mean and std. */
void bnc_fed_dataset_batch(const bnc_fed_dataset *d, const int64_t *idx, int64_t n, float *x);

enum {
    BNC_FED_PART_IID = 0,
    BNC_FED_PART_DIRICHLET = 1, /* label skew, Dir(alpha) over clients per class */
    BNC_FED_PART_CLASSES = 2,   /* #C=k: each client holds k classes */
    BNC_FED_PART_QUANTITY = 3,  /* IID labels, sizes ~ Dir(alpha) */
};

typedef struct bnc_fed_partition_spec {
    int kind;
    double alpha; /* dirichlet, quantity */
    int k;        /* classes */
} bnc_fed_partition_spec;

/* Parses "iid", "dirichlet:ALPHA", "classes:K" or "quantity:ALPHA". */
int bnc_fed_partition_parse(const char *s, bnc_fed_partition_spec *spec, bnc_err *err);
/* Canonical text of a spec ("dirichlet:0.5") into buf. */
void bnc_fed_partition_format(const bnc_fed_partition_spec *spec, char *buf, size_t n);

/* Client k holds idx[off[k] .. off[k+1]): every example appears exactly once
 * and every client holds at least one example (when n >= nclients). */
typedef struct bnc_fed_partition {
    int nclients;
    int64_t n;
    int64_t *idx;
    int64_t *off; /* nclients + 1 */
} bnc_fed_partition;

/* Splits labels[0..n) over nclients clients as spec says; the same
 * (labels, spec, seed) always gives the same split. *out owns its arrays
 * (bnc_fed_partition_free). BNC_EINVAL for nclients < 1 or > n, or k out of
 * 1..nclasses. */
int bnc_fed_partition_make(const uint8_t *labels, int64_t n, int nclasses, int nclients,
                           const bnc_fed_partition_spec *spec, uint64_t seed,
                           bnc_fed_partition *out, bnc_err *err);
void bnc_fed_partition_free(bnc_fed_partition *p);

/* A Gamma(shape, 1) variate (Marsaglia-Tsang), exposed for tests. */
struct bnc_rng;
double bnc_fed_gamma(struct bnc_rng *r, double shape);

#endif
