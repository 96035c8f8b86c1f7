/* model_table.c - the model table itself: entries sorted by name under one lock, what the FUSE
 * handlers ask of it (names, views, mkdir/rmdir, commits of user-written files, waiting
 * for training). Lookups of unknown names are in model_table_lookup.c, the background thread in
 * model_table_poll.c, answers in model_table_gen.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cache/answer_log.h"
#include "cache/draft.h"
#include "cache/model_table_impl.h"

void model_table_logf(struct model_table *t, int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!t->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	t->o.log(prio, buf);
}

void model_table_printable(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s && o + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (*s && o + 4 <= size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

double model_table_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void model_table_tick(struct model_table *t)
{
	double until = model_table_now() + 0.1;
	struct timespec ts;
	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&t->changed, &t->mu, &ts);
}

int model_table_await(struct model_table *t, unsigned long *seen, double max_s)
{
	double until = model_table_now() + max_s;
	struct timespec ts;
	int woken = 1;

	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&t->mu);
	if (t->answers == *seen && !t->stopping)
		woken = pthread_cond_timedwait(&t->changed, &t->mu, &ts) == 0;
	*seen = t->answers;
	pthread_mutex_unlock(&t->mu);
	return woken;
}

const char *model_table_state_name(enum model_table_state s)
{
	switch (s) {
	case MODEL_TABLE_DRAFT:
		return "DRAFT";
	case MODEL_TABLE_CREATING:
		return "CREATING";
	case MODEL_TABLE_ACTIVE:
		return "ACTIVE";
	case MODEL_TABLE_FAILED:
		return "FAILED";
	}
	return "UNKNOWN";
}

const char *model_table_file_name(enum model_table_file f)
{
	static const char *const names[] = {"config", "examples.jsonl", "prompt", "generation"};
	return names[f];
}

/* Binary search; *pos gets the insertion point when absent. */
static struct model_table_entry *find_pos(struct model_table *t, const char *id, size_t *pos)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->v[mid]->id, id);
		if (c == 0) {
			*pos = mid;
			return t->v[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return NULL;
}

struct model_table_entry *model_table_find(struct model_table *t, const char *id)
{
	size_t pos;
	return find_pos(t, id, &pos);
}

struct model_table_entry *model_table_insert(struct model_table *t, const char *id)
{
	size_t pos;
	struct model_table_entry *e = find_pos(t, id, &pos);

	if (e)
		return e;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof *t->v);
	}
	memmove(t->v + pos + 1, t->v + pos, (t->n - pos) * sizeof *t->v);
	e = xcalloc(1, sizeof *e);
	e->id = xstrdup(id);
	e->error = xstrdup("");
	e->gen_canon = xstrdup("");
	e->mtime = e->ctime = time(NULL);
	t->v[pos] = e;
	t->n++;
	model_table_user_apply(t, e); /* what was written into it before an unmount */
	/* a name that exists now is no longer a remembered miss */
	for (size_t i = 0; i < t->n_neg; i++) {
		if (strcmp(t->neg[i].id, id) == 0) {
			free(t->neg[i].id);
			t->neg[i] = t->neg[--t->n_neg];
			break;
		}
	}
	return e;
}

static void entry_free(struct model_table_entry *e)
{
	free(e->id);
	tuned_model_clear(&e->model);
	free(e->job);
	free(e->snaps);
	free(e->error);
	free(e->prompt);
	generation_settings_clear(&e->gs);
	free(e->gen_canon);
	free(e->gen_bad);
	free(e->resp_json);
	free(e);
}

void model_table_erase(struct model_table *t, const char *id)
{
	size_t pos;
	struct model_table_entry *e = find_pos(t, id, &pos);
	if (!e)
		return;
	memmove(t->v + pos, t->v + pos + 1, (t->n - pos - 1) * sizeof *t->v);
	t->n--;
	entry_free(e);
}

void model_table_erase_gone(struct model_table *t, const char *id)
{
	t->gone = xrealloc(t->gone, (t->n_gone + 1) * sizeof *t->gone);
	t->gone[t->n_gone++] = xstrdup(id);
	model_table_user_drop(t, id);
	model_table_sess_drop(t, id);
	model_table_erase(t, id);
}

static enum model_table_state state_of(const struct tuned_model *m)
{
	switch (m->state) {
	case BACKEND_ACTIVE:
		return MODEL_TABLE_ACTIVE;
	case BACKEND_FAILED:
		return MODEL_TABLE_FAILED;
	default:
		return MODEL_TABLE_CREATING;
	}
}

