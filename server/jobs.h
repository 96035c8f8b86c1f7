/* jobs.h - the tuning job runner of tunedfs-server: a bounded pool of worker threads,
 * separate from the HTTP threads, that trains queued jobs and publishes their progress
 * (snapshots, completed steps, final state) into the store. No HTTP, no JSON. */
#ifndef TUNEDFS_SERVER_JOBS_H
#define TUNEDFS_SERVER_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

struct srv_jobs;

/* The base learning rate (Adam's): a learning-rate multiplier of 1 trains at this. */
#define SRV_DEFAULT_LR 0.001
/* The batch size a job gets when its request names none: 4, or 16 above 500 examples. */
int srv_jobs_default_batch(long n_examples);

/* Starts n_workers threads (n_workers >= 1). seed != 0 makes training reproducible. */
int srv_jobs_start(struct srv_store *st, int n_workers, uint64_t seed, struct srv_jobs **out);
/* Keeps ex beside m's job.json, persists m (CREATING, inserted in the store) and queues
 * its training; takes ownership of ex. The examples are written before the record, so a
 * job whose record a restart finds can always resume. */
void srv_jobs_submit(struct srv_jobs *j, struct srv_model *m, struct srv_example *ex, size_t n);
/* srv_jobs_submit when msg is NULL; else a dataset that is there but wrong: ends m
 * FAILED at once with code 3 (INVALID_ARGUMENT) and msg (taken), persists it and frees
 * ex, so that the job fails, not the call. */
void srv_jobs_submit_or_fail(struct srv_jobs *j, struct srv_model *m, char *msg,
			     struct srv_example *ex, size_t n);
/* How often a running job writes its checkpoint (default SRV_CHECKPOINT_EVERY_MS). */
#define SRV_CHECKPOINT_EVERY_MS 3000
void srv_jobs_checkpoint_every(struct srv_jobs *j, long ms);
/* Queues every job the store left CREATING at load, in creation order: each goes on from
 * its checkpoint (or from step 1 without one). Returns how many. */
size_t srv_jobs_resume(struct srv_jobs *j);
/* Tells the running jobs to checkpoint and stop, and the workers to take no more from the
 * queue (a job submitted from now on waits there for srv_jobs_stop), without waiting. */
void srv_jobs_quiesce(struct srv_jobs *j);
/* Stops every job and joins the workers: a running job with kept examples writes a last
 * checkpoint and stays CREATING, as do queued ones with kept examples (both resume at the
 * next start); the others end FAILED with the reason. */
void srv_jobs_stop(struct srv_jobs *j);
/* Counters for /debug/stats. */
void srv_jobs_counts(struct srv_jobs *j, unsigned long *queued, unsigned long *running,
		     unsigned long *done);

#endif
