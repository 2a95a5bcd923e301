/* Campaign analysis: grouping, baseline comparisons, omnibus test,
 * correction, verdicts (see analyze.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

static char *dupstr(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int bnc_metric_direction(const char *m)
{
    /* checked in order: the first pattern found in the name decides */
    static const struct {
        const char *pat;
        int dir;
    } rows[] = {
        {"per_s", +1},    {"gbps", +1},       {"gflops", +1},
        {"flops", +1},    {"throughput", +1}, {"speedup", +1},
        {"accuracy", +1}, {"acc", +1},        {"sqnr", +1},
        {"cosine", +1},   {"tok_s", +1},      {"compression", +1},
        {"err", -1},      {"mse", -1},        {"mae", -1},
        {"loss", -1},     {"latency", -1},    {"time", -1},
        {"bytes", -1},    {"_s", -1},         {"_ms", -1},
        {"_ns", -1},      {"seconds", -1},    {"perplexity", -1},
        {"ppl", -1},      {"kl", -1},         {"bits_per_weight", -1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *p = strstr(m, rows[i].pat);
        if (!p) continue;
        size_t len = strlen(rows[i].pat);
        /* suffix patterns ("_s") must end the name */
        if (rows[i].pat[0] == '_' && p[len] != '\0') continue;
        return rows[i].dir;
    }
    return 0;
}

const char *bnc_fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else if (v == 0)
        snprintf(buf, n, "0");
    else
        snprintf(buf, n, "%.4g", v);
    return buf;
}

const char *bnc_fmt_p(char *buf, size_t n, double p)
{
    if (isnan(p))
        snprintf(buf, n, "-");
    else if (p < 1e-300)
        snprintf(buf, n, "<1e-300");
    else if (p >= 0.001)
        snprintf(buf, n, "%.3g", p);
    else
        snprintf(buf, n, "%.2g", p);
    return buf;
}

/* ---- computation --------------------------------------------------------- */

typedef struct idx_obs {
    const bnc_obs *o;
} idx_obs;

static int cmp_obs(const void *a, const void *b)
{
    const bnc_obs *x = ((const idx_obs *)a)->o, *y = ((const idx_obs *)b)->o;
    int c = strcmp(x->metric, y->metric);
    if (!c) c = strcmp(x->group, y->group);
    if (!c) c = strcmp(x->pair, y->pair);
    return c;
}

static void set_verdict(bnc_group_stats *g, int dir, int significant)
{
    if (!significant) {
        snprintf(g->verdict, sizeof g->verdict, "no evidence of a difference");
        return;
    }
    int up = g->diff > 0;
    if (dir == 0)
        snprintf(g->verdict, sizeof g->verdict, "%s", up ? "higher" : "lower");
    else
        snprintf(g->verdict, sizeof g->verdict, "%s", (up == (dir > 0)) ? "better" : "worse");
}

/* Compares group g with the baseline b. */
/* Both groups hold the same pair keys (each once: duplicates were averaged). */
static int same_pairs(const bnc_group_stats *g, const bnc_group_stats *b)
{
    if (g->n != b->n || g->n < 2 || !g->pairs[0][0]) return 0;
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->pairs[i], b->pairs[i])) return 0;
    return 1;
}

