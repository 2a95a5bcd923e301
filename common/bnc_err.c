#include "bnc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bnc_err_clear(bnc_err *e)
{
    if (!e) return;
    e->code = 0;
    e->msg[0] = '\0';
}

int bnc_err_set(bnc_err *e, int code, const char *fmt, ...)
{
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int bnc_err_prefix(bnc_err *e, const char *fmt, ...)
{
    if (!e) return BNC_EINTERNAL;
    char head[BNC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    size_t hl = strlen(head), ol = strlen(e->msg);
    if (hl >= sizeof e->msg) hl = sizeof e->msg - 1;
    if (hl + ol >= sizeof e->msg) ol = sizeof e->msg - 1 - hl;
    memmove(e->msg + hl, e->msg, ol);
    memcpy(e->msg, head, hl);
    e->msg[hl + ol] = '\0';
    return e->code;
}

const char *bnc_strerror(int code)
{
    switch (code) {
    case BNC_OK:
        return "OK";
    case BNC_EINVAL:
        return "EINVAL";
    case BNC_EFORMAT:
        return "EFORMAT";
    case BNC_EIO:
        return "EIO";
    case BNC_ENOMEM:
        return "ENOMEM";
    case BNC_EDB:
        return "EDB";
    case BNC_ENET:
        return "ENET";
    case BNC_ERANGE:
        return "ERANGE";
    case BNC_ETIMEOUT:
        return "ETIMEOUT";
    case BNC_EVERSION:
        return "EVERSION";
    case BNC_ENOTSUP:
        return "ENOTSUP";
    default:
        return "EINTERNAL";
    }
}

int bnc_exit_status(int code)
{
    switch (code) {
    case BNC_OK:
        return 0;
    case BNC_EINVAL:
    case BNC_EFORMAT:
    case BNC_ERANGE:
    case BNC_EVERSION:
        return 2;
    default:
        return 1;
    }
}
