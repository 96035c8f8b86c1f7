/* vertex_jobs.c - the tuningJobs routes of the Vertex family: create (reading the
 * training file from the stored objects and queueing the job), get, list (paged, with a
 * label and state filter) and cancel. Endpoints and models: vertex_endpoints.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/ids.h"
#include "server/objects.h"
#include "server/vertex/vertex.h"

#define MAX_DATASET ((size_t)1 << 30)

/* gs://BUCKET/OBJECT of the stored objects: 0 and the bytes, or fills rep. what: "Training"
 * or "Validation", field: the request's field in the messages. */
static int read_dataset(struct srv *s, const char *uri, const char *what, const char *field,
			char **text, size_t *len, struct srv_reply *rep)
{
	char bucket[64];
	const char *p = uri + 5, *slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= sizeof(bucket) || !slash[1]) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid value at 'supervised_tuning_spec.%s': "
				"%.300s is not gs://BUCKET/OBJECT.",
				field, uri);
		return -EINVAL;
	}
	snprintf(bucket, sizeof(bucket), "%.*s", (int)(slash - p), p);
	int rc = srv_object_read(s->opt.data_dir, bucket, slash + 1, MAX_DATASET, text, len);
	if (rc == -EFBIG) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"%s dataset %.300s is larger than 1 GiB.", what, uri);
		return rc;
	}
	if (rc) {
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"%s dataset %.300s does not exist or cannot be read.", what, uri);
		return rc;
	}
	return 0;
}

/* The validation set of m, checked whole now (a service checks both sets before the job
 * starts): 0 and m's examples, or fills rep. */
static int read_validation(struct srv *s, struct srv_model *m, struct srv_reply *rep)
{
	char why[512], *text = NULL;
	size_t len = 0;
	int rc = read_dataset(s, m->validation, "Validation", "validation_dataset_uri", &text, &len,
			      rep);

	if (rc == 0 && srv_vertex_dataset(text, len, &m->val_ex, &m->n_val, why, sizeof(why))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid validation dataset %.300s: %s", m->validation, why);
		rc = -EINVAL;
	}
	free(text);
	return rc;
}

/* A numeric job id, as Vertex gives them (19 digits, not starting with 0). */
static void job_id(char *buf, size_t len)
{
	uint64_t r;
	srv_random_bytes(&r, sizeof(r));
	snprintf(buf, len, "%llu", 1000000000000000000ULL + r % 8000000000000000000ULL);
}

static int insert(struct srv *s, struct srv_model *m, struct srv_reply *rep)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		job_id(m->id, sizeof(m->id));
		int rc = srv_store_insert(s->store, m);
		if (rc == 0)
			return 0;
		if (rc != -EEXIST) {
			srv_reply_error(rep, 500, "INTERNAL", "Cannot store the tuning job: %s.",
					strerror(-rc));
			return rc;
		}
	}
	srv_reply_error(rep, 500, "INTERNAL", "Cannot find a free tuning job id.");
	return -EEXIST;
}

void srv_vertex_create(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep)
{
	char why[512], parent[300];
	cJSON *body;
	struct srv_example *ex = NULL;
	size_t n_ex = 0, len = 0;
	char *text = NULL;
	if (srv_body_json(req, 0, &body, rep))
		return;
	struct srv_model *m = srv_model_new();
	int rc = srv_vertex_create_request(body, m, why, sizeof(why));
	cJSON_Delete(body);
	if (rc) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
		goto out;
	}
	if (read_dataset(s, m->dataset, "Training", "training_dataset_uri", &text, &len, rep) ||
	    (m->validation && read_validation(s, m, rep)))
		goto out;
	int bad = srv_vertex_dataset(text, len, &ex, &n_ex, why, sizeof(why));
	srv_vertex_parent(p, parent, sizeof(parent));
	snprintf(m->family, sizeof(m->family), "vertex");
	m->parent = xstrdup(parent);
	srv_id_random(m->op_id, 12);
	m->state = SRV_STATE_CREATING;
	m->create_ns = m->update_ns = srv_now_ns();
	m->n_examples = (long)n_ex;
	for (size_t i = 0; i < n_ex; i++)
		m->data_bytes += (long long)(ex[i].input_len + ex[i].output_len);
	m->batch_size = srv_jobs_default_batch(m->n_examples);
	m->total_steps = srv_total_steps(m->n_examples, m->epoch_count, m->batch_size);
	if (insert(s, m, rep))
		goto out;
	/* A dataset that is there but wrong fails the job, not the call. */
	char *fail = bad ? xasprintf("Invalid training dataset %s: %s", m->dataset, why) : NULL;
	srv_jobs_submit_or_fail(s->jobs, m, fail, ex, n_ex); /* persists m */
	ex = NULL;
	pthread_mutex_lock(&s->store->lock);
	cJSON *o = srv_vertex_job_json(m);
	pthread_mutex_unlock(&s->store->lock);
	srv_reply_json(rep, 200, o);