static void compare(bnc_metric_result *mr, bnc_group_stats *g, const bnc_group_stats *b,
                    double level)
{
    bnc_err e;
    bnc_err_clear(&e);
    g->has_test = 0;
    g->has_diff = 1;
    g->diff = g->desc.mean - b->desc.mean;
    int paired = mr->paired;
    bnc_ttest t;
    int rc;
    if (paired)
        rc = bnc_ttest_paired(g->values, b->values, g->n, 0, BNC_TWO_SIDED, level, &t, &e);
    else
        rc = bnc_ttest_two(g->values, g->n, b->values, b->n, 0, 1, BNC_TWO_SIDED, level, &t, &e);
    if (rc) {
        double gv = g->desc.has_sd ? g->desc.var : 0, bv = b->desc.has_sd ? b->desc.var : 0;
        if (rc == BNC_ERANGE && gv == 0 && bv == 0 && g->n > 0 && b->n > 0) {
            /* deterministic values: the difference is known exactly */
            g->diff_lo = g->diff_hi = g->diff;
            if (g->diff == 0)
                snprintf(g->verdict, sizeof g->verdict, "identical");
            else
                set_verdict(g, mr->direction, 1);
            snprintf(g->note, sizeof g->note,
                     "constant values in both groups: the difference is exact, no test needed");
        } else if (rc == BNC_ERANGE && paired && g->diff != 0 && !isnan(g->diff)) {
            g->diff_lo = g->diff_hi = g->diff;
            set_verdict(g, mr->direction, 1);
            snprintf(g->note, sizeof g->note,
                     "every paired difference equals %.4g: the difference is exact, no test "
                     "needed",
                     g->diff);
        } else {
            g->diff_lo = g->diff_hi = NAN;
            snprintf(g->verdict, sizeof g->verdict, "undefined");
            snprintf(g->note, sizeof g->note, "%s", e.msg);
        }
        return;
    }
    g->has_test = 1;
    g->stat = t.t;
    g->df = t.df;
    g->p = t.p;
    g->diff_lo = t.ci_lo;
    g->diff_hi = t.ci_hi;
    bnc_ranktest r;
    if (paired)
        rc = bnc_wilcoxon_signed(g->values, b->values, g->n, 0, BNC_TWO_SIDED, -1, &r, &e);
    else
        rc = bnc_mann_whitney(g->values, g->n, b->values, b->n, BNC_TWO_SIDED, -1, &r, &e);
    g->has_p_rank = rc == 0;
    g->p_rank = rc ? NAN : r.p;
    double d = NAN, hg = NAN;
    if (paired)
        rc = bnc_cohen_dz(g->values, b->values, g->n, &d, &e);
    else
        rc = bnc_cohen_d(g->values, g->n, b->values, b->n, &d, &hg, &e);
    g->has_effect = rc == 0;
    g->effect = rc ? NAN : (paired ? d : hg);
}

/* Warns in the metric's note about each group whose repetitions are not
 * independent: the lag-1 autocorrelation of its values, in the order the
 * group holds them (pair-key order when paired), is significant at alpha
 * (Ljung-Box test, bnc_desc.acf1_p): "drift" when positive, "alternation"
 * when negative. Needs the groups' descriptive statistics. */
static void note_drift(bnc_metric_result *mr, double alpha)
{
    for (size_t i = 0; i < mr->ng; i++) {
        const bnc_group_stats *g = &mr->g[i];
        if (!g->desc.has_acf || !(g->desc.acf1_p < alpha)) continue;
        size_t off = strlen(mr->note);
        snprintf(mr->note + off, sizeof mr->note - off,
                 "%s%s: %s's repetitions are autocorrelated (lag-1 r %.2f, Ljung-Box p %.2g)",
                 off ? "; " : "", g->desc.acf1 > 0 ? "drift" : "alternation", g->name, g->desc.acf1,
                 g->desc.acf1_p);
    }
}

