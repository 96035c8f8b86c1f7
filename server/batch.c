/* batch.c - the batch jobs of tunedfs-server (see batch.h): the table of batches, the
 * runner threads that answer their items through the router (as the online route would,
 * without credentials, faults or request counters), --latency per item, the injected
 * failure and expiry, and the end of a batch through its family's kind. Files: batch_file.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "server/batch_impl.h"
#include "server/fault.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/reply.h"
#include "server/srv.h"

#define MAX_FAMILIES 8

struct srv_batches {
	struct srv *s;
	srv_batch_run_fn run;
	pthread_mutex_t lock;
	pthread_cond_t work;
	int stopping;
	uint64_t next_seq;
	size_t n, cap;
	struct srv_batch **all; /* creation order */
	pthread_t *threads;
	int n_threads;
	unsigned long items_run;
	struct {
		const char *family;
		unsigned long created;
	} created[MAX_FAMILIES];
};

int srv_batch_ended(enum srv_batch_state state)
{
	return state >= SRV_BATCH_SUCCEEDED;
}

static const struct srv_batch_kind *kind_of(const char *family)
{
	for (const struct srv_batch_kind *const *k = srv_batch_kinds; *k; k++)
		if (!strcmp((*k)->family, family))
			return *k;
	return NULL;
}

static struct srv_batch *find_locked(struct srv_batches *bs, const char *family, const char *id)
{
	for (size_t i = 0; i < bs->n; i++)
		if (!bs->all[i]->deleted && !strcmp(bs->all[i]->id, id) &&
		    (!family || !strcmp(bs->all[i]->family, family)))
			return bs->all[i];
	return NULL;
}

static void count_created_locked(struct srv_batches *bs, const char *family)
{
	for (size_t i = 0; i < MAX_FAMILIES; i++) {
		if (!bs->created[i].family)
			bs->created[i].family = kind_of(family) ? kind_of(family)->family : "other";
		if (!strcmp(bs->created[i].family, family)) {
			bs->created[i].created++;
			return;
		}
	}
}

static void append_locked(struct srv_batches *bs, struct srv_batch *b)
{
	if (bs->n == bs->cap) {
		bs->cap = bs->cap ? bs->cap * 2 : 16;
		bs->all = xrealloc(bs->all, bs->cap * sizeof(*bs->all));
	}
	bs->all[bs->n++] = b;
}

/* Why the runners take no more items of b, or NULL while they may. */
static const char *stop_reason_locked(struct srv_batches *bs, struct srv_batch *b,
				      enum srv_batch_state *end)
{
	const struct srv_options *o = &bs->s->opt;
	if (b->next >= b->n && !b->cancel_requested) {
		*end = SRV_BATCH_SUCCEEDED;
		return "";
	}
	if (b->cancel_requested) {
		*end = SRV_BATCH_CANCELLED;
		return "The batch was cancelled.";
	}
	if (o->batch_expire_ms > 0 &&
	    srv_now_ns() - b->create_ns >= (int64_t)o->batch_expire_ms * 1000000) {
		*end = SRV_BATCH_EXPIRED;
		return "The batch expired before all of its requests were answered.";
	}
	if (o->batch_fail_after > 0 && b->next >= (size_t)o->batch_fail_after && b->next < b->n) {
		*end = SRV_BATCH_FAILED;
		return "The batch failed part-way (injected by --fail-batch-after).";
	}
	return NULL;
}

/* Ends b: its family writes the output (outside the lock: no runner writes b's items any
 * more), then the end state is recorded. Called with the lock held; returns with it. */
static void finish_locked(struct srv_batches *bs, struct srv_batch *b, enum srv_batch_state end,
			  const char *reason)
{
	const struct srv_batch_kind *k = kind_of(b->family);
	char why[512] = "", *output = NULL;
	b->state = SRV_BATCH_RUNNING; /* claimed for ending: no other runner picks it */
	b->in_flight++;
	pthread_mutex_unlock(&bs->lock);
	if (k && k->finish)
		output = k->finish(bs->s, b, end, why, sizeof(why));
	pthread_mutex_lock(&bs->lock);
	b->in_flight--;
	if (k && k->finish && !output && why[0]) {
		end = SRV_BATCH_FAILED;
		reason = why;
	}
	free(b->output);
	b->output = output;
	free(b->error);
	b->error = end == SRV_BATCH_SUCCEEDED ? NULL : xstrdup(reason);
	b->state = end;
	b->end_ns = b->update_ns = srv_now_ns();
	if (!b->deleted)
		srv_batch_file_save(bs->s->opt.data_dir, b);
	pthread_cond_broadcast(&bs->work);
}

