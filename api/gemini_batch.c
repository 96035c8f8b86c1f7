/* gemini_batch.c - the Gemini API's batch engine as backend batches: batchGenerateContent
 * with inline requests (each keyed by its metadata) or, above the inline bound, a JSONL file
 * uploaded through the Files API (gemini_files.c), batches.get/list/cancel, and the results
 * read inline or from the responses file. Not here: online generation (gemini.c). */
#include "api/backend_impl.h"
#include "api/google_rpc.h"
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "api/http.h"
#include "base/dynbuf.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The documented bounds of an inline batch's whole request and of an input file. */
#define GEMINI_BATCH_INLINE_MAX ((size_t)20 << 20)
#define GEMINI_BATCH_FILE_MAX	((size_t)2 << 30)

/* "batches/ID" with ID of [A-Za-z0-9_-]: safe in a URL path. */
static int gbt_name_ok(const char *name, struct backend_error *err)
{
	const char *p = name && strncmp(name, "batches/", 8) == 0 ? name + 8 : NULL;
	int ok = p && *p && strlen(p) < 128;

	for (; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
	if (ok)
		return 0;
	http_error_set(err, 0, "", "'%.80s' is no batch name (batches/ID)", name ? name : "");
	return -EIO;
}

static void gbt_oom(const void *p)
{
	if (!p)
		xalloc_die(0);
}

/* One request as the service takes it, parsed. */
static cJSON *gbt_request(const struct batch_item *it)
{
	char *one = gemini_generate_request_json(it->prompt, it->gs);
	cJSON *req = cJSON_Parse(one);

	gbt_oom(req);
	free(one);
	return req;
}

/* The create body: the requests inline, or the uploaded file (files/ID) holding them. */
static char *gbt_body(const char *display_name, const struct batch_item *items, size_t n,
		      const char *file)
{
	cJSON *root = cJSON_CreateObject(), *batch, *input, *reqs, *list;

	gbt_oom(root);
	gbt_oom(batch = cJSON_AddObjectToObject(root, "batch"));
	gbt_oom(cJSON_AddStringToObject(batch, "displayName", display_name));
	gbt_oom(input = cJSON_AddObjectToObject(batch, "inputConfig"));
	if (file)
		gbt_oom(cJSON_AddStringToObject(input, "fileName", file));
	else
		gbt_oom(reqs = cJSON_AddObjectToObject(input, "requests"));
	if (!file)
		gbt_oom(list = cJSON_AddArrayToObject(reqs, "requests"));
	for (size_t i = 0; !file && i < n; i++) {
		cJSON *it = cJSON_CreateObject(), *meta;
		gbt_oom(it);
		cJSON_AddItemToObject(it, "request", gbt_request(&items[i]));
		gbt_oom(meta = cJSON_AddObjectToObject(it, "metadata"));
		gbt_oom(cJSON_AddStringToObject(meta, "key", items[i].key));
		cJSON_AddItemToArray(list, it);
	}
	char *s = gemini_json_print(root);
	cJSON_Delete(root);
	return s;
}

/* The requests as the file input's JSONL, one {"key", "request"} a line, uploaded. */
static int gbt_upload(struct gemini_client *gc, const char *display_name,
		      const struct batch_item *items, size_t n, char **file,
		      struct backend_cancel *c, struct backend_error *err)
{
	struct dynbuf b = {0};
	size_t len;
	char *text;
	int rc;

	for (size_t i = 0; i < n; i++) {
		cJSON *line = cJSON_CreateObject();
		gbt_oom(line);
		gbt_oom(cJSON_AddStringToObject(line, "key", items[i].key));
		cJSON_AddItemToObject(line, "request", gbt_request(&items[i]));
		char *s = gemini_json_print(line);
		cJSON_Delete(line);
		dynbuf_puts(&b, s);
		dynbuf_puts(&b, "\n");
		free(s);
	}
	text = dynbuf_take(&b, &len);
	if (len > GEMINI_BATCH_FILE_MAX) {
		http_error_set(err, 0, "",
			       "a batch of %zu prompts is over the 2 GB a file may hold", n);
		rc = -EFBIG;
	} else {
		rc = gemini_file_upload(gc, display_name, text, len, file, c, err);
	}
	free(text);
	return rc;
}

/* One call whose 2xx body is JSON: the parsed tree in *out. */
static int gbt_call(struct gemini_client *gc, enum http_method m, const char *path,
		    const char *body, struct backend_cancel *c, cJSON **out,
		    struct backend_error *err)
{
	struct http_response resp = {0};
	int rc = http_request(gc->http, m, path, body, 1, c, &resp, err);

	*out = NULL;
	if (rc == 0 && !(*out = gemini_json_parse(resp.body, resp.len)))
		rc = gemini_malformed(&resp, "the batch", err);
	http_response_clear(&resp);
	return rc;
}

static const char *gbt_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int gbt_submit(void *impl, const struct tuned_model *m, const char *display_name,
		      const struct batch_item *items, size_t n, char **name,
		      struct backend_cancel *c, struct backend_error *err)
{
	struct gemini_client *gc = gemini_backend_client(impl);
	char res[80], path[160];
	const char *got;
	cJSON *op = NULL;
	char *body, *file = NULL;
	int rc = gemini_model_name(m->id, res, sizeof(res), err);

	if (rc < 0)
		return rc;
	body = gbt_body(display_name, items, n, NULL);
	if (strlen(body) >=
	    (gc->batch_inline_max ? gc->batch_inline_max : GEMINI_BATCH_INLINE_MAX)) {
		free(body);
		body = NULL;
		rc = gbt_upload(gc, display_name, items, n, &file, c, err);
		if (rc < 0)
			return rc;
		body = gbt_body(display_name, items, n, file);
	}
	snprintf(path, sizeof(path), "/v1beta/%s:batchGenerateContent", res);
	rc = gbt_call(gc, HTTP_POST, path, body, c, &op, err);
	free(body);
	got = rc == 0 ? gbt_str(op, "name") : NULL;
	if (rc == 0 && gbt_name_ok(got, err) < 0)
		rc = -EIO;
	if (rc == 0)
		*name = xstrdup(got);
	/* refused for sure: no batch reads the file */
	if (rc < 0 && file && err->http_status >= 400 && err->http_status < 500)
		gemini_file_delete(gc, file, c);
	free(file);
	cJSON_Delete(op);
	return rc;
}

/* The batch resource of an Operation (its metadata), or the object itself. */
static const cJSON *gbt_meta(const cJSON *op)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(op, "metadata");
	return cJSON_IsObject(m) ? m : op;
}

