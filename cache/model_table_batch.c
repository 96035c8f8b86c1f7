/* model_table_batch.c - spool prompts sent as one batch job of the service (-o batch_min):
 * gathering the queued prompts of a spool, submitting them under a note kept beside the
 * prompts (so a killed mount finds its batch again), following the job, and delivering its
 * answers to the jobs readers wait on; what the batch does not answer goes online. The
 * queue and its workers are model_table_gen.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/clock.h"
#include "base/dynbuf.h"
#include "cache/model_index.h"
#include "cache/model_table_batch.h"
#include "cache/model_table_batch_impl.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_log.h"
#include "cache/model_table_spool.h"
#include "cache/model_table_impl.h"
#include "cache/rcache.h"
#include "cache/spool.h"

/* Seconds a spool prompt waits for others to join it in a batch, and at most while more
 * keep coming. */
#define BATCH_GATHER	 1.0
#define BATCH_GATHER_MAX 60.0
/* Polls of a batch: from this gap, doubling, up to the mount's poll interval. */
#define BATCH_FIRST_GAP 0.2
/* Failed looks at a batch in a row before its prompts go online. */
#define BATCH_MAX_MISSES 5

int model_table_batch_held(struct model_table *t)
{
	for (struct model_table_job *j = t->ans.jobs; j; j = j->next)
		if (!j->started && j->held_at > 0)
			return 1;
	return 0;
}

static void *batch_thread(void *arg);

/* A new batch of id holding the jobs in v (taken). Under t->mu. */
static struct model_table_batch *batch_new(struct model_table *t, const char *id,
					   const struct tuned_model *m, struct model_table_job **v,
					   size_t n)
{
	struct model_table_batch *bt = xcalloc(1, sizeof *bt);
	struct model_table_entry *e = model_table_find(t, id);

	bt->t = t;
	bt->id = xstrdup(id);
	/* the model as listed, with its resource (a Vertex batch names the tuned model) */
	if (e && (e->remote || e->model.id))
		model_index_copy_model(t, e, &bt->model); /* its text read back from disk */
	else
		tuned_model_copy(&bt->model, m);
	bt->jobs = v;
	bt->n = n;
	bt->names = xcalloc(n, sizeof *bt->names);
	bt->gone = xcalloc(n ? n : 1, 1);
	bt->total = (long)n;
	bt->done = bt->failed = -1;
	bt->state = BATCH_PENDING;
	for (size_t i = 0; i < n; i++) {
		v[i]->started = 1;
		v[i]->hold_until = v[i]->held_at = 0;
		v[i]->batch = bt;
		bt->names[i] = xstrdup(v[i]->spool_name ? v[i]->spool_name : "");
	}
	bt->next = t->batches;
	t->batches = bt;
	return bt;
}

static void batch_start(struct model_table *t, struct model_table_batch *bt)
{
	pthread_attr_t attr;
	pthread_t th;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, batch_thread, bt) == 0)
		t->batch_threads++, bt->running = 1;
	else /* no thread: the jobs go online */
		for (size_t i = 0; i < bt->n; i++)
			bt->jobs[i]->started = 0, bt->jobs[i]->batch = NULL;
	pthread_attr_destroy(&attr);
}

/* The tag of a batch: its model and its prompts' keys, hashed. */
static void batch_tag(struct model_table_batch *bt)
{
	struct dynbuf keys = DYNBUF_INIT;
	char model[300], key[RCACHE_KEY_HEX];

	for (size_t i = 0; i < bt->n; i++)
		dynbuf_append(&keys, bt->jobs[i]->key, strlen(bt->jobs[i]->key));
	snprintf(model, sizeof model, "batch:%s", bt->id);
	rcache_key(model, bt->model.version ? bt->model.version : "", "",
		   keys.data ? keys.data : "", key);
	dynbuf_free(&keys);
	snprintf(bt->tag, sizeof bt->tag, "%.24s", key);
	snprintf(bt->display, sizeof bt->display, "tunedfs-%s", bt->tag);
}

/* Whether o is a spool job of id gathering for a batch (no worker takes it). */
static int pending_of(const struct model_table_job *o, const char *id)
{
	return !o->started && o->spool_name && o->held_at > 0 && strcmp(o->id, id) == 0;
}

int model_table_batch_gather(struct model_table *t, struct model_table_job *j)
{
	double now = model_table_now();

	if (t->o.batch_min < 2 || !t->o.backend ||
	    !(backend_caps(t->o.backend) & BACKEND_CAN_BATCH))
		return 0;
	j->held_at = now;
	for (struct model_table_job *o = t->ans.jobs; o; o = o->next)
		if (pending_of(o, j->id))
			o->hold_until = now + BATCH_GATHER; /* more are coming: wait for them */
	return 0;
}

