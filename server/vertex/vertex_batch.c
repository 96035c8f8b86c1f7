/* vertex_batch.c - Vertex AI batch prediction in tunedfs-server: batchPredictionJobs on a
 * tuned model (.../models/ID) or a publisher model, JSONL input read from and
 * predictions.jsonl written to the server's Cloud Storage objects; get, list (paged,
 * state and display_name filters), cancel, delete. Running it is server/batch.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/batch.h"
#include "server/batch_reply.h"
#include "server/json_util.h"
#include "server/objects.h"
#include "server/vertex/vertex.h"

#define MAX_ITEMS 200000
#define MAX_INPUT ((size_t)1 << 30)

static const char *const state_words[] = {"JOB_STATE_PENDING",	 "JOB_STATE_RUNNING",
					  "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
					  "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"};

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(why, why_len, __VA_ARGS__);                                               \
		return -EINVAL;                                                                    \
	} while (0)

/* "gs://B/NAME" into bucket and name (name may be empty when allow_empty). */
static int gs_split(const char *uri, char *bucket, size_t blen, char *name, size_t nlen,
		    int allow_empty)
{
	if (strncmp(uri, "gs://", 5))
		return -EINVAL;
	const char *b = uri + 5;
	size_t n = strcspn(b, "/");
	if (n == 0 || n >= blen)
		return -EINVAL;
	snprintf(bucket, blen, "%.*s", (int)n, b);
	snprintf(name, nlen, "%s", b[n] ? b + n + 1 : "");
	if (!srv_object_bucket_valid(bucket) || (!allow_empty && !srv_object_name_valid(name)))
		return -EINVAL;
	return 0;
}

static int input_line(void *ctx, const cJSON *j, char *why, size_t why_len)
{
	struct srv_batch_items *l = ctx;
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "request");
	if (!cJSON_IsObject(r))
		BAD("a \"request\" object is required");
	/* The line's other fields come back with its prediction. */
	cJSON *extra = cJSON_Duplicate(j, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(extra, "request");
	srv_batch_items_add(l, "", r, extra);
	cJSON_Delete(extra);
	return 0;
}

/* Every line of every gcsSource uri, in order. */
static int read_inputs(struct srv *s, const cJSON *uris, struct srv_batch_items *l, char *why,
		       size_t why_len)
{
	char bucket[64], name[SRV_OBJECT_NAME_MAX + 1], line[200];
	const cJSON *u;
	if (!cJSON_IsArray(uris) || cJSON_GetArraySize(uris) == 0)
		BAD("Invalid value at 'input_config.gcs_source.uris': at least one gs:// URI is "
		    "required.");
	cJSON_ArrayForEach(u, uris)
	{
		char *data = NULL;
		size_t len = 0;
		if (!cJSON_IsString(u) ||
		    gs_split(u->valuestring, bucket, sizeof(bucket), name, sizeof(name), 0))
			BAD("Invalid value at 'input_config.gcs_source.uris': expected gs://BUCKET/"
			    "OBJECT.");
		if (srv_object_read(s->opt.data_dir, bucket, name, MAX_INPUT, &data, &len))
			BAD("Input %.300s cannot be read: no such object.", u->valuestring);
		int rc = srv_jsonl_each(data, len, MAX_ITEMS, input_line, l, line, sizeof(line));
		free(data);
		if (rc)
			BAD("Input %.300s: %s.", u->valuestring, line);
	}
	if (l->n == 0)
		BAD("The input holds no requests.");
	return 0;
}

/* The route each item runs on, for a tuned model of this parent or a publisher model. */
static int model_target(struct srv *s, const struct srv_params *p, const char *model, char **target,
			char *why, size_t why_len)
{
	char parent[300], id[64];
	srv_vertex_parent(p, parent, sizeof(parent));
	size_t pl = strlen(parent);
	const char *pub = strstr(model, "publishers/");
	if (pub && (pub == model || (!strncmp(model, parent, pl) && pub == model + pl + 1))) {
		*target = xasprintf("/v1/%s/%s:generateContent", parent, pub);
		return 0;
	}
	if (strncmp(model, parent, pl) || strncmp(model + pl, "/models/", 8))
		BAD("Invalid value at 'model': expected %s/models/ID or "
		    "publishers/google/models/M.",
		    parent);
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(model + pl + 8, "@"), model + pl + 8);
	struct srv_model *m = srv_vertex_find(s, p, id, "Model", NULL);
	pthread_mutex_lock(&s->store->lock);
	int ok = m && m->state == SRV_STATE_ACTIVE && !m->model_deleted;
	pthread_mutex_unlock(&s->store->lock);
	if (m)
		srv_model_put(s->store, m);
	if (!ok)
		BAD("Model %.300s not found.", model);
	*target = xasprintf("/v1/%s/endpoints/%s:generateContent", parent, id);
	return 0;
}

