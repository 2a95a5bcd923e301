/* Inline SVG plots for the HTML report: box/strip plots, bars with a
 * ceiling, scatter with a fitted line. Every plot is a fixed viewBox scaled
 * by CSS, drawn with plain elements and <title> tooltips (no scripts). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "report.h"

#define W 600.0
#define H 340.0
#define ML 70.0 /* margins */
#define MR 18.0
#define MT 18.0
#define MB 58.0

/* Tableau 10: distinct, colour-blind friendly, prints well. */
static const char *palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

const char *bnc_svg_color(size_t i)
{
    return palette[i % (sizeof palette / sizeof palette[0])];
}

void bnc_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A y (or x) axis: data range [lo, hi] in transformed units (log10 when
 * log), mapped to pixels [p0, p1]. */
typedef struct axis {
    double lo, hi, p0, p1;
    int log;
    int zero; /* log axis that also shows exact zeros, on a row below the decades */
} axis;

static double tr(const axis *a, double v)
{
    return a->log ? log10(v) : v;
}

static double px(const axis *a, double v)
{
    if (a->log && !(v > 0)) return a->p0; /* zeros sit on the bottom row */
    double t = (tr(a, v) - a->lo) / (a->hi - a->lo);
    return a->p0 + t * (a->p1 - a->p0);
}

/* Nice ticks (1, 2, 5 x 10^k) covering [lo, hi]; widens the range to the
 * outer ticks. Returns the number of ticks. */
