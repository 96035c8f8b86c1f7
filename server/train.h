/* train.h - runs one tuning job's training loop over the small byte-level model of nn.h:
 * step counting, the seeded per-epoch shuffle, batching and the per-step callback.
 * Holds no threads, queues or HTTP; the worker pool and the job store call into it. */
#ifndef TUNEDFS_TRAIN_H
#define TUNEDFS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "server/nn.h"

struct srv_train_params {
	int epoch_count;
	int batch_size;
	double learning_rate; /* the optimiser's (Adam's) rate, used as given */
	uint64_t seed;	      /* weights and shuffle order */
};

/* called after every step; return nonzero to stop early (shutdown/cancel) */
typedef int (*srv_train_step_fn)(void *ctx, int step, int total_steps, int epoch, double mean_loss);

/* ceil(n * e / b); -EINVAL for a non-positive count, -EOVERFLOW past INT_MAX */
int srv_train_total_steps(size_t n_examples, int epoch_count, int batch_size);

/* trains a fresh model; 0 and *out, -ECANCELED if the callback stopped it, other -errno.
 * Steps are 1-based; examples are visited in a seeded shuffled order epoch by epoch and a
 * batch may straddle two epochs; a step's epoch (1-based) is that of its last example. */
int srv_train_run(const struct nn_example *ex, size_t n, const struct srv_train_params *p,
		  srv_train_step_fn cb, void *ctx, struct nn_model **out);

#endif
