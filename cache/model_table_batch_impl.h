/* model_table_batch_impl.h - a batch of the batch client as its two files share it:
 * model_table_batch.c sends, follows and collects it; model_table_batch_drop.c cancels it
 * when its prompts or its model are removed. Not for the rest of cache/. */
#ifndef TUNEDFS_MODEL_TABLE_BATCH_IMPL_H
#define TUNEDFS_MODEL_TABLE_BATCH_IMPL_H

#include "cache/model_table_impl.h"

/* Under the table's mu unless said. */
struct model_table_batch {
	struct model_table_batch *next;
	struct model_table *t;
	char *id;
	struct tuned_model model;
	char tag[32];	  /* of its note, and in its display name */
	char display[48]; /* "tunedfs-TAG": how a lost submit is found */
	char *name;	  /* the service's, NULL until known */
	struct model_table_job **jobs;
	size_t n;
	enum batch_state state;
	long total, done, failed;
	long tokens, answered, online;
	char *failure;
	int recovered;
	struct backend_cancel cancel; /* its requests: the mount stops, or it is dropped */
	struct backend_cancel halt;   /* the cancel request of a dropped one: the mount stops */
	int running;		      /* its thread has not ended */
	int dropped;		      /* 1: its prompts were unlinked; 2: its model is removed */
	char **names;		      /* per job: the spool prompt it answers */
	unsigned char *gone;	      /* ... unlinked since */
	int settled;		      /* dropped: cancelled (or not), its jobs ended */
	int removed;		      /* its model was removed: found by no lookup of id */
	int tried;		      /* its thread's: a submit (or a look for one) was started */
};

void model_table_batch_release(struct model_table_batch *bt); /* its memory; not listed */
/* Whether a batch dropped for its prompts' unlinks still answers a prompt left in the spool
 * (one renamed, or another of the same text): that prompt is followed instead, and the
 * batch goes on. Not under mu. */
int model_table_batch_wanted(struct model_table *t, struct model_table_batch *bt);
/* A new batch's prompts that left the spool while it gathered are marked gone; none left:
 * it is dropped before it is sent. Not under mu. */
void model_table_batch_orphans(struct model_table *t, struct model_table_batch *bt);
/* A dropped batch: cancelled on the service unless it ended, its jobs ended unanswered,
 * its note removed (then settled), and a cancelled one followed until it stops and its
 * results read and dropped, so the backend deletes what it stored for it. Not under mu. */
void model_table_batch_abandon(struct model_table *t, struct model_table_batch *bt, int ended);

#endif
