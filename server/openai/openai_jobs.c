/* openai_jobs.c - the fine_tuning/jobs routes of the OpenAI family: create (reading the
 * uploaded file, settling "auto" hyperparameters, queueing the job), retrieve, list (newest
 * first, after/limit, metadata filter), cancel, and the events and checkpoints a job's
 * record implies. Files: openai_files.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/ids.h"
#include "server/objects.h"
#include "server/openai/openai.h"

#define MAX_DATASET ((size_t)1 << 30)

/* "auto": the epochs OpenAI's own guidance picks (3, raised so that examples times epochs
 * reaches 100, at most 25), a batch of about 0.2 % of the examples (1 to 256). */
static void settle_auto(struct srv_model *m)
{
	long n = m->n_examples;
	if (!m->epoch_count) {
		m->epoch_count = 3;
		if (n * 3 < 100)
			m->epoch_count =
			    (int)((100 + n - 1) / n) > 25 ? 25 : (int)((100 + n - 1) / n);
	}
	if (!m->batch_size)
		m->batch_size = n / 500 < 1 ? 1 : n / 500 > 256 ? 256 : (int)(n / 500);
	m->total_steps = srv_total_steps(n, m->epoch_count, m->batch_size);
}

static int insert(struct srv *s, struct srv_model *m, struct srv_reply *rep)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		memcpy(m->id, "ftjob-", 6);
		srv_id_random(m->id + 6, 24);
		int rc = srv_store_insert(s->store, m);
		if (rc == 0)
			return 0;
		if (rc != -EEXIST)
			break;
	}
	srv_openai_error(rep, 500, "server_error", NULL, NULL, "Cannot store the job.");
	return -EIO;
}

static long long bytes_of(const struct srv_example *ex, size_t n)
{
	long long b = 0;
	for (size_t i = 0; i < n; i++)
		b += (long long)(ex[i].input_len + ex[i].output_len);
	return b;
}

/* The training file's bytes, or rep filled (400 naming training_file). */
static int read_file(struct srv *s, const char *id, char **text, size_t *len, struct srv_reply *rep)
{
	if (!strncmp(id, "file-", 5) &&
	    srv_object_read(s->opt.data_dir, SRV_OPENAI_BUCKET, id, MAX_DATASET, text, len) == 0)
		return 0;
	srv_openai_error(rep, 400, "invalid_request_error", "training_file", "invalid_file_id",
			 "invalid training_file: %.64s", id);
	return -ENOENT;
}

void srv_openai_job_create(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	char why[512], *text = NULL;
	const char *param = NULL;
	size_t len = 0, n_ex = 0;
	struct srv_example *ex = NULL;
	cJSON *body;
	if (srv_body_json(req, 0, &body, rep))
		return;
	struct srv_model *m = srv_model_new();
	int rc = srv_openai_create_request(body, m, why, sizeof(why), &param);
	if (rc) /* param may point into body */
		srv_openai_error(rep, 400, "invalid_request_error", param, NULL, "%s", why);
	cJSON_Delete(body);
	if (rc)
		goto out;
	struct srv_model *src = NULL;
	if (!srv_openai_base_known(m->base_model) &&
	    !(src = srv_openai_find_model(s, m->base_model))) {
		srv_openai_error(rep, 400, "invalid_request_error", "model", "model_not_available",
				 "Model %.200s is not available for fine-tuning or does not exist.",
				 m->base_model);
		goto out;
	}
	srv_model_put(s->store, src);
	if (read_file(s, m->dataset, &text, &len, rep) ||
	    (m->validation && srv_openai_read_validation(s, m, rep)))
		goto out;
	int bad = srv_openai_dataset(text, len, &ex, &n_ex, why, sizeof(why));
	snprintf(m->family, sizeof(m->family), "openai");
	srv_id_random(m->op_id, 12);
	m->state = SRV_STATE_CREATING;
	m->create_ns = m->update_ns = srv_now_ns();
	m->n_examples = (long)n_ex;
	m->data_bytes = bytes_of(ex, n_ex);
	if (!bad)
		settle_auto(m);
	if (insert(s, m, rep))
		goto out;
	/* A dataset that is there but wrong fails the job, not the call. */
	char *fail =
	    bad ? xasprintf("The training file %s is not valid chat JSONL: %s", m->dataset, why)
		: NULL;
	srv_jobs_submit_or_fail(s->jobs, m, fail, ex, n_ex); /* persists m */
	ex = NULL;
	pthread_mutex_lock(&s->store->lock);
	cJSON *o = srv_openai_job_json(m);
	pthread_mutex_unlock(&s->store->lock);
	srv_reply_json(rep, 200, o);
out:
	free(text);
	srv_examples_free(ex, n_ex);
	srv_model_put(s->store, m);
}