static int gbt_find(void *impl, const struct tuned_model *m, const char *display_name, char **name,
		    struct backend_cancel *c, struct backend_error *err)
{
	struct gemini_client *gc = gemini_backend_client(impl);
	char path[600], res[80];
	char *token = NULL;
	int rc = gemini_model_name(m->id, res, sizeof(res), err);

	for (int page = 0; rc == 0 && page < 100 && !*name; page++) {
		cJSON *list = NULL, *ops;
		snprintf(path, sizeof(path), "/v1beta/batches?pageSize=100%s%.500s",
			 token ? "&pageToken=" : "", token ? token : "");
		free(token);
		token = NULL;
		rc = gbt_call(gc, HTTP_GET, path, NULL, c, &list, err);
		ops = rc == 0 ? cJSON_GetObjectItemCaseSensitive(list, "operations") : NULL;
		if (!ops && rc == 0)
			ops = cJSON_GetObjectItemCaseSensitive(list, "batches");
		for (cJSON *o = ops ? ops->child : NULL; o && !*name; o = o->next) {
			const char *dn = gbt_str(gbt_meta(o), "displayName");
			const char *nm = gbt_str(o, "name");
			if (dn && nm && strcmp(dn, display_name) == 0 && gbt_name_ok(nm, NULL) == 0)
				*name = xstrdup(nm);
		}
		const char *next = rc == 0 ? gbt_str(list, "nextPageToken") : NULL;
		if (next && *next &&
		    strspn(next, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
				 "vwxyz0123456789-_") == strlen(next))
			token = xstrdup(next);
		cJSON_Delete(list);
		if (!token)
			break;
	}
	free(token);
	if (rc == 0 && !*name) {
		http_error_set(err, 404, "NOT_FOUND", "no batch named %s", display_name);
		rc = -ENOENT;
	}
	return rc;
}

static enum batch_state gbt_state(const char *s)
{
	static const struct {
		const char *word;
		enum batch_state state;
	} words[] = {{"PENDING", BATCH_PENDING},     {"RUNNING", BATCH_RUNNING},
		     {"SUCCEEDED", BATCH_SUCCEEDED}, {"FAILED", BATCH_FAILED},
		     {"CANCELLED", BATCH_CANCELLED}, {"EXPIRED", BATCH_EXPIRED}};

	/* the wire says BATCH_STATE_*, the SDKs and some samples JOB_STATE_* */
	if (s && strncmp(s, "BATCH_STATE_", 12) == 0)
		s += 12;
	else if (s && strncmp(s, "JOB_STATE_", 10) == 0)
		s += 10;
	for (size_t i = 0; s && i < sizeof(words) / sizeof(*words); i++)
		if (strcmp(s, words[i].word) == 0)
			return words[i].state;
	return BATCH_PENDING;
}

static int gbt_get_op(void *impl, const char *name, cJSON **op, struct backend_cancel *c,
		      struct backend_error *err)
{
	char path[200];
	int rc = gbt_name_ok(name, err);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s", name);
	return gbt_call(gemini_backend_client(impl), HTTP_GET, path, NULL, c, op, err);
}

static int gbt_get(void *impl, const char *name, struct batch_status *out, struct backend_cancel *c,
		   struct backend_error *err)
{
	const cJSON *meta, *stats, *error;
	cJSON *op = NULL;
	int rc = gbt_get_op(impl, name, &op, c, err);

