/* The results journal: round trip, torn tails, corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "bnc_journal.h"

static char path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/bnc-journal-test-%d.j", (int)getpid());
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void put(bnc_journal *j, const char *id, double v)
{
    Bnc__Metric m = BNC__METRIC__INIT;
    m.name = "rel_rmse";
    m.value = v;
    Bnc__Metric *mp = &m;
    Bnc__TaskResult r = BNC__TASK_RESULT__INIT;
    r.task_id = (char *)id;
    r.campaign = "c";
    r.ok = 1;
    r.n_metrics = 1;
    r.metrics = &mp;
    bnc_err e;
    assert_int_equal(bnc_journal_append(j, &r, &e), 0);
}

typedef struct seen {
    int n;
    double sum;
    char last[64];
} seen;

static int visit(const Bnc__TaskResult *r, void *arg)
{
    seen *s = arg;
    s->n++;
    s->sum += r->metrics[0]->value;
    snprintf(s->last, sizeof s->last, "%s", r->task_id);
    return 0;
}

static long file_size(void)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_round_trip_and_torn_tail(void **state)
{
    (void)state;
    bnc_journal *j;
    bnc_err e;
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &j, &e), 0);
    put(j, "a", 1.0);
    put(j, "b", 2.0);
    assert_int_equal(bnc_journal_sync(j, &e), 0);
    bnc_journal_close(j);
    long good = file_size();

    /* A crash mid-write: half a record at the end. */
    FILE *f = fopen(path, "ab");
    fwrite("\x40\x00\x00\x00\x01\x02", 1, 6, f);
    fclose(f);
    seen s = {0};
    int torn = 0;
    Bnc__JournalHeader *h = NULL;
    assert_int_equal(bnc_journal_scan(path, &h, visit, &s, &torn, &e), 0);
    assert_int_equal(s.n, 2);
    assert_true(s.sum == 3.0);
    assert_int_equal(torn, 1);
    assert_string_equal(h->campaign, "c");
    assert_string_equal(h->spec_text, "spec");
    bnc__journal_header__free_unpacked(h, NULL);

    /* Reopening cuts the torn tail and appends after the last record. */
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &j, &e), 0);
    assert_int_equal(file_size(), good);
    put(j, "c", 4.0);
    bnc_journal_close(j);
    memset(&s, 0, sizeof s);
    assert_int_equal(bnc_journal_scan(path, NULL, visit, &s, &torn, &e), 0);
    assert_int_equal(s.n, 3);
    assert_true(s.sum == 7.0);
    assert_string_equal(s.last, "c");
    assert_int_equal(torn, 0);

    /* Another campaign or spec may not append here. */
    assert_int_equal(bnc_journal_open(path, "d", "h1", "spec", &j, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "belongs to campaign 'c'"));
    assert_int_equal(bnc_journal_open(path, "c", "h2", "spec", &j, &e), BNC_EINVAL);
    assert_non_null(strstr(e.msg, "different spec"));
}

static void test_corruption_in_the_middle(void **state)
{
    (void)state;
    bnc_journal *j;
    bnc_err e;
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &j, &e), 0);
    put(j, "a", 1.0);
    put(j, "b", 2.0);
    put(j, "c", 3.0);
    bnc_journal_close(j);
    /* Flip a byte inside the second record's payload. */
    long size = file_size();
    FILE *f = fopen(path, "r+b");
    fseek(f, size / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    seen s = {0};
    int rc = bnc_journal_scan(path, NULL, visit, &s, NULL, &e);
    assert_int_equal(rc, BNC_EFORMAT);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "at byte"));
    /* An absurd length is reported, not allocated. */
    f = fopen(path, "wb");
    fwrite("\xff\xff\xff\x7f\0\0\0\0", 1, 8, f);
    fclose(f);
    assert_int_equal(bnc_journal_scan(path, NULL, visit, &s, NULL, &e), BNC_EFORMAT);
    assert_non_null(strstr(e.msg, "claims"));
}

