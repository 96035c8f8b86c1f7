/* gemini_batch.c - the Gemini API's batch mode in tunedfs-server: batchGenerateContent on
 * a tuned or base model (inline requests or a JSONL file of the Files API), the batch as
 * an Operation (state, batchStats, output), list, cancel, delete, and its output (inline
 * responses, or a responses file in input order). Running it is server/batch.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/batch.h"
#include "server/batch_reply.h"
#include "server/gemini/gemini.h"
#include "server/json_util.h"

#define MAX_ITEMS 100000

static const char *const state_words[] = {"BATCH_STATE_PENDING",   "BATCH_STATE_RUNNING",
					  "BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED",
					  "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED"};

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(why, why_len, __VA_ARGS__);                                               \
		return -EINVAL;                                                                    \
	} while (0)

static int inline_requests(const cJSON *reqs, struct srv_batch_items *l, char *why, size_t why_len)
{
	const cJSON *arr = srv_json_field(reqs, "requests");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		BAD("Invalid value at 'batch.input_config.requests.requests': a non-empty array "
		    "is required.");
	if (cJSON_GetArraySize(arr) > MAX_ITEMS)
		BAD("Too many requests in one batch (at most %d).", MAX_ITEMS);
	const cJSON *e;
	size_t i = 0;
	cJSON_ArrayForEach(e, arr)
	{
		const cJSON *r = srv_json_field(e, "request");
		const cJSON *md = srv_json_field(e, "metadata");
		const cJSON *key = srv_json_field(md, "key");
		if (!cJSON_IsObject(r))
			BAD("Invalid value at 'batch.input_config.requests.requests[%zu].request': "
			    "a GenerateContentRequest object is required.",
			    i);
		srv_batch_items_add(l, cJSON_IsString(key) ? key->valuestring : "", r, md);
		i++;
	}
	return 0;
}

static int file_line(void *ctx, const cJSON *j, char *why, size_t why_len)
{
	struct srv_batch_items *l = ctx;
	const cJSON *r = srv_json_field(j, "request");
	const cJSON *key = srv_json_field(j, "key");
	if (!cJSON_IsObject(r))
		BAD("a 'request' object is required");
	srv_batch_items_add(l, cJSON_IsString(key) ? key->valuestring : "", r, NULL);
	return 0;
}

static int file_requests(struct srv *s, const char *name, struct srv_batch_items *l, char *why,
			 size_t why_len)
{
	char *data = NULL, line[200];
	size_t len = 0;
	if (srv_gemini_file_read(s, name, &data, &len))
		BAD("Invalid value at 'batch.input_config.file_name': file %.64s does not exist.",
		    name);
	int rc = srv_jsonl_each(data, len, MAX_ITEMS, file_line, l, line, sizeof(line));
	free(data);
	if (rc)
		BAD("Invalid value at 'batch.input_config.file_name': %s.", line);
	if (l->n == 0)
		BAD("Invalid value at 'batch.input_config.file_name': the file holds no requests.");
	return 0;
}

/* The model a create names and the route its items run on; rep filled when unknown. */
static int model_target(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			char *model, size_t mlen, char **target, struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	int tuned = strstr(req->path, "/tunedModels/") != NULL;
	snprintf(model, mlen, "%s/%s", tuned ? "tunedModels" : "models", id);
	if (tuned) {
		struct srv_model *m = srv_gemini_find(s, id);
		if (!m) {
			srv_reply_error(rep, 404, "NOT_FOUND",
					"Tuned model tunedModels/%.64s does not exist.", id);
			return -ENOENT;
		}
		srv_model_put(s->store, m);
	} else if (!srv_base_model_known(model)) {
		srv_reply_error(rep, 404, "NOT_FOUND", "Model %.100s is not found.", model);
		return -ENOENT;
	}
	*target = xasprintf("/v1beta/%s:generateContent", model);
	return 0;
}

static cJSON *operation_json(const struct srv_batch *b);

