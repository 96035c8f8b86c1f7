/* openai_batch.c - the OpenAI Batch API as backend batches: the prompts as a JSONL file of
 * /v1/chat/completions requests (purpose=batch), /v1/batches create, retrieve, list and
 * cancel, and the results read from its output and error files, which are deleted after
 * that with its input file. Not here: online chat (openai.c, openai_chat.c). */
#include "api/backend_impl.h"
#include "api/http.h"
#include "api/openai_internal.h"
#include "base/dynbuf.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* The metadata key that carries the caller's display name. */
#define OPENAI_BATCH_KEY "tunedfs-batch"

static void obt_oom(const void *p)
{
	if (!p)
		xalloc_die(0);
}

static const char *obt_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An id as one path segment. */
static int obt_id_ok(const char *id, struct backend_error *err)
{
	if (id && *id && strlen(id) < 200 && !strpbrk(id, "/?#%"))
		return 0;
	http_error_set(err, 0, "", "'%.80s' is no batch or file id", id ? id : "");
	return -EIO;
}

/* One call under the backend's prefix whose 2xx body is JSON: the tree in *out. */
static int obt_call(void *impl, enum http_method m, const char *path, const char *body,
		    struct backend_cancel *c, cJSON **out, struct backend_error *err)
{
	const char *prefix;
	struct http_client *hc = openai_backend_http(impl, &prefix);
	struct http_response resp = {0};
	char *full = xasprintf("%s%s", prefix, path);
	int rc = http_call(hc, m, full, body, NULL, c, &resp, err);

	*out = NULL;
	if (rc == 0 && !(*out = cJSON_ParseWithLength(resp.body, resp.len))) {
		http_error_set(err, resp.status, "", "malformed answer from OpenAI: not JSON");
		rc = -EIO;
	}
	http_response_clear(&resp);
	free(full);
	return rc;
}

/* The input file: one chat completion request a line. */
static int obt_lines(const struct tuned_model *m, const struct batch_item *items, size_t n,
		     struct dynbuf *b, struct backend_error *err)
{
	char why[300] = "";

	if (!m->endpoint || !*m->endpoint) {
		http_error_set(err, 0, "", "%s has no fine-tuned model to answer from yet", m->id);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char *body =
		    openai_chat_body(m->endpoint, items[i].prompt, items[i].gs, why, sizeof(why));
		cJSON *line = cJSON_CreateObject();
		char *text;
		if (!body) {
			cJSON_Delete(line);
			http_error_set(err, 0, "", "%s", why);
			return -EINVAL;
		}
		obt_oom(line);
		obt_oom(cJSON_AddStringToObject(line, "custom_id", items[i].key));
		obt_oom(cJSON_AddStringToObject(line, "method", "POST"));
		obt_oom(cJSON_AddStringToObject(line, "url", "/v1/chat/completions"));
		cJSON_AddItemToObject(line, "body", cJSON_Parse(body));
		free(body);
		obt_oom(text = cJSON_PrintUnformatted(line));
		cJSON_Delete(line);
		dynbuf_puts(b, text);
		dynbuf_puts(b, "\n");
		free(text);
	}
	return 0;
}

static int obt_submit(void *impl, const struct tuned_model *m, const char *display_name,
		      const struct batch_item *items, size_t n, char **name,
		      struct backend_cancel *c, struct backend_error *err)
{
	const char *prefix;
	struct http_client *hc = openai_backend_http(impl, &prefix);
	struct dynbuf b = DYNBUF_INIT;
	char *file_id = NULL, *fname, *body;
	cJSON *req, *meta, *got = NULL;
	int rc = obt_lines(m, items, n, &b, err);

