/* Models: gradient check against finite differences, ternary forward, and
 * centralized sanity on the real Fashion-MNIST (softmax >= 0.83, MLP >= 0.87
 * test accuracy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnc_fed_data.h"
#include "bnc_fed_model.h"

static bnc_fed_dataset train_set, test_set;

static int load(void **state)
{
    (void)state;
    openblas_set_num_threads(1);
    bnc_err e;
    if (bnc_fed_mnist_load(NULL, &train_set, &test_set, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}

static int unload(void **state)
{
    (void)state;
    bnc_fed_dataset_free(&train_set);
    bnc_fed_dataset_free(&test_set);
    return 0;
}

/* Loss over a fixed batch, via one SGD step with lr tiny: we use evaluate on
 * a sub-dataset instead. */
static double batch_loss(bnc_fed_trainer *t, const float *w, const bnc_fed_dataset *d)
{
    double loss, acc;
    bnc_err e;
    assert_int_equal(bnc_fed_evaluate(t, w, 0, d, &loss, &acc, &e), 0);
    return loss;
}

static void test_gradient_matches_finite_differences(void **state)
{
    (void)state;
    /* A 16-example dataset; one plain SGD step (no momentum, no decay) with
     * lr = 1 gives w - grad, so grad = w_before - w_after. */
    bnc_fed_dataset d = train_set;
    d.n = 16;
    bnc_fed_arch a;
    bnc_err e;
    assert_int_equal(bnc_fed_arch_init(&a, "mlp", 784, 10, &e), 0);
    assert_int_equal(a.nparams, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    bnc_fed_trainer *t = bnc_fed_trainer_new(&a, 16);
    float *w = malloc((size_t)a.nparams * sizeof *w), *w2 = malloc((size_t)a.nparams * sizeof *w);
    bnc_fed_model_init(&a, w, 7);
    memcpy(w2, w, (size_t)a.nparams * sizeof *w);
    int64_t idx[16];
    for (int i = 0; i < 16; i++)
        idx[i] = i;
    bnc_fed_train_opts o = {.lr = 1.0f, .batch = 16, .epochs = 1};
    double l, ac;
    assert_int_equal(bnc_fed_train(t, w2, NULL, &d, idx, 16, &o, 1, 1, &l, &ac, &e), 0);
    double l0 = batch_loss(t, w, &d);
    assert_true(fabs(l - l0) < 1e-4);
    /* Check a few coordinates of each tensor by central differences. */
    for (int tn = 0; tn < bnc_fed_arch_ntensors(&a); tn++) {
        int64_t off;
        int64_t n = bnc_fed_arch_tensor(&a, tn, &off);
        for (int k = 0; k < 3; k++) {
            int64_t i = off + (n * (2 * k + 1)) / 7;
            float g = w[i] - w2[i], keep = w[i], h = 1e-2f;
            w[i] = keep + h;
            double lp = batch_loss(t, w, &d);
            w[i] = keep - h;
            double lm = batch_loss(t, w, &d);
            w[i] = keep;
            double fd = (lp - lm) / (2 * h);
            assert_true(fabs(fd - g) <= 2e-3 + 0.05 * fabs(fd));
        }
    }
    free(w);
    free(w2);
    bnc_fed_trainer_free(t);
}

static void test_ternarize_three_values_per_matrix(void **state)
{
    (void)state;
    bnc_fed_arch a;
    bnc_err e;
    assert_int_equal(bnc_fed_arch_init(&a, "softmax", 784, 10, &e), 0);
    float *w = malloc((size_t)a.nparams * sizeof *w), *q = malloc((size_t)a.nparams * sizeof *w);
    bnc_fed_model_init(&a, w, 3);
    for (int i = 0; i < 10; i++)
        w[a.b_off[0] + i] = 0.1f * (float)i;
    assert_int_equal(bnc_fed_ternarize(&a, w, q, &e), 0);
    double mean = 0;
    for (int64_t i = 0; i < 7840; i++)
        mean += fabs(w[i]);
    mean /= 7840;
    for (int64_t i = 0; i < 7840; i++)
        assert_true(q[i] == 0.0f || fabsf(fabsf(q[i]) - (float)mean) < 1e-5f * (float)mean + 1e-7f);
    for (int i = 0; i < 10; i++)
        assert_true(q[a.b_off[0] + i] == w[a.b_off[0] + i]); /* biases stay f32 */
    free(w);
    free(q);
}

static double centralized(const char *model, int epochs, float lr, int qat)
{
    bnc_fed_arch a;
    bnc_err e;
    assert_int_equal(bnc_fed_arch_init(&a, model, 784, 10, &e), 0);
    bnc_fed_trainer *t = bnc_fed_trainer_new(&a, 500);
    float *w = malloc((size_t)a.nparams * sizeof *w);
    int64_t *idx = malloc((size_t)train_set.n * sizeof *idx);
    for (int64_t i = 0; i < train_set.n; i++)
        idx[i] = i;
    bnc_fed_model_init(&a, w, 1);
    bnc_fed_train_opts o = {.lr = lr,
                            .momentum = 0.9f,
                            .weight_decay = 1e-4f,
                            .batch = 64,
                            .epochs = epochs,
                            .qat = qat};
    double l, acc, tl, ta;
    assert_int_equal(
        bnc_fed_train(t, w, NULL, &train_set, idx, train_set.n, &o, 1, 1, &tl, &ta, &e), 0);
    assert_int_equal(bnc_fed_evaluate(t, w, qat, &test_set, &l, &acc, &e), 0);
    printf("{\"model\": \"%s\", \"qat\": %d, \"epochs\": %d, \"test_acc\": %.4f, \"test_loss\": "
           "%.4f}\n",
           model, qat, epochs, acc, l);
    free(w);
    free(idx);
    bnc_fed_trainer_free(t);
    return acc;
}

static void test_softmax_centralized(void **state)
{
    (void)state;
    assert_true(centralized("softmax", 5, 0.002f, 0) >= 0.83);
}

static void test_mlp_centralized(void **state)
{
    (void)state;
    assert_true(centralized("mlp", 6, 0.01f, 0) >= 0.87);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : "";
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_gradient_matches_finite_differences),
        cmocka_unit_test(test_ternarize_three_values_per_matrix),
    };
    const struct CMUnitTest sanity[] = {
        cmocka_unit_test(test_softmax_centralized),
        cmocka_unit_test(test_mlp_centralized),
    };
    if (strcmp(only, "sanity") == 0) return cmocka_run_group_tests(sanity, load, unload);
    return cmocka_run_group_tests(unit, load, unload);
}
