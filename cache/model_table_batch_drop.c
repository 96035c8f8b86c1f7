/* model_table_batch_drop.c - batches whose prompts nobody will read: cancelled on the
 * service when every prompt a batch still answers is unlinked from the spool (rm of the
 * prompts, or the unlinks of rm -r) or its model is removed, their jobs ended unanswered,
 * their notes removed, and followed until they stop so that what the service stored for
 * them is deleted. Sending and following batches is model_table_batch.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cache/model_index.h"
#include "cache/model_table_batch.h"
#include "cache/model_table_batch_impl.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_log.h"
#include "cache/model_table_spool.h"
#include "cache/spool.h"

/* Polls of a cancelled batch until it stops: from this gap, doubling, up to the mount's
 * poll interval; failed looks in a row before it is left as it is. */
#define TIDY_FIRST_GAP	0.2
#define TIDY_MAX_MISSES 5

void model_table_batch_release(struct model_table_batch *bt)
{
	free(bt->id);
	tuned_model_clear(&bt->model);
	free(bt->name);
	free(bt->jobs);
	free(bt->failure);
	for (size_t i = 0; i < bt->n; i++)
		free(bt->names[i]);
	free(bt->names);
	free(bt->gone);
	free(bt);
}

/* Whether a batch dropped for its prompts' unlinks still answers a prompt of the spool (one
 * renamed, or another of the same text): that prompt is followed instead. Not under mu. */
int model_table_batch_wanted(struct model_table *t, struct model_table_batch *bt)
{
	char **names = NULL, *data, why[100], key[RCACHE_KEY_HEX];
	struct model_table_entry *e;
	size_t n = 0, len;
	int wanted = 0;

	pthread_mutex_lock(&t->mu);
	wanted = bt->dropped == 1 && !atomic_load(&bt->halt.cancelled);
	pthread_mutex_unlock(&t->mu);
	if (!wanted || model_table_spool_names(t, bt->id, &names, &n) < 0)
		return 0;
	wanted = 0;
	for (size_t k = 0; k < n; k++) {
		data = NULL;
		if (model_table_spool_read(t, bt->id, names[k], &data, &len) == 0 &&
		    model_table_spool_prompt(data, &len, why, sizeof why) == 0) {
			data[len] = 0;
			pthread_mutex_lock(&t->mu);
			if ((e = model_table_find(t, bt->id)))
				model_table_gen_key(t, e, data, key);
			for (size_t i = 0; e && i < bt->n; i++)
				if (bt->jobs[i] && strcmp(bt->jobs[i]->key, key) == 0) {
					free(bt->names[i]);
					bt->names[i] = xstrdup(names[k]);
					bt->gone[i] = 0;
					wanted = 1;
				}
			pthread_mutex_unlock(&t->mu);
		}
		free(data);
	}
	model_table_names_free(names, n);
	return wanted;
}

/* The jobs of a dropped batch end unanswered (their prompts are gone), but for one that
 * `prompt` asked as well when the model stays: that one is asked online. Under t->mu. */
static void batch_end_jobs(struct model_table *t, struct model_table_batch *bt)
{
	struct generation_answer none = {0};
	struct backend_error err = {0};
	int online = 0;

	for (size_t i = 0; i < bt->n; i++) {
		struct model_table_job *j = bt->jobs[i];
		if (!j)
			continue;
		bt->jobs[i] = NULL;
		j->batch = NULL;
		if (j->asked_plainly && bt->dropped == 1) {
			/* the batch's reference is the queue's again */
			j->started = 0;
			j->held_at = j->hold_until = 0;
			free(j->spool_name);
			j->spool_name = NULL;
			online = 1;
			continue;
		}
		model_table_job_finish(t, j, -ECANCELED, &none, &err);
		model_table_job_unref(t, j);
	}
	if (online)
		model_table_job_workers(t);
	pthread_cond_broadcast(&t->changed);
}

/* Waits gap seconds, or less when the mount stops: 0, or -EINTR. */
static int tidy_sleep(struct model_table *t, struct model_table_batch *bt, double gap)
{
	double until = model_table_now() + gap;

	pthread_mutex_lock(&t->mu);
	while (!atomic_load(&bt->halt.cancelled) && model_table_now() < until)
		model_table_tick(t);
	pthread_mutex_unlock(&t->mu);
	return atomic_load(&bt->halt.cancelled) ? -EINTR : 0;
}

/* A cancelled batch is followed until it has stopped, and its results read and dropped:
 * that is when a backend deletes what it stored for it (Vertex: its input and output
 * objects; Gemini: its uploaded input file). Ends early when the mount stops. */
static void batch_tidy(struct model_table *t, struct model_table_batch *bt, const char *name)
{
	double gap = TIDY_FIRST_GAP, cap = t->o.poll_interval > gap ? t->o.poll_interval : gap;
	struct backend_error err = {0};
	struct batch_result *v = NULL;
	size_t n = 0;
	int misses = 0, rc, stopped;

	for (;;) {
		struct batch_status st = {0};
		rc = backend_batch_get(t->o.backend, name, &st, &bt->halt, &err);
		stopped = rc == 0 && st.state >= BATCH_SUCCEEDED;
		batch_status_clear(&st);
		if (stopped)
			break;
		if (rc == -EINTR || (rc < 0 && ++misses >= TIDY_MAX_MISSES) ||
		    tidy_sleep(t, bt, gap) < 0)
			return;
		gap = gap * 2 < cap ? gap * 2 : cap;
	}
	backend_batch_results(t->o.backend, name, &v, &n, &bt->halt, &err);
	batch_results_free(v, n);
}

