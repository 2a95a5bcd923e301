/* Internal to kernels/: the GEMV job that the row kernels receive, and the
 * row kernels the scheme table names (scalar references in gemv/ref.c,
 * x86 ones in gemv/x86/, ARM ones in gemv/arm/). */
#ifndef BNC_GEMV_IMPL_H
#define BNC_GEMV_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet_impl.h"
#include "bnc_gemv.h"
#include "bnc_kernels.h"

/* One GEMV call as the row kernels see it. */
typedef struct bnc_gemv_job {
    const uint8_t *w; /* codes or blocks, row r at w + r * row_bytes */
    int64_t row_bytes;
    const float *scales; /* bitnet scales (NULL for ggml types) */
    int mode;            /* bitnet: BNC_BITNET_* */
    int64_t group;       /* bitnet-group: columns per scale */
    int64_t ngroups;     /* scales per row in group mode */
    int64_t rows, cols;
    const bnc_act *a;
    const int32_t *xseg; /* batch x nseg: sum of x over each scale segment
                          * (bitnet: the row or each group; tq*: each block) */
    int64_t nseg;
    int64_t block; /* block schemes: the row's block and block_bytes */
    int64_t block_bytes;
    float *y; /* batch x rows */
} bnc_gemv_job;

/* Row kernels, one per scheme family and ISA: bnc_<isa>_<scheme>_rows. */
#define BNC_ROWS_DECL(isa)                                                                         \
    void bnc_##isa##_bitnet_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1);                   \
    void bnc_##isa##_tq2_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1);                    \
    void bnc_##isa##_tq1_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1);                    \
    void bnc_##isa##_q8_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1);                     \
    void bnc_##isa##_q4_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
/* Defines row kernel bnc_<isa>_<scheme>_rows (declared above) as a call of
 * the ISA file's impl, so the table can name it. */
#define BNC_ROWS_EXPORT(isa, scheme, impl)                                                         \
    void bnc_##isa##_##scheme##_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)                \
    {                                                                                              \
        impl(j, r0, r1);                                                                           \
    }
BNC_ROWS_DECL(scalar);
BNC_ROWS_DECL(avx2);
/* AVX-512 has its own bitnet and tq2_0 kernels; for tq1_0, q8_0 and q4_0
 * the scheme table puts the AVX2 kernels in the AVX-512 slot (faster). */
void bnc_avx512_bitnet_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1);
void bnc_avx512_tq2_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1);
BNC_ROWS_DECL(neon);

/* The scalar reference for a ggml-style block scheme: each block (the
 * job's block and block_bytes) holds an fp16 scale d at byte d_off and
 * integer weights that w(blk, e) decodes (element e of the block);
 * y = d_x * sum over blocks in order of (float)isum * d. A new block
 * scheme's scalar GEMV is this with its decoder. */
typedef struct bnc_block_decoder {
    int d_off;
    int (*w)(const uint8_t *blk, int e);
} bnc_block_decoder;
void bnc_gemv_blocks_ref(const bnc_block_decoder *f, const bnc_gemv_job *jb, int64_t r0,
                         int64_t r1);

#endif
