/* libFuzzer target for llm/'s model loader: any file must either load (and
 * then tokenize and detokenize a text without trouble) or fail with a
 * message that names the file; never crash or read out of bounds (run under
 * ASan/UBSan). The input is written to a file because the loader maps files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];

/* The input file goes when the fuzzer exits (libFuzzer ends with exit()). */
static void remove_input(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz-llm-%ld.gguf", tmp && *tmp ? tmp : "/tmp",
                 (long)getpid());
        atexit(remove_input);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    bnc_llm_model *m;
    bnc_err e;
    if (bnc_llm_load(path, NULL, &m, &e) != 0) {
        if (!strstr(e.msg, path) && !strstr(e.msg, "out of memory")) abort();
        return 0;
    }
    static const char text[] = "ab cab, \xC3\xA9t\xC3\xA9 \xE2\x96\x81 'll 42";
    int32_t *ids;
    size_t n;
    const bnc_llm_tok *t = bnc_llm_tokenizer(m);
    if (bnc_llm_tokenize(t, text, sizeof text - 1, 1, &ids, &n, &e) == 0) {
        char buf[64];
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= m->cfg.vocab) abort();
            bnc_llm_detokenize(t, ids[i], buf, sizeof buf);
        }
        free(ids);
    }
    bnc_llm_free(m);
    return 0;
}
