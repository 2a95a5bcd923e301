#include <stdio.h>
#include <string.h>

#include "kinds.h"

int bnc_params_only(const json_t *params, const char *const *allowed, bnc_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        int ok = !strcmp(k, "rep");
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, k);
        if (!ok) {
            char list[300] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 1);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return bnc_err_set(err, BNC_EINVAL, "unknown parameter '%s' (expected: %s)", k, list);
        }
    }
    return 0;
}

int bnc_param_int(const json_t *params, const char *key, long long def, long long lo, long long hi,
                  long long *out, bnc_err *err)
{
    json_t *v = json_object_get(params, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return bnc_err_set(err, BNC_EINVAL, "parameter '%s' must be an integer", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return bnc_err_set(err, BNC_EINVAL, "parameter '%s' = %lld is out of range [%lld, %lld]",
                           key, x, lo, hi);
    *out = x;
    return 0;
}

int bnc_param_str(const json_t *params, const char *key, const char **out, bnc_err *err)
{
    json_t *v = json_object_get(params, key);
    if (!v) return bnc_err_set(err, BNC_EINVAL, "missing parameter '%s'", key);
    if (!json_is_string(v))
        return bnc_err_set(err, BNC_EINVAL, "parameter '%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}