/* meta: parent, displayName, model, inputConfig, outputConfig, outputDir. */
static int read_create(struct srv *s, const struct srv_params *p, const cJSON *body, cJSON *meta,
		       char *why, size_t why_len)
{
	const cJSON *model = srv_json_field(body, "model");
	const cJSON *dn = srv_json_field(body, "displayName");
	const cJSON *in = srv_json_field(body, "inputConfig");
	const cJSON *out = srv_json_field(body, "outputConfig");
	const cJSON *fmt = srv_json_field(in, "instancesFormat");
	const cJSON *pfmt = srv_json_field(out, "predictionsFormat");
	const cJSON *prefix =
	    srv_json_field(srv_json_field(out, "gcsDestination"), "outputUriPrefix");
	char bucket[64], name[SRV_OBJECT_NAME_MAX + 1], t[64], parent[300];
	if (!cJSON_IsString(dn) || !*dn->valuestring)
		BAD("Invalid value at 'display_name': required.");
	if (!cJSON_IsString(model))
		BAD("Invalid value at 'model': required.");
	if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "jsonl"))
		BAD("Invalid value at 'input_config.instances_format': only \"jsonl\" is served.");
	if (!cJSON_IsString(pfmt) || strcmp(pfmt->valuestring, "jsonl"))
		BAD("Invalid value at 'output_config.predictions_format': only \"jsonl\" is "
		    "served.");
	if (!cJSON_IsString(prefix) ||
	    gs_split(prefix->valuestring, bucket, sizeof(bucket), name, sizeof(name), 1))
		BAD("Invalid value at 'output_config.gcs_destination.output_uri_prefix': expected "
		    "gs://BUCKET[/PREFIX].");
	srv_vertex_parent(p, parent, sizeof(parent));
	cJSON_AddStringToObject(meta, "parent", parent);
	cJSON_AddStringToObject(meta, "displayName", dn->valuestring);
	cJSON_AddStringToObject(meta, "model", model->valuestring);
	cJSON_AddItemToObject(meta, "inputConfig", cJSON_Duplicate(in, 1));
	cJSON_AddItemToObject(meta, "outputConfig", cJSON_Duplicate(out, 1));
	srv_json_time(srv_now_ns(), t, sizeof(t));
	size_t nl = strlen(name);
	while (nl && name[nl - 1] == '/')
		name[--nl] = '\0';
	char *dir = xasprintf("gs://%s/%s%sprediction-model-%s", bucket, name, nl ? "/" : "", t);
	cJSON_AddStringToObject(meta, "outputDir", dir);
	free(dir);
	return 0;
}

static cJSON *job_json(const struct srv_batch *b);

void srv_vertex_batch_create(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	cJSON *body = NULL, *meta = cJSON_CreateObject();
	char why[512] = "", *target = NULL;
	struct srv_batch_items l = {0};
	if (srv_body_json(req, 0, &body, rep))
		goto out;
	if (read_create(s, p, body, meta, why, sizeof(why)) ||
	    model_target(s, p, srv_json_field(body, "model")->valuestring, &target, why,
			 sizeof(why)) ||
	    read_inputs(
		s,
		srv_json_field(srv_json_field(srv_json_field(body, "inputConfig"), "gcsSource"),
			       "uris"),
		&l, why, sizeof(why))) {
		srv_reply_error(rep, strstr(why, "not found") ? 404 : 400,
				strstr(why, "not found") ? "NOT_FOUND" : "INVALID_ARGUMENT", "%s",
				why);
		goto out;
	}
	int rc =
	    srv_batch_submit_render(s, "vertex", target, srv_json_print(meta), &l, job_json, rep);
	target = NULL;
	if (rc)
		srv_reply_error(rep, 500, "INTERNAL", "Cannot keep the job: %s.", strerror(-rc));
out:
	free(target);
	srv_batch_items_free(&l);
	cJSON_Delete(meta);
	cJSON_Delete(body);
}