	if (rc == 0) {
		fname = xasprintf("%s.jsonl", display_name);
		rc = openai_file_upload(hc, prefix, "batch", fname, b.data ? b.data : "", b.len,
					&file_id, c, err);
		free(fname);
	}
	dynbuf_free(&b);
	if (rc < 0)
		return rc;
	obt_oom(req = cJSON_CreateObject());
	obt_oom(cJSON_AddStringToObject(req, "input_file_id", file_id));
	obt_oom(cJSON_AddStringToObject(req, "endpoint", "/v1/chat/completions"));
	obt_oom(cJSON_AddStringToObject(req, "completion_window", "24h"));
	obt_oom(meta = cJSON_AddObjectToObject(req, "metadata"));
	obt_oom(cJSON_AddStringToObject(meta, OPENAI_BATCH_KEY, display_name));
	obt_oom(body = cJSON_PrintUnformatted(req));
	cJSON_Delete(req);
	rc = obt_call(impl, HTTP_POST, "/batches", body, c, &got, err);
	free(body);
	free(file_id);
	if (rc == 0 && obt_id_ok(obt_str(got, "id"), err) < 0)
		rc = -EIO;
	if (rc == 0)
		*name = xstrdup(obt_str(got, "id"));
	cJSON_Delete(got);
	return rc;
}

static int obt_find(void *impl, const struct tuned_model *m, const char *display_name, char **name,
		    struct backend_cancel *c, struct backend_error *err)
{
	char path[300], *after = NULL;
	int rc = 0;

	(void)m;
	for (int page = 0; rc == 0 && page < 100 && !*name; page++) {
		cJSON *list = NULL;
		const cJSON *data, *more;
		snprintf(path, sizeof(path), "/batches?limit=100%s%.200s", after ? "&after=" : "",
			 after ? after : "");
		free(after);
		after = NULL;
		rc = obt_call(impl, HTTP_GET, path, NULL, c, &list, err);
		data = cJSON_GetObjectItemCaseSensitive(list, "data");
		for (const cJSON *o = cJSON_IsArray(data) ? data->child : NULL; o; o = o->next) {
			const char *dn = obt_str(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
						 OPENAI_BATCH_KEY);
			const char *id = obt_str(o, "id");
			if (!*name && dn && strcmp(dn, display_name) == 0 &&
			    obt_id_ok(id, NULL) == 0)
				*name = xstrdup(id);
			if (!o->next && id && obt_id_ok(id, NULL) == 0)
				after = xstrdup(id);
		}
		more = cJSON_GetObjectItemCaseSensitive(list, "has_more");
		cJSON_Delete(list);
		if (!cJSON_IsTrue(more)) {
			free(after);
			after = NULL;
			break;
		}
	}
	free(after);
	if (rc == 0 && !*name) {
		http_error_set(err, 404, "not_found", "no batch named %s", display_name);
		rc = -ENOENT;
	}
	return rc;
}

static enum batch_state obt_state(const char *s)
{
	if (!s || strcmp(s, "validating") == 0)
		return BATCH_PENDING;
	if (strcmp(s, "completed") == 0)
		return BATCH_SUCCEEDED;
	if (strcmp(s, "failed") == 0)
		return BATCH_FAILED;
	if (strcmp(s, "expired") == 0)
		return BATCH_EXPIRED;
	if (strcmp(s, "cancelled") == 0)
		return BATCH_CANCELLED;
	return BATCH_RUNNING; /* in_progress, finalizing, cancelling */
}

static int obt_retrieve(void *impl, const char *name, cJSON **out, struct backend_cancel *c,
			struct backend_error *err)
{
	char path[300];
	int rc = obt_id_ok(name, err);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/batches/%s", name);
	return obt_call(impl, HTTP_GET, path, NULL, c, out, err);
}

static int obt_get(void *impl, const char *name, struct batch_status *out, struct backend_cancel *c,
		   struct backend_error *err)
{
	const cJSON *counts, *errors;
	cJSON *b = NULL;
	int rc = obt_retrieve(impl, name, &b, c, err);

	if (rc < 0)
		return rc;
	counts = cJSON_GetObjectItemCaseSensitive(b, "request_counts");
	out->state = obt_state(obt_str(b, "status"));
	out->total = openai_json_count(counts, "total");
	out->done = openai_json_count(counts, "completed");
	out->failed = openai_json_count(counts, "failed");
	if (out->state >= BATCH_FAILED) {
		const cJSON *first;
		char line[400];
		errors = cJSON_GetObjectItemCaseSensitive(b, "errors");
		errors = cJSON_GetObjectItemCaseSensitive(errors, "data");
		first = cJSON_IsArray(errors) ? errors->child : NULL;
		http_copy_line(line, sizeof(line),
			       obt_str(first, "message") ? obt_str(first, "message")
							 : "the service gave no reason");
		out->failure = xstrdup(line);
	}
	cJSON_Delete(b);
	return 0;
}

