/* test_nn_train.c - the trainer end to end: the step count formula, the step/epoch
 * numbering of the callback, cancelling, bad parameters, a short run that lowers the
 * loss and reproduces its examples greedily, seeded determinism, long inputs and the
 * decoding limits, and a training stopped, encoded and resumed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/train.h"
#include "nn_check.h"

#define EX(in, out)                                                                                \
	{                                                                                          \
		in, sizeof(in) - 1, out, sizeof(out) - 1                                           \
	}

static void test_total_steps(void)
{
	CHECK(srv_train_total_steps(15, 5, 4) == 19);
	CHECK(srv_train_total_steps(15, 5, 2) == 38);
	CHECK(srv_train_total_steps(15, 5, 1) == 75);
	CHECK(srv_train_total_steps(1, 1, 1) == 1);
	CHECK(srv_train_total_steps(3, 1, 100) == 1);
	CHECK(srv_train_total_steps(0, 5, 4) == -EINVAL);
	CHECK(srv_train_total_steps(15, 0, 4) == -EINVAL);
	CHECK(srv_train_total_steps(15, 5, 0) == -EINVAL);
	CHECK(srv_train_total_steps(15, -1, 4) == -EINVAL);
	CHECK(srv_train_total_steps((size_t)1 << 40, 1 << 20, 1) == -EOVERFLOW);
}

struct record {
	int steps[64], totals[64], epochs[64];
	double losses[64];
	int n, stop_at;
};

static int record_step(void *ctx, int step, int total, int epoch, double loss)
{
	struct record *r = ctx;
	if (r->n < 64) {
		r->steps[r->n] = step;
		r->totals[r->n] = total;
		r->epochs[r->n] = epoch;
		r->losses[r->n] = loss;
		r->n++;
	}
	return r->stop_at && step >= r->stop_at;
}

static const struct nn_example fifteen[15] = {
    EX("1", "2"),   EX("3", "4"),   EX("5", "6"),   EX("7", "8"),   EX("9", "10"),
    EX("a", "b"),   EX("c", "d"),   EX("e", "f"),   EX("g", "h"),   EX("i", "j"),
    EX("11", "12"), EX("13", "14"), EX("15", "16"), EX("17", "18"), EX("19", "20"),
};

static void test_step_numbering(void)
{
	struct srv_train_params p = {5, 4, 0.001, 3};
	struct record r = {0};
	struct nn_model *m = NULL;
	CHECK(srv_train_run(fifteen, 15, &p, record_step, &r, &m) == 0);
	CHECK(m != NULL);
	CHECK(r.n == 19);
	for (int i = 0; i < r.n; i++) {
		int last_example = (i + 1) * 4 < 75 ? (i + 1) * 4 : 75; /* 1-based */
		CHECK(r.steps[i] == i + 1);
		CHECK(r.totals[i] == 19);
		CHECK(r.epochs[i] == (last_example + 14) / 15);
		CHECK(r.losses[i] > 0);
	}
	CHECK(r.epochs[18] == 5);
	nn_model_free(m);

	struct srv_train_params p2 = {5, 2, 0.001, 3};
	struct record r2 = {0};
	CHECK(srv_train_run(fifteen, 15, &p2, record_step, &r2, &m) == 0);
	CHECK(r2.n == 38 && r2.steps[37] == 38 && r2.epochs[37] == 5 && r2.epochs[7] == 2);
	nn_model_free(m);
}

