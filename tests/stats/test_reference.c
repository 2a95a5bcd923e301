/* Tests, effect sizes, corrections, OLS, power and descriptive statistics
 * against reference values from R (tests.R, numerics.R) and SciPy
 * (power_scipy.py). Usage: stats_reference FIXTURE...  Each "check" line
 * names a function, its arguments (data vectors by name) and the expected
 * numbers; all must agree to 1e-12 relative (1e-14 absolute for values that
 * are exactly 0), or to the tolerance set by the last "tolerance REL" line
 * of the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_stats.h"

#define MAXVEC 256
#define MAXN 10000

typedef struct vec {
    char name[32];
    size_t n;
    double *v;
} vec;

static vec vecs[MAXVEC];
static int nvecs;
static int failures, checks;
static double tol_rel = 1e-12;

static const vec *find(const char *name)
{
    for (int i = 0; i < nvecs; i++)
        if (!strcmp(vecs[i].name, name)) return &vecs[i];
    fprintf(stderr, "unknown data vector %s\n", name);
    exit(1);
}

static void expect(const char *c, const double *got, const double *want, int n)
{
    for (int i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]);
        if (want[i] != 0 && isfinite(want[i])) err /= fabs(want[i]);
        if (isinf(want[i]) && got[i] == want[i]) err = 0;
        checks++;
        if (!(err <= tol_rel) && !(fabs(got[i] - want[i]) <= 1e-14)) {
            failures++;
            printf("FAIL %s value %d: got %.17g want %.17g (rel err %.3g)\n", c, i, got[i], want[i],
                   err);
        }
    }
}

static void die_rc(const char *c, int rc, const bnc_err *e)
{
    if (rc) {
        failures++;
        printf("FAIL %s: error %d: %s\n", c, rc, e->msg);
    }
}

/* A copy of x with s added to every value; exits unless x + s - s == x
 * for every value (the references are computed on x). */
static double *shifted(const vec *x, double s)
{
    double *v = malloc((x->n ? x->n : 1) * sizeof *v);
    for (size_t i = 0; i < x->n; i++) {
        v[i] = x->v[i] + s;
        if (v[i] - s != x->v[i]) {
            fprintf(stderr, "%s[%zu] + %g is not exact\n", x->name, i, s);
            exit(1);
        }
    }
    return v;
}

/* OLS outputs in the fixtures' order: coef, se, t, p (p each), sigma, r2,
 * adj_r2, f, f_p. pscale != 0: columns are powers 1..k of pscale * t and the
 * reference is the fit on t, so coef[j] and se[j] are multiplied by
 * pscale^j. */
static int ols_got(const bnc_ols *o, double pscale, double *got)
{
    size_t p = o->p, m = 0;
    for (size_t j = 0; j < p; j++)
        got[m++] = o->coef[j] * (pscale ? pow(pscale, (double)j) : 1);
    for (size_t j = 0; j < p; j++)
        got[m++] = o->se[j] * (pscale ? pow(pscale, (double)j) : 1);
    for (size_t j = 0; j < p; j++)
        got[m++] = o->t[j];
    for (size_t j = 0; j < p; j++)
        got[m++] = o->pval[j];
    got[m++] = o->sigma, got[m++] = o->r2, got[m++] = o->adj_r2, got[m++] = o->f;
    got[m++] = o->f_p;
    return (int)m;
}