static int analyse_metric(bnc_metric_result *mr, const bnc_analysis *a, const char *baseline_req,
                          bnc_err *err)
{
    mr->direction = bnc_metric_direction(mr->metric);
    double level = 1 - a->alpha;
    int want_pairs = strcmp(a->paired_by, "none") != 0;
    /* baseline */
    size_t base = 0;
    int found = 0;
    if (baseline_req) {
        for (size_t i = 0; i < mr->ng; i++)
            if (!strcmp(mr->g[i].name, baseline_req)) base = i, found = 1;
        if (!found) {
            char list[400] = "";
            size_t off = 0;
            for (size_t i = 0; i < mr->ng && off < sizeof list - 40; i++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                        mr->g[i].name);
            return bnc_err_set(err, BNC_EINVAL,
                               "metric %s: baseline '%s' is not a value of '%s' in campaign %s "
                               "(values: %s)",
                               mr->metric, baseline_req, a->by, a->campaign, list);
        }
    } else {
        static const char *pref[] = {"f32", "fp32", "f16", "fp16", "bf16"};
        for (size_t k = 0; k < 5 && !found; k++)
            for (size_t i = 0; i < mr->ng; i++)
                if (!strcmp(mr->g[i].name, pref[k])) base = i, found = 1;
    }
    if (base != 0) { /* the baseline leads the table */
        bnc_group_stats t = mr->g[base];
        memmove(&mr->g[1], &mr->g[0], base * sizeof *mr->g);
        mr->g[0] = t;
        base = 0;
    }
    mr->baseline = base;
    mr->g[base].is_baseline = 1;
    snprintf(mr->g[base].verdict, sizeof mr->g[base].verdict, "baseline");
    /* descriptive statistics and t intervals */
    size_t off = 0;
    for (size_t i = 0; i < mr->ng; i++) {
        bnc_group_stats *g = &mr->g[i];
        bnc_err e;
        if (g->n == 0) {
            snprintf(g->verdict, sizeof g->verdict, "undefined");
            snprintf(g->note, sizeof g->note, "no finite values (%zu NaN)", g->n_nan);
            continue;
        }
        bnc_desc_compute(g->values, g->n, &g->desc, &e);
        bnc_interval ci;
        g->has_ci = g->n >= 2 && bnc_ci_mean_t(g->values, g->n, level, &ci, &e) == 0;
        g->ci_lo = g->has_ci ? ci.lo : NAN;
        g->ci_hi = g->has_ci ? ci.hi : NAN;
        if (g->n_nan && off < sizeof mr->note - 80)
            off += (size_t)snprintf(mr->note + off, sizeof mr->note - off,
                                    "%s%s: %zu NaN value%s left out", off ? "; " : "", g->name,
                                    g->n_nan, g->n_nan > 1 ? "s" : "");
    }
    note_drift(mr, a->alpha);
    /* comparisons with the baseline: paired when every group holds exactly
     * the baseline's pair keys (the same seeds and conditions) */
    bnc_group_stats *b = &mr->g[base];
    mr->paired = want_pairs && b->n >= 2;
    for (size_t i = 0; mr->paired && i < mr->ng; i++)
        if (i != base && mr->g[i].n > 0 && !same_pairs(&mr->g[i], b)) {
            mr->paired = 0;
            if (b->pairs[0][0]) {
                off = strlen(mr->note);
                snprintf(mr->note + off, sizeof mr->note - off,
                         "%sunpaired: %s has %zu values where the baseline has %zu pairs",
                         off ? "; " : "", mr->g[i].name, mr->g[i].n, b->n);
            }
        }
    mr->npairs = mr->paired ? b->n : 0;
    double *ps = malloc((mr->ng ? mr->ng : 1) * sizeof *ps), *adj = NULL;
    size_t *who = malloc((mr->ng ? mr->ng : 1) * sizeof *who), np = 0;
    if (!ps || !who) {
        free(ps);
        free(who);
        return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
    }
    int any = 0;
    for (size_t i = 0; i < mr->ng; i++) {
        bnc_group_stats *g = &mr->g[i];
        g->diff = g->diff_lo = g->diff_hi = g->stat = g->df = g->p = g->p_adj = g->p_rank =
            g->effect = NAN;
        if (i == base || g->n == 0) continue;
        if (b->n == 0) {
            snprintf(g->verdict, sizeof g->verdict, "undefined");
            snprintf(g->note, sizeof g->note, "the baseline %s has no finite values", b->name);
            continue;
        }
        any = 1;
        compare(mr, g, b, level);
        if (g->has_test) {
            ps[np] = g->p;
            who[np++] = i;
        }
    }
    if (!any) mr->paired = 0;
    mr->test = mr->paired ? "paired t" : "Welch t";
    mr->effect_name = mr->paired ? "d_z" : "g";
    adj = malloc((np ? np : 1) * sizeof *adj);
    int rc = adj ? 0 : bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
    if (!rc && np)
        rc = strcmp(a->correction, "bh") == 0 ? bnc_p_adjust_bh(ps, np, adj, err)
                                              : bnc_p_adjust_holm(ps, np, adj, err);
    for (size_t j = 0; !rc && j < np; j++) {
        bnc_group_stats *g = &mr->g[who[j]];
        g->p_adj = adj[j];
        g->has_p_adj = 1;
        set_verdict(g, mr->direction, adj[j] < a->alpha);
    }
    free(ps);
    free(who);
    free(adj);
    if (rc) return rc;
    /* omnibus test across the groups with values */
    size_t k = 0;
    const double **gv = malloc((mr->ng ? mr->ng : 1) * sizeof *gv);
    size_t *gn = malloc((mr->ng ? mr->ng : 1) * sizeof *gn);
    if (!gv || !gn) {
        free(gv);
        free(gn);
        return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
    }
    for (size_t i = 0; i < mr->ng; i++)
        if (mr->g[i].n > 0) {
            gv[k] = mr->g[i].values;
            gn[k++] = mr->g[i].n;
        }
    if (k >= 2) {
        bnc_err e;
        bnc_anova classic;
        if (bnc_anova_oneway(gv, gn, k, 0, &classic, &e) == 0) {
            mr->has_omega2 = 1;
            mr->omega2 = classic.omega2;
            mr->eta2 = classic.eta2;
        }
        if (bnc_anova_oneway(gv, gn, k, 1, &mr->anova, &e) == 0) {
            mr->has_anova = 1;
            mr->anova_test = "Welch ANOVA";
        } else if (mr->has_omega2) {
            /* Welch needs variance in every group; fall back to the classic F */
            mr->has_anova = 1;
            mr->anova = classic;
            mr->anova_test = "one-way ANOVA";
            const char *cname = "a group";
            for (size_t i = 0; i < mr->ng; i++)
                if (mr->g[i].n > 0 && !(mr->g[i].desc.var > 0)) {
                    cname = mr->g[i].name;
                    break;
                }
            off = strlen(mr->note);
            snprintf(mr->note + off, sizeof mr->note - off,
                     "%sWelch's ANOVA needs variance in every group and %s is constant: the "
                     "classic one-way ANOVA is shown",
                     off ? "; " : "", cname);
        } else {
            int allconst = 1;
            for (size_t i = 0; i < mr->ng; i++)
                if (mr->g[i].n > 1 && mr->g[i].desc.var > 0) allconst = 0;
            off = strlen(mr->note);
            if (allconst)
                snprintf(mr->note + off, sizeof mr->note - off,
                         "%severy group is constant: differences are exact, no ANOVA needed",
                         off ? "; " : "");
            else
                snprintf(mr->note + off, sizeof mr->note - off, "%sno ANOVA: %s", off ? "; " : "",
                         e.msg);
        }
    } else {
        off = strlen(mr->note);
        snprintf(mr->note + off, sizeof mr->note - off, "%sonly one group with values: no test",
                 off ? "; " : "");
    }
    free(gv);
    free(gn);
    return 0;
}

