/* model_table_user.c - the prompt and generation settings of each model, kept across mounts in
 * a store of their own (the draft store's format: DIR/NAME/{prompt,generation}), so what
 * a user wrote is there after an unmount and its cached answer reads without a request.
 * A commit marks the entry; the background thread writes it (atomic, durable) off the
 * path of the write, within about a second, and model_table_stop writes what is left. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cache/draft.h"
#include "cache/model_index.h"
#include "cache/model_table_user.h"
#include "cache/model_table_impl.h"
#include "cache/spec.h"

/* A round of saves starts this long after the change that made it due, so a burst of
 * prompts to a model costs one write, not one per prompt. */
#define USER_SAVE_DELAY 1.0
/* ... and this long after a round in which a write failed (a full or read-only disk) */
#define USER_RETRY_DELAY 30.0

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void model_table_user_load_names(struct model_table *t)
{
	if (!t->o.prompts)
		return;
	if (draft_list(t->o.prompts, &t->user_pending, &t->n_user_pending) < 0) {
		t->user_pending = NULL;
		t->n_user_pending = 0;
	}
	qsort(t->user_pending, t->n_user_pending, sizeof *t->user_pending, cmp_str);
}

/* Takes id out of the names not yet applied: 1 when it was there. */
static int take_pending(struct model_table *t, const char *id)
{
	char **hit;

	if (!t->n_user_pending)
		return 0;
	hit = bsearch(&id, t->user_pending, t->n_user_pending, sizeof *t->user_pending, cmp_str);
	if (!hit)
		return 0;
	free(*hit);
	memmove(hit, hit + 1,
		(size_t)(t->user_pending + t->n_user_pending - hit - 1) * sizeof *hit);
	t->n_user_pending--;
	return 1;
}

void model_table_user_apply(struct model_table *t, struct model_table_entry *e)
{
	struct generation_settings gs = {0};
	char *data = NULL, msg[200];
	size_t len = 0;

	if (!take_pending(t, e->id))
		return;
	if (draft_read(t->o.prompts, e->id, "prompt", &data, &len) == 0 && len > 0) {
		model_table_prompt_part(e);
		free(e->p->prompt);
		e->p->prompt = data;
		e->p->prompt_len = len;
		e->p->prompt_bad = memchr(data, 0, len) != NULL;
		data = NULL;
	}
	free(data);
	data = NULL;
	if (draft_read(t->o.prompts, e->id, "generation", &data, &len) == 0 &&
	    spec_parse_generation(data, len, &gs, msg, sizeof msg) == 0) {
		char *canon = spec_generation_canonical(&gs);
		model_table_prompt_part(e);
		generation_settings_clear(&e->p->gs);
		e->p->gs = gs;
		memset(&gs, 0, sizeof gs);
		free(e->p->gen_canon);
		e->p->gen_canon = canon ? canon : xstrdup("");
	}
	generation_settings_clear(&gs);
	free(data);
	if (e->p)
		e->p->user_rev = e->p->user_saved_rev = 0;
}

void model_table_user_reset(struct model_table *t, struct model_table_entry *e)
{
	if (!e->p || (!e->p->prompt && !e->p->gen_canon[0]))
		return;
	free(e->p->prompt);
	e->p->prompt = NULL;
	e->p->prompt_len = 0;
	e->p->prompt_bad = 0;
	generation_settings_clear(&e->p->gs);
	memset(&e->p->gs, 0, sizeof e->p->gs);
	free(e->p->gen_canon);
	e->p->gen_canon = xstrdup("");
	model_table_user_mark(t, e);
}

void model_table_user_mark(struct model_table *t, struct model_table_entry *e)
{
	if (!t->o.prompts)
		return;
	model_table_prompt_part(e)->user_rev = ++t->user_seq;
	if (!t->user_dirty) {
		t->user_dirty = 1;
		t->user_due = model_table_now() + USER_SAVE_DELAY;
		model_table_kick(t); /* the background thread sleeps until then at most */
	}
}

void model_table_user_drop(struct model_table *t, const char *id)
{
	if (!t->o.prompts)
		return;
	take_pending(t, id);
	t->user_drops = xrealloc(t->user_drops, (t->n_user_drops + 1) * sizeof(char *));
	t->user_drops[t->n_user_drops++] = xstrdup(id);
	if (!t->user_dirty) {
		t->user_dirty = 1;
		t->user_due = model_table_now() + USER_SAVE_DELAY;
	}
}

