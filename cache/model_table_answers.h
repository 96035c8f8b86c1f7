/* model_table_answers.h - the answers' own state and lock (model_table_answers.c; used by
 * model_table_gen.c and model_table_results.c): the queue of generation jobs, the count of workers
 * serving it (at most max_requests) and the ring of the latest finished. Only the state is here;
 * the jobs and their functions are in model_table_gen.h. */
#ifndef TUNEDFS_MODEL_TABLE_ANSWERS_H
#define TUNEDFS_MODEL_TABLE_ANSWERS_H

#include <pthread.h>
#include <stddef.h>

struct model_table_job;
struct model_table_result;

/* Lock order: the table's mu may be held when mu here is taken, never the other way
 * round: nothing that takes the table's mu is called under mu here, so a reader waits for
 * an answer on cond without holding the table. "both" below: changed with the table's mu
 * and mu here held, so either one is enough to read it. */
struct model_table_answers {
	pthread_mutex_t mu;
	pthread_cond_t cond;	      /* under mu: a job ended, streamed more, or a worker left */
	struct model_table_job *jobs; /* both: queued and running, oldest first */
	int threads;		      /* both: workers running (at most max_requests) */
	/* A worker with no job waits on work (under the table's mu) a while before it
	 * leaves, so a script's next prompt finds a thread instead of starting one. */
	pthread_cond_t work; /* the table's mu: a job for an idle worker, or the stop */
	int idle;	     /* the table's mu: workers waiting on work */
	int wakes;	     /* the table's mu: signals sent on work not yet taken */
	int stopping;	     /* under mu: the mount stops, waiters give up */
	struct model_table_result *results; /* under mu: the latest finished, a ring */
	size_t n_results, next_result;	    /* under mu */
};

void model_table_answers_init(struct model_table_answers *a);
/* Frees the ring; the queue is empty by then (model_table_gen_stop). */
void model_table_answers_destroy(struct model_table_answers *a);
/* Waits on a->cond under a->mu for at most a tenth of a second (a waiter's tick). */
void model_table_answers_tick(struct model_table_answers *a);

#endif