void srv_gemini_batch_create(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	cJSON *body = NULL;
	char model[160], why[300] = "";
	char *target = NULL;
	struct srv_batch_items l = {0};
	if (srv_body_json(req, 0, &body, rep) ||
	    model_target(s, req, p, model, sizeof(model), &target, rep)) {
		cJSON_Delete(body);
		return;
	}
	const cJSON *batch = srv_json_field(body, "batch") ? srv_json_field(body, "batch") : body;
	const cJSON *in = srv_json_field(batch, "inputConfig");
	const cJSON *dn = srv_json_field(batch, "displayName");
	const cJSON *file = srv_json_field(in, "fileName");
	const cJSON *reqs = srv_json_field(in, "requests");
	int rc = -EINVAL;
	if (!cJSON_IsObject(in) || (!cJSON_IsString(file) && !cJSON_IsObject(reqs)))
		snprintf(why, sizeof(why),
			 "Invalid value at 'batch.input_config': give file_name or requests.");
	else if (cJSON_IsString(file))
		rc = file_requests(s, file->valuestring, &l, why, sizeof(why));
	else
		rc = inline_requests(reqs, &l, why, sizeof(why));
	if (rc) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
		goto out;
	}
	cJSON *meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "model", model);
	cJSON_AddStringToObject(meta, "displayName", cJSON_IsString(dn) ? dn->valuestring : "");
	cJSON_AddStringToObject(meta, "input", cJSON_IsString(file) ? file->valuestring : "");
	char *meta_text = srv_json_print(meta);
	cJSON_Delete(meta);
	rc = srv_batch_submit_render(s, "gemini", target, meta_text, &l, operation_json, rep);
	target = NULL;
	if (rc)
		srv_reply_error(rep, 500, "INTERNAL", "Cannot keep the batch: %s.", strerror(-rc));
out:
	srv_batch_items_free(&l);
	free(target);
	cJSON_Delete(body);
}

/* The answer's body of a done item: its response, or its error object. */
static cJSON *item_answer(const struct srv_batch_item *it, int *ok)
{
	cJSON *body = it->done ? cJSON_Parse(it->result) : NULL;
	*ok = it->done && it->status == 200;
	if (*ok)
		return body;
	cJSON *err = cJSON_DetachItemFromObject(body, "error");
	cJSON_Delete(body);
	if (err)
		return err;
	err = cJSON_CreateObject();
	cJSON_AddNumberToObject(err, "code", it->done ? it->status : 10);
	cJSON_AddStringToObject(err, "message",
				it->done
				    ? "The request failed."
				    : "Not answered: the batch ended before this request ran.");
	cJSON_AddStringToObject(err, "status", it->done ? "INTERNAL" : "ABORTED");
	return err;
}

static cJSON *inlined_json(const struct srv_batch *b)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "inlinedResponses");
	for (size_t i = 0; i < b->n; i++) {
		int ok;
		cJSON *e = cJSON_CreateObject();
		cJSON *a = item_answer(&b->items[i], &ok);
		cJSON_AddItemToObject(e, ok ? "response" : "error", a);
		/* The request's metadata comes back as it was sent. */
		cJSON *md = b->items[i].extra ? cJSON_Parse(b->items[i].extra) : NULL;
		if (md)
			cJSON_AddItemToObject(e, "metadata", md);
		cJSON_AddItemToArray(arr, e);
	}
	return o;
}

static cJSON *output_json(const struct srv_batch *b, int response)
{
	cJSON *o = cJSON_CreateObject();
	if (response)
		cJSON_AddStringToObject(
		    o, "@type",
		    "type.googleapis.com/"
		    "google.ai.generativelanguage.v1main.GenerateContentBatchOutput");
	if (b->output)
		cJSON_AddStringToObject(o, "responsesFile", b->output);
	else
		cJSON_AddItemToObject(o, "inlinedResponses", inlined_json(b));
	return o;
}

static const char *meta_str(const cJSON *meta, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, k));
	return v ? v : "";
}

static cJSON *operation_json(const struct srv_batch *b)
{
	char name[64];
	cJSON *meta = cJSON_Parse(b->meta ? b->meta : "{}");
	cJSON *o = cJSON_CreateObject(), *m;
	snprintf(name, sizeof(name), "batches/%s", b->id);
	cJSON_AddStringToObject(o, "name", name);
	m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(
	    m, "@type",
	    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch");
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "displayName", meta_str(meta, "displayName"));
	cJSON_AddStringToObject(m, "model", meta_str(meta, "model"));
	const char *input = meta_str(meta, "input");
	if (*input)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(m, "inputConfig"), "fileName",
					input);
	srv_batch_json_time(m, "createTime", b->create_ns);
	srv_batch_json_time(m, "updateTime", b->update_ns);
	srv_batch_json_time(m, "endTime", b->end_ns);
	cJSON *st = cJSON_AddObjectToObject(m, "batchStats");
	srv_batch_json_count(st, "requestCount", b->n);
	srv_batch_json_count(st, "successfulRequestCount", b->n_ok);
	srv_batch_json_count(st, "failedRequestCount", b->n_failed);
	srv_batch_json_count(st, "pendingRequestCount", b->n - b->n_ok - b->n_failed);
	cJSON_AddStringToObject(m, "state", state_words[b->state]);
	cJSON_Delete(meta);
	int ended = srv_batch_ended(b->state);
	if (ended)
		cJSON_AddItemToObject(m, "output", output_json(b, 0));
	cJSON_AddBoolToObject(o, "done", ended);
	if (ended && b->state == SRV_BATCH_SUCCEEDED) {
		cJSON_AddItemToObject(o, "response", output_json(b, 1));
	} else if (ended) {
		static const int codes[] = {0, 0, 0, 13, 1, 4};
		static const char *const words[] = {"",		"",	     "",
						    "INTERNAL", "CANCELLED", "DEADLINE_EXCEEDED"};
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", codes[b->state]);
		cJSON_AddStringToObject(e, "message", b->error ? b->error : words[b->state]);
		cJSON_AddStringToObject(e, "status", words[b->state]);
	}
	return o;
}

