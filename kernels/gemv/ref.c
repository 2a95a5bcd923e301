/* The scalar reference kernels: the definition every fast path must equal
 * bitwise (the same integer sums, the same float operations in the same
 * order). Each is the gemv[BNC_ISA_SCALAR] of its scheme's row. */
#include <math.h>
#include <string.h>

#include "bnc_fp16.h"
#include "gemv_impl.h"

static int bitnet_code(const uint8_t *row, int64_t j)
{
    return (row[j / 128 * 32 + j % 32] >> (2 * (j % 128 / 32))) & 3;
}

void bnc_scalar_bitnet_rows(const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = jb->w + r * jb->row_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float y;
            if (jb->mode != BNC_BITNET_GROUP) {
                int32_t isum = 0;
                for (int64_t j = 0; j < jb->cols; j++)
                    isum += (bitnet_code(row, j) - 1) * x[j];
                float s = jb->scales[jb->mode == BNC_BITNET_ROW ? r : 0];
                y = (float)isum * s * a->d[b];
            } else {
                float acc = 0;
                for (int64_t g = 0; g < jb->ngroups; g++) {
                    int64_t e = (g + 1) * jb->group < jb->cols ? (g + 1) * jb->group : jb->cols;
                    int32_t isum = 0;
                    for (int64_t j = g * jb->group; j < e; j++)
                        isum += (bitnet_code(row, j) - 1) * x[j];
                    acc += (float)isum * jb->scales[r * jb->ngroups + g];
                }
                y = acc * a->d[b];
            }
            jb->y[b * jb->rows + r] = y;
        }
    }
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

void bnc_gemv_blocks_ref(const bnc_block_decoder *f, const bnc_gemv_job *jb, int64_t r0, int64_t r1)
{
    const bnc_act *a = jb->a;
    const int64_t blk_n = jb->block, blk_b = jb->block_bytes, nb = jb->cols / blk_n;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *x = a->q + b * a->stride;
            float acc = 0;
            for (int64_t k = 0; k < nb; k++) {
                const uint8_t *blk = jb->w + r * jb->row_bytes + k * blk_b;
                int32_t isum = 0;
                for (int e = 0; e < (int)blk_n; e++)
                    isum += f->w(blk, e) * x[k * blk_n + e];
                acc += (float)isum * bnc_f16_to_f32(rd16(blk + f->d_off));
            }
            jb->y[b * jb->rows + r] = acc * a->d[b];
        }
}

/* Decoders for one ggml block: the integer weight of element e. */
static int tq2_0_w(const uint8_t *blk, int e)
{
    return ((blk[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3) - 1;
}

static int trit(uint8_t b, int n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t q = (uint8_t)(b * pow3[n]);
    return (q * 3) >> 8;
}

static int tq1_0_w(const uint8_t *blk, int e)
{
    if (e < 160) return trit(blk[e % 32], e / 32) - 1;
    if (e < 240) return trit(blk[32 + (e - 160) % 16], (e - 160) / 16) - 1;
    return trit(blk[48 + (e - 240) % 4], (e - 240) / 4) - 1;
}

static int q8_0_w(const uint8_t *blk, int e)
{
    return (int8_t)blk[2 + e];
}

static int q4_0_w(const uint8_t *blk, int e)
{
    return (e < 16 ? blk[2 + e] & 15 : blk[2 + e - 16] >> 4) - 8;
}

/* Where each format keeps its fp16 d (FORMATS.md); block geometry comes
 * from the scheme's row through the job. */
static const bnc_block_decoder tq2_0 = {64, tq2_0_w};
static const bnc_block_decoder tq1_0 = {52, tq1_0_w};
static const bnc_block_decoder q8_0 = {0, q8_0_w};
static const bnc_block_decoder q4_0 = {0, q4_0_w};

void bnc_scalar_tq2_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    bnc_gemv_blocks_ref(&tq2_0, j, r0, r1);
}
void bnc_scalar_tq1_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    bnc_gemv_blocks_ref(&tq1_0, j, r0, r1);
}
void bnc_scalar_q8_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    bnc_gemv_blocks_ref(&q8_0, j, r0, r1);
}
void bnc_scalar_q4_0_rows(const bnc_gemv_job *j, int64_t r0, int64_t r1)
{
    bnc_gemv_blocks_ref(&q4_0, j, r0, r1);
}
