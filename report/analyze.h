/* `bnc analyze`: groups a campaign's results by a parameter, compares each
 * group with a baseline (paired by seed when the groups share their seeds),
 * runs an omnibus test across groups, corrects for multiple comparisons,
 * stores the outcome in the `analyses` table and prints a table.
 *
 * The computation (bnc_analysis_compute) works on observations in memory
 * (read by bnc_store_observations), so it is testable without a database;
 * bnc_analysis_rows turns the outcome into rows for
 * bnc_store_analyses_replace. Nothing here touches the database. */
#ifndef BNC_ANALYZE_H
#define BNC_ANALYZE_H

#include <stdio.h>

#include "bnc_err.h"
#include "bnc_stats.h"
#include "bnc_store.h" /* bnc_obs, bnc_obs_query, bnc_analysis_row */

typedef struct bnc_analyze_opts {
    const char *campaign;
    const char *metric;     /* NULL: every metric of the campaign */
    const char *kind;       /* NULL: every task kind */
    const char *where;      /* NULL or a JSON object: only tasks whose params contain it */
    const char *by;         /* grouping parameter; NULL: "scheme" */
    const char *baseline;   /* NULL: f32/fp32/f16/fp16/bf16 if present, else the first group */
    const char *paired_by;  /* NULL or "seed": pair tasks equal in seed and every other
                             * parameter; "none": never pair; another name: pair by it */
    const char *correction; /* NULL or "holm"; "bh" for Benjamini-Hochberg */
    double alpha;           /* 0 means 0.05 */
} bnc_analyze_opts;

/* Direction of a metric from its name: +1 higher is better (gbps,
 * accuracy, ...), -1 lower is better (errors, times, bytes), 0 unknown. */
int bnc_metric_direction(const char *metric);

typedef struct bnc_group_stats {
    char *name;
    double *values; /* finite values, in pair-key order when paired */
    char **pairs;   /* their pair keys (borrowed from the analysis' strings) */
    size_t n, n_nan;
    bnc_desc desc;
    int has_ci;
    double ci_lo, ci_hi;
    int is_baseline;
    int has_test; /* a test ran: stat, df, p, p_adj, diff CI are valid */
    int has_diff; /* diff is valid */
    int has_effect, has_p_rank, has_p_adj;
    double diff, diff_lo, diff_hi, stat, df, p, p_adj, p_rank, effect;
    char verdict[48];
    char note[256];
} bnc_group_stats;

typedef struct bnc_metric_result {
    char *metric;
    int direction;
    int paired;       /* every comparison was paired */
    size_t npairs;    /* pairs per comparison when paired */
    const char *test; /* "paired t" or "Welch t" */
    const char *effect_name;
    size_t baseline; /* index into g */
    bnc_group_stats *g;
    size_t ng;
    int has_anova;
    const char *anova_test; /* "Welch ANOVA" or "one-way ANOVA" */
    bnc_anova anova;
    int has_omega2;
    double omega2, eta2;
    char note[512];
} bnc_metric_result;

typedef struct bnc_analysis {
    char *campaign, *by, *baseline_req, *paired_by, *correction, *kind;
    double alpha;
    bnc_metric_result *m;
    size_t nm;
    size_t nobs;
} bnc_analysis;

/* Analyses obs[0..n-1] (any order). On success *out is owned by the caller
 * (bnc_analysis_free). Fails on bad options (unknown baseline, bad alpha);
 * degenerate groups do not fail: they get a verdict and a note. */
int bnc_analysis_compute(const bnc_obs *obs, size_t n, const bnc_analyze_opts *opts,
                         bnc_analysis **out, bnc_err *err);
/* The observations opts asks for (defaults filled in: by scheme, paired by
 * seed); the strings are opts'. */
void bnc_analysis_query(const bnc_analyze_opts *opts, bnc_obs_query *q);
/* The rows of the analyses table for a: one per group of every metric and
 * one omnibus row (grp "*") per metric. *rows (malloc'd; free it) borrows
 * a's strings. BNC_ENOMEM. */
int bnc_analysis_rows(const bnc_analysis *a, bnc_analysis_row **rows, size_t *n, bnc_err *err);
/* Prints the readable table. */
void bnc_analysis_print(FILE *f, const bnc_analysis *a);
void bnc_analysis_free(bnc_analysis *a);

/* Formats a number for people (%.4g, "-" for NaN), into buf; returns buf. */
const char *bnc_fmt_num(char *buf, size_t n, double v);
/* Formats a p-value ("<1e-300", "0.0312", "3.1e-07"). */
const char *bnc_fmt_p(char *buf, size_t n, double p);

#endif
