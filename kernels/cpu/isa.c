/* Instruction-set detection and selection (see bnc_isa.h). */
#include "bnc_isa.h"

#include <stdlib.h>
#include <string.h>

static const char *isa_names[BNC_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

const char *bnc_isa_name(bnc_isa isa)
{
    return (unsigned)isa < BNC_ISA_COUNT ? isa_names[isa] : "?";
}

int bnc_isa_parse(const char *name, bnc_isa *out, bnc_err *err)
{
    for (int i = 0; i < BNC_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0) {
            *out = (bnc_isa)i;
            return 0;
        }
    return bnc_err_set(err, BNC_EINVAL, "unknown ISA '%s' (scalar, avx2, avx512, neon)", name);
}

static int cpu_has(bnc_isa isa)
{
    switch (isa) {
    case BNC_ISA_SCALAR:
        return 1;
#if defined(BNC_HAVE_X86) && defined(__GNUC__)
    case BNC_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case BNC_ISA_AVX512:
        __builtin_cpu_init();
        return bnc_isa_supported(BNC_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
#endif
#if defined(BNC_HAVE_NEON)
    case BNC_ISA_NEON:
        return 1; /* Advanced SIMD is part of every Armv8-A CPU */
#endif
    default:
        return 0;
    }
}

/* BNC_ISA_MAX=NAME hides every set above NAME (those not on its fallback
 * chain), to run the suite as a CPU without them would. */
static int allowed(bnc_isa isa)
{
    const char *env = getenv("BNC_ISA_MAX");
    bnc_isa max;
    if (!env || !*env || bnc_isa_parse(env, &max, NULL) != 0) return 1;
    for (bnc_isa i = max;; i = bnc_isa_fallback(i)) {
        if (i == isa) return 1;
        if (i == BNC_ISA_SCALAR) return 0;
    }
}

int bnc_isa_supported(bnc_isa isa)
{
    return cpu_has(isa) && allowed(isa);
}

bnc_isa bnc_isa_fallback(bnc_isa isa)
{
    return isa == BNC_ISA_AVX512 ? BNC_ISA_AVX2 : BNC_ISA_SCALAR;
}

bnc_isa bnc_isa_best(void)
{
    for (int i = BNC_ISA_COUNT - 1; i > 0; i--)
        if (bnc_isa_supported((bnc_isa)i)) return (bnc_isa)i;
    return BNC_ISA_SCALAR;
}

int bnc_isa_select(bnc_isa *out, bnc_err *err)
{
    const char *env = getenv("BNC_ISA");
    if (!env || !*env) {
        *out = bnc_isa_best();
        return 0;
    }
    bnc_isa isa;
    int rc = bnc_isa_parse(env, &isa, err);
    if (rc) return bnc_err_prefix(err, "BNC_ISA: ");
    if (!bnc_isa_supported(isa))
        return bnc_err_set(err, BNC_ENOTSUP, "BNC_ISA=%s: this CPU lacks it", env);
    *out = isa;
    return 0;
}