static void test_cancel_and_bad_params(void)
{
	struct srv_train_params p = {5, 4, 0.001, 3};
	struct record r = {.stop_at = 3};
	struct nn_model *m = NULL;
	CHECK(srv_train_run(fifteen, 15, &p, record_step, &r, &m) == -ECANCELED);
	CHECK(m == NULL && r.n == 3);
	struct srv_train_params bad[] = {
	    {0, 4, 0.001, 1}, {5, 0, 0.001, 1}, {5, 4, 0, 1}, {5, 4, -1, 1}, {5, 4, INFINITY, 1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(srv_train_run(fifteen, 15, &bad[i], NULL, NULL, &m) == -EINVAL);
	CHECK(srv_train_run(fifteen, 0, &p, NULL, NULL, &m) == -EINVAL);
	CHECK(srv_train_run(NULL, 3, &p, NULL, NULL, &m) == -EINVAL);
}

static char *greedy(const struct nn_model *m, const char *in, size_t max_bytes, int *limit)
{
	struct nn_sampling s = {0, 0, 0, max_bytes, 0};
	char *out;
	size_t len;
	CHECK(nn_generate(m, in, strlen(in), &s, &out, &len, limit) == 0);
	CHECK(strlen(out) == len && len <= max_bytes);
	return out;
}

static void test_learns(void)
{
	static const struct nn_example ex[4] = {EX("one", "two"), EX("two", "three"),
						EX("ten", "eleven"), EX("-5", "-4")};
	struct srv_train_params p = {60, 2, 0.003, 11};
	struct record r = {0};
	struct nn_model *m;
	CHECK(srv_train_run(ex, 4, &p, record_step, &r, &m) == 0);
	CHECK(r.n == 64); /* 120 steps, the first 64 recorded */
	double first = r.losses[0];
	double last;
	CHECK(nn_train_step(m, ex, 4, 0.003, &last) == 0);
	printf("loss: first step %.4f, after training %.4f\n", first, last);
	CHECK(last < first / 10);
	for (int i = 0; i < 4; i++) {
		int limit = -1;
		char *out = greedy(m, ex[i].input, 64, &limit);
		printf("%s -> %s\n", ex[i].input, out);
		CHECK(strcmp(out, ex[i].output) == 0 && limit == 0);
		free(out);
	}
	/* max_bytes stops the answer and says so */
	int limit = 0;
	char *out = greedy(m, "ten", 3, &limit);
	CHECK(strcmp(out, "ele") == 0 && limit == 1);
	free(out);
	out = greedy(m, "ten", 6, &limit); /* exactly the answer's length: a normal stop */
	CHECK(strcmp(out, "eleven") == 0 && limit == 0);
	free(out);
	/* top_k = 1 is greedy whatever the temperature; sampling is seeded */
	struct nn_sampling s1 = {1.5, 0, 1, 64, 99}, s2 = {1.5, 0.9, 0, 64, 5};
	char *a, *b, *c;
	size_t la, lb, lc;
	CHECK(nn_generate(m, "two", 3, &s1, &a, &la, NULL) == 0 && strcmp(a, "three") == 0);
	CHECK(nn_generate(m, "two", 3, &s2, &b, &lb, NULL) == 0);
	CHECK(nn_generate(m, "two", 3, &s2, &c, &lc, NULL) == 0);
	CHECK(lb == lc && memcmp(b, c, lb) == 0);
	free(a);
	free(b);
	free(c);
	nn_model_free(m);
}

static void test_deterministic(void)
{
	struct srv_train_params p = {3, 4, 0.001, 1234};
	struct record r1 = {0}, r2 = {0}, r3 = {0};
	struct nn_model *m1, *m2, *m3;
	CHECK(srv_train_run(fifteen, 15, &p, record_step, &r1, &m1) == 0);
	CHECK(srv_train_run(fifteen, 15, &p, record_step, &r2, &m2) == 0);
	p.seed = 1235;
	CHECK(srv_train_run(fifteen, 15, &p, record_step, &r3, &m3) == 0);
	CHECK(memcmp(r1.losses, r2.losses, sizeof(double) * (size_t)r1.n) == 0);
	CHECK(memcmp(r1.losses, r3.losses, sizeof(double) * (size_t)r1.n) != 0);
	size_t n = nn_param_count(m1);
	CHECK(memcmp(nn_param(m1, 0), nn_param(m2, 0), sizeof(float) * n) == 0);
	nn_model_free(m1);
	nn_model_free(m2);
	nn_model_free(m3);
}

static void test_long_inputs(void)
{
	size_t n = 40000;
	char *in = malloc(n + 1), *outb = malloc(n + 1);
	CHECK(in && outb);
	for (size_t i = 0; i < n; i++) {
		in[i] = (char)('a' + i % 26);
		outb[i] = (char)('A' + i % 26);
	}
	in[n] = outb[n] = '\0';
	struct nn_example ex[4] = {
	    {in, n, "end", 3}, {"x", 1, outb, n}, {in, n, outb, n}, {NULL, 0, "e", 1}};
	struct nn_model *m;
	CHECK(nn_model_new(5, &m) == 0);
	double loss;
	CHECK(nn_train_step(m, ex, 4, 0.001, &loss) == 0 && loss > 0);
	struct nn_example bad = {NULL, 2, "e", 1};
	CHECK(nn_train_step(m, &bad, 1, 0.001, &loss) == -EINVAL);
	/* long answers slide the window; a long input keeps its end */
	int limit = 0;
	char *out = greedy(m, in, 300, &limit);
	CHECK(limit == 1 && strlen(out) == 300);
	free(out);
	struct nn_sampling s = {0.8, 0.95, 40, 0, 3}; /* max_bytes 0: the default */
	size_t len;
	CHECK(nn_generate(m, in, n, &s, &out, &len, &limit) == 0);
	CHECK(len <= NN_DEFAULT_MAX_BYTES);
	free(out);
	CHECK(nn_generate(m, NULL, 0, &s, &out, &len, NULL) == 0);
	free(out);
	CHECK(nn_generate(m, NULL, 3, &s, &out, &len, NULL) == -EINVAL);
	nn_model_free(m);
	free(in);
	free(outb);
}

/* A training encoded at step 7, decoded and run on ends with the very weights of the run
 * never stopped; bytes that do not fit the examples, parameters or size are refused. */
static void test_resume(void)
{
	struct srv_train_params p = {5, 4, 0.001, 3};
	struct nn_model *whole = NULL;
	CHECK(srv_train_run(fifteen, 15, &p, NULL, NULL, &whole) == 0);
	struct srv_train *t = NULL, *back = NULL;
	struct srv_train_step s;
	CHECK(srv_train_new(fifteen, 15, &p, &t) == 0);
	for (int i = 0; i < 7; i++)
		CHECK(srv_train_next(t, &s) == 0);
	size_t len;
	unsigned char *buf = srv_train_encode(t, &len);
	srv_train_free(t);
	char why[160] = "";
	struct srv_train_params other = p;
	other.batch_size = 3;
	CHECK(srv_train_decode(buf, len, fifteen, 15, &other, &back, why, sizeof(why)) == -EINVAL);
	CHECK(srv_train_decode(buf, len, fifteen, 14, &p, &back, why, sizeof(why)) == -EINVAL);
	CHECK(srv_train_decode(buf, len - 1, fifteen, 15, &p, &back, why, sizeof(why)) == -EINVAL);
	CHECK(srv_train_decode(buf, 40, fifteen, 15, &p, &back, why, sizeof(why)) == -EINVAL);
	CHECK(srv_train_decode(buf, len, fifteen, 15, &p, &back, why, sizeof(why)) == 0);
	free(buf);
	if (!back || !whole)
		return;
	CHECK(srv_train_steps_done(back) == 7 && srv_train_total_of(back) == 19);
	int rc, last = 7;
	while ((rc = srv_train_next(back, &s)) == 0)
		CHECK(s.step == ++last);
	CHECK(rc == 1 && last == 19 && s.epoch == 5);
	struct nn_model *resumed = srv_train_take_model(back);
	srv_train_free(back);
	size_t same = 0, n = nn_param_count(whole);
	for (size_t i = 0; i < n; i++)
		same += *nn_param(whole, i) == *nn_param(resumed, i);
	CHECK(same == n);
	nn_model_free(whole);
	nn_model_free(resumed);
}

int main(void)
{
	test_total_steps();
	test_step_numbering();
	test_cancel_and_bad_params();
	test_deterministic();
	test_long_inputs();
	test_learns();
	test_resume();
	printf("ok\n");
	return 0;
}