	if (rc < 0)
		return rc;
	meta = gbt_meta(op);
	stats = cJSON_GetObjectItemCaseSensitive(meta, "batchStats");
	out->state = gbt_state(gbt_str(meta, "state"));
	out->total = google_json_count(stats, "requestCount");
	out->done = google_json_count(stats, "successfulRequestCount");
	out->failed = google_json_count(stats, "failedRequestCount");
	error = cJSON_GetObjectItemCaseSensitive(op, "error");
	if (cJSON_IsObject(error) && out->state < BATCH_SUCCEEDED)
		out->state = BATCH_FAILED;
	if (out->state >= BATCH_FAILED) {
		const char *msg = gbt_str(error, "message");
		char line[400];
		http_copy_line(line, sizeof(line), msg ? msg : "the service gave no reason");
		out->failure = xstrdup(line);
	}
	cJSON_Delete(op);
	return 0;
}

/* One {response | error, key or metadata.key} into r. */
static void gbt_result(const cJSON *o, struct batch_result *r)
{
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");
	const char *key = gbt_str(o, "key");

	if (!key)
		key = gbt_str(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "key");
	r->key = key ? xstrdup(key) : NULL;
	if (cJSON_IsObject(resp) && !cJSON_IsObject(error)) {
		r->raw_json = gemini_json_print(resp);
	} else {
		const char *msg = gbt_str(error, "message");
		char line[400];
		http_copy_line(line, sizeof(line), msg ? msg : "no answer for this request");
		r->error = xstrdup(line);
	}
}

static void gbt_push(struct batch_result **v, size_t *n, size_t *cap, const cJSON *o)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	gbt_result(o, &(*v)[*n]);
	if ((*v)[*n].key)
		(*n)++;
	else
		free((*v)[*n].raw_json), free((*v)[*n].error);
}

/* The responses file (files/ID): one JSON object a line. */
static int gbt_file(void *impl, const char *file, struct batch_result **v, size_t *n, size_t *cap,
		    struct backend_cancel *c, struct backend_error *err)
{
	struct gemini_client *gc = gemini_backend_client(impl);
	struct http_response resp = {0};
	char path[200];
	int rc;

	if (strncmp(file, "files/", 6) != 0 || strlen(file) > 100 ||
	    strspn(file + 6, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(file + 6)) {
		http_error_set(err, 0, "", "'%.80s' is no file name (files/ID)", file);
		return -EIO;
	}
	snprintf(path, sizeof(path), "/download/v1beta/%s:download?alt=media", file);
	rc = http_request(gc->http, HTTP_GET, path, NULL, 1, c, &resp, err);
	for (char *line = resp.body, *end; rc == 0 && line && *line; line = end) {
		end = strchr(line, '\n');
		cJSON *o = gemini_json_parse(line, end ? (size_t)(end - line) : strlen(line));
		if (end)
			end++;
		if (o)
			gbt_push(v, n, cap, o);
		cJSON_Delete(o);
	}
	http_response_clear(&resp);
	return rc;
}

static int gbt_results(void *impl, const char *name, struct batch_result **out, size_t *n,
		       struct backend_cancel *c, struct backend_error *err)
{
	const cJSON *output, *inl;
	const char *file;
	size_t cap = 0;
	cJSON *op = NULL;
	int rc = gbt_get_op(impl, name, &op, c, err);

	if (rc < 0)
		return rc;
	output = cJSON_GetObjectItemCaseSensitive(gbt_meta(op), "output");
	if (!output)
		output = cJSON_GetObjectItemCaseSensitive(op, "response");
	inl = cJSON_GetObjectItemCaseSensitive(output, "inlinedResponses");
	if (cJSON_IsObject(inl))
		inl = cJSON_GetObjectItemCaseSensitive(inl, "inlinedResponses");
	for (const cJSON *o = cJSON_IsArray(inl) ? inl->child : NULL; o; o = o->next)
		gbt_push(out, n, &cap, o);
	file = gbt_str(output, "responsesFile");
	if (file)
		rc = gbt_file(impl, file, out, n, &cap, c, err);
	/* the input file uploaded for it is no longer needed */
	file = gbt_str(cJSON_GetObjectItemCaseSensitive(gbt_meta(op), "inputConfig"), "fileName");
	if (rc == 0 && file)
		gemini_file_delete(gemini_backend_client(impl), file, c);
	cJSON_Delete(op);
	if (rc < 0) {
		batch_results_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int gbt_cancel(void *impl, const char *name, struct backend_cancel *c,
		      struct backend_error *err)
{
	char path[200];
	cJSON *o = NULL;
	int rc = gbt_name_ok(name, err);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s:cancel", name);
	rc = gbt_call(gemini_backend_client(impl), HTTP_POST, path, "{}", c, &o, err);
	cJSON_Delete(o);
	return rc;
}

const struct backend_batch_ops gemini_batch_ops = {
    .submit = gbt_submit,
    .find = gbt_find,
    .get = gbt_get,
    .results = gbt_results,
    .cancel = gbt_cancel,
};