static int nice_ticks(axis *a, double *t, int max)
{
    if (a->log) {
        double lo = floor(a->lo), hi = ceil(a->hi);
        int step = (int)ceil((hi - lo) / 6.0);
        if (step < 1) step = 1;
        int n = 0;
        for (double v = lo; v <= hi + 1e-9 && n < max; v += step)
            t[n++] = pow(10, v);
        a->lo = lo;
        a->hi = lo + step * (n - 1) < hi ? hi : lo + step * (n - 1);
        return n;
    }
    double span = a->hi - a->lo;
    if (!(span > 0)) {
        double pad = a->lo != 0 ? fabs(a->lo) * 0.05 : 1.0;
        a->lo -= pad;
        a->hi += pad;
        span = a->hi - a->lo;
    }
    double raw = span / 5.0, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    double start = floor(a->lo / step) * step, end = ceil(a->hi / step) * step;
    int n = 0;
    for (double v = start; v <= end + step * 1e-6 && n < max; v += step)
        t[n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    a->lo = start;
    a->hi = end;
    return n;
}

static void tick_label(char *buf, size_t n, double v)
{
    double a = fabs(v);
    if (v == 0)
        snprintf(buf, n, "0");
    else if (a >= 1e5 || a < 1e-3)
        snprintf(buf, n, "%.0e", v);
    else
        snprintf(buf, n, "%.4g", v);
}

static void svg_open(FILE *f, const char *label)
{
    fprintf(f, "<svg class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H);
    bnc_html_escape(f, label);
    fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
}

/* Horizontal grid, tick labels and the y axis title. */
static void y_axis(FILE *f, axis *y, const char *title)
{
    double t[32];
    int n = nice_ticks(y, t, 32);
    if (y->log && y->zero) {
        y->lo -= 1.0; /* one decade of room for the zero row */
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">0</text>"
                "<path class=\"axis\" d=\"M%.1f %.1f l8 -3 M%.1f %.1f l8 -3\"/>\n",
                ML, W - MR, y->p0, y->p0, ML - 6, y->p0 + 4, ML - 4,
                y->p0 + (y->p1 - y->p0) * 0.5 / (y->hi - y->lo) + 2, ML - 4,
                y->p0 + (y->p1 - y->p0) * 0.5 / (y->hi - y->lo) + 6);
    }
    for (int i = 0; i < n; i++) {
        double p = px(y, t[i]);
        char lab[32];
        tick_label(lab, sizeof lab, t[i]);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>\n",
                ML, W - MR, p, p, ML - 6, p + 4, lab);
    }
    fprintf(f,
            "<text class=\"axis-title\" transform=\"translate(16 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            MT + (H - MT - MB) / 2);
    bnc_html_escape(f, title);
    fprintf(f, "</text>\n");
}

/* Group names under their bands (rotated when crowded). */
static void x_groups(FILE *f, const bnc_metric_result *m, double bw)
{
    int rot = m->ng > 6;
    for (size_t j = 0; j < m->ng; j++) {
        double cx = ML + ((double)j + 0.5) * bw;
        if (rot)
            fprintf(f,
                    "<text class=\"glabel\" transform=\"translate(%.1f %.1f) rotate(-30)\" "
                    "text-anchor=\"end\">",
                    cx, H - MB + 16);
        else
            fprintf(f, "<text class=\"glabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", cx,
                    H - MB + 18);
        bnc_html_escape(f, m->g[j].name);
        if (m->g[j].is_baseline && !rot)
            fprintf(f, "<tspan class=\"base\" x=\"%.1f\" dy=\"14\">baseline</tspan>", cx);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", ML,
            W - MR, H - MB, H - MB);
}

/* Deterministic jitter in [-0.5, 0.5) from the point's index. */
static double jitter(size_t i)
{
    uint32_t h = (uint32_t)(i + 1) * 2654435761u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    return (double)(h % 10000) / 10000.0 - 0.5;
}

void bnc_svg_boxplot(FILE *f, const bnc_metric_result *m, const size_t *colors)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < m->ng; j++)
        for (size_t i = 0; i < m->g[j].n; i++) {
            lo = fmin(lo, m->g[j].values[i]);
            hi = fmax(hi, m->g[j].values[i]);
        }
    svg_open(f, m->metric);
    if (!isfinite(lo)) {
        fprintf(f,
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">no finite values</text>"
                "</svg>\n",
                W / 2, H / 2);
        return;
    }
    double minpos = INFINITY;
    for (size_t j = 0; j < m->ng; j++)
        for (size_t i = 0; i < m->g[j].n; i++)
            if (m->g[j].values[i] > 0) minpos = fmin(minpos, m->g[j].values[i]);
    axis y = {lo, hi, H - MB, MT, 0, 0};
    if (lo >= 0 && isfinite(minpos) && hi / minpos > 100) { /* spans decades: log scale */
        y.log = 1;
        y.zero = lo == 0;
        y.lo = log10(minpos);
        y.hi = log10(hi);
    } else {
        double pad = (hi - lo) * 0.06;
        y.lo = lo - pad;
        y.hi = hi + pad;
    }
    char title[160];
    snprintf(title, sizeof title, "%s%s", m->metric, y.log ? " (log scale)" : "");
    y_axis(f, &y, title);
    double bw = (W - ML - MR) / (double)(m->ng ? m->ng : 1);
    double boxw = fmin(bw * 0.5, 70);
    for (size_t j = 0; j < m->ng; j++) {
        const bnc_group_stats *g = &m->g[j];
        if (g->n == 0) continue;
        const char *col = bnc_svg_color(colors[j]);
        double cx = ML + ((double)j + 0.5) * bw;
        const bnc_desc *d = &g->desc;
        double iqr = d->q3 - d->q1, wlo = d->max, whi = d->min;
        for (size_t i = 0; i < g->n; i++) { /* whiskers: furthest points within 1.5 IQR */
            double v = g->values[i];
            if (v >= d->q1 - 1.5 * iqr && v < wlo) wlo = v;
            if (v <= d->q3 + 1.5 * iqr && v > whi) whi = v;
        }
        fprintf(f, "<g><title>");
        bnc_html_escape(f, g->name);
        fprintf(f, ": n = %zu, median %.4g, mean %.4g, IQR [%.4g, %.4g]</title>\n", g->n, d->median,
                d->mean, d->q1, d->q3);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "class=\"whisker\"/>"
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "class=\"whisker\"/>\n",
                cx, cx, px(&y, wlo), px(&y, d->q1), col, cx, cx, px(&y, d->q3), px(&y, whi), col);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "class=\"whisker\"/>"
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "class=\"whisker\"/>\n",
                cx - boxw / 4, cx + boxw / 4, px(&y, wlo), px(&y, wlo), col, cx - boxw / 4,
                cx + boxw / 4, px(&y, whi), px(&y, whi), col);
        double top = px(&y, d->q3), bot = px(&y, d->q1);
        fprintf(f,
                "<rect class=\"box\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\" stroke=\"%s\"/>\n",
                cx - boxw / 2, top, boxw, fmax(bot - top, 1.0), col, col);
        fprintf(f,
                "<line class=\"median\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\"/>\n",
                cx - boxw / 2, cx + boxw / 2, px(&y, d->median), px(&y, d->median), col);
        for (size_t i = 0; i < g->n; i++)
            fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>",
                    cx + jitter(i) * boxw * 0.8, px(&y, g->values[i]), col);
        double my = px(&y, d->mean);
        fprintf(f, "\n<path class=\"mean\" d=\"M%.1f %.1f l5 5 l-5 5 l-5 -5 z\"/></g>\n", cx,
                my - 5);
    }
    x_groups(f, m, bw);
    fprintf(f, "</svg>\n");
}

