/* model_table_poll.c - the model table's background thread: submits the creates of drafts,
 * re-lists when someone looked at a stale table, polls CREATING models through the
 * backend's progress. Network calls run without the lock; results are published under it.
 * Answers (generateContent) are not here: model_table_gen.c. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/clock.h"
#include "cache/draft.h"
#include "cache/model_index.h"
#include "cache/model_table_poll.h"
#include "cache/rcache.h"
#include "cache/model_table_spool.h"
#include "cache/model_table_store.h"
#include "cache/model_table_user.h"
#include "cache/sessions.h"
#include "cache/model_table_eval.h"
#include "cache/model_table_impl.h"
#include "cache/spec.h"

/* Erases an entry the service no longer has; options.changed hears of it. Under t->mu. */
static void erase_gone(struct model_table *t, const char *id)
{
	t->gone = xrealloc(t->gone, (t->n_gone + 1) * sizeof *t->gone);
	t->gone[t->n_gone++] = xstrdup(id);
	model_table_user_drop(t, id);
	model_table_sess_drop(&t->sess, id);
	model_table_erase(t, id);
}

static int transient(int rc)
{
	return rc == -EIO || rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR ||
	       rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH;
}

static int by_name(const void *a, const void *b)
{
	const struct tuned_model *x = a, *y = b;
	return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

/* The listing's models are parsed on a thread of their own (list_thread), so the pages'
 * parse trees and the models' strings live in an allocator arena of that thread; the
 * table keeps a copy made here, packed in this thread's arena, and the whole of the
 * other is given back at once. The resource text is not copied: it goes to disk. */
static struct tuned_model *compact_copy(struct tuned_model *from, struct tuned_model *to)
{
	char *raw = from->raw_json;

	from->raw_json = NULL;
	tuned_model_copy(to, from);
	to->raw_json = raw;
	return to;
}

struct list_call {
	struct model_table *t;
	struct tuned_model *v;
	size_t n;
	struct backend_error err;
	int rc;
};

static void *list_thread(void *arg)
{
	struct list_call *c = arg;

	c->rc = backend_list_all(c->t->o.backend, &c->v, &c->n, &c->t->bg_cancel, &c->err);
	return NULL;
}

/* backend_list_all on a thread of its own, waited for (see compact_copy). */
static int list_all(struct model_table *t, struct tuned_model **v, size_t *n,
		    struct backend_error *err)
{
	struct list_call c = {.t = t};
	pthread_t th;

	if (pthread_create(&th, NULL, list_thread, &c) == 0)
		pthread_join(th, NULL);
	else
		list_thread(&c);
	*v = c.v;
	*n = c.n;
	*err = c.err;
	return c.rc;
}

static void publish_listing(struct model_table *t, struct tuned_model *v, size_t n,
			    unsigned long seq0)
{
	unsigned long round = ++t->bg.round;

	for (size_t i = 0; i < n; i++) {
		const char *id = v[i].id;
		struct tuned_model m;
		struct model_table_entry *e;
		char why[200];
		int fresh;
		if (!id || !backend_check_id(t->o.backend, id, why, sizeof why))
			continue;
		fresh = !model_table_find(t, id);
		e = model_table_insert(t, id);
		model_table_entry_set_model(t, e, compact_copy(&v[i], &m));
		e->seen = round;
		if (fresh)
			e->changed = 0; /* the kernel has nothing of it to forget */
	}
	/* Gone from the service: deleted elsewhere. Entries changed after the listing
	 * started (a create, a lookup) are newer than it and stay. */
	for (size_t i = 0; i < t->n;) {
		struct model_table_entry *e = t->v[i];
		if (e->remote && e->seen != round && !e->submitting && e->seq <= seq0) {
			if (e->is_draft) {
				pthread_mutex_lock(&t->draft_mu);
				draft_remove(t->o.drafts, e->id);
				pthread_mutex_unlock(&t->draft_mu);
			}
			erase_gone(t, e->id);
			continue;
		}
		i++;
	}
}

static void do_list(struct model_table *t)
{
	struct tuned_model *v = NULL;
	struct backend_error err = {0};
	size_t n = 0;
	unsigned long seq0 = t->seq;
	int rc;

	t->stats.lists++;
	pthread_mutex_unlock(&t->mu);
	rc = list_all(t, &v, &n, &err);
	/* In name order each insert lands on its own entry or at the table's end; in the
	 * service's order (creation) every new model moved half the sorted table: perf showed
	 * that memmove as 15% of a first listing of 50,000 models. */
	if (rc == 0 && n > 1)
		qsort(v, n, sizeof *v, by_name);
	pthread_mutex_lock(&t->mu);
	t->bg.last_list = model_table_now();
	t->interest = 0;
	if (rc == 0) {
		publish_listing(t, v, n, seq0);
		t->list_tries = 0;
	} else if (!t->stopping) {
		t->list_tries++;
		/* retried at the next look after 1 s, doubling up to list_ttl (list_wait);
		 * what was known keeps being served */
		model_table_logf(t, LOG_NOTICE,
				 "listing tuned models failed (%s): %s; serving the last "
				 "listing",
				 strerror(-rc), err.message[0] ? err.message : "no answer");
	}
	t->listed = 1;
	for (size_t i = 0; i < t->n; i++)
		t->v[i]->unverified = 0; /* asked once: what we know now is what we show */
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
	tuned_models_free(v, n);
	/* the pages' parse trees and the resources' texts (now on disk) leave whole pages
	 * free between the entries: give them back (tests/bench/README.md, P5) */
	if (rc == 0 && n > 0)
		malloc_trim(0);
	pthread_mutex_lock(&t->mu);
}

/* Builds the create request from the stored draft: 0, or -EINVAL with msg. */
static int build_request(struct model_table *t, const char *id, struct tuning_request *req,
			 char *msg, size_t msg_len)
{
	static const enum model_table_file files[] = {MODEL_TABLE_CONFIG, MODEL_TABLE_EXAMPLES};

	for (size_t i = 0; i < 2; i++) {
		char *data = NULL;
		size_t len = 0;
		int rc = model_table_read_draft(t, id, files[i], &data, &len);
		if (rc < 0) {
			snprintf(msg, msg_len, "%s: cannot read the draft: %s",
				 model_table_file_name(files[i]), strerror(-rc));
			return rc;
		}
		rc = files[i] == MODEL_TABLE_CONFIG
			 ? spec_parse_config(data, len, req, msg, msg_len)
			 : model_table_parse_examples(t, data, len, req, msg, msg_len);
		free(data);
		if (rc < 0)
			return rc;
	}
	req->id = xstrdup(id);
	return model_table_eval_validation(t, id, req, msg, msg_len);
}

static void create_done(struct model_table *t, struct model_table_entry *e, int rc,
			struct tuned_model *m, const struct backend_error *err)
{
	double backoff;

	e->changed = 1;
	if (rc == 0) {
		pthread_cond_broadcast(&t->changed);
		e->submitting = 0;
		e->seq = ++t->seq;
		model_table_entry_set_progress(e, m);
		e->next_poll = 0;
		e->poll_gap = 0;
		e->submitted_at = model_table_now();
		e->state = MODEL_TABLE_CREATING;
		if (strncmp(e->error, "tuning: submitting failed", 25) == 0)
			model_table_entry_set_error(e, "");
		if (m->job && *m->job)
			model_table_logf(t, LOG_INFO, "%s: tuning submitted (%s)", e->id, m->job);
		else /* an earlier create of ours was found and adopted */
			model_table_logf(t, LOG_INFO,
					 "%s: tuning submitted (an earlier request's model)",
					 e->id);
		return;
	}
	e->create_sent = 0;
	pthread_cond_broadcast(&t->changed);
	if (transient(rc) && !t->stopping) {
		e->create_tries++;
		backoff = t->o.poll_interval * (1 << (e->create_tries < 6 ? e->create_tries : 6));
		e->next_submit = model_table_now() + (backoff < 60 ? backoff : 60);
		{
			char msg[700];
			snprintf(msg, sizeof msg,
				 "tuning: submitting failed (%s), retrying in %.0f s: %s",
				 strerror(-rc), backoff < 60 ? backoff : 60,
				 err->message[0] ? err->message : "no answer");
			model_table_entry_set_error(e, msg);
		}
		model_table_logf(t, LOG_NOTICE,
				 "%s: submitting the tuning failed (%s), retrying: %s", e->id,
				 strerror(-rc), err->message[0] ? err->message : "no answer");
		return;
	}
	if (t->stopping)
		return; /* stays submitting in memory; the draft is not marked, next mount retries
			 */
	e->submitting = 0;
	e->locked = 0;
	e->state = MODEL_TABLE_DRAFT;
	{
		char msg[800];
		if (err->http_status)
			snprintf(
			    msg, sizeof msg, "the service refused the tuning (HTTP %d%s%s): %s",
			    err->http_status, err->code[0] ? " " : "", err->code, err->message);
		else
			snprintf(msg, sizeof msg, "the tuning could not be submitted: %s",
				 err->message[0] ? err->message : strerror(-rc));
		model_table_entry_set_error(e, msg);
		model_table_logf(t, LOG_ERR, "%s: %s (%s)", e->id, msg, strerror(-rc));
	}
	pthread_cond_broadcast(&t->changed);
}

static void do_create(struct model_table *t, struct model_table_entry *e)
{
	struct tuning_request req = {0};
	struct tuned_model m = {0};
	struct backend_error err = {0};
	char msg[600] = "";
	char *id = xstrdup(e->id);
	int rc;

	t->stats.creates++;
	e->next_submit = model_table_now() + 1e9; /* not picked again while in flight */
	e->create_sent = 1;
	e->locked = 1; /* its inputs are final now */
	pthread_mutex_unlock(&t->mu);
	rc = build_request(t, id, &req, msg, sizeof msg);
	if (rc == 0 && backend_check_request(t->o.backend, &req, msg, sizeof msg) < 0)
		rc = -EINVAL;
	/* idempotent per id: a retry whose earlier try reached the service gets that job */
	if (rc == 0)
		rc = backend_create(t->o.backend, &req, &m, &t->bg_cancel, &err);
	else
		snprintf(err.message, sizeof err.message, "%s", msg);
	if (rc == 0) {
		pthread_mutex_lock(&t->draft_mu);
		draft_mark_submitted(t->o.drafts, id, m.job ? m.job : "");
		pthread_mutex_unlock(&t->draft_mu);
	}
	tuning_request_clear(&req);
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e)
		create_done(t, e, rc, &m, &err);
	tuned_model_clear(&m);
	free(id);
}