out:
	free(text);
	srv_examples_free(ex, n_ex);
	srv_model_put(s->store, m);
}

void srv_vertex_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep)
{
	struct srv_model *m = srv_vertex_find(s, p, srv_param(p, "id"), "TuningJob", rep);
	if (!m)
		return;
	pthread_mutex_lock(&s->store->lock);
	cJSON *o = srv_vertex_job_json(m);
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, m);
	srv_reply_json(rep, 200, o);
}

void srv_vertex_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep)
{
	cJSON *body;
	if (srv_body_json(req, 1, &body, rep))
		return;
	int empty = cJSON_IsObject(body) && !body->child;
	cJSON_Delete(body);
	if (!empty) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid JSON payload received. :cancel takes an empty body.");
		return;
	}
	struct srv_model *m = srv_vertex_find(s, p, srv_param(p, "id"), "TuningJob", rep);
	if (!m)
		return;
	pthread_mutex_lock(&s->store->lock);
	int running = m->state == SRV_STATE_CREATING;
	if (running) {
		m->cancel_requested = 1;
		m->update_ns = srv_now_ns();
	}
	pthread_mutex_unlock(&s->store->lock);
	if (running) {
		srv_store_persist(s->store, m);
		srv_reply_json(rep, 200, cJSON_CreateObject());
	} else {
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"TuningJob %s is already in a final state and cannot be cancelled.",
				m->id);
	}
	srv_model_put(s->store, m);
}

/* One term of a list filter: labels.KEY=VALUE (quotes optional) or state=JOB_STATE_X. */
static int term_match(const struct srv_model *m, const char *t, size_t n, int *ok)
{
	char buf[300];
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, t, n);
	buf[n] = '\0';
	char *eq = strchr(buf, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	char *v = eq + 1;
	size_t vl = strlen(v);
	if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
		v[vl - 1] = '\0', v++;
	*ok = 0;
	if (!strcmp(buf, "state")) {
		*ok = !strcmp(srv_vertex_state(m), v);
		return 0;
	}
	if (strncmp(buf, "labels.", 7))
		return -EINVAL;
	for (size_t i = 0; i < m->n_labels; i++)
		if (!strcmp(m->labels[i].key, buf + 7) && !strcmp(m->labels[i].value, v))
			*ok = 1;
	return 0;
}

/* 1 when m passes every term of filter (joined by spaces or AND), 0 when not, -EINVAL
 * when the filter is not one this server reads. */
static int filter_match(const struct srv_model *m, const char *filter)
{
	int all = 1;
	for (const char *p = filter; *p;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		int ok = 1;
		if (!(n == 3 && !strncmp(p, "AND", 3)) && term_match(m, p, n, &ok))
			return -EINVAL;
		all &= ok;
		p += n;
	}
	return all;
}

void srv_vertex_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep)
{
	int size;
	unsigned long long pos;
	char parent[300], filter[512] = "";
	if (srv_page_params(req, 100, 1000, &size, &pos, rep))
		return;
	if (srv_query_get(req->query, "filter", filter, sizeof(filter)) < 0) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "Invalid value at 'filter'.");
		return;
	}
	srv_vertex_parent(p, parent, sizeof(parent));
	cJSON *out = cJSON_CreateObject(), *arr = NULL;
	struct srv_store *st = s->store;
	int count = 0, bad = 0;
	unsigned long long next = 0;
	pthread_mutex_lock(&st->lock);
	for (size_t i = srv_store_seq_index_locked(st, pos); i < st->n; i++) {
		struct srv_model *m = st->by_seq[i];
		if (strcmp(m->family, "vertex") || strcmp(m->parent, parent))
			continue;
		int hit = filter_match(m, filter);
		if (hit < 0) {
			bad = 1;
			break;
		}
		if (!hit)
			continue;
		if (count == size) {
			next = m->seq;
			break;
		}
		if (!arr)
			arr = cJSON_AddArrayToObject(out, "tuningJobs");
		cJSON_AddItemToArray(arr, srv_vertex_job_json(m));
		count++;
	}
	pthread_mutex_unlock(&st->lock);
	if (bad) {
		cJSON_Delete(out);
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid value at 'filter': this server reads labels.KEY=VALUE and "
				"state=JOB_STATE_..., joined by AND.");
		return;
	}
	if (next) {
		char tok[64];
		srv_page_token(next, tok, sizeof(tok));
		cJSON_AddStringToObject(out, "nextPageToken", tok);
	}
	srv_reply_json(rep, 200, out);
}
