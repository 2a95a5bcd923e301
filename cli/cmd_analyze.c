/* bnc analyze CAMPAIGN: compare the groups of a campaign's results with a
 * baseline, store the outcome in the analyses table, print a table. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "bnc_db.h"
#include "bnc_store.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bnc analyze CAMPAIGN [--db URL] [--metric M] [--kind K] [--by PARAM]\n"
               "                   [--where KEY=VALUE]...\n"
               "                   [--baseline VALUE] [--paired-by seed|none|PARAM] [--alpha A]\n"
               "                   [--correction holm|bh] [--no-store]\n\n"
               "Groups the campaign's finished tasks by a parameter (default scheme), compares\n"
               "every group with the baseline (paired t test when the groups share their seeds\n"
               "and other parameters, else Welch's t), runs Welch's ANOVA across the groups,\n"
               "adjusts the p-values (Holm by default), stores the result in the analyses\n"
               "table and prints it. Without --metric every metric is analysed.\n\n"
               "  --db URL          PostgreSQL URL (default: $BNC_DB or ./var/pg)\n"
               "  --metric M        analyse only metric M\n"
               "  --kind K          only tasks of kind K\n"
               "  --where KEY=VALUE only tasks whose parameter KEY is VALUE (repeatable)\n"
               "  --by PARAM        grouping parameter (default scheme)\n"
               "  --baseline VALUE  the group others are compared with (default f32, fp32, f16,\n"
               "                    fp16 or bf16 when present, else the first group)\n"
               "  --paired-by KEY   seed (default): pair tasks equal in seed and all other\n"
               "                    parameters; none: unpaired; PARAM: pair by that parameter\n"
               "  --alpha A         significance level (default 0.05)\n"
               "  --correction C    holm (default) or bh (Benjamini-Hochberg)\n"
               "  --no-store        print only, do not write the analyses table\n");
}

int bnc_cmd_analyze(int argc, char **argv)
{
    if (bnc_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"metric", required_argument, NULL, 'm'},
        {"kind", required_argument, NULL, 'k'},
        {"by", required_argument, NULL, 'b'},
        {"baseline", required_argument, NULL, 'B'},
        {"paired-by", required_argument, NULL, 'p'},
        {"alpha", required_argument, NULL, 'a'},
        {"correction", required_argument, NULL, 'c'},
        {"no-store", no_argument, NULL, 'n'},
        {"where", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    bnc_analyze_opts o = {0};
    const char *url = NULL;
    json_t *where = json_object();
    int store = 1, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:m:k:b:B:p:a:c:n", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            if (!*optarg) {
                json_decref(where);
                return bnc_cli_fail(BNC_EINVAL, "--db is empty (an unset variable?); give a URL");
            }
            url = optarg;
            break;
        case 'm':
            o.metric = optarg;
            break;
        case 'k':
            o.kind = optarg;
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
        case 'c':
            o.correction = optarg;
            break;
        case 'n':
            store = 0;
            break;
        case 'w': {
            /* KEY=VALUE; the value is typed as in specs (integer, number,
             * true/false, else text) so it matches the stored parameter. */
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                json_decref(where);
                return bnc_cli_fail(BNC_EINVAL, "--where takes KEY=VALUE");
            }
            *eq = '\0';
            const char *v = eq + 1;
            char *end;
            long long iv = strtoll(v, &end, 10);
            json_t *jv;
            if (*v && !*end)
                jv = json_integer(iv);
            else if ((strtod(v, &end), *v && !*end))
                jv = json_real(strtod(v, NULL));
            else if (!strcmp(v, "true") || !strcmp(v, "false"))
                jv = json_boolean(!strcmp(v, "true"));
            else
                jv = json_string(v);
            json_object_set_new(where, optarg, jv);
            break;
        }
        case 'a': {
            char *end;
            o.alpha = strtod(optarg, &end);
            if (*end || !(o.alpha > 0 && o.alpha < 0.5))
                return bnc_cli_fail(BNC_EINVAL, "--alpha must be a number in (0, 0.5)");
            break;
        }
        default:
            json_decref(where);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        json_decref(where);
        usage(stderr);
        return 2;
    }
    o.campaign = argv[optind];
    char *where_text =
        json_object_size(where) ? json_dumps(where, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(where);
    o.where = where_text;
    bnc_err err;
    bnc_err_clear(&err);
    PGconn *c = NULL;
    bnc_analysis *a = NULL;
    bnc_obs_query q;
    bnc_obs_list obs = {0};
    bnc_analysis_row *rows = NULL;
    size_t nrows = 0;
    bnc_analysis_query(&o, &q);
    int rc = bnc_db_connect(url, &c, &err);
    if (!rc) rc = bnc_db_require_schema(c, &err);
    if (!rc) rc = bnc_store_observations(c, &q, &obs, &err);
    if (!rc) rc = bnc_analysis_compute(obs.v, obs.n, &o, &a, &err);
    if (!rc && store) rc = bnc_analysis_rows(a, &rows, &nrows, &err);
    if (!rc && store)
        rc = bnc_store_analyses_replace(c, a->campaign, a->by, a->alpha, rows, nrows, &err);
    if (!rc) {
        bnc_analysis_print(stdout, a);
        if (store)
            printf("\nstored in table analyses (%zu metric%s, %zu results read)\n", a->nm,
                   a->nm == 1 ? "" : "s", a->nobs);
    }
    free(rows);
    bnc_obs_list_free(&obs);
    bnc_analysis_free(a);
    bnc_db_close(c);
    free(where_text);
    return rc ? bnc_cli_fail(rc, err.msg) : 0;
}
