/* IDX loader validation on files written here, the real dataset, and the
 * partitioners' properties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bnc_fed_data.h"
#include "bnc_rng.h"

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8),
    b[3] = (uint8_t)v;
}

/* Writes a gzip IDX image file of n images (rows x cols), truncated by cut
 * bytes, with trailing extra bytes, and a label file. */
static void write_files(const char *img, const char *lab, uint32_t magic_img, uint32_t n_img,
                        uint32_t n_lab, int cut, int extra, uint8_t bad_label)
{
    uint32_t rows = 4, cols = 3;
    size_t hn = 16, dn = (size_t)n_img * rows * cols;
    uint8_t *buf = calloc(hn + dn + 8, 1);
    put32(buf, magic_img);
    put32(buf + 4, n_img);
    put32(buf + 8, rows);
    put32(buf + 12, cols);
    for (size_t i = 0; i < dn; i++)
        buf[hn + i] = (uint8_t)i;
    gzFile f = gzopen(img, "wb");
    gzwrite(f, buf, (unsigned)(hn + dn - (size_t)cut + (size_t)extra));
    gzclose(f);
    free(buf);
    uint8_t lb[8 + 64];
    put32(lb, 0x801);
    put32(lb + 4, n_lab);
    for (uint32_t i = 0; i < n_lab; i++)
        lb[8 + i] = (uint8_t)(i % 10);
    if (n_lab) lb[8 + n_lab - 1] = bad_label ? bad_label : lb[8 + n_lab - 1];
    f = gzopen(lab, "wb");
    gzwrite(f, lb, 8 + n_lab);
    gzclose(f);
}

static int load(const char *expect)
{
    bnc_fed_dataset d;
    bnc_err e;
    bnc_err_clear(&e);
    int rc = bnc_fed_idx_load("t-img.gz", "t-lab.gz", &d, &e);
    if (expect) {
        if (!strstr(e.msg, expect)) fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, expect);
        assert_non_null(strstr(e.msg, expect));
    } else if (!rc) {
        assert_int_equal(d.n, 5);
        assert_int_equal(d.dim, 12);
        assert_int_equal(d.x[13], 13);
        assert_int_equal(d.y[4], 4);
        bnc_fed_dataset_free(&d);
    }
    return rc;
}

static void test_idx_valid(void **state)
{
    (void)state;
    write_files("t-img.gz", "t-lab.gz", 0x803, 5, 5, 0, 0, 0);
    assert_int_equal(load(NULL), 0);
}

static void test_idx_bad_magic(void **state)
{
    (void)state;
    write_files("t-img.gz", "t-lab.gz", 0x801, 5, 5, 0, 0, 0);
    assert_int_equal(load("bad magic 0x00000801"), BNC_EFORMAT);
}

static void test_idx_truncated(void **state)
{
    (void)state;
    write_files("t-img.gz", "t-lab.gz", 0x803, 5, 5, 7, 0, 0);
    assert_int_equal(load("truncated"), BNC_EFORMAT);
    write_files("t-img.gz", "t-lab.gz", 0x803, 5, 5, 66, 0, 0); /* inside the header */
    assert_int_equal(load("t-img.gz: truncated: the header"), BNC_EFORMAT);
}

static void test_idx_trailing_and_counts(void **state)
{
    (void)state;
    write_files("t-img.gz", "t-lab.gz", 0x803, 5, 5, 0, 3, 0);
    assert_int_equal(load("trailing data"), BNC_EFORMAT);
    write_files("t-img.gz", "t-lab.gz", 0x803, 5, 4, 0, 0, 0);
    assert_int_equal(load("holds 5 images but t-lab.gz holds 4 labels"), BNC_EFORMAT);
    write_files("t-img.gz", "t-lab.gz", 0x803, 5, 5, 0, 0, 10);
    assert_int_equal(load("label 10 at index 4"), BNC_EFORMAT);
    write_files("t-img.gz", "t-lab.gz", 0x803, 0, 0, 0, 0, 0);
    assert_int_equal(load("dimension 0 is 0"), BNC_EFORMAT);
}

