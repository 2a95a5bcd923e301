/* Tiny GGUF models for tests and fuzz seeds (tests/llm/tiny.c). */
#ifndef BNC_TESTS_LLM_TINY_H
#define BNC_TESTS_LLM_TINY_H
#include "bnc_err.h"
/* variant: "llama", "bitnet", "llama-bpe", or a broken one: "bad-arch",
 * "no-block-count", "bad-eps", "bad-shape", "bad-tokenizer", "no-tokens",
 * "bitnet-no-subnorm". */
int tiny_write(const char *path, const char *variant, bnc_err *err);
#endif
