/* bnc quantize --method gptq|awq --calib FILE (cli/quantize_ptq.c). */
#ifndef BNC_CLI_QUANTIZE_PTQ_H
#define BNC_CLI_QUANTIZE_PTQ_H

/* Parses a --method value: 0 rtn, 1 gptq, 2 awq, -1 unknown. */
int bnc_cli_ptq_method(const char *s);
/* True when type is one GPTQ/AWQ quantize (q4_0, q8_0, tq2_0, bitnet); float
 * types and the rest go the round-to-nearest way. */
int bnc_cli_ptq_handles(const char *type);
/* Runs GPTQ or AWQ on rank 0 (other ranks wait) and prints the JSON line;
 * returns the exit status. */
int bnc_cli_quantize_ptq(const char *in, const char *out, const char *type, int method,
                         const char *calib, int quiet);

#endif