/* ---- damage: resynchronise, keep what verifies, salvage, lock ---------- */

static unsigned char *slurp(const char *p, long *n)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*n + 1);
    assert_int_equal(fread(b, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return b;
}

/* Writes a journal of n results "r0".."r{n-1}" with values 0..n-1 and
 * returns the byte offset of each result record in off[]. */
static void write_n(int n, long *off)
{
    bnc_journal *j;
    bnc_err e;
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &j, &e), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(bnc_journal_sync(j, &e), 0);
        off[i] = file_size();
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        put(j, id, (double)i);
    }
    bnc_journal_close(j);
}

static void flip(long at, int bit)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, at, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(ch ^ (1 << bit), f);
    fclose(f);
}

typedef struct ids {
    int n;
    char seen[300];
    double sum;
} ids;

static int visit_ids(const Bnc__TaskResult *r, void *arg)
{
    ids *s = arg;
    int k = atoi(r->task_id + 1);
    if (k >= 0 && k < 300) s->seen[k]++;
    s->n++;
    s->sum += r->metrics[0]->value;
    return 0;
}

static void test_flipped_length_bit_keeps_the_other_299(void **state)
{
    (void)state;
    long off[300];
    write_n(300, off);
    long size0;
    unsigned char *before = slurp(path, &size0);
    /* Record 150's length field: bytes 4-7 of its frame; bit 2 of byte 5
     * makes it claim 1 KiB more than it has. */
    flip(off[150] + 5, 2);
    long sizeb;
    unsigned char *damaged = slurp(path, &sizeb);
    ids s = {0};
    bnc_journal_check c;
    bnc_err e;
    Bnc__JournalHeader *h = NULL;
    assert_int_equal(bnc_journal_read(path, &h, visit_ids, &s, &c, &e), 0);
    assert_non_null(h);
    bnc__journal_header__free_unpacked(h, NULL);
    assert_int_equal(s.n, 299);
    for (int i = 0; i < 300; i++)
        assert_int_equal(s.seen[i], i == 150 ? 0 : 1);
    assert_true(s.sum == 299.0 * 300.0 / 2.0 - 150.0);
    assert_int_equal(c.results, 299);
    assert_int_equal(c.torn, 0);
    assert_int_equal(c.n_damaged, 1);
    assert_int_equal(c.damaged[0].off, off[150]);
    assert_int_equal(c.damaged[0].len, off[151] - off[150]);
    assert_int_equal(c.damaged[0].records, 1);
    char d[700];
    bnc_journal_check_describe(&c, d, sizeof d);
    char want[80];
    snprintf(want, sizeof want, "bytes %ld-%ld (1 record)", off[150], off[151] - 1);
    assert_non_null(strstr(d, want));

    /* The strict reader visits the same 299 and then fails naming the range. */
    memset(&s, 0, sizeof s);
    assert_int_equal(bnc_journal_scan(path, NULL, visit_ids, &s, NULL, &e), BNC_EFORMAT);
    assert_int_equal(s.n, 299);
    assert_non_null(strstr(e.msg, want));

    /* Opening for appending without salvage refuses and changes nothing. */
    bnc_journal *j = NULL;
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &j, &e), BNC_EFORMAT);
    assert_non_null(strstr(e.msg, "--salvage"));
    long n1;
    unsigned char *after = slurp(path, &n1);
    assert_int_equal(n1, sizeb);
    assert_memory_equal(after, damaged, (size_t)n1);
    free(after);

    /* With salvage: the damaged file is moved aside byte for byte and the
     * journal holds the header and the 299 results, then takes appends. */
    bnc_journal_opened info;
    assert_int_equal(bnc_journal_open_salvage(path, "c", "h1", "spec", 1, &info, &j, &e), 0);
    char aside[300];
    snprintf(aside, sizeof aside, "%s.damaged", path);
    assert_string_equal(info.moved_to, aside);
    assert_int_equal(info.check.results, 299);
    put(j, "r150", 150.0);
    bnc_journal_close(j);
    long na;
    unsigned char *moved = slurp(aside, &na);
    assert_int_equal(na, sizeb);
    assert_memory_equal(moved, damaged, (size_t)na);
    free(moved);
    memset(&s, 0, sizeof s);
    assert_int_equal(bnc_journal_read(path, NULL, visit_ids, &s, &c, &e), 0);
    assert_int_equal(s.n, 300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(s.seen[i], 1);
    assert_int_equal(c.n_damaged, 0);
    /* Undamaged, the file would have been exactly as long. */
    assert_int_equal(file_size(), size0);
    /* A second salvage never overwrites the first file moved aside. */
    unlink(aside);
    free(before);
    free(damaged);
}