void srv_openai_job_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep)
{
	struct srv_model *m = srv_openai_find_job(s, srv_param(p, "id"), rep);
	if (!m)
		return;
	pthread_mutex_lock(&s->store->lock);
	cJSON *o = srv_openai_job_json(m);
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, m);
	srv_reply_json(rep, 200, o);
}

void srv_openai_job_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	struct srv_model *m = srv_openai_find_job(s, srv_param(p, "id"), rep);
	if (!m)
		return;
	pthread_mutex_lock(&s->store->lock);
	int running = m->state == SRV_STATE_CREATING && !m->cancel_requested;
	if (running) {
		m->cancel_requested = 1;
		m->update_ns = srv_now_ns();
	}
	cJSON *o = running ? srv_openai_job_json(m) : NULL;
	pthread_mutex_unlock(&s->store->lock);
	if (running) {
		srv_store_persist(s->store, m);
		srv_reply_json(rep, 200, o);
	} else {
		srv_openai_error(rep, 400, "invalid_request_error", NULL, NULL,
				 "Job %s has already completed and cannot be cancelled.", m->id);
	}
	srv_model_put(s->store, m);
}

/* limit (default def, 1 to 100) and after; -EINVAL with rep filled. */
static int paging(const struct srv_request *req, long def, long *limit, char *after, size_t len,
		  struct srv_reply *rep)
{
	char buf[16] = "";
	after[0] = '\0';
	srv_query_get(req->query, "after", after, len);
	*limit = def;
	if (srv_query_get(req->query, "limit", buf, sizeof(buf)) == 1) {
		char *end;
		*limit = strtol(buf, &end, 10);
		if (*end || *limit < 1 || *limit > 100) {
			srv_openai_error(rep, 400, "invalid_request_error", "limit", NULL,
					 "limit must be an integer in [1, 100].");
			return -EINVAL;
		}
	}
	return 0;
}

/* metadata[KEY]=VALUE terms of the query that m must carry. */
static int metadata_match(const struct srv_model *m, const char *query)
{
	for (const char *q = query; q && *q;) {
		size_t n = strcspn(q, "&");
		char term[600];
		snprintf(term, sizeof(term), "%.*s", (int)(n < 599 ? n : 599), q);
		q += n + (q[n] == '&');
		if (srv_percent_decode(term, 1) || strncmp(term, "metadata[", 9))
			continue;
		char *close = strstr(term, "]="), *key = term + 9;
		if (!close)
			return 0;
		*close = '\0';
		int hit = 0;
		for (size_t i = 0; i < m->n_labels; i++)
			hit |= !strcmp(m->labels[i].key, key) &&
			       !strcmp(m->labels[i].value, close + 2);
		if (!hit)
			return 0;
	}
	return 1;
}