/* Takes the contents of *m (left cleared). */
void model_table_entry_set_model(struct model_table *t, struct model_table_entry *e,
				 struct tuned_model *m)
{
	enum model_table_state old = e->state;
	int same_version =
	    e->model.version && m->version && strcmp(e->model.version, m->version) == 0;
	time_t ct = m->created, ut = m->updated;

	tuned_model_clear(&e->model);
	e->model = *m;
	memset(m, 0, sizeof *m);
	e->remote = 1;
	e->unverified = 0;
	if (!e->submitting)
		e->state = state_of(&e->model);
	if (e->is_draft)
		e->locked = 1; /* the service has it: its inputs are fixed now */
	if (ct)
		e->ctime = ct;
	if (ut)
		e->mtime = ut;
	if (e->state == MODEL_TABLE_CREATING && old != MODEL_TABLE_CREATING)
		e->next_poll = 0;
	if (e->state == MODEL_TABLE_ACTIVE && old != MODEL_TABLE_ACTIVE)
		t->spool_due = 1; /* prompts spooled while it trained are asked for now */
	if (e->state != old)
		pthread_cond_broadcast(&t->changed);
	if (e->state != old || !same_version)
		e->changed = 1;
}

void model_table_entry_set_progress(struct model_table_entry *e, const struct tuned_model *m)
{
	e->has_progress = 1;
	e->changed = 1;
	if (m->total_steps)
		e->total_steps = m->total_steps;
	e->completed_steps = m->completed_steps;
	e->percent = m->percent;
	if (m->n_snapshots) {
		free(e->snaps);
		e->snaps = xcalloc(m->n_snapshots, sizeof *e->snaps);
		memcpy(e->snaps, m->snapshots, m->n_snapshots * sizeof *e->snaps);
		e->n_snaps = m->n_snapshots;
	}
	if (m->job && (!e->job || strcmp(e->job, m->job) != 0)) {
		free(e->job);
		e->job = xstrdup(m->job);
	}
}

void model_table_entry_set_error(struct model_table_entry *e, const char *msg)
{
	e->changed = 1;
	free(e->error);
	e->error = xstrdup(msg ? msg : "");
}

void model_table_gs_copy(struct generation_settings *dst, const struct generation_settings *src)
{
	*dst = *src;
	for (size_t i = 0; i < src->n_stop_sequences; i++)
		dst->stop_sequences[i] = xstrdup(src->stop_sequences[i]);
}

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

int model_table_new(const struct model_table_options *opt, struct model_table **out)
{
	struct model_table *t = xcalloc(1, sizeof *t);
	pthread_condattr_t ca;

	t->o = *opt;
	if (t->o.list_ttl <= 0)
		t->o.list_ttl = 10;
	if (t->o.poll_interval <= 0)
		t->o.poll_interval = 5;
	if (t->o.negative_ttl <= 0)
		t->o.negative_ttl = 1;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->draft_mu, NULL);
	pthread_mutex_init(&t->user_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->changed, &ca);
	pthread_condattr_destroy(&ca);
	if (t->o.listing_path)
		t->o.listing_path = xstrdup(t->o.listing_path);
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
		entry_free(t->v[i]);
	free(t->v);
	for (size_t i = 0; i < t->n_neg; i++)
		free(t->neg[i].id);
	free(t->neg);
	for (size_t i = 0; i < t->n_gone; i++)
		free(t->gone[i]);
	free(t->gone);
	free((char *)t->o.listing_path);
	model_table_gen_free(t);
	model_table_sess_free(t);
	free(t->lookups);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->draft_mu);
	pthread_mutex_destroy(&t->user_mu);
	model_table_user_free(t);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->changed);
	free(t);
}