static void test_crc_error_keeps_before_and_after(void **state)
{
    (void)state;
    long off[40];
    write_n(40, off);
    /* A payload byte of record 10 and of record 30. */
    flip(off[10] + 14, 0);
    flip(off[30] + 20, 5);
    ids s = {0};
    bnc_journal_check c;
    bnc_err e;
    assert_int_equal(bnc_journal_read(path, NULL, visit_ids, &s, &c, &e), 0);
    assert_int_equal(s.n, 38);
    for (int i = 0; i < 40; i++)
        assert_int_equal(s.seen[i], i == 10 || i == 30 ? 0 : 1);
    assert_int_equal(c.n_damaged, 2);
    assert_int_equal(c.damaged[0].off, off[10]);
    assert_int_equal(c.damaged[1].off, off[30]);
    assert_int_equal(c.damaged_records, 2);
    assert_non_null(strstr(c.first_reason, "CRC mismatch"));
}

static void test_torn_tail_is_reported(void **state)
{
    (void)state;
    long off[5];
    write_n(5, off);
    long size = file_size();
    /* Cut the last record in half. */
    assert_int_equal(truncate(path, off[4] + 7), 0);
    ids s = {0};
    bnc_journal_check c;
    bnc_err e;
    assert_int_equal(bnc_journal_read(path, NULL, visit_ids, &s, &c, &e), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(c.torn, 1);
    assert_int_equal(c.torn_off, off[4]);
    assert_int_equal(c.torn_len, 7);
    assert_int_equal(c.n_damaged, 0);
    char d[300];
    bnc_journal_check_describe(&c, d, sizeof d);
    char want[80];
    snprintf(want, sizeof want, "torn tail of 7 bytes at byte %ld dropped", off[4]);
    assert_non_null(strstr(d, want));
    (void)size;
}

static void test_second_writer_is_refused(void **state)
{
    (void)state;
    bnc_journal *a, *b = NULL;
    bnc_err e;
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &a, &e), 0);
    put(a, "x", 1.0);
    assert_int_equal(bnc_journal_sync(a, &e), 0);
    long size = file_size();
    /* A reader does not disturb the lock (closing its descriptor keeps it). */
    seen s = {0};
    assert_int_equal(bnc_journal_scan(path, NULL, visit, &s, NULL, &e), 0);
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &b, &e), BNC_EIO);
    assert_null(b);
    assert_non_null(strstr(e.msg, "is in use"));
    assert_non_null(strstr(e.msg, path));
    assert_int_equal(file_size(), size);
    bnc_journal_close(a);
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &b, &e), 0);
    bnc_journal_close(b);
}

/* A journal written before the record magic: [len][crc of payload][payload]. */
static void put_v1(FILE *f, const Bnc__JournalRecord *rec)
{
    size_t len = bnc__journal_record__get_packed_size(rec);
    unsigned char *b = malloc(len + 8);
    bnc__journal_record__pack(rec, b + 8);
    uint32_t crc = (uint32_t)crc32(0L, b + 8, (uInt)len);
    for (int i = 0; i < 4; i++) {
        b[i] = (unsigned char)(len >> (8 * i));
        b[4 + i] = (unsigned char)(crc >> (8 * i));
    }
    fwrite(b, 1, len + 8, f);
    free(b);
}

