/* Test driver for llm/: loads a model, runs a fixed token sequence and
 * writes the logits (n x vocab f32, little endian) for the NumPy reference
 * and for path/thread comparisons.
 *
 *   llm_tool MODEL OUT.bin [--n N] [--mode chunk|kv|split] [--threads T]
 *            [--quant SCHEME] [--write-gguf PATH]
 *
 * Tokens: t[i] = (i * 7919 + 13) mod vocab. --mode chunk: one forward call;
 * kv: one token per call through the KV cache; split: calls of 5 tokens.
 * --write-gguf writes the (quantized) model as GGUF before running.
 *   llm_tool --tiny VARIANT PATH   writes a tiny model (tiny.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gemv.h"
#include "bnc_llm.h"
#include "tiny.h"

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--tiny") == 0) {
        /* llm_tool --tiny VARIANT PATH: a tiny GGUF (tests/llm/tiny.h) */
        bnc_err e = {0};
        if (tiny_write(argv[3], argv[2], &e)) {
            fprintf(stderr, "llm_tool: %s\n", e.msg);
            return 1;
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--tokenize") == 0) {
        /* llm_tool --tokenize MODEL TEXT: the ids, comma-separated */
        bnc_err e = {0};
        bnc_llm_model *m;
        int32_t *ids;
        size_t n;
        if (bnc_llm_load(argv[2], NULL, &m, &e) ||
            bnc_llm_tokenize(bnc_llm_tokenizer(m), argv[3], strlen(argv[3]), 1, &ids, &n, &e)) {
            fprintf(stderr, "llm_tool: %s\n", e.msg);
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", ids[i]);
        printf("\n");
        free(ids);
        bnc_llm_free(m);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: llm_tool MODEL OUT.bin [options] | --tiny VARIANT PATH | "
                        "--tokenize MODEL TEXT\n");
        return 2;
    }
    int64_t n = 16;
    int threads = 1;
    const char *mode = "chunk", *quant = NULL, *wg = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--mode") == 0)
            mode = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--quant") == 0)
            quant = argv[i + 1];
        else if (strcmp(argv[i], "--write-gguf") == 0)
            wg = argv[i + 1];
        else {
            fprintf(stderr, "llm_tool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    bnc_err err = {0};
    bnc_llm_model *base = NULL, *m = NULL;
    int rc = bnc_llm_load(argv[1], NULL, &base, &err);
    if (rc) goto fail;
    m = base;
    if (quant) {
        bnc_llm_quant_opts qo = {0};
        qo.scheme = quant;
        if ((rc = bnc_llm_quantize(base, &qo, &m, NULL, &err))) {
            m = NULL;
            goto fail;
        }
    }
    if (wg && (rc = bnc_llm_write_gguf(m, wg, &err))) goto fail;
    bnc_pool *pool = NULL;
    if ((rc = bnc_pool_new(threads, &pool, &err))) goto fail;
    bnc_llm_state *s;
    if ((rc = bnc_llm_state_new(m, n, pool, &s, &err))) goto fail;
    int64_t V = m->cfg.vocab;
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    float *lg = malloc((size_t)(n * V) * sizeof *lg);
    for (int64_t i = 0; i < n; i++)
        tok[i] = (int32_t)((i * 7919 + 13) % V);
    int64_t step = strcmp(mode, "kv") == 0 ? 1 : (strcmp(mode, "split") == 0 ? 5 : n);
    for (int64_t i = 0; i < n && !rc; i += step) {
        int64_t k = n - i < step ? n - i : step;
        rc = bnc_llm_forward(s, tok + i, k, lg + i * V, 0, &err);
    }
    if (!rc) {
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(lg, sizeof *lg, (size_t)(n * V), f) != (size_t)(n * V)) rc = BNC_EIO;
        if (f) fclose(f);
        printf("{\"vocab\":%lld,\"n\":%lld,\"bytes_per_token\":%.0f}\n", (long long)V, (long long)n,
               bnc_llm_bytes_per_token(m));
    }
    free(tok);
    free(lg);
    bnc_llm_state_free(s);
    bnc_pool_free(pool);
fail:
    if (m != base) bnc_llm_free(m);
    bnc_llm_free(base);
    if (rc) {
        fprintf(stderr, "llm_tool: %s\n", err.msg);
        return bnc_exit_status(rc);
    }
    return 0;
}
