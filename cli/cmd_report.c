/* bnc report CAMPAIGN -o FILE: the campaign's provenance, plots and
 * statistics as one HTML file, or as Markdown or CSV. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_db.h"
#include "commands.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc report CAMPAIGN [-o FILE] [--format html|md|csv] [--db URL]\n"
               "                  [--by PARAM] [--baseline VALUE] [--paired-by seed|none|PARAM]\n"
               "                  [--alpha A]\n\n"
               "Writes the campaign's report: provenance, box plots of every metric by group,\n"
               "throughput bars with the measured memory bandwidth, error against bits per\n"
               "weight with its least-squares fit, and the statistics of `bnc analyze`. HTML is\n"
               "one self-contained file (inline SVG and CSS, no scripts, no network).\n\n"
               "  -o, --output FILE  where to write (default: standard output); the format\n"
               "                     follows a .md or .csv extension unless --format is given\n"
               "  --format F         html (default), md or csv\n"
               "  --db URL           PostgreSQL URL (default: $BNC_DB or ./var/pg)\n"
               "  --by, --baseline, --paired-by, --alpha   as for `bnc analyze`\n");
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int bnc_cmd_report(int argc, char **argv)
{
    if (bnc_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},   {"format", required_argument, NULL, 'f'},
        {"db", required_argument, NULL, 'd'},       {"by", required_argument, NULL, 'b'},
        {"baseline", required_argument, NULL, 'B'}, {"paired-by", required_argument, NULL, 'p'},
        {"alpha", required_argument, NULL, 'a'},    {NULL, 0, NULL, 0},
    };
    bnc_report_opts o = {0};
    const char *url = NULL, *path = NULL, *format = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:f:d:b:B:p:a:", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            path = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'd':
            url = optarg;
            break;
        case 'b':
            o.by = optarg;
            break;
        case 'B':
            o.baseline = optarg;
            break;
        case 'p':
            o.paired_by = optarg;
            break;
        case 'a': {
            char *end;
            o.alpha = strtod(optarg, &end);
            if (*end || !(o.alpha > 0 && o.alpha < 0.5))
                return bnc_cli_fail(BNC_EINVAL, "--alpha must be a number in (0, 0.5)");
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    o.campaign = argv[optind];
    if (!format)
        format = path && ends_with(path, ".md")    ? "md"
                 : path && ends_with(path, ".csv") ? "csv"
                                                   : "html";
    if (!strcmp(format, "html"))
        o.format = BNC_REPORT_HTML;
    else if (!strcmp(format, "md"))
        o.format = BNC_REPORT_MD;
    else if (!strcmp(format, "csv"))
        o.format = BNC_REPORT_CSV;
    else
        return bnc_cli_fail(BNC_EINVAL, "--format must be html, md or csv");

    bnc_err err;
    bnc_err_clear(&err);
    PGconn *c = NULL;
    int rc = bnc_db_connect(url, &c, &err);
    if (!rc) rc = bnc_db_require_schema(c, &err);
    if (rc) {
        bnc_db_close(c);
        return bnc_cli_fail(rc, err.msg);
    }
    /* write to FILE.tmp and rename, so a failed run leaves no half report */
    char tmp[4096];
    FILE *out = stdout;
    if (path) {
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        out = fopen(tmp, "w");
        if (!out) {
            bnc_db_close(c);
            snprintf(err.msg, sizeof err.msg, "cannot write %s", tmp);
            return bnc_cli_fail(BNC_EIO, err.msg);
        }
    }
    rc = bnc_report_write(c, &o, out, &err);
    bnc_db_close(c);
    if (path) {
        if (fclose(out) != 0 && !rc) rc = bnc_err_set(&err, BNC_EIO, "writing %s failed", tmp);
        if (!rc && rename(tmp, path) != 0)
            rc = bnc_err_set(&err, BNC_EIO, "cannot rename %s to %s", tmp, path);
        if (rc) remove(tmp);
    }
    if (rc) return bnc_cli_fail(rc, err.msg);
    if (path)
        fprintf(stderr, "bnc: wrote %s report of campaign %s to %s\n", format, o.campaign, path);
    return 0;
}
