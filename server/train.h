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

/* A training under way: the model and where it stands in the stream of examples. It
 * points into the caller's examples, which must outlive it. */
struct srv_train;
struct srv_train_step {
	int step, total_steps, epoch;
	double mean_loss;
};
/* A fresh training (weights from p->seed); -EINVAL on bad input. */
int srv_train_new(const struct nn_example *ex, size_t n, const struct srv_train_params *p,
		  struct srv_train **out);
/* Trains one step: 0 and *out filled, 1 when every step is done already, or -errno. */
int srv_train_next(struct srv_train *t, struct srv_train_step *out);
/* The whole state (position in the stream, shuffle state, weights, Adam's moments) as a
 * heap buffer of *len bytes; decoding it over the same examples and parameters gives a
 * training whose next steps are exactly those the encoded one would have taken. Decoding
 * bytes that do not fit them returns -EINVAL and a reason in why. */
unsigned char *srv_train_encode(const struct srv_train *t, size_t *len);
int srv_train_decode(const unsigned char *buf, size_t len, const struct nn_example *ex, size_t n,
		     const struct srv_train_params *p, struct srv_train **out, char *why,
		     size_t why_len);
/* Steps done so far, and in all. */
int srv_train_steps_done(const struct srv_train *t);
int srv_train_total_of(const struct srv_train *t);
/* The mean loss per target byte of examples under the weights as they are now, without
 * training on them (a validation set's); NAN when it cannot be computed. */
double srv_train_loss(struct srv_train *t, const struct nn_example *ex, size_t n);
/* The trained model, now the caller's (NULL once taken). */
struct nn_model *srv_train_take_model(struct srv_train *t);
void srv_train_free(struct srv_train *t);

/* trains a fresh model; 0 and *out, -ECANCELED if the callback stopped it, other -errno.
 * Steps are 1-based; examples are visited in a seeded shuffled order epoch by epoch and a
 * batch may straddle two epochs; a step's epoch (1-based) is that of its last example. */
int srv_train_run(const struct nn_example *ex, size_t n, const struct srv_train_params *p,
		  srv_train_step_fn cb, void *ctx, struct nn_model **out);

#endif