static void run_check(char *line)
{
    char *save, *c = strtok_r(line, " \n", &save), *fn = strtok_r(NULL, " \n", &save);
    char *args[8];
    int na = 0;
    char *tok;
    while ((tok = strtok_r(NULL, " \n", &save)) && strcmp(tok, "=") != 0 && na < 8)
        args[na++] = tok;
    double want[64];
    int nw = 0;
    while ((tok = strtok_r(NULL, " \n", &save)) && nw < 64)
        want[nw++] = strtod(tok, NULL);
    double got[64] = {0};
    bnc_err e = {0};
    int rc = 0, n = nw;
    if (!strcmp(fn, "desc")) {
        const vec *x = find(args[0]);
        bnc_desc d;
        rc = bnc_desc_compute(x->v, x->n, &d, &e);
        double g[] = {(double)d.n, d.mean, d.sd, d.median, d.q1, d.q3, d.min, d.max};
        memcpy(got, g, sizeof g);
    } else if (!strncmp(fn, "ttest_", 6) && !strstr(fn, "_shift")) {
        bnc_ttest t;
        if (!strcmp(fn, "ttest_one")) {
            const vec *x = find(args[0]);
            rc = bnc_ttest_one(x->v, x->n, atof(args[1]), (bnc_alternative)atoi(args[2]),
                               atof(args[3]), &t, &e);
        } else if (!strcmp(fn, "ttest_paired")) {
            const vec *x = find(args[0]), *y = find(args[1]);
            rc = bnc_ttest_paired(x->v, y->v, x->n, atof(args[2]), (bnc_alternative)atoi(args[3]),
                                  atof(args[4]), &t, &e);
        } else {
            const vec *x = find(args[0]), *y = find(args[1]);
            rc = bnc_ttest_two(x->v, x->n, y->v, y->n, atof(args[2]), atoi(args[3]),
                               (bnc_alternative)atoi(args[4]), atof(args[5]), &t, &e);
        }
        double g[] = {t.t, t.df, t.p, t.ci_lo, t.ci_hi, t.estimate};
        memcpy(got, g, sizeof g);
    } else if (!strcmp(fn, "ttest_one_shift") || !strcmp(fn, "ttest_two_shift")) {
        /* the data (and mu) plus the shift; the two-sample estimate and
         * interval are differences and compared as they are */
        bnc_ttest t;
        const vec *x = find(args[0]);
        if (fn[6] == 'o') {
            double s = atof(args[4]), *xs = shifted(x, s);
            rc = bnc_ttest_one(xs, x->n, atof(args[1]) + s, (bnc_alternative)atoi(args[2]),
                               atof(args[3]), &t, &e);
            free(xs);
        } else {
            const vec *y = find(args[1]);
            double s = atof(args[6]), *xs = shifted(x, s), *ys = shifted(y, s);
            rc = bnc_ttest_two(xs, x->n, ys, y->n, atof(args[2]), atoi(args[3]),
                               (bnc_alternative)atoi(args[4]), atof(args[5]), &t, &e);
            free(xs);
            free(ys);
        }
        double g[] = {t.t, t.df, t.p, t.ci_lo, t.ci_hi, t.estimate};
        memcpy(got, g, sizeof g);
    } else if (!strcmp(fn, "anova") || !strcmp(fn, "anova_shift")) {
        double s = fn[5] ? atof(args[2]) : 0, *own[8] = {0};
        const double *gr[8];
        size_t ns[8], k = 0;
        char *s2, *name = strtok_r(args[0], ",", &s2);
        for (; name && k < 8; name = strtok_r(NULL, ",", &s2), k++) {
            const vec *v = find(name);
            gr[k] = v->v;
            if (s != 0) gr[k] = own[k] = shifted(v, s);
            ns[k] = v->n;
        }
        bnc_anova a;
        rc = bnc_anova_oneway(gr, ns, k, atoi(args[1]), &a, &e);
        for (size_t i = 0; i < k; i++)
            free(own[i]);
        double g[] = {a.f, a.df1, a.df2, a.p, a.eta2, a.omega2};
        memcpy(got, g, sizeof g);
    } else if (!strcmp(fn, "mann_whitney") || !strcmp(fn, "wilcoxon")) {
        bnc_ranktest r;
        const vec *x = find(args[0]);
        if (fn[0] == 'm') {
            const vec *y = find(args[1]);
            rc = bnc_mann_whitney(x->v, x->n, y->v, y->n, (bnc_alternative)atoi(args[2]), -1, &r,
                                  &e);
        } else {
            const double *y = strcmp(args[1], "-") ? find(args[1])->v : NULL;
            rc = bnc_wilcoxon_signed(x->v, y, x->n, atof(args[2]), (bnc_alternative)atoi(args[3]),
                                     -1, &r, &e);
        }
        got[0] = r.stat;
        got[1] = r.p;
    } else if (!strcmp(fn, "cohen_d")) {
        const vec *x = find(args[0]), *y = find(args[1]);
        rc = bnc_cohen_d(x->v, x->n, y->v, y->n, &got[0], &got[1], &e);
    } else if (!strcmp(fn, "cohen_dz")) {
        const vec *x = find(args[0]), *y = find(args[1]);
        rc = bnc_cohen_dz(x->v, y->v, x->n, &got[0], &e);
    } else if (!strncmp(fn, "p_adjust_", 9)) {
        const vec *p = find(args[0]);
        rc = fn[9] == 'h' ? bnc_p_adjust_holm(p->v, p->n, got, &e)
                          : bnc_p_adjust_bh(p->v, p->n, got, &e);
    } else if (!strcmp(fn, "acf1")) {
        const vec *x = find(args[0]);
        bnc_desc d;
        rc = bnc_desc_compute(x->v, x->n, &d, &e);
        if (!rc && !d.has_acf) {
            failures++;
            printf("FAIL %s: no autocorrelation for %zu values\n", c, x->n);
        }
        double g[] = {d.acf1, d.acf1_q, d.acf1_p};
        memcpy(got, g, sizeof g);
    } else if (!strncmp(fn, "ols", 3)) {
        /* ols, ols0 (no intercept), ols_poly (last argument: the scale),
         * ols_exact and ols0_exact (expected: coef..., sigma; the fit must
         * be flagged exact with standard errors 0) */
        int noint = fn[3] == '0', exact = strstr(fn, "_exact") != NULL;
        double pscale = strstr(fn, "_poly") ? atof(args[2]) : 0;
        const vec *y = find(args[0]);
        const vec *xs[8];
        size_t k = 0;
        char *s2, *name = strtok_r(args[1], ",", &s2);
        for (; name && k < 8; name = strtok_r(NULL, ",", &s2))
            xs[k++] = find(name);
        double *X = malloc(y->n * k * sizeof *X);
        for (size_t i = 0; i < y->n; i++)
            for (size_t j = 0; j < k; j++)
                X[i * k + j] = xs[j]->v[i];
        bnc_ols o;
        bnc_ols_opts opts = {.no_intercept = noint};
        rc = bnc_ols_fit_opts(X, y->n, k, y->v, &opts, &o, &e);
        free(X);
        if (!rc && exact) {
            int bad = !o.exact || o.sigma != 0;
            for (size_t j = 0; j < o.p; j++) {
                got[j] = o.coef[j];
                bad |= o.se[j] != 0;
            }
            got[o.p] = o.sigma;
            if (bad) {
                failures++;
                printf("FAIL %s: not reported as an exact fit (exact %d, sigma %g)\n", c, o.exact,
                       o.sigma);
            }
            bnc_ols_free(&o);
        } else if (!rc) {
            if (o.exact) {
                failures++;
                printf("FAIL %s: reported as an exact fit\n", c);
            }
            ols_got(&o, pscale, got);
            bnc_ols_free(&o);
        }
    } else if (!strcmp(fn, "power")) {
        rc = bnc_power_t((bnc_power_design)atoi(args[0]), atof(args[1]), atof(args[2]),
                         atof(args[3]), (bnc_alternative)atoi(args[4]), &got[0], &e);
    } else if (!strcmp(fn, "power_n")) {
        int64_t ni;
        rc = bnc_power_t_n((bnc_power_design)atoi(args[0]), atof(args[1]), atof(args[2]),
                           atof(args[3]), (bnc_alternative)atoi(args[4]), &got[0], &ni, &e);
        if (!rc && ni != (int64_t)ceil(want[0])) {
            failures++;
            printf("FAIL %s: integer n %lld, want %g\n", c, (long long)ni, ceil(want[0]));
        }
    } else {
        fprintf(stderr, "unknown function %s\n", fn);
        exit(1);
    }
    die_rc(c, rc, &e);
    if (!rc) expect(c, got, want, n);
}

