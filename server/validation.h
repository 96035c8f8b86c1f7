/* validation.h - a tuning job's validation set on tunedfs-server: its examples held beside
 * the job while it trains, the set's mean loss computed at the end of every epoch with
 * the weights of that moment, and those losses kept in job.json. No HTTP: a family reads
 * the set from its request and prints the losses in its own JSON. */
#ifndef TUNEDFS_SERVER_VALIDATION_H
#define TUNEDFS_SERVER_VALIDATION_H

#include <stddef.h>

#include "server/store.h"
#include "server/train.h"

/* The validation state of a training: the examples as the trainer reads them. */
struct srv_validation {
	struct nn_example *ex;
	size_t n;
	long n_train;
	int batch_size;
};

/* From m's validation examples (none: n stays 0). Reads m before the job runs. */
void srv_validation_begin(const struct srv_model *m, struct srv_validation *v);
/* After step s: for every epoch that step completed, the set's loss appended to m (under
 * the store's lock, its update time moved so that its JSON is printed anew). */
void srv_validation_step(struct srv_store *st, struct srv_model *m, struct srv_train *t,
			 const struct srv_validation *v, const struct srv_train_step *s);
void srv_validation_end(struct srv_validation *v);

#endif