void bnc_svg_bars(FILE *f, const bnc_metric_result *m, const size_t *colors, double ceiling,
                  const char *ceiling_label)
{
    double hi = 0, lo = 0;
    for (size_t j = 0; j < m->ng; j++) {
        const bnc_group_stats *g = &m->g[j];
        if (g->n == 0) continue;
        hi = fmax(hi, g->has_ci ? g->ci_hi : g->desc.mean);
        lo = fmin(lo, g->has_ci ? g->ci_lo : g->desc.mean);
    }
    if (isfinite(ceiling)) hi = fmax(hi, ceiling);
    svg_open(f, m->metric);
    axis y = {lo, hi * 1.08, H - MB, MT, 0, 0};
    y_axis(f, &y, m->metric);
    double bw = (W - ML - MR) / (double)(m->ng ? m->ng : 1), barw = fmin(bw * 0.6, 80);
    for (size_t j = 0; j < m->ng; j++) {
        const bnc_group_stats *g = &m->g[j];
        if (g->n == 0) continue;
        double cx = ML + ((double)j + 0.5) * bw, top = px(&y, g->desc.mean), base = px(&y, 0);
        fprintf(f, "<g><title>");
        bnc_html_escape(f, g->name);
        fprintf(f, ": mean %.4g", g->desc.mean);
        if (g->has_ci) fprintf(f, " [%.4g, %.4g]", g->ci_lo, g->ci_hi);
        fprintf(f, ", n = %zu</title>\n", g->n);
        fprintf(f,
                "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"/>\n",
                cx - barw / 2, fmin(top, base), barw, fmax(fabs(base - top), 0.5),
                bnc_svg_color(colors[j]));
        if (g->has_ci)
            fprintf(f,
                    "<path class=\"errbar\" d=\"M%.1f %.1f V%.1f M%.1f %.1f h10 M%.1f %.1f "
                    "h10\"/>\n",
                    cx, px(&y, g->ci_lo), px(&y, g->ci_hi), cx - 5, px(&y, g->ci_lo), cx - 5,
                    px(&y, g->ci_hi));
        fprintf(f,
                "<text class=\"vlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>"
                "</g>\n",
                cx, fmin(top, g->has_ci ? px(&y, g->ci_hi) : top) - 6, g->desc.mean);
    }
    if (isfinite(ceiling)) {
        double p = px(&y, ceiling);
        fprintf(f,
                "<line class=\"ceiling\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"ceiling-label\" x=\"%.1f\" y=\"%.1f\">",
                ML, W - MR, p, p, ML + 6, p - 6);
        bnc_html_escape(f, ceiling_label);
        fprintf(f, "</text>\n");
    }
    x_groups(f, m, bw);
    fprintf(f, "</svg>\n");
}

