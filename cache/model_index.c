/* model_index.c - the model table's entries, sorted by name: find, insert, erase, and
 * what a listing, a poll or a failure sets in one entry. Called under the table's lock;
 * no network, no waits, and nothing of the parts above (a new entry is announced through
 * the table's entry_added hook). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/model_index.h"
#include "cache/model_table_impl.h"
#include "cache/model_text.h"

/* The error of every model without one: shared, never freed. */
static char no_error[] = "";

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
	e->error = no_error;
	e->mtime = e->ctime = time(NULL);
	t->v[pos] = e;
	t->n++;
	if (t->entry_added)
		t->entry_added(t, e); /* what was written into it before an unmount */
	/* a name that exists now is no longer a remembered miss */
	negcache_forget(&t->neg, id);
	return e;
}

void model_index_entry_free(struct model_table_entry *e)
{
	free(e->id);
	tuned_model_clear(&e->model);
	free(e->job);
	free(e->snaps);
	if (e->error != no_error)
		free(e->error);
	if (e->p) {
		free(e->p->prompt);
		generation_settings_clear(&e->p->gs);
		free(e->p->gen_canon);
		free(e->p->gen_bad);
		free(e->p->resp_json);
		free(e->p);
	}
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
	model_text_drop(t->texts, &e->raw);
	model_index_entry_free(e);
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

/* Rewrites the text file without its dead slots, all or nothing. */
static void texts_compact(struct model_table *t)
{
	uint64_t *off = xcalloc(t->n + 1, sizeof *off);
	int ok = model_text_begin(t->texts) == 0;

	if (!ok) {
		free(off);
		return;
	}
	for (size_t i = 0; i < t->n && ok; i++)
		ok = model_text_move(t->texts, &t->v[i]->raw, &off[i]) == 0;
	if (ok)
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i]->raw.cap)
				t->v[i]->raw.off = off[i];
	model_text_end(t->texts, ok);
	free(off);
}

/* The resource's text goes to the text file (kept in memory when that fails). The same
 * version of the same length is the same text: not written again at every listing. */
static void keep_text(struct model_table *t, struct model_table_entry *e, int same_version)
{
	const char *raw = e->model.raw_json;
	size_t len = raw ? strlen(raw) : 0;

	if (!t->texts || !raw) {
		model_text_drop(t->texts, &e->raw);
		return;
	}
	if (!(same_version && e->raw.cap && e->raw.len == len) &&
	    model_text_put(t->texts, &e->raw, raw, len) < 0) {
		model_text_drop(t->texts, &e->raw);
		return;
	}
	free(e->model.raw_json);
	e->model.raw_json = NULL;
	if (model_text_wants_compaction(t->texts))
		texts_compact(t);
}

int model_index_has_text(const struct model_table_entry *e)
{
	return e->model.raw_json || e->raw.cap;
}

char *model_index_text(struct model_table *t, const struct model_table_entry *e)
{
	if (e->model.raw_json)
		return xstrdup(e->model.raw_json);
	return model_text_get(t->texts, &e->raw);
}

void model_index_copy_model(struct model_table *t, const struct model_table_entry *e,
			    struct tuned_model *out)
{
	tuned_model_copy(out, &e->model);
	if (!out->id)
		out->id = xstrdup(e->id);
	if (!out->raw_json)
		out->raw_json = model_index_text(t, e);
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
	if (e->model.id && strcmp(e->model.id, e->id) == 0) {
		free(e->model.id); /* the entry's name says it: one copy */
		e->model.id = NULL;
	}
	keep_text(t, e, same_version);
	e->remote = 1;
	e->unverified = 0;
	if (!e->submitting)
		e->state = state_of(&e->model);
	/* a listing that says why (Vertex, OpenAI) says it at once: `error` is never read
	 * empty beside a FAILED `state` while the reason is asked apart */
	if (e->state == MODEL_TABLE_FAILED && !e->error[0] && e->model.failure)
		model_table_entry_set_error(e, e->model.failure);
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
	if (e->error != no_error)
		free(e->error);
	e->error = msg && *msg ? xstrdup(msg) : no_error;
}

static const struct model_table_prompt no_prompt = {.gen_canon = (char *)""};

struct model_table_prompt *model_table_prompt_part(struct model_table_entry *e)
{
	if (!e->p) {
		e->p = xcalloc(1, sizeof *e->p);
		e->p->gen_canon = xstrdup("");
	}
	return e->p;
}

const struct model_table_prompt *model_table_prompt_get(const struct model_table_entry *e)
{
	return e->p ? e->p : &no_prompt;
}

void model_table_gs_copy(struct generation_settings *dst, const struct generation_settings *src)
{
	*dst = *src;
	for (size_t i = 0; i < src->n_stop_sequences; i++)
		dst->stop_sequences[i] = xstrdup(src->stop_sequences[i]);
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