/* Cancels bt on the service (found first when its submit was cut short): 0 when it is
 * cancelled or had ended, *name the service's name of it when known. */
static int batch_cancel(struct model_table *t, struct model_table_batch *bt, char **name,
			struct backend_error *err)
{
	struct batch_status st = {0};
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	*name = bt->name ? xstrdup(bt->name) : NULL;
	pthread_mutex_unlock(&t->mu);
	if (!*name && bt->tried) /* its submit may have reached the service */
		rc =
		    backend_batch_find(t->o.backend, &bt->model, bt->display, name, &bt->halt, err);
	if (*name)
		rc = backend_batch_cancel(t->o.backend, *name, &bt->halt, err);
	if (*name && rc < 0 && rc != -EINTR &&
	    backend_batch_get(t->o.backend, *name, &st, &bt->halt, err) == 0 &&
	    st.state >= BATCH_SUCCEEDED)
		rc = 0; /* it had ended by itself */
	batch_status_clear(&st);
	return rc;
}

void model_table_batch_abandon(struct model_table *t, struct model_table_batch *bt, int ended)
{
	struct backend_error err = {0};
	char *name = NULL;
	int rc = ended ? 0 : batch_cancel(t, bt, &name, &err);

	if (rc < 0 && rc != -ENOENT)
		model_table_logf(t, LOG_WARNING, "%s: batch %s was not cancelled: %s", bt->id,
				 name ? name : bt->display,
				 err.message[0] ? err.message : strerror(-rc));
	else if (name)
		model_table_logf(t, LOG_INFO, "%s: batch %s cancelled: its prompts were removed",
				 bt->id, name);
	pthread_mutex_lock(&t->mu);
	if (rc == 0 && !ended && bt->state < BATCH_SUCCEEDED)
		bt->state = BATCH_CANCELLED; /* what responses/batch says from now */
	batch_end_jobs(t, bt);
	bt->settled = 1; /* a removal waiting for it goes on */
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
	if (rc != -EINTR || !atomic_load(&bt->halt.cancelled))
		spool_note_unlink(t->o.spool, bt->id, bt->tag);
	if (rc == 0 && name)
		batch_tidy(t, bt, name);
	free(name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void model_table_batch_orphans(struct model_table *t, struct model_table_batch *bt)
{
	char **names = NULL;
	size_t n = 0;
	int left = 0;

	if (model_table_spool_names(t, bt->id, &names, &n) < 0)
		return;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < bt->n; i++) {
		if (!bt->jobs[i] || bt->gone[i])
			continue;
		if (n && bsearch(&bt->names[i], names, n, sizeof *names, by_name))
			left++;
		else
			bt->gone[i] = 1;
	}
	if (!left && !bt->dropped) { /* every prompt went while it gathered */
		bt->dropped = 1;
		atomic_store(&bt->cancel.cancelled, 1);
	}
	pthread_mutex_unlock(&t->mu);
	model_table_names_free(names, n);
}

void model_table_batch_unlinked(struct model_table *t, const char *id, const char *name)
{
	pthread_mutex_lock(&t->mu);
	for (struct model_table_batch *bt = t->batches; bt; bt = bt->next) {
		int hit = 0, left = 0;
		if (!bt->running || bt->dropped || strcmp(bt->id, id) != 0)
			continue;
		for (size_t i = 0; i < bt->n; i++) {
			if (!bt->jobs[i] || bt->gone[i])
				continue;
			if (strcmp(bt->names[i], name) == 0)
				bt->gone[i] = hit = 1;
			else
				left++;
		}
		if (hit && !left) { /* nobody will read its answers */
			bt->dropped = 1;
			atomic_store(&bt->cancel.cancelled, 1);
		}
	}
	pthread_mutex_unlock(&t->mu);
}

/* The first job of id gathering for a batch, ended unasked. Under t->mu. */
static int drop_held(struct model_table *t, const char *id)
{
	struct generation_answer none = {0};
	struct backend_error err = {0};

	for (struct model_table_job *j = t->ans.jobs; j; j = j->next)
		if (!j->started && j->spool_name && j->held_at > 0 && strcmp(j->id, id) == 0) {
			j->held_at = j->hold_until = 0;
			model_table_job_finish(t, j, -ECANCELED, &none, &err);
			model_table_job_unref(t, j); /* the queue's */
			return 1;
		}
	return 0;
}

void model_table_batch_drop(struct model_table *t, const char *id)
{
	int running;

	pthread_mutex_lock(&t->mu);
	while (drop_held(t, id))
		;
	do { /* until each is cancelled (its tidying up may go on) or has ended */
		running = 0;
		for (struct model_table_batch *bt = t->batches; bt; bt = bt->next)
			if (bt->running && !bt->settled && !bt->removed &&
			    strcmp(bt->id, id) == 0) {
				bt->dropped = 2;
				atomic_store(&bt->cancel.cancelled, 1);
				running = 1;
			}
		if (running)
			pthread_cond_wait(&t->changed, &t->mu);
	} while (running);
	for (struct model_table_batch **p = &t->batches; *p;) {
		struct model_table_batch *bt = *p;
		if (bt->running && strcmp(bt->id, id) == 0) {
			bt->removed = 1; /* no longer the model's; freed at unmount */
			p = &bt->next;
		} else if (strcmp(bt->id, id) == 0) {
			*p = bt->next;
			model_table_batch_release(bt);
		} else {
			p = &bt->next;
		}
	}
	pthread_mutex_unlock(&t->mu);
}
