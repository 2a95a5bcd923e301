/* libFuzzer target for the safetensors header reader and the sharded index
 * reader: any input parses or fails with a message naming the file. Every
 * tensor of a parsed file lies inside the input and has no dimension of 0
 * (the seeds from tests/modelio/mkbad.c include one). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bnc_safetensors *st;
    bnc_err e;
    if (bnc_st_parse(data, size, "fuzz.safetensors", &st, &e) == 0) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < st->n_tensors; i++) {
            for (int d = 0; d < st->tensors[i].n_dims; d++)
                if (st->tensors[i].shape[d] <= 0) abort(); /* no empty dimension */
            if (st->tensors[i].end > size || st->tensors[i].begin > st->tensors[i].end) abort();
            if (st->tensors[i].end > st->tensors[i].begin)
                sink ^= data[st->tensors[i].end - 1]; /* ASan checks the bound */
        }
        (void)sink;
        bnc_st_free(st);
    } else if (!strstr(e.msg, "fuzz.safetensors")) {
        abort();
    }
    bnc_st_index *ix;
    if (bnc_st_index_parse(data, size, "fuzz.json", &ix, &e) == 0) {
        for (size_t i = 0; i < ix->n; i++)
            if (ix->shard[i] >= ix->n_shards || strchr(ix->shards[ix->shard[i]], '/')) abort();
        bnc_st_index_free(ix);
    }
    return 0;
}