int main(int argc, char **argv)
{
    static char line[1 << 20];
    for (int f = 1; f < argc; f++) {
        FILE *fp = fopen(argv[f], "r");
        if (!fp) {
            fprintf(stderr, "cannot open %s\n", argv[f]);
            return 1;
        }
        while (fgets(line, sizeof line, fp)) {
            if (!strncmp(line, "data ", 5)) {
                if (nvecs == MAXVEC) {
                    fprintf(stderr, "%s: more than %d data vectors\n", argv[f], MAXVEC);
                    return 1;
                }
                vec *v = &vecs[nvecs++];
                char *p = line + 5, *end;
                int len = 0;
                sscanf(p, "%31s %zu %n", v->name, &v->n, &len);
                p += len;
                v->v = malloc(v->n * sizeof *v->v);
                for (size_t i = 0; i < v->n; i++, p = end)
                    v->v[i] = strtod(p, &end);
            } else if (!strncmp(line, "tolerance ", 10)) {
                tol_rel = strtod(line + 10, NULL);
            } else if (!strncmp(line, "check ", 6)) {
                run_check(line + 6);
            }
        }
        fclose(fp);
        tol_rel = 1e-12; /* a file's tolerance ends with it */
    }
    printf("%d of %d reference values within tolerance\n", checks - failures, checks);
    for (int i = 0; i < nvecs; i++)
        free(vecs[i].v);
    return failures || checks == 0;
}