void model_table_batch_due(struct model_table *t)
{
	double now = model_table_now();

	if (t->o.batch_min < 2)
		return;
	for (struct model_table_job *j = t->ans.jobs; j; j = j->next) {
		struct model_table_job **v;
		size_t n = 0, k = 0;
		int gathering = 0, overdue = 0;
		if (!pending_of(j, j->id))
			continue;
		for (struct model_table_job *o = t->ans.jobs; o; o = o->next)
			if (pending_of(o, j->id)) {
				n++;
				gathering |= o->hold_until > now;
				overdue |= now >= o->held_at + BATCH_GATHER_MAX;
			}
		if (gathering && !overdue) /* more may come */
			continue;
		if (n < t->o.batch_min) {
			for (struct model_table_job *o = t->ans.jobs; o; o = o->next)
				if (pending_of(o, j->id))
					o->held_at = o->hold_until = 0; /* too few: online */
			continue;
		}
		v = xcalloc(n, sizeof *v);
		for (struct model_table_job *o = t->ans.jobs; o; o = o->next)
			if (pending_of(o, j->id))
				v[k++] = o;
		struct model_table_batch *bt = batch_new(t, j->id, &j->model, v, k);
		batch_tag(bt);
		batch_start(t, bt);
	}
}

/* Hex of a spool name, for one line of the note. */
static void hex_of(const char *s, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		*out++ = hex[(unsigned char)*s >> 4];
		*out++ = hex[(unsigned char)*s & 15];
	}
	*out = 0;
}

/* The note of bt: what a remount needs to follow it again. */
static int batch_note(struct model_table *t, struct model_table_batch *bt)
{
	struct dynbuf b = DYNBUF_INIT;
	char hex[2 * SPOOL_NAME_MAX + 1];
	int rc;

	dynbuf_printf(&b, "tunedfs-batch 1\ndisplay %s\n", bt->display);
	if (bt->name)
		dynbuf_printf(&b, "name %s\n", bt->name);
	for (size_t i = 0; i < bt->n; i++) {
		hex_of(bt->jobs[i]->spool_name, hex);
		dynbuf_printf(&b, "item %s %s\n", bt->jobs[i]->key, hex);
	}
	rc = spool_note_write(t->o.spool, bt->id, bt->tag, b.data, b.len);
	dynbuf_free(&b);
	return rc;
}

/* Waits gap seconds, or less when the mount stops: 0, or -EINTR. */
static int batch_sleep(struct model_table *t, struct model_table_batch *bt, double gap)
{
	double until = model_table_now() + gap;
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	while (!(rc = atomic_load(&bt->cancel.cancelled) ? -EINTR : 0) && model_table_now() < until)
		model_table_tick(t);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

/* Sends bt (or finds the one a lost answer or a killed mount left): its name known. */
static int batch_send(struct model_table *t, struct model_table_batch *bt,
		      struct backend_error *err)
{
	struct batch_item *items;
	char *name = NULL;
	int rc = 0;

	if (bt->name)
		return 0;
	if (atomic_load(&bt->cancel.cancelled))
		return -EINTR; /* dropped before it went */
	if (!bt->recovered && (rc = batch_note(t, bt)) < 0) {
		snprintf(err->message, sizeof err->message, "cannot keep its note: %s",
			 strerror(-rc));
		return rc;
	}
	bt->tried = 1;
	if (bt->recovered)
		rc = backend_batch_find(t->o.backend, &bt->model, bt->display, &name, &bt->cancel,
					err);
	if (!bt->recovered || rc == -ENOENT) {
		items = xcalloc(bt->n, sizeof *items);
		for (size_t i = 0; i < bt->n; i++) {
			items[i].key = bt->jobs[i]->key;
			items[i].prompt = bt->jobs[i]->prompt;
			items[i].gs = &bt->jobs[i]->gs;
		}
		rc = backend_batch_submit(t->o.backend, &bt->model, bt->display, items, bt->n,
					  &name, &bt->cancel, err);
		free(items);
	}
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&t->mu);
	bt->name = name;
	pthread_mutex_unlock(&t->mu);
	model_table_logf(t, LOG_INFO, "%s: %zu spool prompts sent as batch %s", bt->id, bt->n,
			 name);
	rc = batch_note(t, bt);
	return rc == -EINTR ? -EIO : 0; /* without the note only a remount loses track */
}

