/* test_nn_grad.c - checks the byte model's analytic gradients against central finite
 * differences, group by group (embeddings, every layer's matrices, norms, biases, head),
 * on a tiny model and a batch whose second example overflows the context. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/nn.h"
#include "nn_check.h"

#define SAMPLES_TOP 12 /* largest analytic gradients of a group */
#define SAMPLES_RAND                                                                               \
	12	   /* plus random entries, so a gradient missing where it should be                \
		    * non-zero shows up too */
#define BOUND 0.02 /* relative error of a group; a 10% scale error must fail it */

static uint64_t rng_state = 42;

static double uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

struct check {
	double diff2, num2, ana2, wrong2;
};

static void check_param(struct nn_model *m, const struct nn_example *b, size_t n, size_t i,
			struct check *c)
{
	const float eps = 1e-2f;
	float *p = nn_param(m, i), keep = *p;
	*p = keep + eps;
	double up = nn_loss(m, b, n);
	*p = keep - eps;
	double down = nn_loss(m, b, n);
	*p = keep;
	double num = (up - down) / (2.0 * (double)eps);
	double ana = nn_grad(m, i);
	c->diff2 += (num - ana) * (num - ana);
	c->wrong2 += (num - 1.1 * ana) * (num - 1.1 * ana);
	c->num2 += num * num;
	c->ana2 += ana * ana;
}

static int check_group(struct nn_model *m, const struct nn_example *b, size_t n,
		       const struct nn_param_group *g)
{
	struct check c = {0};
	size_t picked[SAMPLES_TOP + SAMPLES_RAND], np = 0;
	/* the largest |gradient| entries, found by repeated scans (groups are small) */
	for (int k = 0; k < SAMPLES_TOP && (size_t)k < g->count; k++) {
		size_t best = SIZE_MAX;
		for (size_t i = g->offset; i < g->offset + g->count; i++) {
			int taken = 0;
			for (size_t q = 0; q < np; q++)
				taken |= picked[q] == i;
			if (!taken &&
			    (best == SIZE_MAX || fabsf(nn_grad(m, i)) > fabsf(nn_grad(m, best))))
				best = i;
		}
		picked[np++] = best;
	}
	for (int k = 0; k < SAMPLES_RAND; k++)
		picked[np++] = g->offset + (size_t)(uniform() * (double)g->count);
	for (size_t q = 0; q < np; q++)
		check_param(m, b, n, picked[q], &c);
	double scale = sqrt(c.num2 > c.ana2 ? c.num2 : c.ana2);
	double err = sqrt(c.diff2) / scale, wrong = sqrt(c.wrong2) / scale;
	printf("%-14s n=%-5zu |g|=%.3e rel.err=%.2e (10%%-off gradient: %.2e)\n", g->name, g->count,
	       sqrt(c.ana2), err, wrong);
	if (!(sqrt(c.ana2) > 1e-5)) {
		printf("  FAIL: gradient of %s is zero, the check would be empty\n", g->name);
		return 1;
	}
	if (!(err < BOUND) || !(wrong > BOUND)) {
		printf("  FAIL: %s\n", g->name);
		return 1;
	}
	return 0;
}

int main(void)
{
	struct nn_dims d = {8, 2, 2, 16, 16};
	struct nn_model *m;
	CHECK(nn_model_new_dims(&d, 7, &m) == 0);
	/* Move every weight off its initial value (gains off 1, biases off 0), so each
	 * group's gradient is generic rather than a special case of the initialisation. */
	for (size_t i = 0; i < nn_param_count(m); i++)
		*nn_param(m, i) += (float)(0.6 * (uniform() - 0.5));
	static const char long_in[] = "a long input that cannot fit the sixteen byte context";
	struct nn_example batch[3] = {
	    {"ab", 2, "cd", 2},
	    {long_in, sizeof(long_in) - 1, "xyz", 3},
	    {"q", 1, "an output longer than the context window", 40},
	};
	double loss;
	CHECK(nn_backward(m, batch, 3, &loss) == 0);
	double again = nn_loss(m, batch, 3);
	printf("loss %.6f (forward only: %.6f)\n", loss, again);
	CHECK(fabs(loss - again) < 1e-9);

	struct nn_param_group groups[64];
	size_t ng = nn_param_groups(m, groups, 64);
	CHECK(ng == 2 + 12 * 2 + 4);
	size_t covered = 0;
	int failures = 0;
	for (size_t k = 0; k < ng; k++) {
		CHECK(groups[k].offset == covered);
		covered += groups[k].count;
		failures += check_group(m, batch, 3, &groups[k]);
	}
	CHECK(covered == nn_param_count(m));
	nn_model_free(m);
	printf("%d of %zu groups failed\n", failures, ng);
	return failures ? 1 : 0;
}