/* The lines of an output or error file into v. */
static int obt_file(void *impl, const char *file_id, struct batch_result **v, size_t *n,
		    size_t *cap, struct backend_cancel *c, struct backend_error *err)
{
	const char *prefix;
	struct http_client *hc = openai_backend_http(impl, &prefix);
	struct http_response resp = {0};
	int rc = openai_file_content(hc, prefix, file_id, &resp, c, err);

	for (char *line = rc == 0 ? resp.body : NULL, *end; line && *line; line = end) {
		end = strchr(line, '\n');
		cJSON *o = cJSON_ParseWithLength(line, end ? (size_t)(end - line) : strlen(line));
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "response");
		const cJSON *body = cJSON_GetObjectItemCaseSensitive(r, "body");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "status_code");
		const char *key = obt_str(o, "custom_id");
		if (end)
			end++;
		if (key) {
			struct batch_result *x;
			if (*n == *cap)
				*v = xrealloc(*v, (*cap = *cap ? *cap * 2 : 64) * sizeof(**v));
			x = &(*v)[(*n)++];
			memset(x, 0, sizeof(*x));
			x->key = xstrdup(key);
			if (cJSON_IsObject(body) && cJSON_IsNumber(code) &&
			    code->valuedouble == 200) {
				obt_oom(x->raw_json = cJSON_PrintUnformatted(body));
			} else {
				const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
				const char *msg = obt_str(e, "message");
				char text[400];
				if (!msg)
					msg =
					    obt_str(cJSON_GetObjectItemCaseSensitive(body, "error"),
						    "message");
				http_copy_line(text, sizeof(text), msg ? msg : "no answer");
				x->error = xstrdup(text);
			}
		}
		cJSON_Delete(o);
	}
	http_response_clear(&resp);
	return rc;
}

/* The files of an ended batch (its input, output and errors): not needed once its results
 * are read. A failed delete is logged and changes nothing else. */
static void obt_tidy(void *impl, const cJSON *b, struct backend_cancel *c)
{
	const char *files[] = {"input_file_id", "output_file_id", "error_file_id"}, *prefix;
	struct http_client *hc = openai_backend_http(impl, &prefix);

	for (size_t i = 0; i < 3; i++) {
		struct backend_error e = {0};
		const char *id = obt_str(b, files[i]);
		if (id && *id && openai_file_delete(hc, prefix, id, c, &e) < 0)
			backend_logf(LOG_WARNING, "batch: the file %.100s was not deleted: %.300s",
				     id, e.message);
	}
}

static int obt_results(void *impl, const char *name, struct batch_result **out, size_t *n,
		       struct backend_cancel *c, struct backend_error *err)
{
	const char *files[] = {"output_file_id", "error_file_id"};
	size_t cap = 0;
	cJSON *b = NULL;
	int rc = obt_retrieve(impl, name, &b, c, err);

	for (size_t i = 0; rc == 0 && i < 2; i++) {
		const char *id = obt_str(b, files[i]);
		if (id && *id)
			rc = obt_file(impl, id, out, n, &cap, c, err);
	}
	if (b && rc != -EINTR)
		obt_tidy(impl, b, c);
	cJSON_Delete(b);
	if (rc < 0) {
		batch_results_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int obt_cancel(void *impl, const char *name, struct backend_cancel *c,
		      struct backend_error *err)
{
	char path[300];
	cJSON *o = NULL;
	int rc = obt_id_ok(name, err);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/batches/%s/cancel", name);
	rc = obt_call(impl, HTTP_POST, path, "{}", c, &o, err);
	cJSON_Delete(o);
	return rc;
}

const struct backend_batch_ops openai_batch_ops = {
    .submit = obt_submit,
    .find = obt_find,
    .get = obt_get,
    .results = obt_results,
    .cancel = obt_cancel,
};
