/* NEON kernels with the Armv8.2 dot product (sdot); compiled with
 * -march=armv8.2-a+dotprod and only called by neon.c when the CPU reports
 * HWCAP_ASIMDDP. */
#define BNC_NEON_DOT 1
#include "neon_impl.h"
#include "bnc_neon.h"

void bnc_neondp_bitnet_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    neon_bitnet_rows(jb, r0, r1);
}

void bnc_neondp_tq2_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    neon_tq2_0_rows(jb, r0, r1);
}

void bnc_neondp_q8_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    neon_q8_0_rows(jb, r0, r1);
}

void bnc_neondp_tq1_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    neon_tq1_0_rows(jb, r0, r1);
}

void bnc_neondp_q4_0_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    neon_q4_0_rows(jb, r0, r1);
}
