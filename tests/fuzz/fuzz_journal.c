/* libFuzzer target for the results journal reader. Two kinds of input:
 * raw bytes read as a journal (must read or fail with a message naming the
 * file, never crash), and damage applied to a valid journal of up to 32
 * results (bit flips anywhere, an optional cut): every result record whose
 * bytes the damage left alone must still be read, and the reader's account
 * of skipped and torn bytes must add up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXN 32

typedef struct pristine {
    uint8_t *b;
    size_t n;
    size_t off[MAXN + 2]; /* frame starts; off[k + 1] ends frame k */
    size_t frames;
} pristine;

static pristine cache[MAXN + 1];

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A journal of n results "r0".."r{n-1}", written once by the real writer. */
static const pristine *journal_of(size_t n)
{
    pristine *p = &cache[n];
    if (p->b) return p;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bnc-fuzz-journal-%d-%zu", (int)getpid(), n);
    unlink(path);
    bnc_journal *j;
    bnc_err e;
    if (bnc_journal_open(path, "fuzz", "hash", "spec: fuzz", &j, &e) != 0) abort();
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%zu", i);
        Bnc__Metric m = BNC__METRIC__INIT;
        m.name = "x";
        m.value = (double)i;
        Bnc__Metric *mp = &m;
        Bnc__TaskResult r = BNC__TASK_RESULT__INIT;
        r.task_id = id;
        r.campaign = "fuzz";
        r.ok = 1;
        r.n_metrics = 1;
        r.metrics = &mp;
        if (bnc_journal_append(j, &r, &e) != 0) abort();
    }
    bnc_journal_close(j);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    p->n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    p->b = malloc(p->n);
    if (fread(p->b, 1, p->n, f) != p->n) abort();
    fclose(f);
    unlink(path);
    size_t off = 0;
    while (off < p->n) {
        p->off[p->frames++] = off;
        off += 12 + get_u32(p->b + off + 4);
    }
    p->off[p->frames] = off;
    if (off != p->n || p->frames != n + 1) abort();
    return p;
}

typedef struct seen {
    char got[MAXN];
    size_t n;
} seen;

static int visit(const Bnc__TaskResult *r, void *arg)
{
    seen *s = arg;
    int k = atoi(r->task_id + 1);
    if (r->task_id[0] != 'r' || k < 0 || k >= MAXN || r->n_metrics != 1 ||
        r->metrics[0]->value != (double)k)
        abort(); /* a record that verified must be one that was written */
    s->got[k]++;
    s->n++;
    return 0;
}

static void check_account(const bnc_journal_check *c)
{
    if (c->valid_end > c->size || c->results > c->records) abort();
    if (c->damaged_bytes + c->torn_len > c->size) abort();
    if (c->torn && c->torn_off + c->torn_len != c->size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bnc_journal_check c;
    bnc_err e;
    seen s;
    memset(&s, 0, sizeof s);
    if (size == 0) return 0;
    if (data[0] & 1) { /* raw bytes */
        Bnc__JournalHeader *h = NULL;
        if (bnc_journal_read_buffer(data + 1, size - 1, "fuzz.journal", &h, NULL, NULL, &c, &e) !=
            0) {
            if (!strstr(e.msg, "fuzz.journal")) abort();
            return 0;
        }
        if (h) bnc__journal_header__free_unpacked(h, NULL);
        check_account(&c);
        return 0;
    }
    if (size < 2) return 0;
    const pristine *p = journal_of(1 + data[1] % MAXN);
    uint8_t *b = malloc(p->n);
    memcpy(b, p->b, p->n);
    size_t n = p->n;
    if (data[0] & 2) /* a cut somewhere */
        n = size > 3 ? ((size_t)data[2] | (size_t)data[3] << 8) % (p->n + 1) : p->n / 2;
    /* Bit flips: 3 bytes each (16-bit position, bit). */
    size_t flips[16], nf = 0;
    for (size_t i = 4; i + 3 <= size && nf < 16; i += 3) {
        size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) % p->n;
        b[at] ^= (uint8_t)(1u << (data[i + 2] & 7));
        flips[nf++] = at;
    }
    int rc = bnc_journal_read_buffer(b, n, "fuzz.journal", NULL, visit, &s, &c, &e);
    /* Frames the damage left alone (no flip inside, wholly before the cut). */
    int intact[MAXN + 1];
    for (size_t k = 0; k < p->frames; k++) {
        intact[k] = p->off[k + 1] <= n;
        for (size_t f = 0; f < nf && intact[k]; f++)
            intact[k] = !(flips[f] >= p->off[k] && flips[f] < p->off[k + 1]);
    }
    if (rc != 0) {
        if (!strstr(e.msg, "fuzz.journal")) abort();
        if (intact[0]) abort(); /* only a damaged header may stop the reader */
    } else {
        check_account(&c);
        for (size_t k = 1; k < p->frames; k++)
            if (intact[k] && s.got[k - 1] != 1)
                abort(); /* an undamaged result was lost (or read twice) */
        if (nf == 0 && n == p->n && (c.n_damaged || c.torn || s.n != p->frames - 1)) abort();
    }
    free(b);
    return 0;
}
