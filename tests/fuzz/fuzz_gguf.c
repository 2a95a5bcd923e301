/* libFuzzer target for the GGUF reader: any input must either parse or fail
 * with a message, never crash or read out of bounds (run under ASan/UBSan).
 * A file that parses is re-planned and re-serialised, and its header must
 * parse again to the same keys and tensors. No parsed tensor has a
 * dimension of 0 (the seeds from tests/modelio/mkbad.c include one). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bnc_gguf *g;
    bnc_err e;
    if (bnc_gguf_parse(data, size, "fuzz.gguf", &g, &e) != 0) {
        if (!strstr(e.msg, "fuzz.gguf")) abort(); /* every message names the file */
        return 0;
    }
    /* No empty dimension gets through (quantize divides by the row length). */
    for (size_t i = 0; i < g->n_tensors; i++)
        for (uint32_t d = 0; d < g->tensors[i].n_dims; d++)
            if (g->tensors[i].ne[d] <= 0) abort();
    char buf[256];
    for (size_t i = 0; i < g->n_kv; i++)
        bnc_gguf_value_format(&g->kv[i].value, buf, sizeof buf);
    uint8_t *h;
    size_t n;
    if (bnc_gguf_plan(g, &e) == 0 && bnc_gguf_header_bytes(g, &h, &n, &e) == 0) {
        /* The header alone (tensors now past the end) must still parse its
         * metadata; with room for the data it must parse completely. */
        uint64_t total = bnc_gguf_file_size(g);
        if (total <= ((uint64_t)1 << 24)) {
            uint8_t *full = calloc(1, (size_t)total ? (size_t)total : 1);
            if (full) {
                memcpy(full, h, n);
                bnc_gguf *g2;
                if (bnc_gguf_parse(full, (size_t)total, "again.gguf", &g2, &e) != 0) abort();
                if (g2->n_kv != g->n_kv || g2->n_tensors != g->n_tensors) abort();
                for (size_t i = 0; i < g->n_kv; i++)
                    if (!bnc_gguf_value_equal(&g->kv[i].value, &g2->kv[i].value)) abort();
                bnc_gguf_free(g2);
                free(full);
            }
        }
        free(h);
    }
    bnc_gguf_free(g);
    return 0;
}