/* Writes one file of id, or removes it when data is NULL. */
static int put(struct model_table *t, const char *id, const char *file, const char *data,
	       size_t len)
{
	int rc;

	if (!data) {
		rc = draft_unlink(t->o.prompts, id, file);
		return rc == -ENOENT ? 0 : rc;
	}
	rc = draft_write(t->o.prompts, id, file, data, len);
	if (rc == -ENOENT) {
		rc = draft_create(t->o.prompts, id);
		if (rc == 0 || rc == -EEXIST)
			rc = draft_write(t->o.prompts, id, file, data, len);
	}
	return rc;
}

/* Saves one entry's copy, unless it changed or went meanwhile. Under user_mu, not mu. */
static void save_one(struct model_table *t, const char *id, unsigned long rev, const char *prompt,
		     size_t prompt_len, const char *gen)
{
	struct model_table_entry *e;
	int rc, live, report;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	live = e && e->p && e->p->user_rev == rev;
	pthread_mutex_unlock(&t->mu);
	if (!live)
		return;
	if (!prompt && !gen[0]) {
		rc = draft_remove(t->o.prompts, id);
		if (rc == -ENOENT)
			rc = 0;
	} else if ((rc = put(t, id, "prompt", prompt, prompt_len)) == 0)
		rc = put(t, id, "generation", gen[0] ? gen : NULL, strlen(gen));
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (rc == 0 && e && e->p && e->p->user_rev == rev)
		e->p->user_saved_rev = rev;
	/* said once, not at every retry; a success after a failure is said too */
	report = e && e->p && (rc < 0) != e->p->user_failed;
	if (e && e->p)
		e->p->user_failed = rc < 0;
	if (rc < 0)
		t->user_failures++;
	pthread_mutex_unlock(&t->mu);
	if (report && rc < 0)
		model_table_logf(t, LOG_WARNING,
				 "%s: cannot keep the prompt on disk: %s (retried every %d s)", id,
				 strerror(-rc), (int)USER_RETRY_DELAY);
	else if (report)
		model_table_logf(t, LOG_NOTICE, "%s: the prompt is kept on disk again", id);
}

int model_table_user_save(struct model_table *t, int force)
{
	char **drops = t->user_drops;
	size_t n_drops = t->n_user_drops;

	if (!t->o.prompts || !t->user_dirty)
		return 0;
	if (!t->user_in_round) {
		if (!force && model_table_now() < t->user_due)
			return 0;
		t->user_in_round = 1;
		t->user_round++;
	}
	if (n_drops) {
		t->user_drops = NULL;
		t->n_user_drops = 0;
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_lock(&t->user_mu);
		for (size_t i = 0; i < n_drops; i++) {
			draft_remove(t->o.prompts, drops[i]);
			free(drops[i]);
		}
		pthread_mutex_unlock(&t->user_mu);
		free(drops);
		pthread_mutex_lock(&t->mu);
		return 1;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct model_table_entry *e = t->v[i];
		char *id, *prompt, *gen;
		size_t prompt_len;
		unsigned long rev;

		if (!e->p)
			continue; /* nothing written: nothing to keep */
		prompt_len = e->p->prompt_len;
		rev = e->p->user_rev;
		if (e->p->user_rev == e->p->user_saved_rev || e->p->user_round == t->user_round)
			continue;
		e->p->user_round = t->user_round; /* tried in this round, whatever comes of it */
		id = xstrdup(e->id);
		prompt = e->p->prompt ? xstrndup(e->p->prompt, e->p->prompt_len) : NULL;
		gen = xstrdup(e->p->gen_canon);
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_lock(&t->user_mu);
		save_one(t, id, rev, prompt, prompt_len, gen);
		pthread_mutex_unlock(&t->user_mu);
		free(id);
		free(prompt);
		free(gen);
		pthread_mutex_lock(&t->mu);
		return 1; /* one a call: the table may have changed meanwhile */
	}
	/* the round is over: what changed during it (or failed) waits for the next */
	t->user_in_round = 0;
	t->user_dirty = t->n_user_drops > 0;
	for (size_t i = 0; i < t->n && !t->user_dirty; i++)
		t->user_dirty = t->v[i]->p && t->v[i]->p->user_rev != t->v[i]->p->user_saved_rev;
	t->user_due = model_table_now() + (t->user_failures ? USER_RETRY_DELAY : USER_SAVE_DELAY);
	t->user_failures = 0;
	return 0;
}

void model_table_user_forget(struct model_table *t, const char *id)
{
	if (!t->o.prompts)
		return;
	pthread_mutex_lock(&t->user_mu);
	draft_remove(t->o.prompts, id);
	pthread_mutex_unlock(&t->user_mu);
}

void model_table_user_free(struct model_table *t)
{
	for (size_t i = 0; i < t->n_user_pending; i++)
		free(t->user_pending[i]);
	free(t->user_pending);
	for (size_t i = 0; i < t->n_user_drops; i++)
		free(t->user_drops[i]);
	free(t->user_drops);
}