void bnc_svg_scatter_fit(FILE *f, const bnc_svg_point *pts, size_t n, int logy, double a, double b,
                         const char *xlabel, const char *ylabel)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        xlo = fmin(xlo, pts[i].x);
        xhi = fmax(xhi, pts[i].x);
        double yv = logy ? log10(pts[i].y) : pts[i].y;
        ylo = fmin(ylo, yv);
        yhi = fmax(yhi, yv);
    }
    svg_open(f, "error against bits per weight");
    if (n == 0) {
        fprintf(f, "</svg>\n");
        return;
    }
    double xpad = (xhi - xlo) * 0.05 + 0.1;
    axis x = {xlo - xpad, xhi + xpad, ML, W - MR, 0, 0};
    axis y = {ylo, yhi, H - MB, MT, logy, 0};
    if (!logy) {
        double pad = (yhi - ylo) * 0.06;
        y.lo -= pad;
        y.hi += pad;
    }
    char yt[160];
    snprintf(yt, sizeof yt, "%s%s", ylabel, logy ? " (log scale)" : "");
    y_axis(f, &y, yt);
    double t[32];
    int nt = nice_ticks(&x, t, 32);
    for (int i = 0; i < nt; i++) {
        char lab[32];
        tick_label(lab, sizeof lab, t[i]);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%s</text>\n",
                px(&x, t[i]), px(&x, t[i]), MT, H - MB, px(&x, t[i]), H - MB + 16, lab);
    }
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", ML,
            W - MR, H - MB, H - MB);
    fprintf(f, "<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
            ML + (W - ML - MR) / 2, H - 14);
    bnc_html_escape(f, xlabel);
    fprintf(f, "</text>\n");
    /* fitted line, clipped to the plot area */
    double x0 = x.lo, x1 = x.hi;
    double y0 = a + b * x0, y1 = a + b * x1;
    fprintf(f,
            "<clipPath id=\"fitclip\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\"/></clipPath>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    fprintf(f,
            "<line class=\"fit\" clip-path=\"url(#fitclip)\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\"/>\n",
            px(&x, x0), y.p0 + (y0 - y.lo) / (y.hi - y.lo) * (y.p1 - y.p0), px(&x, x1),
            y.p0 + (y1 - y.lo) / (y.hi - y.lo) * (y.p1 - y.p0));
    for (size_t i = 0; i < n; i++) {
        if (pts[i].label) continue;
        fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>",
                px(&x, pts[i].x) + jitter(i) * 6, px(&y, pts[i].y), bnc_svg_color(pts[i].color));
    }
    fputc('\n', f);
    double lx[64], ly[64];
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pts[i].label) continue;
        double cx = px(&x, pts[i].x), cy = px(&y, pts[i].y);
        /* move a label that would overlap an earlier one below its point */
        double tx = cx + 9, ty = cy - 8;
        for (size_t k = 0; k < nl; k++)
            if (fabs(lx[k] - tx) < 48 && fabs(ly[k] - ty) < 13) {
                ty = cy + 20;
                break;
            }
        if (nl < 64) {
            lx[nl] = tx;
            ly[nl++] = ty;
        }
        fprintf(f, "<g><title>");
        bnc_html_escape(f, pts[i].label);
        fprintf(f,
                ": %.4g bits per weight, mean %.4g</title>"
                "<circle class=\"gmean\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\"/>"
                "<text class=\"plabel\" x=\"%.1f\" y=\"%.1f\">",
                pts[i].x, pts[i].y, cx, cy, bnc_svg_color(pts[i].color), tx, ty);
        bnc_html_escape(f, pts[i].label);
        fprintf(f, "</text></g>\n");
    }
    fprintf(f, "</svg>\n");
}
