/* model_table_lookup.c - a name not in the model table: asked of the service from a thread of its
 * own and waited for no longer than -o lookup_timeout, misses remembered for a while
 * (negcache.h). Holds no state of its own beyond struct model_table's lookup fields. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "base/clock.h"
#include "cache/model_index.h"
#include "cache/model_table_impl.h"
#include "cache/negcache.h"

/* Waits (up to about lookup_timeout) for the first listing that may tell a submitted draft's fate,
 * so a fresh mount does not show CREATING for a model that finished meanwhile. */
static void settle(struct model_table *t, const char *id, struct model_table_attr *out)
{
	struct model_table_entry *e;
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(t->o.lookup_timeout > 0 ? t->o.lookup_timeout + 0.5 : 2);
	pthread_mutex_lock(&t->mu);
	while ((e = model_table_find(t, id)) && e->unverified && t->started && !t->stopping) {
		if (pthread_cond_timedwait(&t->changed, &t->mu, &until) == ETIMEDOUT)
			break;
	}
	if (e)
		model_table_fill_attr(e, out);
	pthread_mutex_unlock(&t->mu);
}

/* Asks the service for id and publishes what it says; a lookup's own thread. */
static void lookup_fetch(struct model_table *t, const char *id)
{
	struct tuned_model m = {0};
	struct backend_error err = {0};
	int rc;

	rc = backend_get(t->o.backend, id, &m, &t->bg_cancel, &err);
	pthread_mutex_lock(&t->mu);
	if (rc == 0) {
		struct model_table_entry *e = model_table_insert(t, id);
		e->seq = ++t->seq;
		model_table_entry_set_model(t, e, &m);
		if (e->state == MODEL_TABLE_CREATING)
			model_table_kick(t);
	} else if (!model_table_find(t, id)) { /* not made meanwhile (mkdir) */
		negcache_add(&t->neg, id);
	}
	pthread_mutex_unlock(&t->mu);
	tuned_model_clear(&m);
}

struct lookup_arg {
	struct model_table *t;
	char *id;
};

static void *lookup_thread(void *p)
{
	struct lookup_arg *a = p;
	struct model_table *t = a->t;

	lookup_fetch(t, a->id);
	backend_thread_end();
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n_lookups; i++) {
		if (strcmp(t->lookups[i], a->id) == 0) {
			free(t->lookups[i]);
			t->lookups[i] = t->lookups[--t->n_lookups];
			break;
		}
	}
	t->lookup_threads--;
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
	free(a->id);
	free(a);
	return NULL;
}

static int lookup_going_now(struct model_table *t, const char *id)
{
	for (size_t i = 0; i < t->n_lookups; i++)
		if (strcmp(t->lookups[i], id) == 0)
			return 1;
	return 0;
}

/* Whether a lookup of id is under way; starts one when not (and there is room). Under mu. */
static int lookup_going(struct model_table *t, const char *id)
{
	struct lookup_arg *a;
	pthread_attr_t attr;
	pthread_t th;
	int ok;

	if (lookup_going_now(t, id))
		return 1;
	if (t->n_lookups >= 64 || t->stopping)
		return 0; /* a storm of unknown names: the rest are not known */
	a = xmalloc(sizeof *a);
	a->t = t;
	a->id = xstrdup(id);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&th, &attr, lookup_thread, a) == 0;
	pthread_attr_destroy(&attr);
	if (!ok) {
		free(a->id);
		free(a);
		return 0;
	}
	t->lookups = xrealloc(t->lookups, (t->n_lookups + 1) * sizeof *t->lookups);
	t->lookups[t->n_lookups++] = xstrdup(id);
	t->lookup_threads++;
	t->stats.lookups++;
	return 1;
}

int model_table_lookup(struct model_table *t, const char *id, struct model_table_attr *out)
{
	double deadline = model_table_now() + (t->o.lookup_timeout > 0 ? t->o.lookup_timeout : 2);
	struct model_table_entry *e;
	char why[200];
	int rc = -ENOENT;

	if (model_table_attr(t, id, out) == 0) {
		if (out->state == MODEL_TABLE_CREATING)
			settle(t, id, out);
		return 0;
	}
	if (!t->o.backend || !backend_check_id(t->o.backend, id, why, sizeof why))
		return -ENOENT;
	/* With the service unreachable (the last listing failed) an unknown name is not
	 * asked for. Else the question goes to a thread of its own, and this waits for its
	 * answer only up to lookup_timeout: then it answers from what is known, and the
	 * answer, when it comes, is in the table for the next lookup. */
	pthread_mutex_lock(&t->mu);
	if (!negcache_has(&t->neg, id) && t->list_tries == 0 && lookup_going(t, id)) {
		while (!model_table_find(t, id) && lookup_going_now(t, id) && !t->stopping &&
		       model_table_now() < deadline) {
			struct timespec ts = clock_deadline_in(50);
			pthread_cond_timedwait(&t->changed, &t->mu, &ts);
		}
	}
	e = model_table_find(t, id);
	if (e) {
		model_table_fill_attr(e, out);
		rc = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}
