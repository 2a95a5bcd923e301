/* Instruction sets the kernels have fast paths for: which ones this CPU
 * and build can run, and which one to use (BNC_ISA in the environment or the
 * best supported). Included by bnc_gemv.h and bnc_kernels.h (the scheme
 * rows hold one GEMV kernel per instruction set). */
#ifndef BNC_ISA_H
#define BNC_ISA_H

#include "bnc_err.h"

typedef enum bnc_isa {
    BNC_ISA_SCALAR = 0,
    BNC_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    BNC_ISA_AVX512 = 2, /* AVX-512 F/BW/VL + VNNI */
    BNC_ISA_NEON = 3,   /* ARM Advanced SIMD (aarch64 builds only) */
    BNC_ISA_COUNT = 4,
} bnc_isa;

/* The best instruction set this CPU and build support. */
bnc_isa bnc_isa_best(void);
/* True when this CPU and build can run isa (and BNC_ISA_MAX, when set,
 * does not hide it: BNC_ISA_MAX=avx2 makes an AVX-512 CPU look AVX2-only). */
int bnc_isa_supported(bnc_isa isa);
/* The instruction set to use: BNC_ISA from the environment when set
 * ("scalar", "avx2", "avx512", "neon"), else bnc_isa_best(). Fails with
 * BNC_EINVAL for an unknown name and BNC_ENOTSUP when the CPU lacks the
 * forced set (the message says "this CPU lacks it"). */
int bnc_isa_select(bnc_isa *out, bnc_err *err);
/* "scalar", "avx2", "avx512", "neon"; "?" out of range. */
const char *bnc_isa_name(bnc_isa isa);
/* Parses a name; BNC_EINVAL when unknown. */
int bnc_isa_parse(const char *name, bnc_isa *out, bnc_err *err);
/* The set whose kernels stand in where isa has none: AVX-512 -> AVX2 ->
 * scalar, NEON -> scalar; scalar for scalar. */
bnc_isa bnc_isa_fallback(bnc_isa isa);

#endif