static cJSON *job_json(const struct srv_batch *b)
{
	cJSON *meta = cJSON_Parse(b->meta ? b->meta : "{}"), *o = cJSON_CreateObject();
	const char *parent = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "parent"));
	char *name = xasprintf("%s/batchPredictionJobs/%s", parent ? parent : "", b->id);
	cJSON_AddStringToObject(o, "name", name);
	free(name);
	static const char *const keys[] = {"displayName", "model", "inputConfig", "outputConfig"};
	for (size_t i = 0; i < 4; i++) {
		cJSON *it = cJSON_DetachItemFromObject(meta, keys[i]);
		if (it)
			cJSON_AddItemToObject(o, keys[i], it);
	}
	cJSON_AddStringToObject(o, "state", state_words[b->state]);
	if (b->state != SRV_BATCH_PENDING)
		cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "outputInfo"),
				      "gcsOutputDirectory",
				      cJSON_DetachItemFromObject(meta, "outputDir"));
	cJSON *st = cJSON_AddObjectToObject(o, "completionStats");
	srv_batch_json_count(st, "successfulCount", b->n_ok);
	srv_batch_json_count(st, "failedCount", b->n_failed);
	srv_batch_json_count(st, "incompleteCount", b->n - b->n_ok - b->n_failed);
	srv_batch_json_time(o, "createTime", b->create_ns);
	srv_batch_json_time(o, "startTime", b->start_ns);
	srv_batch_json_time(o, "endTime", b->end_ns);
	srv_batch_json_time(o, "updateTime", b->update_ns);
	if (b->error && b->state != SRV_BATCH_SUCCEEDED) {
		static const int codes[] = {0, 0, 0, 13, 1, 4};
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", codes[b->state]);
		cJSON_AddStringToObject(e, "message", b->error);
	}
	cJSON_Delete(meta);
	return o;
}

/* Only the jobs of the request's parent. */
struct lookup {
	const char *parent;
	struct srv_reply *rep;
	int found;
};

static void render_if_mine(const struct srv_batch *b, void *ctx)
{
	struct lookup *lk = ctx;
	cJSON *meta = cJSON_Parse(b->meta ? b->meta : "{}");
	const char *parent = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "parent"));
	lk->found = parent && !strcmp(parent, lk->parent);
	cJSON_Delete(meta);
	if (lk->found && lk->rep)
		srv_reply_json(lk->rep, 200, job_json(b));
}

/* 0 when {id} is a job of this parent (rendered into render_rep when not NULL). */
static int find_job(struct srv *s, const struct srv_params *p, struct srv_reply *render_rep,
		    struct srv_reply *rep)
{
	char parent[300];
	srv_vertex_parent(p, parent, sizeof(parent));
	struct lookup lk = {parent, render_rep, 0};
	srv_batch_with(s->batches, "vertex", srv_param(p, "id"), render_if_mine, &lk);
	if (lk.found)
		return 0;
	srv_reply_error(rep, 404, "NOT_FOUND",
			"BatchPredictionJob %s/batchPredictionJobs/%.64s "
			"not found.",
			parent, srv_param(p, "id"));
	return -ENOENT;
}

void srv_vertex_batch_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	find_job(s, p, rep, rep);
}

void srv_vertex_batch_cancel(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	if (find_job(s, p, NULL, rep))
		return;
	if (srv_batch_cancel(s->batches, "vertex", srv_param(p, "id")))
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"The job has already ended and cannot be cancelled.");
	else
		srv_reply_text(rep, 200, "{}");
}

void srv_vertex_batch_delete(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	char parent[300], *name;
	if (find_job(s, p, NULL, rep))
		return;
	srv_batch_delete(s->batches, "vertex", srv_param(p, "id"));
	srv_vertex_parent(p, parent, sizeof(parent));
	cJSON *o = cJSON_CreateObject();
	name = xasprintf("%s/operations/delete-%s", parent, srv_param(p, "id"));
	cJSON_AddStringToObject(o, "name", name);
	free(name);
	cJSON_AddBoolToObject(o, "done", 1);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "response"), "@type",
				"type.googleapis.com/google.protobuf.Empty");
	srv_reply_json(rep, 200, o);
}

struct page {
	const char *parent;
	char state[64], display[256];
	cJSON *arr;
	unsigned long long pos, at;
	int size, more;
};

static void page_add(const struct srv_batch *b, void *ctx)
{
	struct page *pg = ctx;
	cJSON *j = job_json(b);
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(j, "name"));
	const char *dn = cJSON_GetStringValue(cJSON_GetObjectItem(j, "displayName"));
	size_t pl = strlen(pg->parent);
	int mine = name && !strncmp(name, pg->parent, pl) && name[pl] == '/' &&
		   (!*pg->state || !strcmp(pg->state, state_words[b->state])) &&
		   (!*pg->display || (dn && !strcmp(dn, pg->display)));
	if (!mine || pg->at++ < pg->pos || pg->more) {
		cJSON_Delete(j);
		return;
	}
	if (cJSON_GetArraySize(pg->arr) == pg->size) {
		pg->more = 1;
		cJSON_Delete(j);
		return;
	}
	cJSON_AddItemToArray(pg->arr, j);
}

