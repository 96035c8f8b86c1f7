/* model_table_core.c - what every part of the model table uses: its log, clock and
 * waiters' tick, the background thread's wake-up, attributes, views, errors and waits of
 * one entry by name, examples parsed with the backend's limits, and telling
 * options.changed. No part above is called from here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/clock.h"
#include "cache/model_index.h"
#include "cache/model_table_impl.h"
#include "cache/spec.h"

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

void model_table_tick_on(pthread_cond_t *cond, pthread_mutex_t *mu)
{
	struct timespec ts = clock_deadline_in(100);

	pthread_cond_timedwait(cond, mu, &ts);
}

void model_table_tick(struct model_table *t)
{
	model_table_tick_on(&t->changed, &t->mu);
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

void model_table_mark_interest(struct model_table *t)
{
	if (!t->interest) {
		t->interest = 1;
		model_table_kick(t); /* it may sleep past the listing's due time otherwise */
	}
}

int model_table_attr(struct model_table *t, const char *id, struct model_table_attr *out)
{
	struct model_table_entry *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&t->mu);
	model_table_mark_interest(t);
	e = model_table_find(t, id);
	if (e) {
		model_table_fill_attr(e, out);
		rc = 0;
	}
	pthread_mutex_unlock(&t->mu);
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

void model_table_kick(struct model_table *t)
{
	pthread_cond_signal(&t->wake);
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
	const struct model_table_prompt *pp;

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
		model_index_copy_model(t, e, &v->model);
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
	pp = model_table_prompt_get(e);
	v->prompt = pp->prompt ? xstrndup(pp->prompt, pp->prompt_len) : NULL;
	v->prompt_len = pp->prompt_len;
	v->generation = xstrdup(pp->gen_bad ? pp->gen_bad : pp->gen_canon);
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

int model_table_wait(struct model_table *t, const char *id, double timeout,
		     model_table_interrupted_fn intr, enum model_table_state *out)
{
	double deadline = model_table_now() + timeout;
	struct model_table_entry *e;
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	for (;;) {
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
		model_table_tick(t); /* 100 ms steps so an interrupt is seen quickly */
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int model_table_parse_examples(struct model_table *t, const char *data, size_t len,
			       struct tuning_request *req, char *msg, size_t msg_len)
{
	struct backend_dataset_rules rules = {0};
	struct spec_example_limits lim;

	if (t->o.backend)
		backend_dataset_rules(t->o.backend, 0, &rules);
	lim.max_input_chars = rules.max_input_chars;
	lim.max_output_chars = rules.max_output_chars;
	return spec_parse_examples(data, len, &lim, req, msg, msg_len);
}