/* Follows bt until it ends: 0, -EINTR (the mount stops), or the last error. */
static int batch_follow(struct model_table *t, struct model_table_batch *bt,
			struct backend_error *err)
{
	double gap = BATCH_FIRST_GAP, cap = t->o.poll_interval > gap ? t->o.poll_interval : gap;
	int misses = 0, rc;

	for (;;) {
		struct batch_status st = {0};
		rc = backend_batch_get(t->o.backend, bt->name, &st, &bt->cancel, err);
		if (rc == 0) {
			misses = 0;
			pthread_mutex_lock(&t->mu);
			bt->state = st.state;
			if (st.total >= 0)
				bt->total = st.total;
			bt->done = st.done;
			bt->failed = st.failed;
			free(bt->failure);
			bt->failure = st.failure;
			st.failure = NULL;
			pthread_mutex_unlock(&t->mu);
		}
		batch_status_clear(&st);
		if (rc == -EINTR)
			return rc;
		if (rc < 0 && ++misses >= BATCH_MAX_MISSES)
			return rc;
		if (rc == 0 && bt->state >= BATCH_SUCCEEDED)
			return 0;
		if (batch_sleep(t, bt, gap) < 0)
			return -EINTR;
		gap = gap * 2 < cap ? gap * 2 : cap;
	}
}

static struct model_table_job *batch_job(struct model_table_batch *bt, const char *key)
{
	for (size_t i = 0; i < bt->n; i++)
		if (bt->jobs[i] && strcmp(bt->jobs[i]->key, key) == 0)
			return bt->jobs[i];
	return NULL;
}

/* Delivers one answer of the batch to its job (taken out of bt->jobs). */
static void batch_deliver(struct model_table *t, struct model_table_batch *bt,
			  struct model_table_job *j, struct batch_result *r)
{
	struct generation_answer a = {0};
	struct backend_error none = {0};

	if (backend_read_answer(t->o.backend, r->raw_json, strlen(r->raw_json), &a) < 0) {
		generation_answer_clear(&a);
		return; /* not an answer: asked online */
	}
	if (t->o.rcache)
		rcache_put(t->o.rcache, j->key, r->raw_json, strlen(r->raw_json));
	model_table_log_answer(t, j->id, j->prompt, strlen(j->prompt), &a, 0, 0);
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < bt->n; i++)
		if (bt->jobs[i] == j)
			bt->jobs[i] = NULL;
	bt->answered++;
	bt->tokens += a.total_tokens > 0 ? a.total_tokens
					 : (a.in_tokens > 0 ? a.in_tokens : 0) +
					       (a.out_tokens > 0 ? a.out_tokens : 0);
	free(a.raw_json);
	a.raw_json = r->raw_json;
	r->raw_json = NULL;
	j->batch = NULL;
	model_table_job_finish(t, j, 0, &a, &none);
	model_table_job_unref(t, j);
	pthread_mutex_unlock(&t->mu);
	generation_answer_clear(&a);
}

/* The answers of an ended batch; 0 or the error of fetching them. */
static int batch_collect(struct model_table *t, struct model_table_batch *bt,
			 struct backend_error *err)
{
	struct batch_result *v = NULL;
	size_t n = 0;
	int rc = backend_batch_results(t->o.backend, bt->name, &v, &n, &bt->cancel, err);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct model_table_job *j;
		pthread_mutex_lock(&t->mu);
		j = v[i].raw_json ? batch_job(bt, v[i].key) : NULL;
		pthread_mutex_unlock(&t->mu);
		if (j)
			batch_deliver(t, bt, j, &v[i]);
	}
	batch_results_free(v, n);
	return rc;
}

/* What the batch did not answer goes online; why is said in the model's error. */
static void batch_rest_online(struct model_table *t, struct model_table_batch *bt, const char *why)
{
	struct model_table_entry *e;
	size_t left = 0;
	char msg[700];

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < bt->n; i++) {
		struct model_table_job *j = bt->jobs[i];
		if (!j)
			continue;
		j->started = 0;
		j->batch = NULL;
		j->held_at = 0;
		bt->jobs[i] = NULL;
		left++;
	}
	bt->online = (long)left;
	if (left) {
		snprintf(msg, sizeof msg,
			 "batch: %s %s: %s; its %zu unanswered prompts are asked online",
			 bt->name ? bt->name : bt->display, backend_batch_state_name(bt->state),
			 why, left);
		if ((e = model_table_find(t, bt->id)))
			model_table_entry_set_error(e, msg);
		model_table_logf(t, LOG_WARNING, "%s: %s", bt->id, msg);
		model_table_job_workers(t);
	}
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
}

