/* model_index.c - the model table's entries, sorted by name: find, insert, erase, and
 * what a listing, a poll or a failure sets in one entry. Called under the table's lock;
 * no network, no waits, and nothing of the parts above (a new entry is announced through
 * the table's entry_added hook). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/model_index.h"
#include "cache/model_table_impl.h"

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
