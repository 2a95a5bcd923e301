/* `bnc campaign export`: a campaign's tasks as CSV (one row per task and
 * metric) or JSON lines (one object per task). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The shortest text that reads back as v (as PostgreSQL prints a double). */
static void fmt_double(char *buf, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void bnc_export_csv_header(FILE *f)
{
    fputs("task_id,kind,params,seed,status,rank,host,seconds,metric,value,unit\n", f);
}

/* One CSV row: the task's columns and one metric (NULL: none). */
static void csv_row(FILE *f, const bnc_export_task *t, const bnc_metric_row *m)
{
    char num[40];
    csv_field(f, t->id);
    fputc(',', f);
    csv_field(f, t->kind);
    fputc(',', f);
    csv_field(f, t->params_json);
    fprintf(f, ",%lld,", (long long)t->seed);
    csv_field(f, t->status);
    fputc(',', f);
    if (t->rank >= 0) fprintf(f, "%lld", (long long)t->rank);
    fputc(',', f);
    csv_field(f, t->host);
    fputc(',', f);
    if (!isnan(t->seconds)) {
        fmt_double(num, sizeof num, t->seconds);
        fputs(num, f);
    }
    fputc(',', f);
    if (m) {
        csv_field(f, m->name);
        fmt_double(num, sizeof num, m->value);
        fprintf(f, ",%s,", num);
        csv_field(f, m->unit);
    } else {
        fputs(",,", f);
    }
    fputc('\n', f);
}

void bnc_export_csv_task(FILE *f, const bnc_export_task *t)
{
    if (t->n_metrics == 0) csv_row(f, t, NULL);
    for (size_t i = 0; i < t->n_metrics; i++)
        csv_row(f, t, &t->metrics[i]);
}

int bnc_export_jsonl_task(FILE *f, const bnc_export_task *t)
{
    json_error_t je;
    json_t *params = json_loads(t->params_json, 0, &je);
    json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "task_id", t->id, "kind", t->kind,
                          "params", params ? params : json_object(), "seed", (json_int_t)t->seed,
                          "status", t->status, "host", t->host);
    json_t *m = json_object();
    if (!o || !m) {
        json_decref(o);
        json_decref(m);
        return BNC_ENOMEM;
    }
    for (size_t i = 0; i < t->n_metrics; i++)
        json_object_set_new(m, t->metrics[i].name, json_real(t->metrics[i].value));
    json_object_set_new(o, "metrics", m);
    char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!line) return BNC_ENOMEM;
    fprintf(f, "%s\n", line);
    free(line);
    return 0;
}
