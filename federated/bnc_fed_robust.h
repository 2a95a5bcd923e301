/* Defences of the federated server and the attacks that test them: robust
 * aggregation rules (coordinate-wise median, trimmed mean, Krum and
 * Multi-Krum), update norms and clipping, and the adversarial updates the
 * simulator's attackers send. */
#ifndef BNC_FED_ROBUST_H
#define BNC_FED_ROBUST_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"

/* L2 norm of x[0..n), accumulated in double (3e38 values stay finite: the
 * result is +inf only when the sum of squares overflows a double). */
double bnc_fed_l2(const float *x, size_t n);

/* Combines k updates u[0..k) of n values each into out (n values) with rule
 * agg (BNC_FED_AGG_MEDIAN, _TRIMMED, _KRUM or _MULTIKRUM; the example-weighted
 * mean is the server's own streaming sum). trim_frac: fraction cut at each
 * end per coordinate; f: attackers Krum assumes (k > 2 f + 2 for Krum's
 * guarantee; with fewer updates its score uses what there is); m: updates
 * Multi-Krum averages. chosen (may be NULL, k entries) is set to 1 for the
 * updates Krum/Multi-Krum kept. Allocates scratch internally: BNC_ENOMEM;
 * BNC_EINVAL for k < 1 or an unknown rule. */
int bnc_fed_robust_aggregate(int agg, const float *const *u, int k, size_t n, double trim_frac,
                             int f, int m, float *out, uint8_t *chosen, bnc_err *err);

/* Turns an honest update delta[0..n) into attack's adversarial one
 * (BNC_FED_ATTACK_SIGNFLIP: -scale * delta; _SCALED: scale * delta; _NOISE:
 * N(0, scale^2) drawn from (seed, stream); _POISON: every value = scale).
 * _NONE and _LABELFLIP (applied to the training labels) leave delta as is. */
void bnc_fed_attack_apply(int attack, double scale, float *delta, size_t n, uint64_t seed,
                          uint64_t stream);

#endif
