/* train.c - one tuning job's training loop: counts the steps, walks the examples in a
 * seeded order reshuffled every epoch, cuts that stream into batches (a batch may span
 * two epochs) and reports each step. The maths is nn.c's; threads and jobs are the caller's. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
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

struct srv_train {
	const struct nn_example *ex;
	size_t n;
	struct srv_train_params p;
	struct nn_model *m;
	struct nn_example *batch;
	size_t cap, remaining; /* batch size; examples still to visit */
	int step, total;       /* steps done, steps in all */
	struct example_stream st;
};

static struct srv_train *train_alloc(const struct nn_example *ex, size_t n,
				     const struct srv_train_params *p, int total)
{
	struct srv_train *t = train_xcalloc(1, sizeof(*t));
	t->ex = ex;
	t->n = n;
	t->p = *p;
	t->total = total;
	t->remaining = n * (size_t)p->epoch_count;
	t->cap = (size_t)p->batch_size < t->remaining ? (size_t)p->batch_size : t->remaining;
	t->batch = train_xcalloc(t->cap, sizeof(*t->batch));
	t->st = (struct example_stream){train_xcalloc(n, sizeof(size_t)), n, 0, 0,
					p->seed ^ 0x73687566666c65ULL};
	return t;
}

int srv_train_new(const struct nn_example *ex, size_t n, const struct srv_train_params *p,
		  struct srv_train **out)
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
	struct srv_train *t = train_alloc(ex, n, p, total);
	t->m = m;
	*out = t;
	return 0;
}

int srv_train_next(struct srv_train *t, struct srv_train_step *out)
{
	if (t->step >= t->total)
		return 1;
	size_t b = 0;
	while (b < t->cap && t->remaining > 0) {
		t->batch[b++] = t->ex[stream_take(&t->st)];
		t->remaining--;
	}
	double loss;
	int rc = nn_train_step(t->m, t->batch, b, t->p.learning_rate, &loss);
	if (rc < 0)
		return rc;
	t->step++;
	*out = (struct srv_train_step){t->step, t->total, t->st.epoch, loss};
	return 0;
}

double srv_train_loss(struct srv_train *t, const struct nn_example *ex, size_t n)
{
	return t->m && n ? nn_loss(t->m, ex, n) : NAN;
}

int srv_train_steps_done(const struct srv_train *t)
{
	return t->step;
}

int srv_train_total_of(const struct srv_train *t)
{
	return t->total;
}

struct nn_model *srv_train_take_model(struct srv_train *t)
{
	struct nn_model *m = t->m;
	t->m = NULL;
	return m;
}

void srv_train_free(struct srv_train *t)
{
	if (!t)
		return;
	nn_model_free(t->m);
	free(t->batch);
	free(t->st.order);
	free(t);
}

int srv_train_run(const struct nn_example *ex, size_t n, const struct srv_train_params *p,
		  srv_train_step_fn cb, void *ctx, struct nn_model **out)
{
	if (!out)
		return -EINVAL;
	struct srv_train *t;
	int rc = srv_train_new(ex, n, p, &t);
	if (rc < 0)
		return rc;
	struct srv_train_step s;
	while ((rc = srv_train_next(t, &s)) == 0)
		if (cb && cb(ctx, s.step, s.total_steps, s.epoch, s.mean_loss)) {
			rc = -ECANCELED;
			break;
		}
	if (rc == 1)
		*out = srv_train_take_model(t);
	srv_train_free(t);
	return rc == 1 ? 0 : rc;
}

#define POS_VERSION 1u
/* version, step, total, epochs, batch, stream epoch; n, learning rate, remaining, next, rng */
#define POS_HEADER (6 * 4 + 5 * 8)

unsigned char *srv_train_encode(const struct srv_train *t, size_t *len)
{
	size_t nn_len = nn_state_size(t->m);
	*len = POS_HEADER + 8 * t->n + nn_len;
	unsigned char *buf = train_xcalloc(*len, 1), *p = buf;
	uint32_t small[6] = {POS_VERSION,
			     (uint32_t)t->step,
			     (uint32_t)t->total,
			     (uint32_t)t->p.epoch_count,
			     (uint32_t)t->p.batch_size,
			     (uint32_t)t->st.epoch};
	for (int i = 0; i < 6; i++, p += 4)
		bytes_put_le(p, small[i], 4);
	bytes_put_le(p, t->n, 8);
	bytes_put_f64(p + 8, t->p.learning_rate);
	bytes_put_le(p + 16, t->remaining, 8);
	bytes_put_le(p + 24, t->st.next, 8);
	bytes_put_le(p + 32, t->st.rng, 8);
	p += 40;
	for (size_t i = 0; i < t->n; i++, p += 8)
		bytes_put_le(p, t->st.order[i], 8);
	nn_state_encode(t->m, p);
	return buf;
}

/* The position in buf fits the examples and parameters given, and is one the loop reaches. */
static int position_fits(const unsigned char *buf, size_t len, size_t n,
			 const struct srv_train_params *p, int total)
{
	if (len < POS_HEADER || (len - POS_HEADER) / 8 < n)
		return 0;
	uint32_t small[6];
	for (int i = 0; i < 6; i++)
		small[i] = (uint32_t)bytes_get_le(buf + 4 * i, 4);
	const unsigned char *q = buf + 24;
	size_t all = n * (size_t)p->epoch_count, seen = (size_t)small[1] * (size_t)p->batch_size;
	uint64_t remaining = bytes_get_le(q + 16, 8), next = bytes_get_le(q + 24, 8);
	return small[0] == POS_VERSION && small[1] <= (uint32_t)total &&
	       small[2] == (uint32_t)total && small[3] == (uint32_t)p->epoch_count &&
	       small[4] == (uint32_t)p->batch_size && small[5] <= (uint32_t)p->epoch_count &&
	       bytes_get_le(q, 8) == n && bytes_get_f64(q + 8) == p->learning_rate &&
	       remaining == (seen < all ? all - seen : 0) && next <= n;
}

int srv_train_decode(const unsigned char *buf, size_t len, const struct nn_example *ex, size_t n,
		     const struct srv_train_params *p, struct srv_train **out, char *why,
		     size_t why_len)
{
	if (!params_valid(ex, n, p) || !out)
		return -EINVAL;
	int total = srv_train_total_steps(n, p->epoch_count, p->batch_size);
	if (total < 0)
		return total;
	if (!position_fits(buf, len, n, p, total)) {
		snprintf(why, why_len, "its position does not fit the job's examples and settings");
		return -EINVAL;
	}
	struct srv_train *t = train_alloc(ex, n, p, total);
	const unsigned char *q = buf + 24;
	t->step = (int)bytes_get_le(buf + 4, 4);
	t->st.epoch = (int)bytes_get_le(buf + 20, 4);
	t->remaining = bytes_get_le(q + 16, 8);
	t->st.next = bytes_get_le(q + 24, 8);
	t->st.rng = bytes_get_le(q + 32, 8);
	q += 40;
	for (size_t i = 0; i < n; i++, q += 8) {
		t->st.order[i] = bytes_get_le(q, 8);
		if (t->st.order[i] >= n) {
			snprintf(why, why_len, "its example order names example %zu of %zu",
				 t->st.order[i], n);
			srv_train_free(t);
			return -EINVAL;
		}
	}
	int rc = nn_state_decode(q, len - (size_t)(q - buf), &t->m, why, why_len);
	if (rc < 0) {
		srv_train_free(t);
		return rc;
	}
	*out = t;
	return 0;
}