static void test_old_framing_is_read_and_appended(void **state)
{
    (void)state;
    FILE *f = fopen(path, "wb");
    Bnc__JournalHeader h = BNC__JOURNAL_HEADER__INIT;
    h.campaign = "c";
    h.spec_hash = "h1";
    h.spec_text = "spec";
    Bnc__JournalRecord rec = BNC__JOURNAL_RECORD__INIT;
    rec.body_case = BNC__JOURNAL_RECORD__BODY_HEADER;
    rec.header = &h;
    put_v1(f, &rec);
    long off[4];
    for (int i = 0; i < 3; i++) {
        off[i] = ftell(f);
        char id[8];
        snprintf(id, sizeof id, "r%d", i);
        Bnc__Metric m = BNC__METRIC__INIT;
        m.name = "x";
        m.value = (double)i;
        Bnc__Metric *mp = &m;
        Bnc__TaskResult r = BNC__TASK_RESULT__INIT;
        r.task_id = id;
        r.campaign = "c";
        r.ok = 1;
        r.n_metrics = 1;
        r.metrics = &mp;
        Bnc__JournalRecord rr = BNC__JOURNAL_RECORD__INIT;
        rr.body_case = BNC__JOURNAL_RECORD__BODY_RESULT;
        rr.result = &r;
        put_v1(f, &rr);
    }
    off[3] = ftell(f);
    fclose(f);
    ids s = {0};
    bnc_journal_check c;
    bnc_err e;
    assert_int_equal(bnc_journal_read(path, NULL, visit_ids, &s, &c, &e), 0);
    assert_int_equal(s.n, 3);
    /* Appending keeps the old framing; a damaged record is skipped. */
    bnc_journal *j;
    assert_int_equal(bnc_journal_open(path, "c", "h1", "spec", &j, &e), 0);
    put(j, "r3", 3.0);
    bnc_journal_close(j);
    flip(off[1] + 9, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(bnc_journal_read(path, NULL, visit_ids, &s, &c, &e), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seen[1], 0);
    assert_int_equal(s.seen[3], 1);
    assert_int_equal(c.n_damaged, 1);
    assert_int_equal(c.damaged[0].off, off[1]);
    assert_int_equal(c.damaged[0].len, off[2] - off[1]);
}

static void test_wiped_framing_is_estimated(void **state)
{
    (void)state;
    long off[40];
    write_n(40, off);
    /* Zero from inside record 5's magic to inside record 8's: four records
     * lost, their record starts with them. */
    FILE *f = fopen(path, "r+b");
    fseek(f, off[5] + 2, SEEK_SET);
    for (long i = off[5] + 2; i < off[8] + 2; i++)
        fputc(0, f);
    fclose(f);
    ids s = {0};
    bnc_journal_check c;
    bnc_err e;
    assert_int_equal(bnc_journal_read(path, NULL, visit_ids, &s, &c, &e), 0);
    assert_int_equal(s.n, 36);
    assert_int_equal(c.n_damaged, 1);
    assert_int_equal(c.damaged[0].off, off[5]);
    assert_int_equal(c.damaged[0].len, off[9] - off[5]);
    assert_int_equal(c.damaged[0].records, 1);
    assert_int_equal(c.damaged[0].approx, 4);
    assert_int_equal(c.damaged_records, 4);
    char d[300];
    bnc_journal_check_describe(&c, d, sizeof d);
    assert_non_null(strstr(d, "(about 4 records)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_and_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_length_bit_keeps_the_other_299, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crc_error_keeps_before_and_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_framing_is_read_and_appended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wiped_framing_is_estimated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
