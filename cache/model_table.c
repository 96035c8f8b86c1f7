/* model_table.c - the model table itself: entries sorted by name under one lock, what the FUSE
 * handlers ask of it (names, views, mkdir/rmdir, commits of user-written files, waiting
 * for training). Lookups of unknown names are in model_table_lookup.c, the background thread in
 * model_table_poll.c, answers in model_table_gen.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/clock.h"
#include "cache/answer_log.h"
#include "cache/draft.h"
#include "cache/model_index.h"
#include "cache/model_table_batch.h"
#include "cache/model_table_eval.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_poll.h"
#include "cache/model_table_spool.h"
#include "cache/model_table_store.h"
#include "cache/model_table_user.h"
#include "cache/negcache.h"
#include "cache/sessions.h"
#include "cache/model_table_impl.h"
#include "cache/model_text.h"

/* Which of the draft's two files exist in the draft store. Under draft_mu or alone. */
static unsigned draft_files_stored(struct model_table *t, const char *id)
{
	unsigned bits = 0;

	if (draft_has(t->o.drafts, id, model_table_file_name(MODEL_TABLE_CONFIG)))
		bits |= MODEL_TABLE_FILE_BIT(MODEL_TABLE_CONFIG);
	if (draft_has(t->o.drafts, id, model_table_file_name(MODEL_TABLE_EXAMPLES)))
		bits |= MODEL_TABLE_FILE_BIT(MODEL_TABLE_EXAMPLES);
	return bits;
}

static void load_drafts(struct model_table *t)
{
	char **names = NULL;
	size_t n = 0;

	if (draft_list(t->o.drafts, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct model_table_entry *e = model_table_insert(t, names[i]);
		char *op = NULL;
		e->is_draft = 1;
		e->draft_files = draft_files_stored(t, names[i]);
		e->state = MODEL_TABLE_DRAFT;
		if (draft_submitted(t->o.drafts, names[i], &op) == 1) {
			e->state = MODEL_TABLE_CREATING;
			e->locked = 1;
			e->unverified = 1;
			if (op && *op)
				e->job = op;
			else
				free(op);
		}
		free(names[i]);
	}
	free(names);
}

/* The text file beside the kept listing (the cache's directory), else in the
 * temporary directory. */
static struct model_text *open_texts(const char *listing_path)
{
	char *dir = listing_path ? xstrdup(listing_path) : NULL;
	char *slash = dir ? strrchr(dir, '/') : NULL;
	struct model_text *s;

	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	s = model_text_open(slash ? dir : NULL);
	free(dir);
	return s;
}

int model_table_new(const struct model_table_options *opt, struct model_table **out)
{
	struct model_table *t = xcalloc(1, sizeof *t);

	t->o = *opt;
	if (t->o.list_ttl <= 0)
		t->o.list_ttl = 10;
	if (t->o.poll_interval <= 0)
		t->o.poll_interval = 5;
	if (t->o.negative_ttl <= 0)
		t->o.negative_ttl = 1;
	negcache_init(&t->neg, t->o.negative_ttl);
	model_table_sessions_init(&t->sess);
	model_table_answers_init(&t->ans);
	t->entry_added = model_table_user_apply;
	t->batch = &model_table_batch_ops;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->draft_mu, NULL);
	pthread_mutex_init(&t->user_mu, NULL);
	clock_cond_init(&t->wake);
	clock_cond_init(&t->changed);
	if (t->o.listing_path)
		t->o.listing_path = xstrdup(t->o.listing_path);
	t->texts = open_texts(t->o.listing_path);
	model_table_user_load_names(t);
	t->spool_due = 1; /* the spools' prompts whose answers an unmount cut */
	if (t->o.drafts)
		load_drafts(t);
	model_table_listing_load(t);
	*out = t;
	return 0;
}

int model_table_start(struct model_table *t)
{
	return model_table_poll_start(t);
}

void model_table_stop(struct model_table *t)
{
	model_table_poll_stop(t);
	model_table_gen_stop(t);
	pthread_mutex_lock(&t->mu);
	while (t->lookup_threads > 0) /* their requests were cancelled with the poller's */
		pthread_cond_wait(&t->changed, &t->mu);
	/* what the background thread had not written yet: the round under way, then one
	 * for what changed after its turn in that round */
	for (int round = 0; round < 2; round++)
		while (model_table_user_save(t, 1))
			;
	pthread_mutex_unlock(&t->mu);
}

void model_table_free(struct model_table *t)
{
	if (!t)
		return;
	model_table_stop(t);
	for (size_t i = 0; i < t->n; i++)
		model_index_entry_free(t->v[i]);
	free(t->v);
	negcache_destroy(&t->neg);
	for (size_t i = 0; i < t->n_gone; i++)
		free(t->gone[i]);
	free(t->gone);
	free((char *)t->o.listing_path);
	model_text_close(t->texts);
	model_table_gen_free(t);
	model_table_sessions_free(&t->sess);
	free(t->lookups);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->draft_mu);
	pthread_mutex_destroy(&t->user_mu);
	model_table_user_free(t);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->changed);
	free(t);
}