/* filter: state=JOB_STATE_X and/or display_name="X" (joined by AND or spaces). */
static int read_filter(const char *f, struct page *pg)
{
	while (*f) {
		f += strspn(f, " ");
		if (!strncmp(f, "AND ", 4)) {
			f += 4;
			continue;
		}
		size_t n = strcspn(f, " ");
		const char *eq = memchr(f, '=', n);
		if (!eq)
			return n ? -EINVAL : 0;
		char *dst = !strncmp(f, "state=", 6) ? pg->state
			    : !strncmp(f, "display_name=", 13) || !strncmp(f, "displayName=", 12)
				? pg->display
				: NULL;
		if (!dst)
			return -EINVAL;
		const char *v = eq + 1;
		size_t vl = n - (size_t)(v - f);
		if (vl >= 2 && *v == '"' && v[vl - 1] == '"')
			v++, vl -= 2;
		snprintf(dst, 64, "%.*s", (int)vl, v);
		f += n;
	}
	return 0;
}

void srv_vertex_batch_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	char parent[300], filter[512] = "", tok[64];
	struct page pg = {.parent = parent};
	if (srv_page_params(req, 100, 1000, &pg.size, &pg.pos, rep))
		return;
	srv_vertex_parent(p, parent, sizeof(parent));
	srv_query_get(req->query, "filter", filter, sizeof(filter));
	if (read_filter(filter, &pg)) {
		srv_reply_error(
		    rep, 400, "INVALID_ARGUMENT",
		    "Unsupported filter: use state=JOB_STATE_X and display_name=\"X\".");
		return;
	}
	cJSON *out = cJSON_CreateObject();
	pg.arr = cJSON_AddArrayToObject(out, "batchPredictionJobs");
	srv_batch_each(s->batches, "vertex", page_add, &pg);
	if (pg.more) {
		srv_page_token(pg.pos + (unsigned long long)pg.size, tok, sizeof(tok));
		cJSON_AddStringToObject(out, "nextPageToken", tok);
	}
	srv_reply_json(rep, 200, out);
}

/* One predictions.jsonl line: the input's other fields, request, then response or status. */
static char *prediction_line(const struct srv_batch_item *it, int64_t now)
{
	cJSON *o = cJSON_Parse(it->extra ? it->extra : "{}");
	char t[64];
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = cJSON_CreateObject();
	}
	srv_json_time(now, t, sizeof(t));
	cJSON_AddStringToObject(o, "processed_time", t);
	cJSON_AddItemToObject(o, "request", cJSON_Parse(it->request));
	cJSON *body = it->done ? cJSON_Parse(it->result) : NULL;
	if (it->done && it->status == 200) {
		cJSON_AddItemToObject(o, "response", body);
	} else {
		const char *msg = cJSON_GetStringValue(
		    cJSON_GetObjectItem(cJSON_GetObjectItem(body, "error"), "message"));
		cJSON_AddStringToObject(o, "status",
					msg	   ? msg
					: it->done ? "The request failed."
						   : "Not answered: the job ended before this "
						     "request ran.");
		cJSON_Delete(body);
	}
	char *line = srv_json_print(o);
	cJSON_Delete(o);
	return line;
}

static char *finish(struct srv *s, const struct srv_batch *b, enum srv_batch_state end, char *why,
		    size_t why_len)
{
	cJSON *meta = cJSON_Parse(b->meta ? b->meta : "{}");
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "outputDir"));
	char bucket[64], name[SRV_OBJECT_NAME_MAX + 1];
	if (!dir || gs_split(dir, bucket, sizeof(bucket), name, sizeof(name), 1)) {
		cJSON_Delete(meta);
		snprintf(why, why_len, "The output directory is not usable.");
		return NULL;
	}
	struct dynbuf d = {0};
	int64_t now = srv_now_ns();
	for (size_t i = 0; i < b->n; i++) {
		char *line = prediction_line(&b->items[i], now);
		dynbuf_puts(&d, line);
		dynbuf_puts(&d, "\n");
		free(line);
	}
	size_t len;
	char *text = dynbuf_take(&d, &len), *obj = xasprintf("%s/predictions.jsonl", name);
	int rc = srv_object_put(s->opt.data_dir, bucket, obj, "application/jsonl", text ? text : "",
				text ? len : 0, NULL);
	free(text);
	free(obj);
	char *out = rc ? NULL : xstrdup(dir);
	if (rc)
		snprintf(why, why_len, "Cannot write %s/predictions.jsonl: %s.", dir,
			 strerror(-rc));
	cJSON_Delete(meta);
	return out;
}

const struct srv_batch_kind srv_vertex_batch_kind = {"vertex", finish};
