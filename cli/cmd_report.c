/* bnc report CAMPAIGN -o FILE: the campaign's provenance, plots and
 * statistics as one HTML file, or as Markdown or CSV. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_db.h"
#include "bnc_out.h"
#include "bnc_store.h"
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
    if (url && !*url)
        return bnc_cli_fail(BNC_EINVAL, "--db is empty (an unset variable?); give a URL");
    /* Read everything first, then write: a failed read leaves no output. */
    PGconn *c = NULL;
    bnc_campaign_list camp = {0};
    bnc_task_count_list tasks = {0};
    bnc_env_list envs = {0};
    bnc_obs_list obs = {0};
    bnc_analysis *a = NULL;
    bnc_analyze_opts ao = {0};
    ao.campaign = o.campaign;
    ao.by = o.by;
    ao.baseline = o.baseline;
    ao.paired_by = o.paired_by;
    ao.alpha = o.alpha;
    bnc_obs_query q;
    bnc_analysis_query(&ao, &q);
    int rc = bnc_db_connect(url, &c, &err);
    if (!rc) rc = bnc_db_require_schema(c, &err);
    if (!rc) rc = bnc_store_campaign_get(c, o.campaign, &camp, &err);
    if (!rc && camp.n == 0)
        rc = bnc_err_set(&err, BNC_EINVAL, "campaign '%s' not found in the database", o.campaign);
    if (!rc) rc = bnc_store_task_counts(c, o.campaign, &tasks, &err);
    if (!rc) rc = bnc_store_environments(c, o.campaign, &envs, &err);
    if (!rc) rc = bnc_store_observations(c, &q, &obs, &err);
    if (!rc) rc = bnc_analysis_compute(obs.v, obs.n, &ao, &a, &err);
    bnc_db_close(c);
    /* The output goes to a temporary file beside PATH and replaces it only
     * when complete; a device or FIFO is refused (use standard output). */
    bnc_out out;
    if (!rc) rc = bnc_out_open(&out, path ? path : "-", NULL, &err);
    if (!rc) {
        bnc_report_input in = {&camp.v[0], &tasks, &envs, a};
        rc = bnc_report_write(&in, &o, out.f, &err);
        if (rc) {
            bnc_out_abort(&out);
            bnc_err_prefix(&err, "%s: ", path ? path : "standard output");
        } else {
            rc = bnc_out_commit(&out, &err);
        }
    }
    bnc_analysis_free(a);
    bnc_obs_list_free(&obs);
    bnc_env_list_free(&envs);
    bnc_task_count_list_free(&tasks);
    bnc_campaign_list_free(&camp);
    if (rc) return bnc_cli_fail(rc, err.msg);
    if (path)
        fprintf(stderr, "bnc: wrote %s report of campaign %s to %s\n", format, o.campaign, path);
    return 0;
}
