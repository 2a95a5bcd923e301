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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_and_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_in_the_middle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
