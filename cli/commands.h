/* The bnc program's subcommands. Each lives in cmd_<name>.c and has the
 * signature of bnc_cmd_fn: argv[0] is the subcommand's own name; it returns
 * the process exit status (0 ok, 1 runtime failure, 2 usage or input). */
#ifndef BNC_CLI_COMMANDS_H
#define BNC_CLI_COMMANDS_H

#include <stdio.h>

typedef int (*bnc_cmd_fn)(int argc, char **argv);

typedef struct bnc_command {
    const char *name;    /* "campaign", "db", ... */
    const char *summary; /* one line for `bnc --help` */
    bnc_cmd_fn run;
} bnc_command;

int bnc_cmd_campaign(int argc, char **argv);
int bnc_cmd_db(int argc, char **argv);
int bnc_cmd_bench(int argc, char **argv);
/* bnc bench collectives (cmd_bench_collectives.c). */
int bnc_cmd_bench_collectives(int argc, char **argv);
int bnc_cmd_analyze(int argc, char **argv);
int bnc_cmd_report(int argc, char **argv);
int bnc_cmd_fed(int argc, char **argv);
int bnc_cmd_model(int argc, char **argv);
int bnc_cmd_quantize(int argc, char **argv);
int bnc_cmd_eval(int argc, char **argv);
int bnc_cmd_generate(int argc, char **argv);
int bnc_cmd_train(int argc, char **argv);

/* Prints "bnc: <msg>" to stderr and returns the exit status for code. */
int bnc_cli_fail(int code, const char *msg);
/* Parses the options of a subcommand whose only option is --db URL (and
 * --help); argv[0] is the subcommand. Returns -1 to go on (positional
 * arguments start at optind), else the exit status to return at once (help
 * printed: 0; unknown option: usage on stderr, 2). */
int bnc_cli_db_opt(int argc, char **argv, const char **url, void (*usage)(FILE *));
/* True when argv holds -h or --help (before any "--"). */
int bnc_cli_wants_help(int argc, char **argv);

#endif
