/* Differential privacy of federated rounds: the Renyi-DP accountant of the
 * sampled Gaussian mechanism (Mironov, Talwar and Zhang, "Renyi
 * Differential Privacy of the Sampled Gaussian Mechanism", 2019), its
 * conversion to (epsilon, delta), and the client-side clip-and-noise step. */
#ifndef BNC_FED_DP_H
#define BNC_FED_DP_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

/* RDP at order alpha (> 1, integer or fractional) of one step of the
 * Gaussian mechanism with noise multiplier sigma (> 0) on a Poisson sample
 * of rate q (0 <= q <= 1). +inf when it does not converge. */
double bnc_fed_rdp_sgm(double q, double sigma, double alpha);

/* epsilon for delta after `steps` steps, minimised over the orders
 * 1.1, 1.2, ..., 10.9, 12, 13, ..., 63 with the classical conversion
 * epsilon = steps * RDP(alpha) + log(1 / delta) / (alpha - 1) (the one
 * TensorFlow Privacy's compute_dp_sgd_privacy used). *order (may be NULL)
 * gets the best order. BNC_EINVAL for q outside [0, 1], sigma <= 0,
 * steps < 0 or delta outside (0, 1). */
int bnc_fed_dp_epsilon(double q, double sigma, int64_t steps, double delta, double *eps,
                       double *order, bnc_err *err);

/* Client side: scales delta[0..n) to L2 norm at most clip (returns 1 when
 * it was at most clip already, 0 when it was scaled) and adds N(0, std^2)
 * to every value, drawn from (seed, stream). */
int bnc_fed_dp_clip_noise(float *delta, size_t n, double clip, double std, uint64_t seed,
                          uint64_t stream);

#endif
