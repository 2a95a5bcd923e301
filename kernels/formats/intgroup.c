/* Group-wise signed integer quantization behind `int4` and `int2`.
 * Each row is cut into groups of g weights (p->group, default 32; the last
 * group of a row may be shorter, so any row length works). For a group, m is
 * its first element of largest magnitude (sign kept) and the scale is
 * d = fp16(m / -2^(b-1)), as q4_0 does, so m maps exactly onto the most
 * negative level and all 2^b levels are used. q = clamp(lroundf(x / d),
 * -2^(b-1), 2^(b-1) - 1), stored as the unsigned code q + 2^(b-1).
 * Layout: for each row, ceil(cols * b / 8) bytes of codes, element j in bits
 * b*(j % (8/b)) of byte j / (8/b) (LSB first); then rows * ceil(cols / g)
 * fp16 scales (LE), row-major. */
#include <math.h>

#include "bnc_fp16.h"
#include "qimpl.h"

#define INTG_DEFAULT_GROUP 32

/* A group longer than the row is the whole row (same layout, no overflow). */
static int64_t intg_group(const bnc_qparams *p, int64_t cols)
{
    int64_t g = (p && p->group > 0) ? p->group : INTG_DEFAULT_GROUP;
    return (cols > 0 && g > cols) ? cols : g;
}

static int64_t row_bytes(int bits, int64_t cols)
{
    return (cols * bits + 7) / 8;
}

static int64_t ngroups(int64_t cols, int64_t g)
{
    return (cols + g - 1) / g;
}

size_t bnc_intg_qsize(int bits, int64_t rows, int64_t cols, const bnc_qparams *p)
{
    if (bnc_qshape("int", rows, cols, 1, BNC_EINVAL, NULL)) return 0;
    int64_t g = intg_group(p, cols);
    return (size_t)(rows * row_bytes(bits, cols)) + (size_t)(rows * ngroups(cols, g)) * 2;
}

int bnc_intg_quantize(int bits, const float *x, int64_t rows, int64_t cols, const bnc_qparams *p,
                      void *dst, size_t cap, size_t *written, bnc_err *err)
{
    const char *name = bits == 4 ? "int4" : "int2";
    int rc = bnc_qshape(name, rows, cols, 1, BNC_EINVAL, err);
    if (rc) return rc;
    if (p && p->group < 0)
        return bnc_err_set(err, BNC_EINVAL, "%s: negative group size %lld", name,
                           (long long)p->group);
    size_t need = bnc_intg_qsize(bits, rows, cols, p);
    if (cap < need)
        return bnc_err_set(err, BNC_EINVAL, "%s: buffer of %zu bytes, need %zu", name, cap, need);
    rc = bnc_check_finite(x, rows * cols, err);
    if (rc) return rc;
    const int64_t g = intg_group(p, cols), ng = ngroups(cols, g), rb = row_bytes(bits, cols);
    const long lo = -(1L << (bits - 1)), hi = (1L << (bits - 1)) - 1;
    const int per = 8 / bits;
    uint8_t *codes = dst;
    uint8_t *scales = codes + rows * rb;
    memset(codes, 0, (size_t)(rows * rb));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t k = 0; k < ng; k++) {
            const int64_t j0 = k * g, j1 = j0 + g < cols ? j0 + g : cols;
            const float *xr = x + r * cols;
            float amax = 0.0f, m = 0.0f;
            for (int64_t j = j0; j < j1; j++)
                if (amax < fabsf(xr[j])) {
                    amax = fabsf(xr[j]);
                    m = xr[j];
                }
            uint16_t dh = bnc_f32_to_f16(m / (float)lo);
            if (!bnc_f16_is_finite(dh))
                return bnc_err_set(err, BNC_ERANGE,
                                   "%s: scale of the group at index %lld "
                                   "overflows fp16",
                                   name, (long long)(r * cols + j0));
            bnc_st16(scales + 2 * (r * ng + k), dh);
            const float d = bnc_f16_to_f32(dh);
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int64_t j = j0; j < j1; j++) {
                float t = xr[j] * id; /* |t| <= ~2^(b-1) (fp16 rounding of d) */
                long q = lroundf(t);
                q = q < lo ? lo : (q > hi ? hi : q);
                codes[r * rb + j / per] |= (uint8_t)((q - lo) << (bits * (j % per)));
            }
        }
    }
    *written = need;
    return 0;
}

int bnc_intg_dequantize(int bits, const void *src, size_t n, int64_t rows, int64_t cols,
                        const bnc_qparams *p, float *y, bnc_err *err)
{
    const char *name = bits == 4 ? "int4" : "int2";
    int rc = bnc_qshape(name, rows, cols, 1, BNC_EFORMAT, err);
    if (rc) return rc;
    if (p && p->group < 0)
        return bnc_err_set(err, BNC_EINVAL, "%s: negative group size %lld", name,
                           (long long)p->group);
    size_t need = bnc_intg_qsize(bits, rows, cols, p);
    if (n != need)
        return bnc_err_set(err, BNC_EFORMAT, "%s: %zu bytes for %lldx%lld, expected %zu", name, n,
                           (long long)rows, (long long)cols, need);
    const int64_t g = intg_group(p, cols), ng = ngroups(cols, g), rb = row_bytes(bits, cols);
    const int lo = -(1 << (bits - 1)), per = 8 / bits, mask = (1 << bits) - 1;
    const uint8_t *codes = src;
    const uint8_t *scales = codes + rows * rb;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < ng; k++) {
            uint16_t dh = bnc_ld16(scales + 2 * (r * ng + k));
            if (!bnc_f16_is_finite(dh))
                return bnc_err_set(err, BNC_EFORMAT,
                                   "%s: non-finite scale for row %lld group "
                                   "%lld",
                                   name, (long long)r, (long long)k);
            const float d = bnc_f16_to_f32(dh);
            const int64_t j0 = k * g, j1 = j0 + g < cols ? j0 + g : cols;
            for (int64_t j = j0; j < j1; j++) {
                int c = (codes[r * rb + j / per] >> (bits * (j % per))) & mask;
                y[r * cols + j] = (float)(c + lo) * d;
            }
        }
    return 0;
}
