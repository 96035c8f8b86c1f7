/* resume.h - how a tuning job of tunedfs-server outlives the server: its examples kept when
 * it is queued, and at the next start read back with its latest checkpoint so that the
 * training goes on from there. Uses the store's files and checkpoint.h's formats; the
 * queue, threads and when to checkpoint are jobs.c's. */
#ifndef TUNEDFS_SERVER_RESUME_H
#define TUNEDFS_SERVER_RESUME_H

#include <stddef.h>

#include "server/store.h"
#include "server/train.h"

/* Writes examples.bin for m; 0, or -errno (logged) when the job could not resume. */
int srv_resume_keep_examples(struct srv_store *st, struct srv_model *m,
			     const struct srv_example *ex, size_t n);
/* Reads them back; -errno (logged with the reason) when they are missing or damaged. */
int srv_resume_load_examples(struct srv_store *st, struct srv_model *m, struct srv_example **ex,
			     size_t *n);
/* The training of m over ex as its checkpoint left it, its snapshots cut back to the
 * checkpoint's step (those after it are done again); without a usable checkpoint (none,
 * or cut, corrupt, or not of these examples: logged) a fresh one from step 1 with no
 * snapshots. Persists job.json. 0 or -errno from the trainer. */
int srv_resume_training(struct srv_store *st, struct srv_model *m, const struct nn_example *ex,
			size_t n, const struct srv_train_params *p, struct srv_train **out);

#endif