static void batch_id(const struct srv_params *p, char *id, size_t len)
{
	snprintf(id, len, "%s", srv_param(p, "id"));
}

void srv_gemini_batch_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	char id[64];
	batch_id(p, id, sizeof(id));
	if (srv_batch_render(s, "gemini", id, operation_json, rep))
		srv_reply_error(rep, 404, "NOT_FOUND", "Batch batches/%.64s does not exist.", id);
}

struct page {
	cJSON *arr;
	unsigned long long pos, at;
	int size;
	int more;
};

static void page_add(const struct srv_batch *b, void *ctx)
{
	struct page *pg = ctx;
	if (pg->at++ < pg->pos)
		return;
	if (cJSON_GetArraySize(pg->arr) == pg->size) {
		pg->more = 1;
		return;
	}
	cJSON_AddItemToArray(pg->arr, operation_json(b));
}

void srv_gemini_batch_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	struct page pg = {0};
	char tok[64];
	if (srv_page_params(req, 50, 1000, &pg.size, &pg.pos, rep))
		return;
	cJSON *out = cJSON_CreateObject();
	pg.arr = cJSON_AddArrayToObject(out, "operations");
	srv_batch_each(s->batches, "gemini", page_add, &pg);
	if (pg.more) {
		srv_page_token(pg.pos + (unsigned long long)pg.size, tok, sizeof(tok));
		cJSON_AddStringToObject(out, "nextPageToken", tok);
	}
	srv_reply_json(rep, 200, out);
}

void srv_gemini_batch_cancel(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	char id[64];
	batch_id(p, id, sizeof(id));
	int rc = srv_batch_cancel(s->batches, "gemini", id);
	if (rc == -ENOENT)
		srv_reply_error(rep, 404, "NOT_FOUND", "Batch batches/%.64s does not exist.", id);
	else if (rc)
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"Batch batches/%.64s has already ended.", id);
	else
		srv_reply_text(rep, 200, "{}");
}

void srv_gemini_batch_delete(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	char id[64];
	batch_id(p, id, sizeof(id));
	if (srv_batch_delete(s->batches, "gemini", id))
		srv_reply_error(rep, 404, "NOT_FOUND", "Batch batches/%.64s does not exist.", id);
	else
		srv_reply_text(rep, 200, "{}");
}

/* A file-input batch's responses file: one line per request in input order, {"key",
 * "response"} or {"key", "error"}. Inline batches keep their answers in the record. */
static char *finish(struct srv *s, const struct srv_batch *b, enum srv_batch_state end, char *why,
		    size_t why_len)
{
	cJSON *meta = cJSON_Parse(b->meta ? b->meta : "{}");
	const char *input = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "input"));
	int from_file = input && *input;
	cJSON_Delete(meta);
	if (!from_file)
		return NULL;
	struct dynbuf d = {0};
	for (size_t i = 0; i < b->n; i++) {
		int ok;
		cJSON *line = cJSON_CreateObject();
		cJSON_AddStringToObject(line, "key", b->items[i].key);
		cJSON *a = item_answer(&b->items[i], &ok);
		cJSON_AddItemToObject(line, ok ? "response" : "error", a);
		char *t = srv_json_print(line);
		cJSON_Delete(line);
		dynbuf_puts(&d, t);
		dynbuf_puts(&d, "\n");
		free(t);
	}
	size_t len;
	char *text = dynbuf_take(&d, &len), name[64], display[80];
	snprintf(display, sizeof(display), "batch-%s-responses", b->id);
	int rc = srv_gemini_file_put(s, display, "application/jsonl", text ? text : "",
				     text ? len : 0, name, sizeof(name));
	free(text);
	if (rc) {
		snprintf(why, why_len, "Cannot write the responses file: %s.", strerror(-rc));
		return NULL;
	}
	return xstrdup(name);
}

const struct srv_batch_kind srv_gemini_batch_kind = {"gemini", finish};