void bnc_analysis_free(bnc_analysis *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nm; i++) {
        bnc_metric_result *m = &a->m[i];
        for (size_t j = 0; j < m->ng; j++) {
            free(m->g[j].name);
            free(m->g[j].values);
            for (size_t p = 0; p < m->g[j].n; p++)
                free(m->g[j].pairs[p]);
            free(m->g[j].pairs);
        }
        free(m->g);
        free(m->metric);
    }
    free(a->m);
    free(a->campaign);
    free(a->by);
    free(a->baseline_req);
    free(a->paired_by);
    free(a->correction);
    free(a->kind);
    free(a);
}

/* Adds a value to the group being built; duplicates of a pair key are
 * averaged (repeated runs of one condition). */
static int group_add(bnc_group_stats *g, size_t *cap, const char *pair, double v,
                     size_t *last_count)
{
    if (isnan(v) || isinf(v)) {
        g->n_nan++;
        return 0;
    }
    if (g->n > 0 && pair[0] && !strcmp(g->pairs[g->n - 1], pair)) {
        /* sorted input: a duplicate key follows its first occurrence */
        double k = (double)++*last_count;
        g->values[g->n - 1] += (v - g->values[g->n - 1]) / k;
        return 0;
    }
    *last_count = 1;
    if (g->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        double *nv = realloc(g->values, nc * sizeof *nv);
        if (!nv) return BNC_ENOMEM;
        g->values = nv;
        char **np = realloc(g->pairs, nc * sizeof *np);
        if (!np) return BNC_ENOMEM;
        g->pairs = np;
        *cap = nc;
    }
    g->pairs[g->n] = dupstr(pair);
    if (!g->pairs[g->n]) return BNC_ENOMEM;
    g->values[g->n++] = v;
    return 0;
}

