/* vertex_batch.c - Vertex AI batch prediction as backend batches: the prompts as JSONL
 * ({"key", "request"} lines) in gs://BUCKET/tunedfs/NAME/batch-TAG.jsonl, a
 * batchPredictionJobs create on the tuned model resource (.../models/ID), get, list by
 * display name, cancel, and the answers read from predictions.jsonl in its output
 * directory; its input and output objects deleted once read or cancelled. Not here: tuning and
 * online generation (vertex.c). */
#include "api/backend_impl.h"
#include "api/google_rpc.h"
#include "api/gcs.h"
#include "api/gemini.h"
#include "api/http.h"
#include "api/vertex_internal.h"
#include "base/dynbuf.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <syslog.h>
#include <stdlib.h>
#include <string.h>

static void vbt_oom(const void *p)
{
	if (!p)
		xalloc_die(0);
}

static const char *vbt_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "projects/P/locations/L/batchPredictionJobs/ID" of this backend's project and location. */
static int vbt_name_ok(const struct vertex_parts *vp, const char *name, struct backend_error *err)
{
	char prefix[300];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix),
				    "projects/%s/locations/%s/batchPredictionJobs/", vp->project,
				    vp->location);
	const char *id = name && strncmp(name, prefix, n) == 0 ? name + n : NULL;

	if (id && *id && strlen(id) < 128 &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(id))
		return 0;
	http_error_set(err, 0, "", "'%.120s' is no batch prediction job of this project",
		       name ? name : "");
	return -EIO;
}

static int vbt_call(struct vertex_parts *vp, enum http_method m, const char *path, const char *body,
		    struct backend_cancel *c, cJSON **out, struct backend_error *err)
{
	struct http_response resp = {0};
	int rc = http_request(vp->api, m, path, body, 0, c, &resp, err);

	*out = NULL;
	if (rc == 0 && !(*out = cJSON_ParseWithLength(resp.body, resp.len))) {
		http_error_set(err, resp.status, "", "malformed answer from Vertex AI: not JSON");
		rc = -EIO;
	}
	http_response_clear(&resp);
	return rc;
}

static char *vbt_lines(const struct batch_item *items, size_t n, size_t *len)
{
	struct dynbuf b = DYNBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		char *req = gemini_generate_request_json(items[i].prompt, items[i].gs);
		cJSON *line = cJSON_CreateObject();
		char *text;
		vbt_oom(line);
		vbt_oom(cJSON_AddStringToObject(line, "key", items[i].key));
		cJSON_AddItemToObject(line, "request", cJSON_Parse(req));
		free(req);
		vbt_oom(text = cJSON_PrintUnformatted(line));
		cJSON_Delete(line);
		dynbuf_puts(&b, text);
		dynbuf_puts(&b, "\n");
		free(text);
	}
	return dynbuf_take(&b, len);
}

static char *vbt_body(const struct vertex_parts *vp, const char *display, const char *model,
		      const char *in_object, const char *out_dir)
{
	cJSON *root = cJSON_CreateObject(), *in, *src, *uris, *out, *dst;
	char *uri = xasprintf("gs://%s/%s", vp->bucket, in_object), *s;

	vbt_oom(root);
	vbt_oom(cJSON_AddStringToObject(root, "displayName", display));
	vbt_oom(cJSON_AddStringToObject(root, "model", model));
	vbt_oom(in = cJSON_AddObjectToObject(root, "inputConfig"));
	vbt_oom(cJSON_AddStringToObject(in, "instancesFormat", "jsonl"));
	vbt_oom(src = cJSON_AddObjectToObject(in, "gcsSource"));
	vbt_oom(uris = cJSON_AddArrayToObject(src, "uris"));
	cJSON_AddItemToArray(uris, cJSON_CreateString(uri));
	free(uri);
	vbt_oom(out = cJSON_AddObjectToObject(root, "outputConfig"));
	vbt_oom(cJSON_AddStringToObject(out, "predictionsFormat", "jsonl"));
	vbt_oom(dst = cJSON_AddObjectToObject(out, "gcsDestination"));
	uri = xasprintf("gs://%s/%s", vp->bucket, out_dir);
	vbt_oom(cJSON_AddStringToObject(dst, "outputUriPrefix", uri));
	free(uri);
	vbt_oom(s = cJSON_PrintUnformatted(root));
	cJSON_Delete(root);
	return s;
}

