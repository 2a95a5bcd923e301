/* Campaign reports: HTML (one file, inline SVG and CSS), Markdown, CSV. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bnc_version.h"
#include "report.h"

static const bnc_metric_result *find_metric(const bnc_analysis *a, const char *name)
{
    for (size_t i = 0; i < a->nm; i++)
        if (!strcmp(a->m[i].metric, name)) return &a->m[i];
    return NULL;
}

static const bnc_group_stats *find_group(const bnc_metric_result *m, const char *name)
{
    for (size_t j = 0; m && j < m->ng; j++)
        if (!strcmp(m->g[j].name, name)) return &m->g[j];
    return NULL;
}

static int is_throughput(const char *metric)
{
    return strstr(metric, "gbps") != NULL;
}

/* Every group of every metric has zero spread (bits per weight, bytes). */
static int constant_metric(const bnc_metric_result *m)
{
    for (size_t j = 0; j < m->ng; j++)
        if (m->g[j].n > 1 && m->g[j].desc.max > m->g[j].desc.min) return 0;
    return 1;
}

/* Palette index per group name: position in the sorted union of names, so
 * a scheme has the same colour in every plot. */
typedef struct names {
    char **v;
    size_t n;
} names;

static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_build(const bnc_analysis *a, names *nm)
{
    size_t cap = 0;
    nm->v = NULL;
    nm->n = 0;
    for (size_t i = 0; i < a->nm; i++)
        for (size_t j = 0; j < a->m[i].ng; j++) {
            int have = 0;
            for (size_t k = 0; k < nm->n && !have; k++)
                have = !strcmp(nm->v[k], a->m[i].g[j].name);
            if (have) continue;
            if (nm->n == cap) {
                cap = cap ? 2 * cap : 16;
                char **nv = realloc(nm->v, cap * sizeof *nv);
                if (!nv) return;
                nm->v = nv;
            }
            nm->v[nm->n++] = a->m[i].g[j].name;
        }
    if (nm->n) qsort(nm->v, nm->n, sizeof *nm->v, names_cmp);
}

static void colors_for(const names *nm, const bnc_metric_result *m, size_t *out)
{
    for (size_t j = 0; j < m->ng; j++) {
        out[j] = 0;
        for (size_t k = 0; k < nm->n; k++)
            if (!strcmp(nm->v[k], m->g[j].name)) out[j] = k;
    }
}

/* ---- error against bits per weight --------------------------------------- */

typedef struct bpw_fit {
    const bnc_metric_result *err, *bpw;
    bnc_svg_point *pts;
    size_t n, ntask;
    int logy, ok;
    size_t dropped_zero;
    bnc_ols ols;
    char msg[256];
} bpw_fit;

static long pair_index(const bnc_group_stats *g, const char *key)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(g->pairs[mid], key);
        if (!c) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void bpw_fit_build(const bnc_analysis *a, const names *nm, bpw_fit *bf)
{
    memset(bf, 0, sizeof *bf);
    /* perplexity first: a ppl_eval campaign plots the model's quality
     * against bits per weight; weight-error campaigns their error */
    static const char *errs[] = {"ppl", "rel_rmse", "rmse", "mse", "rel_err", "error"};
    bf->bpw = find_metric(a, "bits_per_weight");
    for (size_t i = 0; i < sizeof errs / sizeof errs[0] && !bf->err; i++)
        bf->err = find_metric(a, errs[i]);
    for (size_t i = 0; i < a->nm && !bf->err; i++)
        if (strstr(a->m[i].metric, "err")) bf->err = &a->m[i];
    if (!bf->err || !bf->bpw) return;
    const bnc_metric_result *e = bf->err;
    size_t cap = 0;
    for (size_t j = 0; j < e->ng; j++)
        cap += e->g[j].n + 1;
    bf->pts = calloc(cap ? cap : 1, sizeof *bf->pts);
    double *X = malloc((cap ? cap : 1) * sizeof *X), *Y = malloc((cap ? cap : 1) * sizeof *Y);
    if (!bf->pts || !X || !Y) {
        free(X);
        free(Y);
        return;
    }
    /* log scale when every error is positive except exact zeros (f32) */
    bf->logy = 1;
    for (size_t j = 0; j < e->ng; j++)
        for (size_t i = 0; i < e->g[j].n; i++)
            if (e->g[j].values[i] < 0) bf->logy = 0;
    size_t nfit = 0, ngroups_fit = 0;
    for (size_t j = 0; j < e->ng; j++) {
        const bnc_group_stats *ge = &e->g[j], *gb = find_group(bf->bpw, ge->name);
        if (!gb || gb->n == 0 || ge->n == 0) continue;
        size_t color = 0;
        for (size_t k = 0; k < nm->n; k++)
            if (!strcmp(nm->v[k], ge->name)) color = k;
        int any = 0;
        for (size_t i = 0; i < ge->n; i++) {
            long k = ge->pairs[i][0] ? pair_index(gb, ge->pairs[i]) : -1;
            double x = k >= 0 ? gb->values[k] : gb->desc.mean, y = ge->values[i];
            if (bf->logy && !(y > 0)) {
                bf->dropped_zero++;
                continue;
            }
            bf->pts[bf->n++] = (bnc_svg_point){x, y, color, NULL};
            X[nfit] = x;
            Y[nfit++] = bf->logy ? log10(y) : y;
            any = 1;
        }
        bf->ntask = nfit;
        if (any && ge->desc.mean > 0) {
            bf->pts[bf->n++] = (bnc_svg_point){gb->desc.mean, ge->desc.mean, color, ge->name};
            ngroups_fit++;
        }
    }
    bnc_err er;
    if (ngroups_fit < 2)
        snprintf(bf->msg, sizeof bf->msg, "fewer than two schemes with positive error: no fit");
    else if (bnc_ols_fit(X, nfit, 1, Y, &bf->ols, &er) == 0)
        bf->ok = 1;
    else
        snprintf(bf->msg, sizeof bf->msg, "no fit: %s", er.msg);
    free(X);
    free(Y);
}