int bnc_analysis_compute(const bnc_obs *obs, size_t n, const bnc_analyze_opts *o,
                         bnc_analysis **out, bnc_err *err)
{
    *out = NULL;
    double alpha = o->alpha == 0 ? 0.05 : o->alpha;
    if (!(alpha > 0 && alpha < 0.5))
        return bnc_err_set(err, BNC_EINVAL, "--alpha %g is not in (0, 0.5)", alpha);
    const char *corr = o->correction ? o->correction : "holm";
    if (strcmp(corr, "holm") && strcmp(corr, "bh"))
        return bnc_err_set(err, BNC_EINVAL, "--correction %s: use holm or bh", corr);
    bnc_analysis *a = calloc(1, sizeof *a);
    if (!a) return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
    a->campaign = dupstr(o->campaign ? o->campaign : "");
    if (o->where && *o->where) {
        /* The filter is part of the grouping's name, in the table and in
         * the stored rows, so filtered analyses do not replace each other. */
        const char *by = o->by ? o->by : "scheme";
        size_t len = strlen(by) + strlen(o->where) + 8;
        a->by = malloc(len);
        if (a->by) snprintf(a->by, len, "%s where %s", by, o->where);
    } else {
        a->by = dupstr(o->by ? o->by : "scheme");
    }
    a->baseline_req = dupstr(o->baseline);
    a->paired_by = dupstr(o->paired_by ? o->paired_by : "seed");
    a->correction = dupstr(corr);
    a->kind = dupstr(o->kind);
    a->alpha = alpha;
    a->nobs = n;
    int rc = 0;
    idx_obs *s = malloc((n ? n : 1) * sizeof *s);
    if (!s || !a->campaign || !a->by || !a->paired_by || !a->correction) {
        free(s);
        bnc_analysis_free(a);
        return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        s[i].o = &obs[i];
    qsort(s, n, sizeof *s, cmp_obs);
    /* count metrics, allocate */
    size_t nm = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(s[i].o->metric, s[i - 1].o->metric)) nm++;
    a->m = calloc(nm ? nm : 1, sizeof *a->m);
    if (!a->m) {
        free(s);
        bnc_analysis_free(a);
        return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
    }
    size_t i = 0;
    while (!rc && i < n) {
        size_t j = i;
        while (j < n && !strcmp(s[j].o->metric, s[i].o->metric))
            j++;
        bnc_metric_result *mr = &a->m[a->nm++];
        mr->metric = dupstr(s[i].o->metric);
        size_t ng = 0;
        for (size_t q = i; q < j; q++)
            if (q == i || strcmp(s[q].o->group, s[q - 1].o->group)) ng++;
        mr->g = calloc(ng, sizeof *mr->g);
        if (!mr->metric || !mr->g) {
            rc = bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
            break;
        }
        size_t cap = 0, dups = 0;
        bnc_group_stats *g = NULL;
        for (size_t q = i; !rc && q < j; q++) {
            if (q == i || strcmp(s[q].o->group, s[q - 1].o->group)) {
                g = &mr->g[mr->ng++];
                g->name = dupstr(s[q].o->group);
                cap = 0;
                if (!g->name) rc = BNC_ENOMEM;
            }
            if (!rc && group_add(g, &cap, s[q].o->pair, s[q].o->value, &dups)) rc = BNC_ENOMEM;
        }
        if (rc) {
            rc = bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory");
            break;
        }
        rc = analyse_metric(mr, a, a->baseline_req, err);
        i = j;
    }
    free(s);
    if (rc) {
        bnc_analysis_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* ---- rows for the analyses table --------------------------------------------- */

void bnc_analysis_query(const bnc_analyze_opts *o, bnc_obs_query *q)
{
    q->campaign = o->campaign;
    q->by = o->by ? o->by : "scheme";
    q->paired_by = o->paired_by ? o->paired_by : "seed";
    q->metric = o->metric;
    q->kind = o->kind;
    q->where = o->where;
}

static double opt(int valid, double v)
{
    return valid ? v : NAN;
}

int bnc_analysis_rows(const bnc_analysis *a, bnc_analysis_row **rows, size_t *n, bnc_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < a->nm; i++)
        total += a->m[i].ng + 1;
    bnc_analysis_row *r = calloc(total + 1, sizeof *r);
    if (!r) return bnc_err_set(err, BNC_ENOMEM, "analysis: out of memory for %zu rows", total);
    size_t k = 0;
    for (size_t i = 0; i < a->nm; i++) {
        const bnc_metric_result *m = &a->m[i];
        const char *base = m->g[m->baseline].name;
        size_t count = 0;
        for (size_t j = 0; j < m->ng; j++) {
            const bnc_group_stats *g = &m->g[j];
            int hd = !g->is_baseline && g->has_diff;
            count += g->n;
            r[k++] = (bnc_analysis_row){
                .metric = m->metric,
                .baseline = base,
                .grp = g->name,
                .test = g->is_baseline ? "baseline" : m->test,
                .correction = g->has_p_adj ? a->correction : "",
                .effect_name = g->has_effect ? m->effect_name : "",
                .verdict = g->verdict,
                .note = g->note,
                .n = (int64_t)g->n,
                .mean = opt(g->n > 0, g->desc.mean),
                .sd = opt(g->desc.has_sd, g->desc.sd),
                .ci_lo = opt(g->has_ci, g->ci_lo),
                .ci_hi = opt(g->has_ci, g->ci_hi),
                .diff = opt(hd, g->diff),
                .diff_lo = opt(hd, g->diff_lo),
                .diff_hi = opt(hd, g->diff_hi),
                .statistic = opt(g->has_test, g->stat),
                .df = opt(g->has_test, g->df),
                .df2 = NAN,
                .p = opt(g->has_test, g->p),
                .p_adj = opt(g->has_p_adj, g->p_adj),
                .p_rank = opt(g->has_p_rank, g->p_rank),
                .effect = opt(g->has_effect, g->effect),
            };
        }
        /* the omnibus row */
        r[k++] = (bnc_analysis_row){
            .metric = m->metric,
            .baseline = base,
            .grp = "*",
            .test = m->has_anova ? m->anova_test : "none",
            .correction = "",
            .effect_name = m->has_omega2 ? "omega2" : "",
            .verdict = !m->has_anova           ? "undefined"
                       : m->anova.p < a->alpha ? "groups differ"
                                               : "no evidence of a difference",
            .note = m->note,
            .n = (int64_t)count,
            .mean = NAN,
            .sd = NAN,
            .ci_lo = NAN,
            .ci_hi = NAN,
            .diff = NAN,
            .diff_lo = NAN,
            .diff_hi = NAN,
            .statistic = opt(m->has_anova, m->anova.f),
            .df = opt(m->has_anova, m->anova.df1),
            .df2 = opt(m->has_anova, m->anova.df2),
            .p = opt(m->has_anova, m->anova.p),
            .p_adj = NAN,
            .p_rank = NAN,
            .effect = opt(m->has_omega2, m->omega2),
        };
    }
    *rows = r;
    *n = k;
    return 0;
}

/* ---- printing ------------------------------------------------------------- */

#define NCOL 8

static void print_rule(FILE *f, const int *w)
{
    for (int c = 0; c < NCOL; c++)
        fprintf(f, "%s%.*s", c ? "  " : "", w[c],
                "------------------------------------------------------------------------");
    fputc('\n', f);
}

/* Every group of the metric has zero spread (bits per weight, bytes). */
static int metric_is_constant(const bnc_metric_result *m)
{
    for (size_t j = 0; j < m->ng; j++)
        if (m->g[j].n > 1 && m->g[j].desc.max > m->g[j].desc.min) return 0;
    return 1;
}

void bnc_analysis_print(FILE *f, const bnc_analysis *a)
{
    /* metrics that vary first, constant ones (bits per weight) last */
    for (size_t mk = 0, shown = 0; mk < 2 * a->nm; mk++) {
        size_t i = mk % a->nm;
        if (metric_is_constant(&a->m[i]) != (mk >= a->nm)) continue;
        const bnc_metric_result *m = &a->m[i];
        int first_metric = shown++ == 0;
        const char *base = m->g[m->baseline].name;
        fprintf(f, "%s%s: %s%s, by %s, baseline %s\n", first_metric ? "" : "\n", a->campaign,
                m->metric,
                m->direction > 0   ? " (higher is better)"
                : m->direction < 0 ? " (lower is better)"
                                   : "",
                a->by, base);
        char lvl[16];
        snprintf(lvl, sizeof lvl, "%g%%", 100 * (1 - a->alpha));
        if (m->paired)
            fprintf(f, "paired by %s (%zu pairs); paired t test, %s-adjusted p, alpha %g\n",
                    a->paired_by, m->npairs, !strcmp(a->correction, "bh") ? "BH" : "Holm",
                    a->alpha);
        else
            fprintf(f, "unpaired; Welch t test, %s-adjusted p, alpha %g\n",
                    !strcmp(a->correction, "bh") ? "BH" : "Holm", a->alpha);
        char cells[64][NCOL][96];
        char head[NCOL][64];
        snprintf(head[0], 64, "group");
        snprintf(head[1], 64, "n");
        snprintf(head[2], 64, "mean [%s CI]", lvl);
        snprintf(head[3], 64, "diff vs %s [%s CI]", base, lvl);
        snprintf(head[4], 64, "p");
        snprintf(head[5], 64, "p adj");
        snprintf(head[6], 64, "%s", m->paired ? "d_z" : "Hedges g");
        snprintf(head[7], 64, "verdict");
        int w[NCOL];
        for (int c = 0; c < NCOL; c++)
            w[c] = (int)strlen(head[c]);
        size_t rows = m->ng < 64 ? m->ng : 64;
        for (size_t j = 0; j < rows; j++) {
            const bnc_group_stats *g = &m->g[j];
            char x[32], y[32], z[32];
            snprintf(cells[j][0], 96, "%s", g->name);
            snprintf(cells[j][1], 96, "%zu", g->n);
            if (g->n == 0)
                snprintf(cells[j][2], 96, "-");
            else if (g->has_ci)
                snprintf(cells[j][2], 96, "%s [%s, %s]", bnc_fmt_num(x, 32, g->desc.mean),
                         bnc_fmt_num(y, 32, g->ci_lo), bnc_fmt_num(z, 32, g->ci_hi));
            else
                snprintf(cells[j][2], 96, "%s", bnc_fmt_num(x, 32, g->desc.mean));
            if (g->is_baseline)
                snprintf(cells[j][3], 96, "(baseline)");
            else if (!g->has_diff)
                snprintf(cells[j][3], 96, "-");
            else if (g->diff_lo == g->diff_hi || isnan(g->diff_lo))
                snprintf(cells[j][3], 96, "%+.4g", g->diff);
            else
                snprintf(cells[j][3], 96, "%+.4g [%+.4g, %+.4g]", g->diff, g->diff_lo, g->diff_hi);
            snprintf(cells[j][4], 96, "%s", g->has_test ? bnc_fmt_p(x, 32, g->p) : "-");
            snprintf(cells[j][5], 96, "%s", g->has_p_adj ? bnc_fmt_p(x, 32, g->p_adj) : "-");
            snprintf(cells[j][6], 96, "%s", g->has_effect ? bnc_fmt_num(x, 32, g->effect) : "-");
            snprintf(cells[j][7], 96, "%s%s", g->verdict, g->note[0] ? " *" : "");
            for (int c = 0; c < NCOL; c++) {
                int l = (int)strlen(cells[j][c]);
                if (l > w[c]) w[c] = l;
            }
        }
        fputc('\n', f);
        for (int c = 0; c < NCOL; c++)
            fprintf(f, c == 0 || c >= 7 ? "%s%-*s" : "%s%*s", c ? "  " : "", c == 7 ? 0 : w[c],
                    head[c]);
        fputc('\n', f);
        print_rule(f, w);
        for (size_t j = 0; j < rows; j++) {
            for (int c = 0; c < NCOL; c++)
                fprintf(f, c == 0 || c >= 7 ? "%s%-*s" : "%s%*s", c ? "  " : "", c == 7 ? 0 : w[c],
                        cells[j][c]);
            fputc('\n', f);
        }
        if (m->ng > rows) fprintf(f, "(%zu more groups not shown; all are stored)\n", m->ng - rows);
        if (m->has_anova) {
            char p[32];
            fprintf(f, "%s across %zu groups: F(%.4g, %.4g) = %.4g, p = %s", m->anova_test, m->ng,
                    m->anova.df1, m->anova.df2, m->anova.f, bnc_fmt_p(p, 32, m->anova.p));
            if (m->has_omega2) fprintf(f, "; omega^2 = %.3g, eta^2 = %.3g", m->omega2, m->eta2);
            fputc('\n', f);
        }
        for (size_t j = 0; j < m->ng; j++) { /* identical notes once, with all their groups */
            const char *note = m->g[j].note;
            int seen = !note[0];
            for (size_t k = 0; k < j && !seen; k++)
                seen = !strcmp(m->g[k].note, note);
            if (seen) continue;
            fprintf(f, "*");
            for (size_t k = j, first = 1; k < m->ng; k++)
                if (!strcmp(m->g[k].note, note)) {
                    fprintf(f, "%s %s", first ? "" : ",", m->g[k].name);
                    first = 0;
                }
            fprintf(f, ": %s\n", note);
        }
        if (m->note[0]) fprintf(f, "note: %s\n", m->note);
    }
}