static int vbt_submit(void *impl, const struct tuned_model *m, const char *display_name,
		      const struct batch_item *items, size_t n, char **name,
		      struct backend_cancel *c, struct backend_error *err)
{
	struct vertex_parts vp;
	char *model = vertex_job_model(m->raw_json), *data, *obj, *dir, *body, *path;
	cJSON *got = NULL;
	size_t len;
	int rc;

	vertex_backend_parts(impl, &vp);
	if (!model) {
		http_error_set(err, 0, "", "%s has no tuned model resource to run a batch on",
			       m->id);
		return -EINVAL;
	}
	data = vbt_lines(items, n, &len);
	obj = xasprintf(VERTEX_DATA_DIR "%s/batch-%s.jsonl", m->id, display_name);
	dir = xasprintf(VERTEX_DATA_DIR "%s/batch-%s", m->id, display_name);
	rc = gcs_upload(vp.gcs, vp.bucket, obj, data, len, c, err);
	body = vbt_body(&vp, display_name, model, obj, dir);
	path =
	    xasprintf("/v1/projects/%s/locations/%s/batchPredictionJobs", vp.project, vp.location);
	if (rc == 0)
		rc = vbt_call(&vp, HTTP_POST, path, body, c, &got, err);
	if (rc == 0 && vbt_name_ok(&vp, vbt_str(got, "name"), err) < 0)
		rc = -EIO;
	if (rc == 0)
		*name = xstrdup(vbt_str(got, "name"));
	cJSON_Delete(got);
	free(path);
	free(body);
	free(dir);
	free(obj);
	free(data);
	free(model);
	return rc;
}

static int vbt_find(void *impl, const struct tuned_model *m, const char *display_name, char **name,
		    struct backend_cancel *c, struct backend_error *err)
{
	struct vertex_parts vp;
	char path[700], *token = NULL;
	int rc = 0;

	(void)m;
	vertex_backend_parts(impl, &vp);
	for (int page = 0; rc == 0 && page < 100 && !*name; page++) {
		cJSON *list = NULL;
		const cJSON *jobs;
		const char *next;
		snprintf(path, sizeof(path),
			 "/v1/projects/%s/locations/%s/batchPredictionJobs?pageSize=100%s%.300s",
			 vp.project, vp.location, token ? "&pageToken=" : "", token ? token : "");
		free(token);
		token = NULL;
		rc = vbt_call(&vp, HTTP_GET, path, NULL, c, &list, err);
		jobs = cJSON_GetObjectItemCaseSensitive(list, "batchPredictionJobs");
		for (const cJSON *o = cJSON_IsArray(jobs) ? jobs->child : NULL; o; o = o->next) {
			const char *dn = vbt_str(o, "displayName"), *nm = vbt_str(o, "name");
			if (!*name && dn && strcmp(dn, display_name) == 0 &&
			    vbt_name_ok(&vp, nm, NULL) == 0)
				*name = xstrdup(nm);
		}
		next = vbt_str(list, "nextPageToken");
		if (next && *next && strlen(next) < 300 &&
		    strspn(next,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
			strlen(next))
			token = xstrdup(next);
		cJSON_Delete(list);
		if (!token)
			break;
	}
	free(token);
	if (rc == 0 && !*name) {
		http_error_set(err, 404, "NOT_FOUND", "no batch prediction job named %s",
			       display_name);
		rc = -ENOENT;
	}
	return rc;
}

static enum batch_state vbt_state(const char *s)
{
	static const struct {
		const char *word;
		enum batch_state state;
	} words[] = {{"JOB_STATE_SUCCEEDED", BATCH_SUCCEEDED},
		     {"JOB_STATE_PARTIALLY_SUCCEEDED", BATCH_SUCCEEDED},
		     {"JOB_STATE_FAILED", BATCH_FAILED},
		     {"JOB_STATE_CANCELLED", BATCH_CANCELLED},
		     {"JOB_STATE_EXPIRED", BATCH_EXPIRED},
		     {"JOB_STATE_RUNNING", BATCH_RUNNING}};

