/* openai_batch.c - OpenAI's Batch API in tunedfs-server: POST /v1/batches over an
 * uploaded JSONL of /v1/chat/completions requests (validated line by line: a bad file
 * makes a failed batch with errors.data[]), retrieve, list, cancel, and the output and
 * error files it leaves. Running it is server/batch.c; files are openai_files.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/batch.h"
#include "server/batch_reply.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/objects.h"
#include "server/openai/openai.h"

#define ENDPOINT  "/v1/chat/completions"
#define MAX_ITEMS 50000
#define MAX_INPUT ((size_t)200 << 20)
#define WINDOW_S  (24 * 3600)

struct input {
	struct srv_batch_items l;
	cJSON *errors; /* errors.data[] */
	char model[256];
};

static void input_error(struct input *in, const char *code, const char *msg, size_t line)
{
	if (cJSON_GetArraySize(in->errors) >= 100)
		return;
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddNullToObject(e, "param");
	if (line)
		cJSON_AddNumberToObject(e, "line", (double)line);
	else
		cJSON_AddNullToObject(e, "line");
	cJSON_AddItemToArray(in->errors, e);
}

static int seen_id(const struct input *in, const char *id)
{
	for (size_t i = 0; i < in->l.n; i++)
		if (!strcmp(in->l.v[i].key, id))
			return 1;
	return 0;
}

/* One line of the input file: {custom_id, method, url, body}. */
static void input_line(struct input *in, const char *text, size_t len, size_t line)
{
	cJSON *j = cJSON_ParseWithLength(text, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "custom_id");
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(j, "method");
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(j, "url");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
	if (!cJSON_IsObject(j))
		input_error(in, "invalid_json_line", "This line is not parseable as valid JSON.",
			    line);
	else if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) > 512)
		input_error(in, "missing_required_parameter",
			    "Missing or invalid 'custom_id': a non-empty string is required.",
			    line);
	else if (seen_id(in, id->valuestring))
		input_error(in, "duplicate_custom_id",
			    "The custom_id for this request is a duplicate of another request. "
			    "The custom_id parameter must be unique for each request in a batch.",
			    line);
	else if (!cJSON_IsString(method) || strcmp(method->valuestring, "POST"))
		input_error(in, "invalid_method", "The method must be 'POST'.", line);
	else if (!cJSON_IsString(url) || strcmp(url->valuestring, ENDPOINT))
		input_error(in, "invalid_url",
			    "The URL provided for this request does not match the batch "
			    "endpoint.",
			    line);
	else if (!cJSON_IsObject(body))
		input_error(in, "missing_required_parameter",
			    "Missing 'body': an object is required.", line);
	else if (in->l.n >= MAX_ITEMS)
		input_error(in, "too_many_requests", "A batch holds at most 50,000 requests.",
			    line);
	else {
		const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
		if (!in->model[0] && cJSON_IsString(model))
			snprintf(in->model, sizeof(in->model), "%s", model->valuestring);
		srv_batch_items_add(&in->l, id->valuestring, body, NULL);
	}
	cJSON_Delete(j);
}

static void read_input(const char *text, size_t len, struct input *in)
{
	size_t line = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (strspn(p, " \t\r") < n)
			input_line(in, p, n, line);
		p += n + 1;
	}
	if (in->l.n == 0 && cJSON_GetArraySize(in->errors) == 0)
		input_error(in, "empty_file", "The input file holds no requests.", 0);
}

static void free_input(struct input *in)
{
	srv_batch_items_free(&in->l);
	cJSON_Delete(in->errors);
}

static void add_time(cJSON *o, const char *k, int64_t ns)
{
	if (ns)
		cJSON_AddNumberToObject(o, k, (double)(ns / 1000000000));
	else
		cJSON_AddNullToObject(o, k);
}

static const char *status_of(const struct srv_batch *b)
{
	static const char *const words[] = {"validating", "in_progress", "completed",
					    "failed",	  "cancelled",	 "expired"};
	if (b->cancel_requested && !srv_batch_ended(b->state))
		return "cancelling";
	return words[b->state];
}

/* usage over the answered items' bodies. */
static void add_usage(cJSON *o, const struct srv_batch *b)
{
	double in = 0, out = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (!b->items[i].done || b->items[i].status != 200)
			continue;
		cJSON *r = cJSON_Parse(b->items[i].result);
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "usage");
		in += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens"));
		out +=
		    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens"));
		cJSON_Delete(r);
	}
	cJSON *u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", in);
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "input_tokens_details"), "cached_tokens",
				0);
	cJSON_AddNumberToObject(u, "output_tokens", out);
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "output_tokens_details"),
				"reasoning_tokens", 0);
	cJSON_AddNumberToObject(u, "total_tokens", in + out);
}

