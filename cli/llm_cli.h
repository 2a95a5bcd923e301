/* Helpers shared by the llm commands (eval, generate, bench llm). */
#ifndef BNC_CLI_LLM_H
#define BNC_CLI_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "bnc_err.h"
#include "bnc_llm.h"

/* Loads path; when quant is set, quantizes it in memory with that scheme
 * (*base then gets the unquantized model, which the result borrows from;
 * free *out before *base). Messages name the file. */
int bnc_cli_llm_open(const char *path, const char *quant, int weights_only, bnc_llm_model **base,
                     bnc_llm_model **out, bnc_err *err);
/* Reads a whole text file (malloc'd, NUL-terminated). */
int bnc_cli_read_text(const char *path, char **out, size_t *n, bnc_err *err);
/* Parses a count option in [lo, hi]; prints and returns 0 on failure. */
int bnc_cli_count(const char *opt, const char *s, long long lo, long long hi, long long *out);

/* bnc bench llm (argv[0] is "llm"). */
int bnc_cli_bench_llm(int argc, char **argv);

#endif
