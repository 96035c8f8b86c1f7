/* model_table_batch.h - spool prompts gathered into batches of the service (-o batch_min),
 * model_table_batch.c. Its jobs are the answers' (model_table_gen.h). */
#ifndef TUNEDFS_MODEL_TABLE_BATCH_H
#define TUNEDFS_MODEL_TABLE_BATCH_H

#include "cache/model_table_impl.h"

struct model_table_job;

/* A new queued spool job j: held a moment for others to join (0: it waits in the queue).
 * Under t->mu. */
int model_table_batch_gather(struct model_table *t, struct model_table_job *j);
/* Spools whose gathering ended: batch_min or more prompts go as one batch, fewer are
 * left to the workers. Under t->mu, before a worker picks a job. */
void model_table_batch_due(struct model_table *t);
/* Whether some job waits to be gathered (workers wait for it). Under t->mu. */
int model_table_batch_held(struct model_table *t);
/* Batches of id a killed mount left: their jobs are made and followed again. Not under mu. */
void model_table_batch_resume(struct model_table *t, const char *id);
void model_table_batch_stop(struct model_table *t); /* not under mu */
void model_table_batch_free(struct model_table *t);
/* prompts/NAME of id was unlinked: a batch none of whose unanswered prompts is left in the
 * spool is cancelled on the service (unless a prompt left there, renamed, still asks for
 * one of its answers). Not under mu. */
void model_table_batch_unlinked(struct model_table *t, const char *id, const char *name);
/* id is being removed: its batches are cancelled on the service and their threads awaited,
 * the prompts gathering for one dropped. Not under mu. */
void model_table_batch_drop(struct model_table *t, const char *id);

/* The eight above, for struct model_table's batch member. */
extern const struct model_table_batch_ops model_table_batch_ops;

#endif