static cJSON *batch_json(const struct srv_batch *b)
{
	cJSON *meta = cJSON_Parse(b->meta ? b->meta : "{}");
	cJSON *out = cJSON_Parse(b->output ? b->output : "{}");
	cJSON *o = cJSON_CreateObject();
	char id[64];
	snprintf(id, sizeof(id), "batch_%s", b->id);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "object", "batch");
	cJSON_AddStringToObject(o, "endpoint", ENDPOINT);
	cJSON *model = cJSON_DetachItemFromObject(meta, "model");
	if (model)
		cJSON_AddItemToObject(o, "model", model);
	cJSON *errors = cJSON_DetachItemFromObject(meta, "errors");
	if (errors)
		cJSON_AddItemToObject(o, "errors", errors);
	else
		cJSON_AddNullToObject(o, "errors");
	cJSON_AddItemToObject(o, "input_file_id", cJSON_DetachItemFromObject(meta, "input"));
	cJSON_AddStringToObject(o, "completion_window", "24h");
	cJSON_AddStringToObject(o, "status", status_of(b));
	static const char *const files[] = {"output_file_id", "error_file_id"};
	for (int i = 0; i < 2; i++) {
		cJSON *f = cJSON_DetachItemFromObject(out, files[i]);
		cJSON_AddItemToObject(o, files[i], f ? f : cJSON_CreateNull());
	}
	add_time(o, "created_at", b->create_ns);
	add_time(o, "in_progress_at", b->start_ns);
	add_time(o, "expires_at", b->create_ns + (int64_t)WINDOW_S * 1000000000);
	add_time(o, "finalizing_at", b->state == SRV_BATCH_SUCCEEDED ? b->end_ns : 0);
	add_time(o, "completed_at", b->state == SRV_BATCH_SUCCEEDED ? b->end_ns : 0);
	add_time(o, "failed_at", b->state == SRV_BATCH_FAILED ? b->end_ns : 0);
	add_time(o, "expired_at", b->state == SRV_BATCH_EXPIRED ? b->end_ns : 0);
	add_time(o, "cancelling_at", 0);
	add_time(o, "cancelled_at", b->state == SRV_BATCH_CANCELLED ? b->end_ns : 0);
	cJSON *rc = cJSON_AddObjectToObject(o, "request_counts");
	cJSON_AddNumberToObject(rc, "total", (double)b->n);
	cJSON_AddNumberToObject(rc, "completed", (double)b->n_ok);
	cJSON_AddNumberToObject(rc, "failed", (double)b->n_failed);
	add_usage(o, b);
	cJSON *md = cJSON_DetachItemFromObject(meta, "metadata");
	cJSON_AddItemToObject(o, "metadata", md ? md : cJSON_CreateNull());
	cJSON_Delete(meta);
	cJSON_Delete(out);
	return o;
}

/* The create body's checks; rep filled and -EINVAL when one fails. */
static int create_checks(struct srv *s, const cJSON *body, struct srv_object *file,
			 struct srv_reply *rep)
{
	const cJSON *fid = cJSON_GetObjectItemCaseSensitive(body, "input_file_id");
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(body, "endpoint");
	const cJSON *win = cJSON_GetObjectItemCaseSensitive(body, "completion_window");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
	const char *param = NULL, *msg = NULL;
	if (!cJSON_IsString(fid))
		param = "input_file_id", msg = "Missing required parameter: 'input_file_id'.";
	else if (!cJSON_IsString(ep) || strcmp(ep->valuestring, ENDPOINT))
		param = "endpoint", msg = "Only '/v1/chat/completions' is served as a batch "
					  "endpoint here.";
	else if (!cJSON_IsString(win) || strcmp(win->valuestring, "24h"))
		param = "completion_window", msg = "completion_window must be '24h'.";
	else if (md && !cJSON_IsNull(md) && (!cJSON_IsObject(md) || cJSON_GetArraySize(md) > 16))
		param = "metadata", msg = "metadata must be an object of at most 16 pairs.";
	else if (strncmp(fid->valuestring, "file-", 5) ||
		 srv_object_stat(s->opt.data_dir, SRV_OPENAI_BUCKET, fid->valuestring, file))
		param = "input_file_id", msg = "The input file could not be found.";
	else if (!strstr(file->note, "\"purpose\":\"batch\""))
		param = "input_file_id", msg = "The input file must be uploaded with purpose "
					       "'batch'.";
	if (!msg)
		return 0;
	srv_openai_error(
	    rep,
	    cJSON_IsString(fid) && !strcmp(param, "input_file_id") && !strstr(msg, "purpose") ? 404
											      : 400,
	    "invalid_request_error", param, NULL, "%s", msg);
	return -EINVAL;
}