static void bpw_fit_free(bpw_fit *bf)
{
    free(bf->pts);
    if (bf->ok) bnc_ols_free(&bf->ols);
}

/* ---- HTML ------------------------------------------------------------------ */

static const char *css =
    ":root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;"
    "--good:#1e7d32;--good-bg:#e3f4e6;--bad:#b42318;--bad-bg:#fde8e6;--ns:#52606d;"
    "--ns-bg:#eef1f4;--accent:#4e79a7}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
    "Arial,sans-serif;color:var(--fg);background:var(--bg)}\n"
    "main{max-width:1240px;margin:0 auto;padding:20px 28px 40px}\n"
    "header.top{background:#102a43;color:#fff;padding:18px 28px}\n"
    "header.top .in{max-width:1240px;margin:0 auto;display:flex;flex-wrap:wrap;align-items:"
    "baseline;gap:6px 18px}\n"
    "header.top h1{font-size:22px;margin:0;font-weight:650}\n"
    "header.top .sub{color:#bcccdc;font-size:13px}\n"
    "nav{max-width:1240px;margin:0 auto;padding:8px 28px 0;font-size:13px}\n"
    "nav a{color:var(--accent);text-decoration:none;margin-right:16px}\n"
    "h2{font-size:18px;margin:26px 0 10px;font-weight:650}\n"
    "h3{font-size:15px;margin:0 0 4px;font-weight:600}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:10px;"
    "padding:14px 16px;box-shadow:0 1px 2px rgba(16,42,67,.05)}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}\n"
    ".facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px 18px;"
    "margin:0}\n"
    ".facts div{min-width:0}.facts dt{color:var(--muted);font-size:12px}"
    ".facts dd{margin:0;font-weight:550;overflow-wrap:anywhere}\n"
    "figure{margin:0}figcaption{font-size:12px;color:var(--muted);margin-bottom:4px}\n"
    "svg.plot{width:100%;height:auto;display:block;font-family:inherit}\n"
    ".grid line,.plot .grid{stroke:#edf0f3;stroke-width:1}\n"
    ".plot .axis{stroke:#9aa5b1;stroke-width:1}\n"
    ".plot .tick{fill:#616e7c;font-size:11px}.plot .glabel{fill:#1f2933;font-size:12px}\n"
    ".plot .base{fill:#8896a5;font-size:10px}\n"
    ".plot .axis-title{fill:#3e4c59;font-size:12px}\n"
    ".plot .box{fill-opacity:.16;stroke-width:1.5}.plot .median{stroke-width:2.5}\n"
    ".plot .whisker{stroke-width:1.3}.plot .pt{fill-opacity:.7}\n"
    ".plot .mean{fill:#fff;stroke:#1f2933;stroke-width:1.3}\n"
    ".plot .bar{fill-opacity:.85}.plot .errbar{stroke:#1f2933;stroke-width:1.4;fill:none}\n"
    ".plot .vlabel{fill:#3e4c59;font-size:11px}\n"
    ".plot .ceiling{stroke:#b42318;stroke-width:1.6;stroke-dasharray:6 4}\n"
    ".plot .ceiling-label{fill:#b42318;font-size:12px;font-weight:600}\n"
    ".plot .fit{stroke:#1f2933;stroke-width:1.8;stroke-dasharray:5 3}\n"
    ".plot .gmean{stroke:#fff;stroke-width:1.5}.plot .plabel{font-size:12px;fill:#1f2933}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px}\n"
    "th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;border-bottom:"
    "1px solid var(--line);padding:6px 8px;white-space:nowrap}\n"
    "td{padding:6px 8px;border-bottom:1px solid #f0f2f4;vertical-align:top}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tr.baseline td{background:#f8fafc}\n"
    ".scroll{overflow-x:auto}\n"
    ".pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;"
    "font-weight:600;white-space:nowrap}\n"
    ".better{color:var(--good);background:var(--good-bg)}.worse{color:var(--bad);"
    "background:var(--bad-bg)}\n"
    ".ns{color:var(--ns);background:var(--ns-bg)}.info{color:#3e4c59;background:#e6eef7}\n"
    ".note{color:var(--muted);font-size:12px;margin:6px 0 0}\n"
    ".omni{font-size:13px;margin:8px 0 0}\n"
    ".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;"
    "vertical-align:baseline}\n"
    "details summary{cursor:pointer;color:var(--accent);font-size:13px}\n"
    "pre{background:#f0f4f8;padding:10px 12px;border-radius:8px;overflow:auto;font-size:12px;"
    "max-height:360px}\n"
    "footer{color:var(--muted);font-size:12px;margin-top:30px}\n"
    "table.glance td{text-align:center}table.glance td:first-child{text-align:left;"
    "font-weight:600;white-space:nowrap}table.glance th{text-align:center}\n"
    "table.glance th:first-child{text-align:left}.dir{color:var(--muted);font-weight:400}\n"
    "table.env td:first-child{white-space:nowrap}table.env td.wrap{min-width:170px}\n"
    ".plot .vlabel,.plot .ceiling-label,.plot .plabel{paint-order:stroke;stroke:#fff;"
    "stroke-width:4px;stroke-linejoin:round}\n";

