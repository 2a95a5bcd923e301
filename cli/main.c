/* bnc: argument parsing and subcommand dispatch, nothing else. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bnc_err.h"
#include "bnc_version.h"
#include "commands.h"

/* One row per subcommand; adding a command adds a row. */
static const bnc_command commands[] = {
    {"campaign", "run a benchmark campaign and inspect its results", bnc_cmd_campaign},
    {"db", "migrate the schema, sync a journal into PostgreSQL", bnc_cmd_db},
    {"bench",
     "benchmarks: kernels and LLM speed against memory bandwidth, collectives, scheduler, ingest",
     bnc_cmd_bench},
    {"analyze", "statistics of a campaign's groups against a baseline", bnc_cmd_analyze},
    {"report", "write a campaign report: HTML with plots, Markdown or CSV", bnc_cmd_report},
    {"fed", "federated learning with compressed updates: server, client, sim", bnc_cmd_fed},
    {"model", "write synthetic models, describe safetensors and GGUF files", bnc_cmd_model},
    {"quantize", "quantize a model to GGUF, in parallel under mpirun", bnc_cmd_quantize},
    {"eval", "model quality: perplexity and KL divergence (llama-perplexity style)", bnc_cmd_eval},
    {"generate", "generate text with a (quantized) llama/BitNet model", bnc_cmd_generate},
    {"train", "train a byte-level llama / BitNet b1.58 model, data parallel under mpirun",
     bnc_cmd_train},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bnc [--version] [--help] <command> [<args>]\n\n"
            "bitnet-cluster: extreme-quantization experiments over MPI, results in PostgreSQL.\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun `bnc <command> --help` for a command's options.\n");
}

int bnc_cli_fail(int code, const char *msg)
{
    fprintf(stderr, "bnc: %s\n", msg);
    return bnc_exit_status(code);
}

int bnc_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

/* What could not be written to standard output (a full disk or device
 * behind it) is a failure, exit 1, whatever the command returned. */
static int finish_stdout(int status)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bnc: standard output: write error: %s\n", strerror(errno ? errno : EIO));
        return status ? status : 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("bnc %s (git %s)\n", BNC_VERSION, BNC_GIT_REV);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return finish_stdout(commands[i].run(argc - 1, argv + 1));
    fprintf(stderr, "bnc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
