/* Shape checks shared by the quantizer rows. */
#include "qimpl.h"

int bnc_qshape(const char *scheme, int64_t rows, int64_t cols, int64_t block, int code,
               bnc_err *err)
{
    if (rows < 0 || cols < 0)
        return bnc_err_set(err, code, "%s: negative shape %lldx%lld", scheme, (long long)rows,
                           (long long)cols);
    if (cols > 0 && rows > INT64_MAX / 8 / cols)
        return bnc_err_set(err, code, "%s: shape %lldx%lld too large", scheme, (long long)rows,
                           (long long)cols);
    if (block > 1 && cols % block != 0)
        return bnc_err_set(err, code, "%s: row length %lld is not a multiple of the block %lld",
                           scheme, (long long)cols, (long long)block);
    return 0;
}