void srv_openai_batch_create(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	cJSON *body = NULL;
	struct srv_object file;
	struct input in = {.errors = cJSON_CreateArray()};
	char *data = NULL;
	size_t len = 0;
	if (srv_body_json(req, 0, &body, rep) || create_checks(s, body, &file, rep))
		goto out;
	if (srv_object_read(s->opt.data_dir, SRV_OPENAI_BUCKET, file.name, MAX_INPUT, &data,
			    &len)) {
		srv_openai_error(rep, 400, "invalid_request_error", "input_file_id", NULL,
				 "The input file cannot be read (at most 200 MB).");
		goto out;
	}
	read_input(data, len, &in);
	cJSON *meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "input", file.name);
	if (in.model[0])
		cJSON_AddStringToObject(meta, "model", in.model);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
	if (cJSON_IsObject(md))
		cJSON_AddItemToObject(meta, "metadata", cJSON_Duplicate(md, 1));
	if (cJSON_GetArraySize(in.errors)) {
		/* A bad file: no request runs, the batch fails with the reasons. */
		cJSON *e = cJSON_AddObjectToObject(meta, "errors");
		cJSON_AddStringToObject(e, "object", "list");
		cJSON_AddItemToObject(e, "data", in.errors);
		in.errors = NULL;
		free_input(&in);
		in = (struct input){0};
	}
	char *meta_text = srv_json_print(meta);
	cJSON_Delete(meta);
	int rc = srv_batch_submit_render(s, "openai", xstrdup(ENDPOINT), meta_text, &in.l,
					 batch_json, rep);
	if (rc)
		srv_openai_error(rep, 500, "server_error", NULL, NULL, "Cannot keep the batch: %s.",
				 strerror(-rc));
out:
	free(data);
	free_input(&in);
	cJSON_Delete(body);
}

/* The core id of "batch_ID"; NULL and a 404 in rep when it is none. */
static const char *core_id(const struct srv_params *p, struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	if (!strncmp(id, "batch_", 6))
		return id + 6;
	srv_openai_error(rep, 404, "invalid_request_error", "batch_id", "not_found",
			 "No batch found with id '%.64s'.", id);
	return NULL;
}

void srv_openai_batch_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	const char *id = core_id(p, rep);
	if (id && srv_batch_render(s, "openai", id, batch_json, rep))
		srv_openai_error(rep, 404, "invalid_request_error", "batch_id", "not_found",
				 "No batch found with id '%.64s'.", srv_param(p, "id"));
}

void srv_openai_batch_cancel(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	const char *id = core_id(p, rep);
	if (!id)
		return;
	int rc = srv_batch_cancel(s->batches, "openai", id);
	if (rc == -ENOENT)
		srv_openai_error(rep, 404, "invalid_request_error", "batch_id", "not_found",
				 "No batch found with id '%.64s'.", srv_param(p, "id"));
	else if (rc)
		srv_openai_error(rep, 409, "invalid_request_error", NULL, NULL,
				 "Cannot cancel a batch that has already ended.");
	else
		srv_batch_render(s, "openai", id, batch_json, rep);
}

struct page {
	cJSON *arr;
	const char *after;
	int started;
	long limit;
	int more;
};

static void page_add(const struct srv_batch *b, void *ctx)
{
	struct page *pg = ctx;
	if (!pg->started) {
		pg->started = !strcmp(b->id, pg->after);
		return;
	}
	if (cJSON_GetArraySize(pg->arr) == pg->limit) {
		pg->more = 1;
		return;
	}
	cJSON_AddItemToArray(pg->arr, batch_json(b));
}

