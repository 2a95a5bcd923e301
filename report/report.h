/* `bnc report`: a campaign's provenance, plots and statistics as one
 * self-contained HTML file (inline SVG and CSS, no scripts, no network), as
 * Markdown, or as CSV. */
#ifndef BNC_REPORT_H
#define BNC_REPORT_H

#include <stdio.h>

#include "analyze.h"
#include "bnc_err.h"
#include "bnc_store.h"

typedef enum { BNC_REPORT_HTML, BNC_REPORT_MD, BNC_REPORT_CSV } bnc_report_format;

typedef struct bnc_report_opts {
    const char *campaign;
    const char *by;       /* grouping parameter; NULL: "scheme" */
    const char *baseline; /* NULL: automatic (see analyze.h) */
    const char *paired_by;
    double alpha; /* 0: 0.05 */
    bnc_report_format format;
} bnc_report_opts;

/* What a report shows besides the analysis (read with bnc_store_*). */
typedef struct bnc_report_input {
    const bnc_campaign_row *campaign;
    const bnc_task_count_list *tasks;
    const bnc_env_list *envs;
    const bnc_analysis *analysis;
} bnc_report_input;

/* Writes the report of in to out. Fails with BNC_EIO when writing fails
 * (the caller names the file). */
int bnc_report_write(const bnc_report_input *in, const bnc_report_opts *o, FILE *out, bnc_err *err);

/* ---- export (export.c) ------------------------------------------------------ */

/* The CSV header line and one task's rows (one per metric; one with empty
 * metric columns when it has none). Write errors show in ferror(f). */
void bnc_export_csv_header(FILE *f);
void bnc_export_csv_task(FILE *f, const bnc_export_task *t);
/* One task as a JSON line (sorted keys). BNC_ENOMEM. */
int bnc_export_jsonl_task(FILE *f, const bnc_export_task *t);

/* ---- internal to report/: SVG plots (report_svg.c) ---------------------- */

/* Colour of group i of a palette with a fixed order. */
const char *bnc_svg_color(size_t i);
/* Box plot with the points of every group of m; colors[j] is group j's
 * palette index. */
void bnc_svg_boxplot(FILE *f, const bnc_metric_result *m, const size_t *colors);
/* Bars of the group means with t-interval whiskers; a dashed ceiling line at
 * `ceiling` (NaN: none) labelled `ceiling_label`. */
void bnc_svg_bars(FILE *f, const bnc_metric_result *m, const size_t *colors, double ceiling,
                  const char *ceiling_label);

typedef struct bnc_svg_point {
    double x, y;
    size_t color;
    const char *label;
} bnc_svg_point;
/* Scatter of (x, y) with the line y = a + b x (on log10 y when logy). */
void bnc_svg_scatter_fit(FILE *f, const bnc_svg_point *pts, size_t n, int logy, double a, double b,
                         const char *xlabel, const char *ylabel);
/* Writes s with &, <, >, " escaped. */
void bnc_html_escape(FILE *f, const char *s);

#endif