/* Answers item i of b as its target route would online, after as long a wait. */
static void run_item(struct srv_batches *bs, struct srv_batch *b, size_t i)
{
	struct srv_batch_item *it = &b->items[i];
	struct srv_reply rep;
	bs->run(bs->s, "POST", b->target, it->request, strlen(it->request), &rep);
	/* As long as the online request waits (after the answer is made: the same time). */
	long wait = srv_fault_latency(bs->s, rep.route);
	struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
	while (wait > 0 && nanosleep(&ts, &ts) && errno == EINTR)
		;
	cJSON *body = cJSON_ParseWithLength(rep.body ? rep.body : "", rep.body_len);
	char *result = body ? srv_json_print(body) : NULL;
	if (!result) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "message", "The answer was not JSON.");
		result = srv_json_print(e);
		cJSON_Delete(e);
	}
	cJSON_Delete(body);
	it->status = rep.status ? rep.status : 500;
	it->result = result;
	srv_reply_free(&rep);
}

/* The oldest batch with an item to take or an end to record; sets *i or *end. */
static struct srv_batch *pick_locked(struct srv_batches *bs, size_t *i, int *ending,
				     enum srv_batch_state *end, const char **reason)
{
	for (size_t k = 0; k < bs->n; k++) {
		struct srv_batch *b = bs->all[k];
		if (b->deleted || srv_batch_ended(b->state))
			continue;
		while (b->next < b->n && b->items[b->next].done)
			b->next++;
		*reason = stop_reason_locked(bs, b, end);
		if (*reason) {
			if (b->in_flight)
				continue;
			*ending = 1;
			return b;
		}
		*i = b->next++;
		*ending = 0;
		return b;
	}
	return NULL;
}

static void *runner(void *arg)
{
	struct srv_batches *bs = arg;
	pthread_mutex_lock(&bs->lock);
	while (!bs->stopping) {
		size_t i = 0;
		int ending = 0;
		enum srv_batch_state end;
		const char *reason;
		struct srv_batch *b = pick_locked(bs, &i, &ending, &end, &reason);
		if (!b) {
			struct timespec until = clock_deadline_in(200);
			pthread_cond_timedwait(&bs->work, &bs->lock, &until);
			continue;
		}
		if (ending) {
			finish_locked(bs, b, end, reason);
			continue;
		}
		if (b->state == SRV_BATCH_PENDING) {
			b->state = SRV_BATCH_RUNNING;
			b->start_ns = srv_now_ns();
			srv_batch_file_save(bs->s->opt.data_dir, b);
		}
		b->in_flight++;
		pthread_mutex_unlock(&bs->lock);
		run_item(bs, b, i);
		pthread_mutex_lock(&bs->lock);
		b->in_flight--;
		b->items[i].done = 1;
		if (b->items[i].status == 200)
			b->n_ok++;
		else
			b->n_failed++;
		b->update_ns = srv_now_ns();
		bs->items_run++;
		if (!b->deleted)
			srv_batch_file_answer(bs->s->opt.data_dir, b, i);
		pthread_cond_broadcast(&bs->work);
	}
	pthread_mutex_unlock(&bs->lock);
	return NULL;
}