double model_table_poll_gap(double interval, double prev_gap, int completed, int total,
			    double elapsed)
{
	double least = interval < 0.25 ? interval : 0.25;
	double gap = prev_gap > 0 ? prev_gap * 2 : least;

	if (completed > 0 && total > completed && elapsed > 0)
		gap = elapsed * (double)(total - completed) / (double)completed;
	if (gap > interval)
		gap = interval;
	return gap < least ? least : gap;
}

/* The next poll of e. A job submitted by this mount is polled when its progress says
 * it ends (within [0.25 s, poll_interval]); others, found training, every interval. */
static void schedule_poll(struct model_table *t, struct model_table_entry *e)
{
	double now = model_table_now();
	double elapsed = now - e->submitted_at;

	if (e->submitted_at <= 0) {
		e->next_poll = now + t->o.poll_interval;
		return;
	}
	e->poll_gap = model_table_poll_gap(t->o.poll_interval, e->poll_gap, e->completed_steps,
					   e->total_steps, elapsed);
	e->next_poll = now + e->poll_gap;
}

/* The model gone from the service: its entry (and draft) go. Under t->mu. */
static void model_gone(struct model_table *t, const char *id)
{
	struct model_table_entry *e = model_table_find(t, id);

	if (!e || e->submitting)
		return;
	if (e->is_draft) {
		pthread_mutex_lock(&t->draft_mu);
		draft_remove(t->o.drafts, id);
		pthread_mutex_unlock(&t->draft_mu);
	}
	model_table_logf(t, LOG_INFO, "%s: deleted on the service", id);
	erase_gone(t, id);
	pthread_cond_broadcast(&t->changed);
}