static void test_idx_not_gzip_garbage(void **state)
{
    (void)state;
    FILE *f = fopen("t-img.gz", "wb");
    /* A gzip header followed by a corrupt deflate stream. */
    const uint8_t junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff};
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    bnc_fed_dataset d;
    bnc_err e;
    assert_int_equal(bnc_fed_idx_load("t-img.gz", "t-lab.gz", &d, &e), BNC_EFORMAT);
    assert_non_null(strstr(e.msg, "t-img.gz"));
    /* a missing input file is bad input (exit 2), issue 17 item 11 */
    assert_int_equal(bnc_fed_idx_load("no-such.gz", "t-lab.gz", &d, &e), BNC_EINVAL);
}

static bnc_fed_dataset real_train;

static void test_real_dataset(void **state)
{
    (void)state;
    bnc_fed_dataset test;
    bnc_err e;
    assert_int_equal(bnc_fed_mnist_load(NULL, &real_train, &test, &e), 0);
    assert_int_equal(real_train.n, 60000);
    assert_int_equal(test.n, 10000);
    assert_int_equal(real_train.rows, 28);
    assert_int_equal(real_train.cols, 28);
    int64_t cnt[10] = {0};
    for (int64_t i = 0; i < real_train.n; i++)
        cnt[real_train.y[i]]++;
    for (int c = 0; c < 10; c++)
        assert_int_equal(cnt[c], 6000); /* Fashion-MNIST is balanced */
    bnc_fed_dataset_free(&test);
}

/* Every example exactly once, every client non-empty. */
static void check_cover(const bnc_fed_partition *p, int64_t n)
{
    uint8_t *seen = calloc((size_t)n, 1);
    assert_int_equal(p->off[0], 0);
    assert_int_equal(p->off[p->nclients], n);
    for (int c = 0; c < p->nclients; c++)
        assert_true(p->off[c + 1] > p->off[c]);
    for (int64_t i = 0; i < n; i++) {
        assert_true(p->idx[i] >= 0 && p->idx[i] < n);
        assert_int_equal(seen[p->idx[i]], 0);
        seen[p->idx[i]] = 1;
    }
    free(seen);
}

/* Mean over clients of the largest class share. */
static double skew(const bnc_fed_partition *p, const uint8_t *y)
{
    double s = 0;
    for (int c = 0; c < p->nclients; c++) {
        int64_t cnt[10] = {0}, mx = 0, tot = p->off[c + 1] - p->off[c];
        for (int64_t j = p->off[c]; j < p->off[c + 1]; j++)
            cnt[y[p->idx[j]]]++;
        for (int k = 0; k < 10; k++)
            mx = cnt[k] > mx ? cnt[k] : mx;
        s += (double)mx / (double)tot;
    }
    return s / p->nclients;
}