void srv_openai_job_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep)
{
	char after[64];
	long limit;
	if (paging(req, 20, &limit, after, sizeof(after), rep))
		return;
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "object", "list");
	cJSON *arr = cJSON_AddArrayToObject(out, "data");
	long count = 0;
	int more = 0, started = !*after;
	struct srv_store *st = s->store;
	pthread_mutex_lock(&st->lock);
	struct srv_model *from = *after ? srv_store_lookup_locked(st, after) : NULL;
	/* Newest first: from the end of creation order, or just before the after job. */
	size_t i = from ? srv_store_seq_index_locked(st, from->seq) : st->n;
	started = started || from;
	while (started && i-- > 0) {
		const struct srv_model *m = st->by_seq[i];
		if (strcmp(m->family, "openai") || !metadata_match(m, req->query))
			continue;
		if (count == limit) {
			more = 1;
			break;
		}
		cJSON_AddItemToArray(arr, srv_openai_job_json(m));
		count++;
	}
	pthread_mutex_unlock(&st->lock);
	cJSON_AddBoolToObject(out, "has_more", more);
	srv_reply_json(rep, 200, out);
}

/* The events of a job, oldest first, as its record tells them: one a stage, one with
 * metrics a training step. *n of them; index i has id "ftevent-TAIL-i". */
struct event {
	int64_t at;
	const char *level, *type;
	char msg[640];
	const struct srv_snapshot *snap;
};

static size_t events_of(const struct srv_model *m, struct event *ev, size_t max)
{
	size_t n = 0;
#define ADD(t, lvl, ...)                                                                           \
	do {                                                                                       \
		if (n < max) {                                                                     \
			ev[n] = (struct event){(t), (lvl), "message", "", NULL};                   \
			snprintf(ev[n++].msg, sizeof(ev[0].msg), __VA_ARGS__);                     \
		}                                                                                  \
	} while (0)
	ADD(m->create_ns, "info", "Validating training file: %s", m->dataset);
	if (m->start_ns && !(m->state == SRV_STATE_FAILED && m->err_code == 3)) {
		ADD(m->start_ns, "info", "Files validated, moving job to queued state");
		ADD(m->start_ns, "info", "Fine-tuning job started");
	}
	for (size_t i = 0; i < m->n_snaps && n < max; i++) {
		ev[n] = (struct event){m->snaps[i].compute_ns, "info", "metrics", "", &m->snaps[i]};
		int len = snprintf(ev[n].msg, sizeof(ev[0].msg), "Step %d/%d: training loss=%.4f",
				   m->snaps[i].step, m->total_steps, m->snaps[i].mean_loss);
		double vl;
		if (srv_openai_valid_loss(m, m->snaps[i].step, &vl))
			snprintf(ev[n].msg + len, sizeof(ev[0].msg) - (size_t)len,
				 ", validation loss=%.4f", vl);
		n++;
	}
	char name[512];
	if (m->state == SRV_STATE_ACTIVE) {
		srv_openai_model_name(m, name, sizeof(name));
		ADD(m->complete_ns, "info", "New fine-tuned model created: %s", name);
		ADD(m->complete_ns, "info", "The job has successfully completed");
	} else if (m->state == SRV_STATE_FAILED && m->err_code == 1) {
		ADD(m->complete_ns, "info", "Fine-tuning job cancelled");
	} else if (m->state == SRV_STATE_FAILED) {
		ADD(m->complete_ns, "error", "Fine-tuning job failed: %s",
		    m->err_msg ? m->err_msg : "unknown error");
	}
#undef ADD
	return n;
}

static cJSON *event_json(const struct srv_model *m, const struct event *e, size_t i)
{
	char id[96];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "object", "fine_tuning.job.event");
	snprintf(id, sizeof(id), "ftevent-%s-%zu", m->id + 6, i);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddNumberToObject(o, "created_at", (double)(e->at / 1000000000));
	cJSON_AddStringToObject(o, "level", e->level);
	cJSON_AddStringToObject(o, "message", e->msg);
	cJSON_AddStringToObject(o, "type", e->type);
	if (e->snap) {
		cJSON *d = cJSON_AddObjectToObject(o, "data");
		cJSON_AddNumberToObject(d, "step", e->snap->step);
		cJSON_AddNumberToObject(d, "train_loss", e->snap->mean_loss);
		double vl;
		if (srv_openai_valid_loss(m, e->snap->step, &vl))
			cJSON_AddNumberToObject(d, "valid_loss", vl);
		cJSON_AddNumberToObject(d, "total_steps", m->total_steps);
	} else {
		cJSON_AddObjectToObject(o, "data");
	}
	return o;
}