int model_table_names(struct model_table *t, char ***names, struct model_table_attr **attrs,
		      size_t *n)
{
	struct timespec until;
	char **v;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &until);
	/* a down service must not hang the first ls for long */
	until.tv_sec += (time_t)(t->o.lookup_timeout > 0 ? t->o.lookup_timeout + 0.5 : 5);
	pthread_mutex_lock(&t->mu);
	model_table_mark_interest(t);
	while (t->started && !t->listed && !t->stopping && !t->list_waited)
		if (pthread_cond_timedwait(&t->changed, &t->mu, &until) == ETIMEDOUT)
			t->list_waited = 1; /* once: the next ls shows what is known at once */
	v = xcalloc(t->n + 1, sizeof *v);
	for (size_t i = 0; i < t->n; i++)
		v[i] = xstrdup(t->v[i]->id);
	if (attrs) {
		*attrs = xcalloc(t->n + 1, sizeof **attrs);
		for (size_t i = 0; i < t->n; i++)
			model_table_fill_attr(t->v[i], &(*attrs)[i]);
	}
	*n = t->n;
	/* an empty root would be a lie when the service could not be listed: say it */
	rc = t->n == 0 && t->list_tries > 0 ? -EIO : 0;
	pthread_mutex_unlock(&t->mu);
	*names = v;
	return rc;
}

void model_table_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int model_table_create_draft(struct model_table *t, const char *id)
{
	unsigned bits;
	char why[200] = "";
	int rc;

	if (t->o.backend ? !backend_check_id(t->o.backend, id, why, sizeof why)
			 : !draft_valid_name(id)) {
		char shown[200];
		model_table_printable(id, shown, sizeof shown);
		model_table_logf(t, LOG_WARNING, "mkdir %s: %s", shown,
				 why[0] ? why : "not a valid model name");
		return -EINVAL;
	}
	pthread_mutex_lock(&t->mu);
	if (model_table_find(t, id)) {
		pthread_mutex_unlock(&t->mu);
		return -EEXIST;
	}
	pthread_mutex_lock(&t->draft_mu);
	rc = draft_create(t->o.drafts, id);
	bits = rc == -EEXIST ? draft_files_stored(t, id) : 0;
	pthread_mutex_unlock(&t->draft_mu);
	if (rc == 0 || rc == -EEXIST) {
		struct model_table_entry *e = model_table_insert(t, id);
		model_table_user_reset(t, e); /* a new model: nothing of an old one of that name */
		e->is_draft = 1;
		e->draft_files = bits;
		e->state = MODEL_TABLE_DRAFT;
		e->seq = ++t->seq;
		rc = 0;
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0)
		model_table_logf(t, LOG_ERR, "mkdir %s: cannot create the draft: %s", id,
				 strerror(-rc));
	return rc;
}

int model_table_remove(struct model_table *t, const char *id)
{
	struct model_table_entry *e;
	struct backend_error err = {0};
	struct tuned_model m = {0};
	int remote, is_draft, rc = 0, tried = 0;
	double deadline = model_table_now() + 60;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	/* a create still queued is dropped; one in flight is waited for */
	if (e && e->submitting && !e->create_sent) {
		tried = e->create_tries > 0; /* an earlier attempt may have reached it */
		e->submitting = 0;
		e->locked = 0;
		e->state = MODEL_TABLE_DRAFT;
	}
	while (e && e->submitting && !t->stopping && model_table_now() < deadline) {
		model_table_tick(t);
		e = model_table_find(t, id);
	}
	if (!e || e->submitting) {
		pthread_mutex_unlock(&t->mu);
		return e ? -EBUSY : -ENOENT;
	}
	remote = e->remote || e->job || tried;
	is_draft = e->is_draft;
	if (e->remote)
		model_index_copy_model(t, e, &m);
	free(m.id);
	m.id = xstrdup(id);
	if (e->job && !m.job)
		m.job = xstrdup(e->job);
	if (!e->remote && e->state == MODEL_TABLE_CREATING)
		m.state = BACKEND_CREATING;
	pthread_mutex_unlock(&t->mu);

	t->batch->drop(t, id); /* a batch of its spool is cancelled before the model goes */
	if (remote && t->o.backend) {
		rc = backend_remove(t->o.backend, &m, NULL, &err);
		if (rc == -ENOENT)
			rc = 0; /* gone already: what rmdir wanted */
		if (rc == 0 && err.message[0])
			model_table_logf(t, LOG_NOTICE, "%s: %s", id, err.message);
		if (rc < 0) {
			char msg[700];
			snprintf(msg, sizeof msg, "rmdir: the service refused to delete %s: %s", id,
				 err.message[0] ? err.message : strerror(-rc));
			model_table_set_error(t, id, msg);
		}
	}
	if (rc == 0 && is_draft) {
		pthread_mutex_lock(&t->draft_mu);
		rc = draft_remove(t->o.drafts, id);
		pthread_mutex_unlock(&t->draft_mu);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc == 0) {
		pthread_mutex_lock(&t->mu);
		model_table_erase(t, id);
		model_table_sess_drop(&t->sess, id);
		negcache_add(&t->neg, id);
		pthread_cond_broadcast(&t->changed);
		t->listing_stale = 1; /* the listing kept on disk still holds it */
		model_table_kick(t);
		pthread_mutex_unlock(&t->mu);
		model_table_user_forget(t, id);
		model_table_spool_drop(t, id);
		model_table_eval_drop(t, id);
		if (t->o.answer_log)
			answer_log_remove(t->o.answer_log, id);
	}
	tuned_model_clear(&m);
	return rc;
}

void model_table_stats(struct model_table *t, struct model_table_stats *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->stats;
	pthread_mutex_unlock(&t->mu);
}