	for (size_t i = 0; s && i < sizeof(words) / sizeof(*words); i++)
		if (strcmp(s, words[i].word) == 0)
			return words[i].state;
	return BATCH_PENDING;
}

static int vbt_job(void *impl, const char *name, struct vertex_parts *vp, cJSON **out,
		   struct backend_cancel *c, struct backend_error *err)
{
	char path[400];
	int rc;

	vertex_backend_parts(impl, vp);
	if ((rc = vbt_name_ok(vp, name, err)) < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/%s", name);
	return vbt_call(vp, HTTP_GET, path, NULL, c, out, err);
}

static int vbt_get(void *impl, const char *name, struct batch_status *out, struct backend_cancel *c,
		   struct backend_error *err)
{
	struct vertex_parts vp;
	const cJSON *st;
	cJSON *job = NULL;
	int rc = vbt_job(impl, name, &vp, &job, c, err);
	long ok, failed, left;

	if (rc < 0)
		return rc;
	st = cJSON_GetObjectItemCaseSensitive(job, "completionStats");
	out->state = vbt_state(vbt_str(job, "state"));
	ok = google_json_count(st, "successfulCount");
	failed = google_json_count(st, "failedCount");
	left = google_json_count(st, "incompleteCount");
	out->done = ok;
	out->failed = failed;
	out->total = ok >= 0 && failed >= 0 && left >= 0 ? ok + failed + left : -1;
	if (out->state >= BATCH_FAILED) {
		const char *msg =
		    vbt_str(cJSON_GetObjectItemCaseSensitive(job, "error"), "message");
		char line[400];
		http_copy_line(line, sizeof(line), msg ? msg : "the service gave no reason");
		out->failure = xstrdup(line);
	}
	cJSON_Delete(job);
	return 0;
}

/* One predictions.jsonl line into r: its key, and its response or status. */
static int vbt_line(const cJSON *o, struct batch_result *r)
{
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
	const char *key = vbt_str(o, "key"), *status = vbt_str(o, "status");
	char line[400];

	if (!key)
		return -1;
	memset(r, 0, sizeof(*r));
	r->key = xstrdup(key);
	if (cJSON_IsObject(resp) && (!status || !*status)) {
		vbt_oom(r->raw_json = cJSON_PrintUnformatted(resp));
	} else {
		http_copy_line(line, sizeof(line), status && *status ? status : "no answer");
		r->error = xstrdup(line);
	}
	return 0;
}

/* The object of uri when tunedfs put it there (gs://BUCKET/tunedfs/...), else NULL. */
static const char *vbt_ours(const struct vertex_parts *vp, const char *uri)
{
	size_t n = strlen(vp->bucket ? vp->bucket : "");

	if (!uri || !n || strncmp(uri, "gs://", 5) != 0 || strncmp(uri + 5, vp->bucket, n) != 0 ||
	    uri[5 + n] != '/' || strncmp(uri + 6 + n, VERTEX_DATA_DIR, strlen(VERTEX_DATA_DIR)) ||
	    strstr(uri, "/../"))
		return NULL;
	return uri + 6 + n;
}

/* What tunedfs wrote for job: its input, and every object under its output prefix (the
 * predictions and whatever else the job put there). Deleted once its answers are read or
 * it is cancelled; a failure is logged and changes nothing else. */
static void vbt_tidy(struct vertex_parts *vp, const cJSON *job, struct backend_cancel *c)
{
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(job, "inputConfig");
	const cJSON *uris = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(in, "gcsSource"), "uris");
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(job, "outputConfig");
	const char *dir =
	    vbt_str(cJSON_GetObjectItemCaseSensitive(out, "gcsDestination"), "outputUriPrefix");
	struct backend_error e = {0};
	const char *obj;
	char *under;

