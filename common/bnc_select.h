/* Selection: the k-th largest value of an array, for top-k compressors. */
#ifndef BNC_SELECT_H
#define BNC_SELECT_H

#include <stdint.h>

/* The k-th largest of a[0..n) (1 <= k <= n), by quickselect (Hoare
 * partition around the middle element); reorders a. No NaN in a. */
float bnc_select_kth_largest(float *a, int64_t n, int64_t k);

#endif