/* What the backend needs to follow e's tuning: its id, job and what it knows. */
static void progress_arg(const struct model_table_entry *e, struct tuned_model *m)
{
	memset(m, 0, sizeof *m);
	m->id = xstrdup(e->id);
	m->job = e->job ? xstrdup(e->job) : NULL;
	m->endpoint = e->model.endpoint ? xstrdup(e->model.endpoint) : NULL;
	m->state = e->state == MODEL_TABLE_FAILED ? BACKEND_FAILED : BACKEND_CREATING;
	m->percent = -1;
}

static void do_poll(struct model_table *t, struct model_table_entry *e)
{
	struct tuned_model m;
	struct backend_error err = {0};
	char *id = xstrdup(e->id);
	int rc;

	t->stats.polls++;
	e->next_poll = model_table_now() + t->o.poll_interval;
	progress_arg(e, &m);
	pthread_mutex_unlock(&t->mu);
	rc = backend_progress(t->o.backend, &m, &t->bg_cancel, &err);
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (!e)
		goto out;
	if (rc == 0) {
		if (m.job && *m.job)
			model_table_entry_set_progress(e, &m);
		else if (m.job && !e->job)
			e->job = xstrdup(""); /* none to follow: the model alone says */
		schedule_poll(t, e);
		if (m.failure)
			model_table_entry_set_error(e, m.failure);
		pthread_cond_broadcast(&t->changed);
		/* the model itself was fetched again: the tuning ended, or there is none */
		if (m.raw_json && !e->submitting) {
			e->seq = ++t->seq;
			model_table_entry_set_model(t, e, &m);
		}
		if (e->state == MODEL_TABLE_FAILED && e->error[0])
			model_table_logf(t, LOG_WARNING, "%s: tuning failed: %s", id, e->error);
	} else if (rc == -ENOENT) {
		model_gone(t, id);
	}
out:
	tuned_model_clear(&m);
	free(id);
}