void srv_openai_batch_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	char after[80] = "", limit_s[16] = "";
	srv_query_get(req->query, "after", after, sizeof(after));
	srv_query_get(req->query, "limit", limit_s, sizeof(limit_s));
	long limit = *limit_s ? strtol(limit_s, NULL, 10) : 20;
	if (limit < 1 || limit > 100) {
		srv_openai_error(rep, 400, "invalid_request_error", "limit", NULL,
				 "limit must be in [1, 100].");
		return;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "object", "list");
	struct page pg = {cJSON_AddArrayToObject(out, "data"),
			  strncmp(after, "batch_", 6) ? after : after + 6, !*after, limit, 0};
	srv_batch_each(s->batches, "openai", page_add, &pg);
	int n = cJSON_GetArraySize(pg.arr);
	cJSON_AddStringToObject(
	    out, "first_id",
	    n ? cJSON_GetObjectItem(cJSON_GetArrayItem(pg.arr, 0), "id")->valuestring : "");
	cJSON_AddStringToObject(
	    out, "last_id",
	    n ? cJSON_GetObjectItem(cJSON_GetArrayItem(pg.arr, n - 1), "id")->valuestring : "");
	cJSON_AddBoolToObject(out, "has_more", pg.more);
	srv_reply_json(rep, 200, out);
}

/* One output or error line of item i. */
static char *result_line(const struct srv_batch *b, size_t i, enum srv_batch_state end)
{
	const struct srv_batch_item *it = &b->items[i];
	char rid[40] = "batch_req_", req_id[40] = "req_";
	srv_id_random(rid + 10, 24);
	srv_id_random(req_id + 4, 24);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", rid);
	cJSON_AddStringToObject(o, "custom_id", it->key);
	if (it->done) {
		cJSON *r = cJSON_AddObjectToObject(o, "response");
		cJSON_AddNumberToObject(r, "status_code", it->status);
		cJSON_AddStringToObject(r, "request_id", req_id);
		cJSON_AddItemToObject(r, "body", cJSON_Parse(it->result));
		cJSON_AddNullToObject(o, "error");
	} else {
		static const char *const codes[] = {
		    "", "", "", "batch_failed", "batch_cancelled", "batch_expired"};
		cJSON_AddNullToObject(o, "response");
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", codes[end]);
		cJSON_AddStringToObject(e, "message",
					"This request was not executed before the batch ended.");
	}
	char *t = srv_json_print(o);
	cJSON_Delete(o);
	return t;
}

/* Stores text as an OpenAI file of purpose batch_output; its id into id (40 bytes). */
static int put_file(struct srv *s, const char *batch, const char *what, struct dynbuf *d, char *id)
{
	size_t len;
	char *text = dynbuf_take(d, &len);
	char *note = xasprintf("{\"filename\":\"batch_%s_%s.jsonl\",\"purpose\":\"batch_output\"}",
			       batch, what);
	memcpy(id, "file-", 5);
	srv_id_random(id + 5, 24);
	int rc = srv_object_put_note(s->opt.data_dir, SRV_OPENAI_BUCKET, id, "application/jsonl",
				     note, text ? text : "", text ? len : 0, NULL);
	free(note);
	free(text);
	return rc;
}

static char *finish(struct srv *s, const struct srv_batch *b, enum srv_batch_state end, char *why,
		    size_t why_len)
{
	if (b->meta && strstr(b->meta, "\"errors\":")) {
		snprintf(why, why_len, "The input file failed validation.");
		return NULL;
	}
	struct dynbuf ok = {0}, bad = {0};
	size_t n_ok = 0, n_bad = 0;
	for (size_t i = 0; i < b->n; i++) {
		char *line = result_line(b, i, end);
		int good = b->items[i].done && b->items[i].status == 200;
		dynbuf_puts(good ? &ok : &bad, line);
		dynbuf_puts(good ? &ok : &bad, "\n");
		free(line);
		*(good ? &n_ok : &n_bad) += 1;
	}
	char out_id[40] = "", err_id[40] = "";
	int rc = n_ok ? put_file(s, b->id, "output", &ok, out_id) : 0;
	if (!rc && n_bad)
		rc = put_file(s, b->id, "error", &bad, err_id);
	dynbuf_free(&ok);
	dynbuf_free(&bad);
	if (rc) {
		snprintf(why, why_len, "Cannot write the batch's output: %s.", strerror(-rc));
		return NULL;
	}
	cJSON *o = cJSON_CreateObject();
	if (*out_id)
		cJSON_AddStringToObject(o, "output_file_id", out_id);
	if (*err_id)
		cJSON_AddStringToObject(o, "error_file_id", err_id);
	char *t = srv_json_print(o);
	cJSON_Delete(o);
	return t;
}

const struct srv_batch_kind srv_openai_batch_kind = {"openai", finish};