	for (const cJSON *u = cJSON_IsArray(uris) ? uris->child : NULL; u; u = u->next)
		if (cJSON_IsString(u) && (obj = vbt_ours(vp, u->valuestring)) &&
		    gcs_delete(vp->gcs, vp->bucket, obj, c, &e) < 0)
			backend_logf(LOG_WARNING,
				     "batch: its input gs://%s/%.300s was not deleted: %.300s",
				     vp->bucket, obj, e.message);
	if (!(obj = vbt_ours(vp, dir)))
		return;
	under = xasprintf("%s%s", obj, obj[strlen(obj) - 1] == '/' ? "" : "/");
	if (gcs_delete_under(vp->gcs, vp->bucket, under, c, &e) < 0)
		backend_logf(LOG_WARNING,
			     "batch: its output under gs://%s/%.300s was not deleted: %.300s",
			     vp->bucket, under, e.message);
	free(under);
}

static int vbt_results(void *impl, const char *name, struct batch_result **out, size_t *n,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct vertex_parts vp;
	struct http_response resp = {0};
	const char *dir, *obj;
	size_t cap = 0, bl = strlen("gs://") + 0;
	cJSON *job = NULL;
	int rc = vbt_job(impl, name, &vp, &job, c, err);
	char *object = NULL;

	dir = rc == 0 ? vbt_str(cJSON_GetObjectItemCaseSensitive(job, "outputInfo"),
				"gcsOutputDirectory")
		      : NULL;
	bl += strlen(vp.bucket ? vp.bucket : "");
	if (rc == 0 && (!dir || strncmp(dir, "gs://", 5) != 0 ||
			strncmp(dir + 5, vp.bucket, strlen(vp.bucket)) != 0 || dir[bl] != '/')) {
		http_error_set(err, 0, "", "the batch's output is not in gs://%s", vp.bucket);
		rc = -EIO;
	}
	if (rc == 0) {
		obj = dir + bl + 1;
		object = xasprintf("%s/predictions.jsonl", obj);
		rc = gcs_download(vp.gcs, vp.bucket, object, &resp, c, err);
	}
	for (char *line = rc == 0 ? resp.body : NULL, *end; line && *line; line = end) {
		end = strchr(line, '\n');
		cJSON *o = cJSON_ParseWithLength(line, end ? (size_t)(end - line) : strlen(line));
		if (end)
			end++;
		if (*n == cap)
			*out = xrealloc(*out, (cap = cap ? cap * 2 : 64) * sizeof(**out));
		if (o && vbt_line(o, &(*out)[*n]) == 0)
			(*n)++;
		cJSON_Delete(o);
	}
	http_response_clear(&resp);
	free(object);
	if (job && rc != -EINTR)
		vbt_tidy(&vp, job, c); /* read (or unreadable): not needed any more */
	cJSON_Delete(job);
	return rc;
}

static int vbt_cancel(void *impl, const char *name, struct backend_cancel *c,
		      struct backend_error *err)
{
	struct vertex_parts vp;
	char path[400];
	cJSON *o = NULL;
	int rc;

	vertex_backend_parts(impl, &vp);
	if ((rc = vbt_name_ok(&vp, name, err)) < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/%s:cancel", name);
	rc = vbt_call(&vp, HTTP_POST, path, "{}", c, &o, err);
	cJSON_Delete(o);
	o = NULL;
	/* its input is not read any more; what output it wrote so far goes too (what it
	 * writes while it stops goes when its results are read) */
	if (rc == 0 && vbt_job(impl, name, &vp, &o, c, &(struct backend_error){0}) == 0)
		vbt_tidy(&vp, o, c);
	cJSON_Delete(o);
	return rc;
}

const struct backend_batch_ops vertex_batch_ops = {
    .submit = vbt_submit,
    .find = vbt_find,
    .get = vbt_get,
    .results = vbt_results,
    .cancel = vbt_cancel,
};
