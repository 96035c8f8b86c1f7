/* train.c - one tuning job's training loop: counts the steps, walks the examples in a
 * seeded order reshuffled every epoch, cuts that stream into batches (a batch may span
 * two epochs) and reports each step. The maths is nn.c's; threads and jobs are the caller's. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/train.h"

static void *train_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		fprintf(stderr, "tunedfs-server: out of memory (%zu x %zu bytes in train)\n", n,
			size);
		abort();
	}
	return p;
}

static uint64_t train_rng(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int srv_train_total_steps(size_t n_examples, int epoch_count, int batch_size)
{
	if (n_examples == 0 || epoch_count <= 0 || batch_size <= 0)
		return -EINVAL;
	if (n_examples > SIZE_MAX / (size_t)epoch_count)
		return -EOVERFLOW;
	size_t seen = n_examples * (size_t)epoch_count;
	size_t steps = seen / (size_t)batch_size + (seen % (size_t)batch_size != 0);
	return steps > INT_MAX ? -EOVERFLOW : (int)steps;
}

static void shuffle(size_t *order, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(train_rng(rng) % i);
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

/* The stream of examples, epoch after epoch, each epoch in its own shuffled order. */
struct example_stream {
	size_t *order, n, next;
	int epoch; /* 1-based epoch of the example last taken */
	uint64_t rng;
};

static size_t stream_take(struct example_stream *st)
{
	if (st->next == st->n || st->epoch == 0) {
		shuffle(st->order, st->n, &st->rng);
		st->next = 0;
		st->epoch++;
	}
	return st->order[st->next++];
}

static int params_valid(const struct nn_example *ex, size_t n, const struct srv_train_params *p)
{
	return ex && n > 0 && p && p->epoch_count > 0 && p->batch_size > 0 &&
	       p->learning_rate > 0 && isfinite(p->learning_rate);
}

int srv_train_run(const struct nn_example *ex, size_t n, const struct srv_train_params *p,
		  srv_train_step_fn cb, void *ctx, struct nn_model **out)
{
	if (!params_valid(ex, n, p) || !out)
		return -EINVAL;
	int total = srv_train_total_steps(n, p->epoch_count, p->batch_size);
	if (total < 0)
		return total;
	struct nn_model *m;
	int rc = nn_model_new(p->seed, &m);
	if (rc < 0)
		return rc;
	size_t remaining = n * (size_t)p->epoch_count;
	size_t cap = (size_t)p->batch_size < remaining ? (size_t)p->batch_size : remaining;
	struct nn_example *batch = train_xcalloc(cap, sizeof(*batch));
	struct example_stream st = {train_xcalloc(n, sizeof(size_t)), n, 0, 0,
				    p->seed ^ 0x73687566666c65ULL};
	for (int step = 1; step <= total && rc == 0; step++) {
		size_t b = 0;
		while (b < cap && remaining > 0) {
			batch[b++] = ex[stream_take(&st)];
			remaining--;
		}
		double loss;
		rc = nn_train_step(m, batch, b, p->learning_rate, &loss);
		if (rc == 0 && cb && cb(ctx, step, total, st.epoch, loss))
			rc = -ECANCELED;
	}
	free(batch);
	free(st.order);
	if (rc < 0) {
		nn_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