/* A model seen FAILED without having been watched here: the backend says why. */
static void do_why(struct model_table *t, struct model_table_entry *e)
{
	struct tuned_model m;
	struct backend_error err = {0};
	char *id = xstrdup(e->id);
	int rc;

	e->why_asked = 1;
	progress_arg(e, &m);
	pthread_mutex_unlock(&t->mu);
	rc = backend_progress(t->o.backend, &m, &t->bg_cancel, &err);
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e && rc == 0 && m.failure && !e->error[0])
		model_table_entry_set_error(e, m.failure);
	tuned_model_clear(&m);
	free(id);
}

/* How long a listing stays good: list_ttl, or after a failed one 1 s doubling at each
 * failure in a row, up to list_ttl. Under t->mu. */
static double list_wait(const struct model_table *t)
{
	double wait = 1;

	if (t->list_tries == 0)
		return t->o.list_ttl;
	for (int i = 1; i < t->list_tries && wait < t->o.list_ttl; i++)
		wait *= 2;
	return wait < t->o.list_ttl ? wait : t->o.list_ttl;
}

/* One unit of work, or 0 and *next the time something is due. Under t->mu. */
static int work_once(struct model_table *t, double *next)
{
	double now = model_table_now();
	double due_list = t->bg.last_list + list_wait(t);

	*next = now + 3600;
	if (model_table_user_save(t, 0))
		return 1;
	if (t->user_dirty && t->user_due < *next)
		*next = t->user_due;
	for (size_t i = 0; i < t->n; i++) {
		struct model_table_entry *e = t->v[i];
		if (e->submitting && e->writers > 0)
			continue; /* still being written: submitted at the last release */
		if (e->submitting && e->next_submit <= now) {
			do_create(t, e);
			return 1;
		}
		if (e->submitting && e->next_submit < *next)
			*next = e->next_submit;
	}
	if (!t->listed || (t->interest && due_list <= now)) {
		do_list(t);
		return 1;
	}
	if (t->spool_due) {
		t->spool_due = 0;
		pthread_mutex_unlock(&t->mu);
		model_table_spool_resume(t);
		model_table_eval_resume(t);
		pthread_mutex_lock(&t->mu);
		return 1;
	}
	if (t->interest && due_list < *next)
		*next = due_list;
	for (size_t i = 0; i < t->n; i++) {
		struct model_table_entry *e = t->v[i];
		if (e->state != MODEL_TABLE_CREATING || e->submitting)
			continue;
		if (e->next_poll <= now) {
			do_poll(t, e);
			return 1;
		}
		if (e->next_poll < *next)
			*next = e->next_poll;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct model_table_entry *e = t->v[i];
		if (e->state == MODEL_TABLE_FAILED && e->remote && !e->why_asked && !e->error[0]) {
			do_why(t, e);
			return 1;
		}
	}
	return 0;
}