static void test_partitions(void **state)
{
    (void)state;
    const uint8_t *y = real_train.y;
    int64_t n = real_train.n;
    bnc_err e;
    bnc_fed_partition_spec sp;
    bnc_fed_partition p, q;

    assert_int_equal(bnc_fed_partition_parse("iid", &sp, &e), 0);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 7, &sp, 5, &p, &e), 0);
    check_cover(&p, n);
    for (int c = 0; c < 7; c++) { /* sizes differ by at most one */
        int64_t sz = p.off[c + 1] - p.off[c];
        assert_true(sz == n / 7 || sz == n / 7 + 1);
    }
    assert_true(skew(&p, y) < 0.12);
    /* Same seed, same split; another seed, another split. */
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 7, &sp, 5, &q, &e), 0);
    assert_memory_equal(p.idx, q.idx, (size_t)n * sizeof *p.idx);
    bnc_fed_partition_free(&q);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 7, &sp, 6, &q, &e), 0);
    assert_true(memcmp(p.idx, q.idx, (size_t)n * sizeof *p.idx) != 0);
    bnc_fed_partition_free(&q);
    bnc_fed_partition_free(&p);

    assert_int_equal(bnc_fed_partition_parse("classes:2", &sp, &e), 0);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 20, &sp, 5, &p, &e), 0);
    check_cover(&p, n);
    for (int c = 0; c < 20; c++) {
        int has[10] = {0}, k = 0;
        for (int64_t j = p.off[c]; j < p.off[c + 1]; j++)
            has[y[p.idx[j]]] = 1;
        for (int i = 0; i < 10; i++)
            k += has[i];
        assert_true(k >= 1 && k <= 2);
    }
    bnc_fed_partition_free(&p);

    /* Dirichlet: smaller alpha, more skew. */
    assert_int_equal(bnc_fed_partition_parse("dirichlet:0.1", &sp, &e), 0);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 50, &sp, 5, &p, &e), 0);
    check_cover(&p, n);
    double s01 = skew(&p, y);
    bnc_fed_partition_free(&p);
    assert_int_equal(bnc_fed_partition_parse("dirichlet:100", &sp, &e), 0);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 50, &sp, 5, &p, &e), 0);
    check_cover(&p, n);
    double s100 = skew(&p, y);
    bnc_fed_partition_free(&p);
    assert_true(s01 > 0.5 && s100 < 0.2);

    /* Quantity skew: sizes vary, labels stay mixed. */
    assert_int_equal(bnc_fed_partition_parse("quantity:0.5", &sp, &e), 0);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 30, &sp, 5, &p, &e), 0);
    check_cover(&p, n);
    int64_t mn = n, mx = 0;
    for (int c = 0; c < 30; c++) {
        int64_t sz = p.off[c + 1] - p.off[c];
        mn = sz < mn ? sz : mn;
        mx = sz > mx ? sz : mx;
    }
    assert_true(mx > 4 * mn);
    bnc_fed_partition_free(&p);

    /* 1,000 clients, heavy skew: still a cover with no empty client. */
    assert_int_equal(bnc_fed_partition_parse("dirichlet:0.05", &sp, &e), 0);
    assert_int_equal(bnc_fed_partition_make(y, n, 10, 1000, &sp, 9, &p, &e), 0);
    check_cover(&p, n);
    bnc_fed_partition_free(&p);

    assert_int_equal(bnc_fed_partition_parse("dirichlet:-1", &sp, &e), BNC_EINVAL);
    assert_int_equal(bnc_fed_partition_parse("classes:11", &sp, &e), BNC_EINVAL);
    assert_int_equal(bnc_fed_partition_parse("zipf:2", &sp, &e), BNC_EINVAL);
    char buf[64];
    assert_int_equal(bnc_fed_partition_parse("dirichlet:0.5", &sp, &e), 0);
    bnc_fed_partition_format(&sp, buf, sizeof buf);
    assert_string_equal(buf, "dirichlet:0.5");
}

static void test_gamma_mean(void **state)
{
    (void)state;
    bnc_rng r;
    bnc_rng_init(&r, 11, 0);
    const double shapes[] = {0.3, 1.0, 4.0};
    for (int s = 0; s < 3; s++) {
        double sum = 0;
        for (int i = 0; i < 20000; i++)
            sum += bnc_fed_gamma(&r, shapes[s]);
        double mean = sum / 20000; /* mean of Gamma(k, 1) is k; sd/sqrt(n) ~ 0.014 */
        assert_true(fabs(mean - shapes[s]) < 0.06 * (shapes[s] > 1 ? shapes[s] : 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_valid),
        cmocka_unit_test(test_idx_bad_magic),
        cmocka_unit_test(test_idx_truncated),
        cmocka_unit_test(test_idx_trailing_and_counts),
        cmocka_unit_test(test_idx_not_gzip_garbage),
        cmocka_unit_test(test_real_dataset),
        cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_gamma_mean),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bnc_fed_dataset_free(&real_train);
    return rc;
}