static void mark_interest(struct model_table *t)
{
	if (!t->interest) {
		t->interest = 1;
		model_table_kick(t); /* it may sleep past the listing's due time otherwise */
	}
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
	mark_interest(t);
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

void model_table_fill_attr(const struct model_table_entry *e, struct model_table_attr *a)
{
	a->state = e->state;
	a->is_draft = e->is_draft;
	a->draft_files = e->draft_files;
	a->locked = e->locked;
	a->has_snapshots = e->n_snaps > 0 || (e->remote && e->model.n_snapshots > 0);
	a->mtime = e->mtime;
	a->ctime = e->ctime;
}

int model_table_attr(struct model_table *t, const char *id, struct model_table_attr *out)
{
	struct model_table_entry *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&t->mu);
	mark_interest(t);
	e = model_table_find(t, id);
	if (e) {
		model_table_fill_attr(e, out);
		rc = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static void snaps_copy(struct model_table_view *v, const struct tuning_snapshot *s, size_t n)
{
	v->snapshots = xcalloc(n ? n : 1, sizeof *s);
	if (n)
		memcpy(v->snapshots, s, n * sizeof *s);
	v->n_snapshots = n;
}

int model_table_view(struct model_table *t, const char *id, int with_model,
		     struct model_table_view *v)
{
	struct model_table_entry *e;

	memset(v, 0, sizeof *v);
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (!e) {
		pthread_mutex_unlock(&t->mu);
		return -ENOENT;
	}
	model_table_fill_attr(e, &v->attr);
	v->remote = e->remote;
	if (e->remote && with_model)
		tuned_model_copy(&v->model, &e->model);
	v->has_progress = e->has_progress;
	v->total_steps = e->total_steps;
	v->completed_steps = e->completed_steps;
	v->percent = e->percent;
	if (e->n_snaps)
		snaps_copy(v, e->snaps, e->n_snaps);
	else if (e->remote)
		snaps_copy(v, e->model.snapshots, e->model.n_snapshots);
	v->error = xstrdup(e->error);
	v->evaluation = e->remote && e->model.evaluation ? xstrdup(e->model.evaluation) : NULL;
	v->prompt = e->prompt ? xstrndup(e->prompt, e->prompt_len) : NULL;
	v->prompt_len = e->prompt_len;
	v->generation = xstrdup(e->gen_bad ? e->gen_bad : e->gen_canon);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

void model_table_view_clear(struct model_table_view *v)
{
	tuned_model_clear(&v->model);
	free(v->snapshots);
	free(v->error);
	free(v->evaluation);
	free(v->prompt);
	free(v->generation);
	memset(v, 0, sizeof *v);
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
		struct timespec ts;
		double until = model_table_now() + 0.1;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&t->changed, &t->mu, &ts);
		e = model_table_find(t, id);
	}
	if (!e || e->submitting) {
		pthread_mutex_unlock(&t->mu);
		return e ? -EBUSY : -ENOENT;
	}
	remote = e->remote || e->job || tried;
	is_draft = e->is_draft;
	if (e->remote)
		tuned_model_copy(&m, &e->model);
	free(m.id);
	m.id = xstrdup(id);
	if (e->job && !m.job)
		m.job = xstrdup(e->job);
	if (!e->remote && e->state == MODEL_TABLE_CREATING)
		m.state = BACKEND_CREATING;
	pthread_mutex_unlock(&t->mu);

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
		model_table_sess_drop(t, id);
		model_table_neg_add(t, id);
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

void model_table_set_error(struct model_table *t, const char *id, const char *msg)
{
	struct model_table_entry *e;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e)
		model_table_entry_set_error(e, msg);
	pthread_mutex_unlock(&t->mu);
	if (msg && *msg)
		model_table_logf(t, LOG_WARNING, "%s: %s", id, msg);
}

int model_table_wait(struct model_table *t, const char *id, double timeout,
		     model_table_interrupted_fn intr, enum model_table_state *out)
{
	double deadline = model_table_now() + timeout;
	struct model_table_entry *e;
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		struct timespec ts;
		double until;
		e = model_table_find(t, id);
		if (!e) {
			rc = -ENOENT;
			break;
		}
		if (e->state != MODEL_TABLE_CREATING) {
			*out = e->state;
			break;
		}
		if (intr && intr()) {
			rc = -EINTR;
			break;
		}
		if (model_table_now() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		/* 100 ms steps so an interrupt is seen quickly */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		until = ts.tv_sec + ts.tv_nsec / 1e9 + 0.1;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&t->changed, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void model_table_drain_changes(struct model_table *t)
{
	char **ids = t->gone;
	size_t n = t->n_gone;

	t->gone = NULL;
	t->n_gone = 0;
	if (!t->o.changed) {
		for (size_t i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (!t->v[i]->changed)
			continue;
		t->v[i]->changed = 0;
		ids = xrealloc(ids, (n + 1) * sizeof *ids);
		ids[n++] = xstrdup(t->v[i]->id);
	}
	if (!n)
		return;
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < n; i++) {
		t->o.changed(ids[i]);
		free(ids[i]);
	}
	free(ids);
	pthread_mutex_lock(&t->mu);
}

void model_table_stats(struct model_table *t, struct model_table_stats *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->stats;
	pthread_mutex_unlock(&t->mu);
}
