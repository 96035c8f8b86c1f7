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
/* Queues training of m (CREATING, already persisted) on ex; takes ownership of ex. */
void srv_jobs_submit(struct srv_jobs *j, struct srv_model *m, struct srv_example *ex, size_t n);
/* Stops every job (marking cut ones FAILED with the reason) and joins the workers. */
void srv_jobs_stop(struct srv_jobs *j);
/* Counters for /debug/stats. */
void srv_jobs_counts(struct srv_jobs *j, unsigned long *queued, unsigned long *running,
		     unsigned long *done);

#endif