static const char *verdict_class(const char *v)
{
    if (!strcmp(v, "better")) return "better";
    if (!strcmp(v, "worse")) return "worse";
    if (!strcmp(v, "baseline") || !strcmp(v, "higher") || !strcmp(v, "lower")) return "info";
    return "ns";
}

static void html_num(FILE *f, double v, int valid)
{
    char b[32];
    fprintf(f, "<td class=\"num\">%s</td>", valid ? bnc_fmt_num(b, sizeof b, v) : "&ndash;");
}

static void html_stats_table(FILE *f, const bnc_analysis *a, const bnc_metric_result *m,
                             const size_t *colors)
{
    const char *base = m->g[m->baseline].name;
    int lvl = (int)lround(100 * (1 - a->alpha));
    fprintf(f, "<div class=\"card\"><h3>");
    bnc_html_escape(f, m->metric);
    fprintf(f, "</h3><p class=\"note\">%s%s; compared with <b>",
            m->direction > 0   ? "higher is better · "
            : m->direction < 0 ? "lower is better · "
                               : "",
            m->paired ? "paired t test (pairs share seed and every other parameter)"
                      : "Welch t test");
    bnc_html_escape(f, base);
    fprintf(f, "</b>; %s-adjusted p; &alpha; = %g</p>\n<div class=\"scroll\"><table>\n",
            strcmp(a->correction, "bh") ? "Holm" : "Benjamini-Hochberg", a->alpha);
    fprintf(f, "<tr><th>group</th><th>n</th><th>mean</th><th>%d%% CI</th><th>diff vs ", lvl);
    bnc_html_escape(f, base);
    fprintf(f,
            "</th><th>%d%% CI of diff</th><th>p</th><th>p adj</th><th>%s</th>"
            "<th>%s p</th><th>verdict</th></tr>\n",
            lvl, m->paired ? "d<sub>z</sub>" : "Hedges g",
            m->paired ? "signed-rank" : "Mann-Whitney");
    for (size_t j = 0; j < m->ng; j++) {
        const bnc_group_stats *g = &m->g[j];
        char b1[32], b2[32];
        fprintf(f, "<tr%s><td><span class=\"swatch\" style=\"background:%s\"></span>",
                g->is_baseline ? " class=\"baseline\"" : "", bnc_svg_color(colors[j]));
        bnc_html_escape(f, g->name);
        fprintf(f, "</td><td class=\"num\">%zu</td>", g->n);
        html_num(f, g->desc.mean, g->n > 0);
        if (g->has_ci)
            fprintf(f, "<td class=\"num\">[%s, %s]</td>", bnc_fmt_num(b1, 32, g->ci_lo),
                    bnc_fmt_num(b2, 32, g->ci_hi));
        else
            fprintf(f, "<td class=\"num\">&ndash;</td>");
        if (g->is_baseline || !g->has_diff) {
            fprintf(f, "<td class=\"num\">&ndash;</td><td class=\"num\">&ndash;</td>");
        } else {
            fprintf(f, "<td class=\"num\">%+.4g</td>", g->diff);
            if (g->has_test)
                fprintf(f, "<td class=\"num\">[%+.4g, %+.4g]</td>", g->diff_lo, g->diff_hi);
            else
                fprintf(f, "<td class=\"num\">exact</td>");
        }
        fprintf(f, "<td class=\"num\">%s</td>", g->has_test ? bnc_fmt_p(b1, 32, g->p) : "&ndash;");
        fprintf(f, "<td class=\"num\">%s</td>",
                g->has_p_adj ? bnc_fmt_p(b1, 32, g->p_adj) : "&ndash;");
        html_num(f, g->effect, g->has_effect);
        fprintf(f, "<td class=\"num\">%s</td>",
                g->has_p_rank ? bnc_fmt_p(b1, 32, g->p_rank) : "&ndash;");
        fprintf(f, "<td><span class=\"pill %s\"", verdict_class(g->verdict));
        if (g->note[0]) {
            fprintf(f, " title=\"");
            bnc_html_escape(f, g->note);
            fprintf(f, "\"");
        }
        fprintf(f, ">");
        bnc_html_escape(f, g->verdict);
        fprintf(f, "%s</span></td></tr>\n", g->note[0] ? " *" : "");
    }
    fprintf(f, "</table></div>\n");
    if (m->has_anova) {
        char p[32];
        fprintf(f, "<p class=\"omni\">%s across %zu groups: F(%.3g, %.3g) = %.4g, p = %s",
                m->anova_test, m->ng, m->anova.df1, m->anova.df2, m->anova.f,
                bnc_fmt_p(p, 32, m->anova.p));
        if (m->has_omega2)
            fprintf(f, "; &omega;<sup>2</sup> = %.3g, &eta;<sup>2</sup> = %.3g", m->omega2,
                    m->eta2);
        fprintf(f, "</p>\n");
    }
    for (size_t j = 0; j < m->ng; j++) { /* identical notes once, with all their groups */
        const char *note = m->g[j].note;
        int seen = !note[0];
        for (size_t k = 0; k < j && !seen; k++)
            seen = !strcmp(m->g[k].note, note);
        if (seen) continue;
        fprintf(f, "<p class=\"note\">* ");
        for (size_t k = j, first = 1; k < m->ng; k++)
            if (!strcmp(m->g[k].note, note)) {
                fprintf(f, "%s", first ? "" : ", ");
                bnc_html_escape(f, m->g[k].name);
                first = 0;
            }
        fprintf(f, ": ");
        bnc_html_escape(f, note);
        fprintf(f, "</p>\n");
    }
    if (m->note[0]) {
        fprintf(f, "<p class=\"note\">");
        bnc_html_escape(f, m->note);
        fprintf(f, "</p>\n");
    }
    fprintf(f, "</div>\n");
}

