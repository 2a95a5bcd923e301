/* Internal to kernels/formats/: what the table (schemes.c) gives ggml.c. */
#ifndef BNC_SCHEMES_IMPL_H
#define BNC_SCHEMES_IMPL_H

#include "bnc_kernels.h"

/* The rows of ggml types that no scheme quantizes (geometry only). */
size_t bnc_ggml_only_count(void);
const bnc_scheme *bnc_ggml_only_at(size_t i);

#endif