/* Seconds the background thread waits after its work before it saves the kept listing. */
#define MODEL_TABLE_SAVE_DELAY 2.0

static void *poll_main(void *arg)
{
	struct model_table *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->stopping) {
		double next;
		struct timespec ts;
		if (work_once(t, &next)) {
			model_table_drain_changes(t);
			/* Saved once the work has paused: building the kept listing of 10,000
			 * models costs as much CPU as listing them, and the ls that asked for
			 * the listing is still reading it. */
			if (!t->bg.listing_due)
				t->bg.listing_due = model_table_now() + MODEL_TABLE_SAVE_DELAY;
			continue;
		}
		if (t->listing_stale ||
		    (t->bg.listing_due && t->bg.listing_due <= model_table_now())) {
			/* an rmdir (the kept listing still has the model), or work to keep */
			t->listing_stale = 0;
			t->bg.listing_due = 0;
			model_table_listing_save(t);
		}
		if (t->bg.listing_due && t->bg.listing_due < next)
			next = t->bg.listing_due;
		if (!t->bg.rcache_ready && t->o.rcache) { /* once, with nothing else to do */
			t->bg.rcache_ready = 1;
			pthread_mutex_unlock(&t->mu);
			rcache_prepare(t->o.rcache);
			pthread_mutex_lock(&t->mu);
			continue;
		}
		ts = clock_deadline_at((int64_t)ceil(next * 1000));
		pthread_cond_timedwait(&t->wake, &t->mu, &ts);
	}
	if (t->bg.listing_due) /* unmounted before it was due */
		model_table_listing_save(t);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int model_table_poll_start(struct model_table *t)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	if (t->started || !t->o.backend) {
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	t->started = 1;
	pthread_mutex_unlock(&t->mu);
	rc = pthread_create(&t->thread, NULL, poll_main, t);
	if (rc) {
		pthread_mutex_lock(&t->mu);
		t->started = 0;
		pthread_mutex_unlock(&t->mu);
		return -rc;
	}
	return 0;
}

void model_table_poll_stop(struct model_table *t)
{
	int join;

	pthread_mutex_lock(&t->mu);
	join = t->started && !t->stopping;
	t->stopping = 1;
	atomic_store(&t->bg_cancel.cancelled, 1);
	pthread_cond_broadcast(&t->wake);
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
	if (join)
		pthread_join(t->thread, NULL);
}