/* Column k of the environments table as shown (memory in GiB). */
static const char *env_cell(const bnc_env_row *e, int k, char *buf, size_t n)
{
    switch (k) {
    case 0:
        return e->host;
    case 1:
        snprintf(buf, n, "%lld", (long long)e->ranks);
        return buf;
    case 2:
        return e->cpu_model;
    case 3:
        if (e->mem_bytes < 0) return "";
        snprintf(buf, n, "%.1f GiB", (double)e->mem_bytes / 1073741824.0);
        return buf;
    case 4:
        return e->gpu;
    case 5:
        return e->gpu_driver;
    case 6:
        return e->compiler;
    case 7:
        return e->mpi_version;
    case 8:
        return e->nccl_version;
    case 9:
        return e->libpq_version;
    case 10:
        return e->bnc_version;
    case 11:
        return e->git_rev;
    case 12:
        return e->git_dirty < 0 ? "" : e->git_dirty ? "true" : "false";
    default:
        return e->recorded;
    }
}

static void fact(FILE *f, const char *k, const char *v)
{
    fprintf(f, "<div><dt>%s</dt><dd>", k);
    bnc_html_escape(f, v && v[0] ? v : "\xe2\x80\x93");
    fprintf(f, "</dd></div>\n");
}

static void write_html(FILE *f, const bnc_analysis *a, const bnc_report_input *in)
{
    const bnc_campaign_row *c = in->campaign;
    names nm;
    names_build(a, &nm);
    size_t *colors = calloc(nm.n + 1, sizeof *colors);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>bnc report: ");
    bnc_html_escape(f, a->campaign);
    fprintf(f, "</title>\n<style>\n%s</style></head><body>\n", css);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
    fprintf(f, "<header class=\"top\"><div class=\"in\"><h1>Campaign ");
    bnc_html_escape(f, a->campaign);
    fprintf(f, "</h1><span class=\"sub\">");
    bnc_html_escape(f, c->description);
    fprintf(f, "%s status %s &middot; report written %s</span></div></header>\n",
            c->description[0] ? " &middot;" : "", c->status, when);
    fprintf(f, "<nav><a href=\"#glance\">At a glance</a><a href=\"#provenance\">Provenance</a><a "
               "href=\"#distributions\">"
               "Distributions</a><a href=\"#throughput\">Throughput</a><a href=\"#bits\">"
               "Error vs bits</a><a href=\"#statistics\">Statistics</a></nav>\n<main>\n");

    /* at a glance: verdict of every group on every metric */
    fprintf(f,
            "<section id=\"glance\"><h2>At a glance</h2><div class=\"card\">"
            "<p class=\"note\" style=\"margin:0 0 8px\">Each cell: difference of the %s's "
            "mean from the metric's baseline (relative when the baseline is not 0), coloured "
            "by the verdict of the %s-adjusted test at &alpha; = %g.</p>"
            "<div class=\"scroll\"><table class=\"glance\"><tr><th>metric</th>",
            a->by, strcmp(a->correction, "bh") ? "Holm" : "BH", a->alpha);
    for (size_t k = 0; k < nm.n; k++) {
        fprintf(f, "<th><span class=\"swatch\" style=\"background:%s\"></span>", bnc_svg_color(k));
        bnc_html_escape(f, nm.v[k]);
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (size_t i = 0; i < a->nm; i++) {
        const bnc_metric_result *m = &a->m[i];
        if (constant_metric(m) || !strcmp(m->metric, "bw_gbps")) continue;
        const bnc_group_stats *b = &m->g[m->baseline];
        fprintf(f, "<tr><td>");
        bnc_html_escape(f, m->metric);
        fprintf(f, "%s</td>",
                m->direction > 0   ? " <span class=\"dir\">&uarr;</span>"
                : m->direction < 0 ? " <span class=\"dir\">&darr;</span>"
                                   : "");
        for (size_t k = 0; k < nm.n; k++) {
            const bnc_group_stats *g = find_group(m, nm.v[k]);
            if (!g || g->n == 0) {
                fprintf(f, "<td></td>");
                continue;
            }
            if (g->is_baseline) {
                fprintf(f, "<td><span class=\"pill info\">baseline</span></td>");
                continue;
            }
            char cell[48];
            if (!g->has_diff || isnan(g->diff))
                snprintf(cell, sizeof cell, "?");
            else if (b->desc.mean != 0)
                snprintf(cell, sizeof cell, "%+.3g%%", 100 * g->diff / fabs(b->desc.mean));
            else
                snprintf(cell, sizeof cell, "%+.3g", g->diff);
            char pv[32];
            fprintf(f, "<td><span class=\"pill %s\" title=\"", verdict_class(g->verdict));
            bnc_html_escape(f, g->verdict);
            fprintf(f, "%s%s\">%s</span></td>", g->has_p_adj ? ", adjusted p = " : "",
                    g->has_p_adj ? bnc_fmt_p(pv, sizeof pv, g->p_adj) : "", cell);
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table></div></div></section>\n");

    /* provenance */
    fprintf(f, "<section id=\"provenance\"><h2>Provenance</h2><div class=\"card\">"
               "<dl class=\"facts\">\n");
    fact(f, "campaign", a->campaign);
    fact(f, "status", c->status);
    fact(f, "created", c->created);
    fact(f, "last update", c->updated);
    char planned[32];
    snprintf(planned, sizeof planned, "%lld", (long long)c->total_tasks);
    fact(f, "planned tasks", planned);
    char buf[512];
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < in->tasks->n && off < sizeof buf - 64; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s %s: %lld", i ? ", " : "",
                                in->tasks->v[i].kind, in->tasks->v[i].status,
                                (long long)in->tasks->v[i].count);
    fact(f, "stored tasks", buf);
    fact(f, "spec hash", c->spec_hash);
    char bases[160] = "";
    size_t boff = 0;
    for (size_t i = 0; i < a->nm && boff < sizeof bases - 40; i++) {
        const char *bn = a->m[i].g[a->m[i].baseline].name;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(a->m[k].g[a->m[k].baseline].name, bn);
        if (!seen)
            boff +=
                (size_t)snprintf(bases + boff, sizeof bases - boff, "%s%s", boff ? " or " : "", bn);
    }
    snprintf(buf, sizeof buf, "by %s, baseline %s, %s pairing, alpha %g, %s", a->by,
             bases[0] ? bases : "-", strcmp(a->paired_by, "none") ? a->paired_by : "no", a->alpha,
             strcmp(a->correction, "bh") ? "Holm" : "BH");
    fact(f, "analysis", buf);
    fprintf(f, "</dl>\n");
    size_t ne = in->envs->n;
    if (ne > 0) {
        static const char *hd[] = {"host", "ranks", "CPU",   "memory", "GPU", "driver", "compiler",
                                   "MPI",  "NCCL",  "libpq", "bnc",    "git", "dirty",  "recorded"};
        fprintf(f, "<h3 style=\"margin-top:14px\">Environments</h3><div class=\"scroll\">"
                   "<table class=\"env\"><tr>");
        for (int k = 0; k < 14; k++)
            fprintf(f, "<th>%s</th>", hd[k]);
        fprintf(f, "</tr>\n");
        for (size_t i = 0; i < ne && i < 200; i++) {
            fprintf(f, "<tr>");
            for (int k = 0; k < 14; k++) {
                const char *v = env_cell(&in->envs->v[i], k, buf, sizeof buf);
                fprintf(f, k == 2 ? "<td class=\"wrap\">" : "<td>");
                bnc_html_escape(f, v);
                fprintf(f, "</td>");
            }
            fprintf(f, "</tr>\n");
        }
        fprintf(f, "</table></div>\n");
    } else {
        fprintf(f, "<p class=\"note\">No environment recorded.</p>\n");
    }
    fprintf(f, "<details style=\"margin-top:10px\"><summary>Campaign spec</summary><pre>");
    bnc_html_escape(f, c->spec_text);
    fprintf(f, "</pre></details></div></section>\n");

    /* distributions */
    fprintf(f,
            "<section id=\"distributions\"><h2>Distributions by %s</h2>\n"
            "<p class=\"note\">Boxes span the quartiles with the median; whiskers reach the "
            "furthest values within 1.5 IQR; dots are individual tasks; the white diamond is "
            "the mean.</p>\n<div class=\"grid\">\n",
            a->by);
    char constant[512] = "";
    size_t coff = 0;
    for (size_t i = 0; i < a->nm; i++) {
        const bnc_metric_result *m = &a->m[i];
        if (is_throughput(m->metric)) continue;
        if (constant_metric(m)) {
            if (coff < sizeof constant - 64)
                coff += (size_t)snprintf(constant + coff, sizeof constant - coff, "%s%s",
                                         coff ? ", " : "", m->metric);
            continue;
        }
        colors_for(&nm, m, colors);
        fprintf(f, "<figure class=\"card\"><h3>");
        bnc_html_escape(f, m->metric);
        fprintf(f, "</h3><figcaption>%s</figcaption>\n",
                m->direction > 0   ? "higher is better"
                : m->direction < 0 ? "lower is better"
                                   : "&nbsp;");
        bnc_svg_boxplot(f, m, colors);
        fprintf(f, "</figure>\n");
    }
    fprintf(f, "</div>\n");
    if (constant[0]) {
        fprintf(f, "<p class=\"note\">Constant within every group (not plotted): ");
        bnc_html_escape(f, constant);
        fprintf(f, ".</p>\n");
    }
    fprintf(f, "</section>\n");

    /* throughput */
    fprintf(f, "<section id=\"throughput\"><h2>Throughput</h2>\n");
    const bnc_metric_result *bw = find_metric(a, "bw_gbps");
    double ceiling = NAN;
    if (bw) {
        double s = 0, n = 0;
        for (size_t j = 0; j < bw->ng; j++) {
            s += bw->g[j].desc.mean * (double)bw->g[j].n;
            n += (double)bw->g[j].n;
        }
        if (n > 0) ceiling = s / n;
    }
    int nthr = 0;
    fprintf(f, "<div class=\"grid\">\n");
    for (size_t i = 0; i < a->nm; i++) {
        const bnc_metric_result *m = &a->m[i];
        if (!is_throughput(m->metric) || m == bw) continue;
        nthr++;
        colors_for(&nm, m, colors);
        int ceil_here = !strcmp(m->metric, "gbps") && isfinite(ceiling);
        fprintf(f, "<figure class=\"card\"><h3>");
        bnc_html_escape(f, m->metric);
        fprintf(f, " (GB/s)</h3><figcaption>mean per %s with its %d%% t interval%s</figcaption>\n",
                a->by, (int)lround(100 * (1 - a->alpha)),
                ceil_here ? "; dashed: measured memory bandwidth" : "");
        char lab[96];
        snprintf(lab, sizeof lab, "memory bandwidth %.3g GB/s", ceiling);
        bnc_svg_bars(f, m, colors, ceil_here ? ceiling : NAN, lab);
        fprintf(f, "</figure>\n");
    }
    fprintf(f, "</div>\n");
    if (!nthr)
        fprintf(f, "<p class=\"note\">No throughput metric (GB/s) in this campaign.</p>\n");
    else if (!isfinite(ceiling))
        fprintf(f, "<p class=\"note\">No bandwidth measurement (gemv_bench metric bw_gbps): "
                   "no ceiling drawn.</p>\n");
    fprintf(f, "</section>\n");

    /* error vs bits per weight */
    fprintf(f, "<section id=\"bits\"><h2>Error against bits per weight</h2>\n");
    bpw_fit bf;
    bpw_fit_build(a, &nm, &bf);
    if (!bf.err || !bf.bpw) {
        fprintf(f, "<p class=\"note\">Needs the metrics bits_per_weight and an error metric "
                   "(rel_rmse, mse): not both present.</p>\n");
    } else {
        fprintf(f, "<div class=\"grid\"><figure class=\"card\"><h3>");
        bnc_html_escape(f, bf.err->metric);
        fprintf(f,
                " against bits per weight</h3><figcaption>small dots: tasks; large: %s "
                "means; dashed: least-squares fit%s</figcaption>\n",
                a->by, bf.logy ? " of log10 error" : "");
        bnc_svg_scatter_fit(f, bf.pts, bf.n, bf.logy, bf.ok ? bf.ols.coef[0] : NAN,
                            bf.ok ? bf.ols.coef[1] : NAN, "bits per weight", bf.err->metric);
        fprintf(f, "</figure><div class=\"card\"><h3>Least-squares fit</h3>\n");
        if (bf.ok) {
            char p0[32], p1[32];
            fprintf(f, "<p><b>%s%s%s = %.4g %+.4g &times; bits per weight</b></p>\n",
                    bf.logy ? "log<sub>10</sub>(" : "", bf.err->metric, bf.logy ? ")" : "",
                    bf.ols.coef[0], bf.ols.coef[1]);
            if (bf.logy)
                fprintf(f, "<p>Each extra bit per weight multiplies the error by %.3g.</p>\n",
                        pow(10, bf.ols.coef[1]));
            fprintf(f,
                    "<table><tr><th>term</th><th>estimate</th><th>SE</th><th>t</th><th>p</th>"
                    "</tr>\n<tr><td>intercept</td><td class=\"num\">%.4g</td><td class=\"num\">"
                    "%.3g</td><td class=\"num\">%.3g</td><td class=\"num\">%s</td></tr>\n"
                    "<tr><td>bits per weight</td><td class=\"num\">%.4g</td><td class=\"num\">"
                    "%.3g</td><td class=\"num\">%.3g</td><td class=\"num\">%s</td></tr></table>\n",
                    bf.ols.coef[0], bf.ols.se[0], bf.ols.t[0], bnc_fmt_p(p0, 32, bf.ols.pval[0]),
                    bf.ols.coef[1], bf.ols.se[1], bf.ols.t[1], bnc_fmt_p(p1, 32, bf.ols.pval[1]));
            fprintf(f,
                    "<p class=\"note\">n = %zu tasks, R<sup>2</sup> = %.4f, adjusted %.4f, "
                    "residual SE %.3g on %.0f df.</p>\n",
                    bf.ols.n, bf.ols.r2, bf.ols.adj_r2, bf.ols.sigma, bf.ols.df);
        } else {
            fprintf(f, "<p class=\"note\">");
            bnc_html_escape(f, bf.msg);
            fprintf(f, "</p>\n");
        }
        if (bf.dropped_zero)
            fprintf(f,
                    "<p class=\"note\">%zu tasks with zero error (exact formats) are left out "
                    "of the log scale and the fit.</p>\n",
                    bf.dropped_zero);
        fprintf(f, "</div></div>\n");
    }
    bpw_fit_free(&bf);
    fprintf(f, "</section>\n");

    /* statistics */
    fprintf(f, "<section id=\"statistics\"><h2>Statistics</h2>\n<p class=\"note\">Verdicts: "
               "<span class=\"pill better\">better</span> / <span class=\"pill worse\">worse"
               "</span> when the adjusted p is below &alpha; (direction from the metric's name), "
               "<span class=\"pill ns\">no evidence of a difference</span> otherwise. "
               "Rank-test p-values are a robustness check.</p>\n"
               "<div style=\"display:grid;gap:16px\">\n");
    for (int pass = 0; pass < 2; pass++) /* metrics that vary first, constant ones last */
        for (size_t i = 0; i < a->nm; i++) {
            if (constant_metric(&a->m[i]) != pass) continue;
            colors_for(&nm, &a->m[i], colors);
            html_stats_table(f, a, &a->m[i], colors);
        }
    fprintf(f, "</div></section>\n");
    fprintf(f,
            "<footer>Written by bnc %s (git %s) from %zu stored results. One self-contained "
            "file: inline SVG and CSS, no scripts, no network.</footer>\n</main></body></html>\n",
            BNC_VERSION, BNC_GIT_REV, a->nobs);
    free(colors);
    free(nm.v);
}

/* ---- Markdown and CSV -------------------------------------------------- */

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void write_md(FILE *f, const bnc_analysis *a, const bnc_report_input *in)
{
    const bnc_campaign_row *c = in->campaign;
    fprintf(f, "# Campaign %s\n\n", a->campaign);
    if (c->description[0]) fprintf(f, "%s\n\n", c->description);
    fprintf(f, "- status: %s\n- created: %s, last update: %s\n- planned tasks: %lld\n", c->status,
            c->created, c->updated, (long long)c->total_tasks);
    for (size_t i = 0; i < in->tasks->n; i++)
        fprintf(f, "- tasks %s %s: %lld\n", in->tasks->v[i].kind, in->tasks->v[i].status,
                (long long)in->tasks->v[i].count);
    fprintf(f, "- spec hash: `%s`\n", c->spec_hash);
    for (size_t i = 0; i < in->envs->n; i++)
        fprintf(f, "- environment: %s, %lld ranks, %s, %s, %s, bnc %s (git %s)\n",
                in->envs->v[i].host, (long long)in->envs->v[i].ranks, in->envs->v[i].cpu_model,
                in->envs->v[i].compiler, in->envs->v[i].mpi_version, in->envs->v[i].bnc_version,
                in->envs->v[i].git_rev);
    int lvl = (int)lround(100 * (1 - a->alpha));
    for (size_t i = 0; i < a->nm; i++) {
        const bnc_metric_result *m = &a->m[i];
        const char *base = m->g[m->baseline].name;
        fprintf(f, "\n## %s\n\n%s%s against %s, %s-adjusted p, alpha %g.\n\n", m->metric,
                m->direction > 0   ? "Higher is better. "
                : m->direction < 0 ? "Lower is better. "
                                   : "",
                m->paired ? "Paired t test" : "Welch t test", base,
                strcmp(a->correction, "bh") ? "Holm" : "BH", a->alpha);
        fprintf(f,
                "| %s | n | mean | %d%% CI | diff vs %s | %d%% CI of diff | p | p adj | %s | "
                "verdict |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
                a->by, lvl, base, lvl, m->paired ? "d_z" : "Hedges g");
        for (size_t j = 0; j < m->ng; j++) {
            const bnc_group_stats *g = &m->g[j];
            char b1[32], b2[32];
            fprintf(f, "| ");
            md_cell(f, g->name);
            fprintf(f, " | %zu | %s | ", g->n, g->n ? bnc_fmt_num(b1, 32, g->desc.mean) : "-");
            if (g->has_ci)
                fprintf(f, "[%s, %s]", bnc_fmt_num(b1, 32, g->ci_lo),
                        bnc_fmt_num(b2, 32, g->ci_hi));
            else
                fprintf(f, "-");
            if (g->is_baseline || !g->has_diff)
                fprintf(f, " | - | - ");
            else if (g->has_test)
                fprintf(f, " | %+.4g | [%+.4g, %+.4g] ", g->diff, g->diff_lo, g->diff_hi);
            else
                fprintf(f, " | %+.4g | exact ", g->diff);
            fprintf(f, "| %s ", g->has_test ? bnc_fmt_p(b1, 32, g->p) : "-");
            fprintf(f, "| %s ", g->has_p_adj ? bnc_fmt_p(b1, 32, g->p_adj) : "-");
            fprintf(f, "| %s | ", g->has_effect ? bnc_fmt_num(b1, 32, g->effect) : "-");
            md_cell(f, g->verdict);
            fprintf(f, "%s |\n", g->note[0] ? " *" : "");
        }
        if (m->has_anova) {
            char p[32];
            fprintf(f, "\n%s: F(%.3g, %.3g) = %.4g, p = %s", m->anova_test, m->anova.df1,
                    m->anova.df2, m->anova.f, bnc_fmt_p(p, 32, m->anova.p));
            if (m->has_omega2) fprintf(f, "; omega^2 = %.3g", m->omega2);
            fprintf(f, ".\n");
        }
        for (size_t j = 0; j < m->ng; j++)
            if (m->g[j].note[0]) fprintf(f, "\n\\* %s: %s\n", m->g[j].name, m->g[j].note);
        if (m->note[0]) fprintf(f, "\nNote: %s\n", m->note);
    }
}

static void csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v, int valid)
{
    if (valid && !isnan(v))
        fprintf(f, ",%.17g", v);
    else
        fputc(',', f);
}

static void write_csv(FILE *f, const bnc_analysis *a)
{
    fprintf(f, "campaign,metric,by,group,baseline,n,mean,sd,median,q1,q3,min,max,ci_lo,ci_hi,"
               "diff,diff_lo,diff_hi,test,statistic,df,p,p_adj,p_rank,effect_name,effect,"
               "verdict,note\n");
    for (size_t i = 0; i < a->nm; i++) {
        const bnc_metric_result *m = &a->m[i];
        for (size_t j = 0; j < m->ng; j++) {
            const bnc_group_stats *g = &m->g[j];
            const bnc_desc *d = &g->desc;
            int hv = g->n > 0;
            csv_text(f, a->campaign);
            fputc(',', f);
            csv_text(f, m->metric);
            fputc(',', f);
            csv_text(f, a->by);
            fputc(',', f);
            csv_text(f, g->name);
            fputc(',', f);
            csv_text(f, m->g[m->baseline].name);
            fprintf(f, ",%zu", g->n);
            csv_num(f, d->mean, hv);
            csv_num(f, d->sd, d->has_sd);
            csv_num(f, d->median, hv);
            csv_num(f, d->q1, hv);
            csv_num(f, d->q3, hv);
            csv_num(f, d->min, hv);
            csv_num(f, d->max, hv);
            csv_num(f, g->ci_lo, g->has_ci);
            csv_num(f, g->ci_hi, g->has_ci);
            int hd = !g->is_baseline && g->has_diff;
            csv_num(f, g->diff, hd);
            csv_num(f, g->diff_lo, hd);
            csv_num(f, g->diff_hi, hd);
            fputc(',', f);
            csv_text(f, g->is_baseline ? "baseline" : m->test);
            csv_num(f, g->stat, g->has_test);
            csv_num(f, g->df, g->has_test);
            csv_num(f, g->p, g->has_test);
            csv_num(f, g->p_adj, g->has_p_adj);
            csv_num(f, g->p_rank, g->has_p_rank);
            fputc(',', f);
            csv_text(f, g->has_effect ? m->effect_name : "");
            csv_num(f, g->effect, g->has_effect);
            fputc(',', f);
            csv_text(f, g->verdict);
            fputc(',', f);
            csv_text(f, g->note);
            fputc('\n', f);
        }
    }
}

int bnc_report_write(const bnc_report_input *in, const bnc_report_opts *o, FILE *out, bnc_err *err)
{
    const bnc_analysis *a = in->analysis;
    if (o->format == BNC_REPORT_HTML)
        write_html(out, a, in);
    else if (o->format == BNC_REPORT_MD)
        write_md(out, a, in);
    else
        write_csv(out, a);
    errno = 0;
    if (fflush(out) != 0 || ferror(out))
        return bnc_err_set(err, BNC_EIO, "write error: %s", strerror(errno ? errno : EIO));
    return 0;
}