static int by_seq(const void *a, const void *b)
{
	const struct srv_batch *x = *(struct srv_batch *const *)a;
	const struct srv_batch *y = *(struct srv_batch *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int srv_batches_start(struct srv *s, int n_workers, srv_batch_run_fn run, struct srv_batches **out)
{
	struct srv_batches *bs = xcalloc(1, sizeof(*bs));
	bs->s = s;
	bs->run = run;
	pthread_mutex_init(&bs->lock, NULL);
	clock_cond_init(&bs->work);
	int rc = srv_batch_file_load_all(s->opt.data_dir, &bs->all, &bs->n);
	if (rc) {
		free(bs);
		return rc;
	}
	bs->cap = bs->n;
	if (bs->n)
		qsort(bs->all, bs->n, sizeof(*bs->all), by_seq);
	for (size_t i = 0; i < bs->n; i++)
		if (bs->all[i]->seq >= bs->next_seq)
			bs->next_seq = bs->all[i]->seq + 1;
	bs->threads = xcalloc((size_t)n_workers, sizeof(*bs->threads));
	for (int i = 0; i < n_workers; i++) {
		if (pthread_create(&bs->threads[i], NULL, runner, bs))
			break;
		bs->n_threads++;
	}
	*out = bs;
	return bs->n_threads ? 0 : -EAGAIN;
}

void srv_batches_stop(struct srv_batches *bs)
{
	if (!bs)
		return;
	pthread_mutex_lock(&bs->lock);
	bs->stopping = 1;
	pthread_cond_broadcast(&bs->work);
	pthread_mutex_unlock(&bs->lock);
	for (int i = 0; i < bs->n_threads; i++)
		pthread_join(bs->threads[i], NULL);
	for (size_t i = 0; i < bs->n; i++)
		srv_batch_free(bs->all[i]);
	free(bs->all);
	free(bs->threads);
	pthread_cond_destroy(&bs->work);
	pthread_mutex_destroy(&bs->lock);
	free(bs);
}

int srv_batch_submit(struct srv_batches *bs, const char *family, char *target, char *meta,
		     struct srv_batch_item *items, size_t n, char *id)
{
	if (!bs) {
		for (size_t i = 0; i < n; i++) {
			free(items[i].key);
			free(items[i].request);
			free(items[i].extra);
		}
		free(items);
		free(target);
		free(meta);
		return -ENODEV;
	}
	struct srv_batch *b = xcalloc(1, sizeof(*b));
	snprintf(b->family, sizeof(b->family), "%s", family);
	b->target = target;
	b->meta = meta;
	b->items = items;
	b->n = n;
	b->create_ns = b->update_ns = srv_now_ns();
	int rc;
	do {
		srv_id_random(b->id, 24);
		pthread_mutex_lock(&bs->lock);
		b->seq = bs->next_seq++;
		rc = srv_batch_file_create(bs->s->opt.data_dir, b);
		if (rc == 0) {
			append_locked(bs, b);
			count_created_locked(bs, family);
			snprintf(id, 48, "%s", b->id);
			pthread_cond_broadcast(&bs->work);
		}
		pthread_mutex_unlock(&bs->lock);
	} while (rc == -EEXIST);
	if (rc)
		srv_batch_free(b);
	return rc;
}

int srv_batch_with(struct srv_batches *bs, const char *family, const char *id,
		   void (*fn)(const struct srv_batch *b, void *ctx), void *ctx)
{
	if (!bs)
		return -ENOENT;
	pthread_mutex_lock(&bs->lock);
	struct srv_batch *b = find_locked(bs, family, id);
	if (b)
		fn(b, ctx);
	pthread_mutex_unlock(&bs->lock);
	return b ? 0 : -ENOENT;
}

void srv_batch_each(struct srv_batches *bs, const char *family,
		    void (*fn)(const struct srv_batch *b, void *ctx), void *ctx)
{
	if (!bs)
		return;
	pthread_mutex_lock(&bs->lock);
	for (size_t i = bs->n; i-- > 0;)
		if (!bs->all[i]->deleted && !strcmp(bs->all[i]->family, family))
			fn(bs->all[i], ctx);
	pthread_mutex_unlock(&bs->lock);
}

int srv_batch_cancel(struct srv_batches *bs, const char *family, const char *id)
{
	if (!bs)
		return -ENOENT;
	pthread_mutex_lock(&bs->lock);
	struct srv_batch *b = find_locked(bs, family, id);
	int rc = !b ? -ENOENT : srv_batch_ended(b->state) ? -EALREADY : 0;
	if (rc == 0) {
		b->cancel_requested = 1;
		pthread_cond_broadcast(&bs->work);
	}
	pthread_mutex_unlock(&bs->lock);
	return rc;
}

int srv_batch_delete(struct srv_batches *bs, const char *family, const char *id)
{
	if (!bs)
		return -ENOENT;
	pthread_mutex_lock(&bs->lock);
	struct srv_batch *b = find_locked(bs, family, id);
	if (b) {
		/* The record stays in memory (a runner may hold it); its files go now. */
		b->deleted = 1;
		b->cancel_requested = 1;
		srv_batch_file_remove(bs->s->opt.data_dir, b->id);
		pthread_cond_broadcast(&bs->work);
	}
	pthread_mutex_unlock(&bs->lock);
	return b ? 0 : -ENOENT;
}

void srv_batches_stats(struct srv_batches *bs, void *cjson_object)
{
	cJSON *o = cJSON_AddObjectToObject(cjson_object, "batches");
	cJSON *c = cJSON_AddObjectToObject(o, "created");
	unsigned long running = 0;
	pthread_mutex_lock(&bs->lock);
	for (size_t i = 0; i < MAX_FAMILIES && bs->created[i].family; i++)
		cJSON_AddNumberToObject(c, bs->created[i].family, (double)bs->created[i].created);
	for (size_t i = 0; i < bs->n; i++)
		running += !bs->all[i]->deleted && !srv_batch_ended(bs->all[i]->state);
	cJSON_AddNumberToObject(o, "unfinished", (double)running);
	cJSON_AddNumberToObject(o, "items", (double)bs->items_run);
	pthread_mutex_unlock(&bs->lock);
}
