/* Option parsing shared by subcommands. */
#include <getopt.h>

#include "commands.h"

int bnc_cli_db_opt(int argc, char **argv, const char **url, void (*usage)(FILE *))
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            if (!*optarg) {
                fprintf(stderr, "bnc: --db is empty (an unset variable?); give a URL, or leave "
                                "--db out for the default\n");
                return 2;
            }
            *url = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    return -1;
}