void srv_openai_job_events(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	char after[96];
	long limit;
	if (paging(req, 20, &limit, after, sizeof(after), rep))
		return;
	struct srv_model *m = srv_openai_find_job(s, srv_param(p, "id"), rep);
	if (!m)
		return;
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "object", "list");
	cJSON *arr = cJSON_AddArrayToObject(out, "data");
	pthread_mutex_lock(&s->store->lock);
	size_t max = m->n_snaps + 8;
	struct event *ev = xcalloc(max, sizeof(*ev));
	size_t n = events_of(m, ev, max), i = n;
	/* Newest first; after=ID continues with the events older than it. */
	const char *dash = *after ? strrchr(after, '-') : NULL;
	if (dash) {
		char *end;
		unsigned long k = strtoul(dash + 1, &end, 10);
		i = *end ? 0 : k < n ? k : n;
	}
	long count = 0;
	while (i-- > 0 && count < limit) {
		cJSON_AddItemToArray(arr, event_json(m, &ev[i], i));
		count++;
	}
	int more = i != (size_t)-1 && i + 1 > 0;
	pthread_mutex_unlock(&s->store->lock);
	free(ev);
	srv_model_put(s->store, m);
	cJSON_AddBoolToObject(out, "has_more", more);
	srv_reply_json(rep, 200, out);
}

/* A succeeded job has one checkpoint, its final weights, named as OpenAI names them. */
void srv_openai_job_checkpoints(struct srv *s, const struct srv_request *req,
				const struct srv_params *p, struct srv_reply *rep)
{
	char after[96], name[600], id[96];
	long limit;
	if (paging(req, 10, &limit, after, sizeof(after), rep))
		return;
	struct srv_model *m = srv_openai_find_job(s, srv_param(p, "id"), rep);
	if (!m)
		return;
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "object", "list");
	cJSON *arr = cJSON_AddArrayToObject(out, "data");
	pthread_mutex_lock(&s->store->lock);
	snprintf(id, sizeof(id), "ftckpt-%s-%d", m->id + 6, m->total_steps);
	if (m->state == SRV_STATE_ACTIVE && strcmp(after, id)) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "object", "fine_tuning.job.checkpoint");
		cJSON_AddStringToObject(c, "id", id);
		cJSON_AddNumberToObject(c, "created_at", (double)(m->complete_ns / 1000000000));
		srv_openai_model_name(m, name, sizeof(name) - 40);
		snprintf(name + strlen(name), 40, ":ckpt-step-%d", m->total_steps);
		cJSON_AddStringToObject(c, "fine_tuned_model_checkpoint", name);
		cJSON_AddNumberToObject(c, "step_number", m->total_steps);
		cJSON *mt = cJSON_AddObjectToObject(c, "metrics");
		cJSON_AddNumberToObject(mt, "step", m->total_steps);
		if (m->n_snaps)
			cJSON_AddNumberToObject(mt, "train_loss",
						m->snaps[m->n_snaps - 1].mean_loss);
		if (m->n_val_loss) { /* the whole set, after the last epoch */
			cJSON_AddNumberToObject(mt, "valid_loss", m->val_loss[m->n_val_loss - 1]);
			cJSON_AddNumberToObject(mt, "full_valid_loss",
						m->val_loss[m->n_val_loss - 1]);
		}
		cJSON_AddStringToObject(c, "fine_tuning_job_id", m->id);
		cJSON_AddItemToArray(arr, c);
		cJSON_AddStringToObject(out, "first_id", id);
		cJSON_AddStringToObject(out, "last_id", id);
	}
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, m);
	cJSON_AddBoolToObject(out, "has_more", 0);
	srv_reply_json(rep, 200, out);
}