/* Sends bt, follows it and collects its answers; again when a drop turns out to be a
 * rename (its prompts still asked for): 0, -EINTR, or the error that ended it. */
static int batch_run(struct model_table *t, struct model_table_batch *bt, struct backend_error *err)
{
	int rc;

	for (;;) {
		rc = batch_send(t, bt, err);
		if (rc == 0)
			rc = batch_follow(t, bt, err);
		if (rc == 0)
			rc = batch_collect(t, bt, err);
		if (rc != -EINTR || !model_table_batch_wanted(t, bt))
			return rc;
		pthread_mutex_lock(&t->mu);
		if (bt->dropped == 1 && !atomic_load(&bt->halt.cancelled)) {
			bt->dropped = 0;
			atomic_store(&bt->cancel.cancelled, 0);
			bt->recovered |= !bt->name; /* a submit cut short is looked for first */
		}
		pthread_mutex_unlock(&t->mu);
	}
}

static void *batch_thread(void *arg)
{
	struct model_table_batch *bt = arg;
	struct model_table *t = bt->t;
	struct backend_error err = {0};
	int rc, dropped;

	model_table_batch_orphans(t, bt);
	rc = batch_run(t, bt, &err);

	pthread_mutex_lock(&t->mu);
	dropped = bt->dropped;
	pthread_mutex_unlock(&t->mu);
	if (dropped) {
		model_table_batch_abandon(t, bt, rc == 0);
	} else if (rc != -EINTR) {
		const char *why = rc < 0			 ? err.message
				  : bt->failure			 ? bt->failure
				  : bt->state == BATCH_SUCCEEDED ? "the service did not answer them"
								 : "it did not end well";
		batch_rest_online(t, bt, why[0] ? why : strerror(-rc));
		spool_note_unlink(t->o.spool, bt->id, bt->tag);
	}
	backend_thread_end();
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < bt->n; i++) /* the mount stops: left to a remount */
		if (bt->jobs[i])
			bt->jobs[i]->batch = NULL, bt->jobs[i] = NULL;
	t->batch_threads--;
	bt->running = 0;
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* One item line of a note: its key and spool name. */
static int note_item(const char *line, char key[RCACHE_KEY_HEX], char *name, size_t size)
{
	const char *hex = strchr(line, ' ');
	size_t n, o = 0;

	if (!hex || (size_t)(hex - line) != RCACHE_KEY_HEX - 1)
		return -1;
	memcpy(key, line, RCACHE_KEY_HEX - 1);
	key[RCACHE_KEY_HEX - 1] = 0;
	n = strcspn(++hex, "\n");
	if (n % 2 || n / 2 >= size || n == 0)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		unsigned v;
		if (sscanf(hex + i, "%2x", &v) != 1 || v == 0)
			return -1;
		name[o++] = (char)v;
	}
	name[o] = 0;
	return 0;
}

/* The job of one item of a note: made again when its prompt is still the one sent and no
 * answer is known. Not under mu. */
static struct model_table_job *note_job(struct model_table *t, const char *id, const char *key,
					const char *name)
{
	char *data = NULL, why[100], now[RCACHE_KEY_HEX], *json = NULL;
	struct model_table_job *j = NULL;
	struct model_table_entry *e;
	size_t len = 0;

	if (model_table_spool_read(t, id, name, &data, &len) < 0 ||
	    model_table_spool_prompt(data, &len, why, sizeof why) < 0) {
		free(data);
		return NULL;
	}
	data[len] = 0;
	if (t->o.rcache && rcache_get(t->o.rcache, key, &json, &len) == 0) {
		free(json);
		free(data);
		return NULL; /* answered before the mount stopped */
	}
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e && e->state == MODEL_TABLE_ACTIVE && !t->stopping) {
		model_table_gen_key(t, e, data, now);
		if (strcmp(now, key) == 0 && !model_table_job_find(t, key))
			j = model_table_job_add(t, e, data, key, name);
	}
	pthread_mutex_unlock(&t->mu);
	free(data);
	return j;
}

