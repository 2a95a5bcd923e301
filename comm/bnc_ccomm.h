/* Compressed allreduce (sum of f32 vectors) over the collective layer,
 * measured against the plain f32 allreduce by `bnc bench collectives` and
 * used for gradient exchange.
 *
 * Algorithms (one row each in ccomm.c):
 *   f32      plain allreduce (the reference)
 *   int8     blocks of 64 values: f32 scale absmax/127, int8 codes
 *   ternary  BitNet b1.58: blocks of 256, f32 scale mean|x| (absmean),
 *            codes in {-1, 0, +1} packed 2 bits each, error feedback
 *   sign     1-bit: blocks of 256, f32 scale mean|x|, one sign bit each,
 *            error feedback (1-bit Adam's compression)
 *   topk     each rank keeps its k = frac * n largest |x| (index, value),
 *            all-gathered and summed, error feedback
 * int8, ternary and sign use the two-phase scheme of 1-bit Adam (Tang et
 * al., 2021): the vector is cut into one chunk per rank; every rank
 * compresses each chunk (adding its worker residual first), an all-to-all
 * delivers chunk r to rank r, which decompresses and sums the size
 * contributions in rank order, adds its server residual, recompresses, and
 * an all-gather returns every compressed sum to every rank. Error feedback
 * (Seide et al. 2014; Karimireddy et al. 2019) keeps what each compression
 * dropped and adds it to the next call, so the accumulated error stays
 * bounded instead of growing with the number of calls.
 *
 * Every rank ends with the same bytes. bnc_car_simulate computes, on one
 * host and in the same order, what the ranks compute together, which is
 * how tests and the benchmark count wrong elements. */
#ifndef BNC_CCOMM_H
#define BNC_CCOMM_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_comm.h"

typedef enum bnc_car_algo {
    BNC_CAR_F32 = 0,
    BNC_CAR_INT8 = 1,
    BNC_CAR_TERNARY = 2,
    BNC_CAR_SIGN = 3,
    BNC_CAR_TOPK = 4,
    BNC_CAR_COUNT = 5,
} bnc_car_algo;

typedef struct bnc_car_opts {
    double topk_frac;   /* topk: fraction kept (default 0.01) */
    int error_feedback; /* keep residuals (default on; -1 turns it off) */
} bnc_car_opts;

typedef struct bnc_car_stats {
    uint64_t wire_bytes; /* bytes this rank sent (ring model, see below) */
    uint64_t f32_bytes;  /* bytes a ring allreduce of f32 sends per rank */
} bnc_car_stats;

/* "f32", "int8", "ternary", "sign", "topk". */
const char *bnc_car_name(bnc_car_algo a);
/* BNC_EINVAL naming s when unknown. */
int bnc_car_parse(const char *s, bnc_car_algo *out, bnc_err *err);

/* Per-vector state: the residuals of error feedback for a vector of n
 * values exchanged over c (size ranks). Free with bnc_car_free. */
typedef struct bnc_car bnc_car;
int bnc_car_new(bnc_comm *c, bnc_car_algo a, const bnc_car_opts *o, size_t n, bnc_car **out,
                bnc_err *err);
void bnc_car_free(bnc_car *s);
/* Zeroes the residuals. */
void bnc_car_reset(bnc_car *s);

/* y = approximately sum over ranks of x (n values each; y may equal x),
 * the same bytes on every rank. Collective. stats may be NULL. Host
 * buffers (MPI backend). BNC_ERANGE when x holds NaN/Inf (checked on every
 * rank and agreed, so no rank is left waiting). */
int bnc_car_allreduce(bnc_car *s, const float *x, float *y, bnc_car_stats *stats, bnc_err *err);

/* What bnc_car_allreduce returns on every rank when rank r passes
 * inputs[r] (r < size), with residual states carried in sim (NULL for a
 * fresh state). Single process; writes y (n values). */
typedef struct bnc_car_sim bnc_car_sim;
int bnc_car_sim_new(bnc_car_algo a, const bnc_car_opts *o, int size, size_t n, bnc_car_sim **out,
                    bnc_err *err);
void bnc_car_sim_free(bnc_car_sim *s);
int bnc_car_simulate(bnc_car_sim *s, const float *const *inputs, float *y, bnc_err *err);

/* Payload bytes of one rank's compressed contribution for n values and
 * size ranks (the unit bnc_car_stats counts). */
uint64_t bnc_car_wire_bytes(bnc_car_algo a, const bnc_car_opts *o, int size, size_t n);

#endif
