/* Error metrics between a reference tensor and its reconstruction. */
#ifndef BNC_METRICS_H
#define BNC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

typedef struct bnc_qerr {
    double mse;      /* mean squared error */
    double rel_rmse; /* ||x - y|| / ||x|| (0 when x is all zero and y == x) */
    double sqnr_db;  /* 10 log10(||x||^2 / ||x - y||^2); +inf when exact */
    double cosine;   /* cosine similarity of x and y */
    double max_abs;  /* max |x - y| */
    double sparsity; /* fraction of y that is exactly zero */
} bnc_qerr;

/* Computes the error of y against x over n values with f64 accumulation. */
void bnc_qerr_compute(const float *x, const float *y, int64_t n, bnc_qerr *out);

/* Empirical (order-0) entropy in bits per symbol of a histogram of k bins:
 * -sum p log2 p over the non-empty bins; 0 for an empty histogram. */
double bnc_entropy_counts(const uint64_t *counts, size_t k);
/* Empirical entropy in bits per weight of n int8 codes (ternary codes
 * {-1,0,1}, int8/int4 levels, ...). */
double bnc_entropy_i8(const int8_t *codes, int64_t n);
/* Empirical entropy in bits per weight of the distinct values of y[0..n)
 * (bitwise: -0.0 and 0.0 are two values). For a dequantized tensor with one
 * scale this is the entropy of its codes. Allocates a sorted copy of y (freed
 * before return); BNC_ENOMEM when that fails. */
int bnc_entropy_values(const float *y, int64_t n, double *bits, bnc_err *err);
/* Stored bits per weight: 8 * bytes / n (0 when n is 0). */
double bnc_bits_per_weight(size_t bytes, int64_t n);
/* Compression ratio against f32: 4 n / bytes (0 when bytes is 0). */
double bnc_compression_ratio(int64_t n, size_t bytes);

#endif