/* Follows again the batch of one note of id. */
static void note_resume(struct model_table *t, const char *id, const char *tag, char *text)
{
	struct model_table_job **v = NULL;
	char key[RCACHE_KEY_HEX], name[SPOOL_NAME_MAX + 1], *bname = NULL, display[48] = "";
	size_t n = 0, cap = 0;

	for (char *line = text, *end; line && *line; line = end) {
		if ((end = strchr(line, '\n')))
			*end++ = 0;
		if (strncmp(line, "display ", 8) == 0)
			snprintf(display, sizeof display, "%s", line + 8);
		else if (strncmp(line, "name ", 5) == 0 && !bname)
			bname = xstrdup(line + 5);
		else if (strncmp(line, "item ", 5) == 0 &&
			 note_item(line + 5, key, name, sizeof name) == 0) {
			struct model_table_job *j = note_job(t, id, key, name);
			if (!j)
				continue;
			if (n == cap)
				v = xrealloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
			v[n++] = j;
		}
	}
	pthread_mutex_lock(&t->mu);
	if (n && display[0] && !t->stopping) {
		struct model_table_batch *bt = batch_new(t, id, &v[0]->model, v, n);
		snprintf(bt->tag, sizeof bt->tag, "%s", tag);
		snprintf(bt->display, sizeof bt->display, "%s", display);
		bt->name = bname;
		bt->recovered = 1;
		bname = NULL;
		v = NULL;
		model_table_logf(t, LOG_INFO,
				 "%s: batch %s of the last mount followed again (%zu "
				 "prompts)",
				 id, bt->name ? bt->name : bt->display, n);
		batch_start(t, bt);
	} else {
		if (n) /* no batch to follow: they go the usual way */
			model_table_job_workers(t);
		spool_note_unlink(t->o.spool, id, tag);
	}
	pthread_mutex_unlock(&t->mu);
	free(bname);
	free(v);
}

void model_table_batch_resume(struct model_table *t, const char *id)
{
	char **tags = NULL;
	size_t n = 0;

	if (!t->o.spool || !t->o.backend || !(backend_caps(t->o.backend) & BACKEND_CAN_BATCH) ||
	    spool_note_list(t->o.spool, id, &tags, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *text = NULL;
		size_t len = 0;
		pthread_mutex_lock(&t->mu);
		int following = 0;
		for (struct model_table_batch *bt = t->batches; bt; bt = bt->next)
			following |= !bt->removed && strcmp(bt->id, id) == 0 &&
				     strcmp(bt->tag, tags[i]) == 0;
		pthread_mutex_unlock(&t->mu);
		if (!following && spool_note_read(t->o.spool, id, tags[i], &text, &len) == 0)
			note_resume(t, id, tags[i], text);
		free(text);
	}
	spool_names_free(tags, n);
}

void model_table_batch_stop(struct model_table *t)
{
	pthread_mutex_lock(&t->mu);
	for (struct model_table_batch *bt = t->batches; bt; bt = bt->next) {
		atomic_store(&bt->cancel.cancelled, 1);
		atomic_store(&bt->halt.cancelled, 1);
	}
	while (t->batch_threads > 0)
		pthread_cond_wait(&t->changed, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

void model_table_batch_free(struct model_table *t)
{
	while (t->batches) {
		struct model_table_batch *bt = t->batches;
		t->batches = bt->next;
		model_table_batch_release(bt);
	}
}

int model_table_batch_text(struct model_table *t, const char *id, char **text, size_t *len)
{
	struct dynbuf b = DYNBUF_INIT;
	struct model_table_batch *bt;

	pthread_mutex_lock(&t->mu);
	for (bt = t->batches; bt && (bt->removed || strcmp(bt->id, id) != 0); bt = bt->next)
		;
	if (bt) {
		dynbuf_printf(&b, "job: %s\nstate: %s\n", bt->name ? bt->name : bt->display,
			      backend_batch_state_name(bt->state));
		dynbuf_printf(&b, "done: %ld\nfailed: %ld\ntotal: %ld\n",
			      bt->done >= 0 ? bt->done : bt->answered,
			      bt->failed >= 0 ? bt->failed : 0, bt->total);
		if (bt->online)
			dynbuf_printf(&b, "online: %ld (not answered by the batch)\n", bt->online);
		dynbuf_printf(&b, "tokens: %ld\ncost online: %ld tokens\n", bt->tokens, bt->tokens);
		dynbuf_printf(&b, "cost batched: %ld tokens (half price)\n", bt->tokens / 2);
		if (bt->failure && bt->state >= BATCH_FAILED)
			dynbuf_printf(&b, "failure: %s\n", bt->failure);
	}
	pthread_mutex_unlock(&t->mu);
	if (!bt)
		return -ENOENT;
	*text = dynbuf_take(&b, len);
	return 0;
}

const struct model_table_batch_ops model_table_batch_ops = {
    .gather = model_table_batch_gather,
    .due = model_table_batch_due,
    .held = model_table_batch_held,
    .resume = model_table_batch_resume,
    .stop = model_table_batch_stop,
    .free = model_table_batch_free,
    .unlinked = model_table_batch_unlinked,
    .drop = model_table_batch_drop,
};
