/* Error metrics between a reference tensor and its reconstruction. */
#ifndef BNC_METRICS_H
#define BNC_METRICS_H

#include <stdint.h>

typedef struct bnc_qerr {
    double mse;        /* mean squared error */
    double rel_rmse;   /* ||x - y|| / ||x|| (0 when x is all zero and y == x) */
    double sqnr_db;    /* 10 log10(||x||^2 / ||x - y||^2); +inf when exact */
    double cosine;     /* cosine similarity of x and y */
    double max_abs;    /* max |x - y| */
    double sparsity;   /* fraction of y that is exactly zero */
} bnc_qerr;

/* Computes the error of y against x over n values with f64 accumulation. */
void bnc_qerr_compute(const float *x, const float *y, int64_t n, bnc_qerr *out);

#endif
