/* model_table_answers.c - the answers' own state (model_table_answers.h): its lock and
 * condition, the references to a job, and the answers' stop at unmount. The jobs' work is
 * model_table_gen.c's, the ring of finished ones model_table_results.c's. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_impl.h"

void model_table_answers_init(struct model_table_answers *a)
{
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, NULL);
	clock_cond_init(&a->cond);
	clock_cond_init(&a->work);
}

void model_table_answers_destroy(struct model_table_answers *a)
{
	for (size_t i = 0; i < a->n_results; i++)
		free(a->results[i].json);
	free(a->results);
	a->results = NULL;
	a->n_results = 0;
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->mu);
}

void model_table_answers_tick(struct model_table_answers *a)
{
	model_table_tick_on(&a->cond, &a->mu);
}

void model_table_job_unref(struct model_table *t, struct model_table_job *j)
{
	int last;

	pthread_mutex_lock(&t->ans.mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&t->ans.mu);
	if (!last)
		return;
	free(j->id);
	tuned_model_clear(&j->model);
	free(j->prompt);
	generation_settings_clear(&j->gs);
	free(j->json);
	free(j->partial);
	free(j->spool_name);
	free(j);
}

void model_table_gen_stop(struct model_table *t)
{
	struct model_table_answers *a = &t->ans;
	struct model_table_job *left;

	t->batch->stop(t);
	pthread_mutex_lock(&t->mu);
	t->stopping = 1;
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	for (struct model_table_job *j = a->jobs; j; j = j->next)
		atomic_store(&j->cancel.cancelled, 1);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_cond_broadcast(&a->work);
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_lock(&a->mu); /* the workers need t->mu to end: not held here */
	while (a->threads > 0)
		pthread_cond_wait(&a->cond, &a->mu);
	pthread_mutex_unlock(&a->mu);
	/* jobs still queued: nobody will take them now */
	pthread_mutex_lock(&t->mu);
	pthread_mutex_lock(&a->mu);
	left = a->jobs;
	a->jobs = NULL;
	for (struct model_table_job *j = left; j; j = j->next) {
		j->done = 1;
		j->rc = -EINTR;
	}
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	while (left) {
		struct model_table_job *j = left;
		left = j->next;
		model_table_job_unref(t, j);
	}
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
}

void model_table_gen_free(struct model_table *t)
{
	t->batch->free(t);
	model_table_answers_destroy(&t->ans);
}
