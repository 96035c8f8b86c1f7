/* openai_stream.c - chat completions with "stream": true for the openai backend: each event
 * a chat.completion.chunk whose delta is the next piece of text, "[DONE]" at the end, usage
 * from the last chunk (stream_options.include_usage), and the answer put back together as
 * the chat.completion an unstreamed call gives. */
#include "api/http.h"
#include "api/openai_internal.h"
#include "api/sse.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void os_check(const void *p)
{
	if (!p)
		xalloc_die(0);
}

static int os_event(struct sse_answer *a, const char *data, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(data, len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *first =
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(first, "delta");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(delta, "refusal");
	const cJSON *finish = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

	if (!cJSON_IsObject(root) || e) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (!cJSON_IsObject(root))
			snprintf(a->why, sizeof(a->why), "an event that is not a JSON object");
		else
			http_copy_line(a->why, sizeof(a->why),
				       cJSON_IsString(msg) ? msg->valuestring : "(no message)");
		cJSON_Delete(root);
		return -EIO;
	}
	if (cJSON_IsString(content))
		sse_answer_text(a, content->valuestring, strlen(content->valuestring));
	if (cJSON_IsString(refusal) && *refusal->valuestring) {
		char *r = xasprintf("%s%s", a->block ? a->block : "", refusal->valuestring);
		free(a->block);
		a->block = r;
	}
	if (cJSON_IsString(finish))
		sse_answer_set(&a->finish, finish->valuestring);
	if (cJSON_IsObject(usage)) {
		a->in_tokens = openai_json_count(usage, "prompt_tokens");
		a->out_tokens = openai_json_count(usage, "completion_tokens");
	}
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "id")))
		sse_answer_set(&a->last, data);
	cJSON_Delete(root);
	return 0;
}

/* The chat.completion the chunks add up to. */
static char *os_whole(const struct sse_answer *a)
{
	cJSON *last = cJSON_Parse(a->last ? a->last : "{}");
	cJSON *o = cJSON_CreateObject(), *choice, *msg, *item;
	const char *keep[] = {"id", "created", "model", "system_fingerprint"};
	char *s;

	os_check(o);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		item = cJSON_GetObjectItemCaseSensitive(last, keep[i]);
		if (item)
			cJSON_AddItemToObject(o, keep[i], cJSON_Duplicate(item, 1));
	}
	cJSON_AddStringToObject(o, "object", "chat.completion");
	choice = cJSON_CreateObject();
	os_check(choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", a->text.data ? a->text.data : "");
	if (a->block)
		cJSON_AddStringToObject(msg, "refusal", a->block);
	else
		cJSON_AddNullToObject(msg, "refusal");
	cJSON_AddNullToObject(choice, "logprobs");
	cJSON_AddStringToObject(choice, "finish_reason", a->finish ? a->finish : "stop");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), choice);
	if (a->in_tokens >= 0 && a->out_tokens >= 0) {
		cJSON *u = cJSON_AddObjectToObject(o, "usage");
		cJSON_AddNumberToObject(u, "prompt_tokens", (double)a->in_tokens);
		cJSON_AddNumberToObject(u, "completion_tokens", (double)a->out_tokens);
		cJSON_AddNumberToObject(u, "total_tokens", (double)(a->in_tokens + a->out_tokens));
	}
	s = cJSON_PrintUnformatted(o);
	os_check(s);
	cJSON_Delete(o);
	cJSON_Delete(last);
	return s;
}

/* body (an unstreamed request) with "stream": true and the usage asked for at the end. */
static char *os_body(const char *body)
{
	cJSON *root = cJSON_Parse(body), *so;
	char *s;

	os_check(root);
	cJSON_AddTrueToObject(root, "stream");
	os_check(so = cJSON_AddObjectToObject(root, "stream_options"));
	cJSON_AddTrueToObject(so, "include_usage");
	os_check(s = cJSON_PrintUnformatted(root));
	cJSON_Delete(root);
	return s;
}

static int os_read_whole(const struct sse_answer *a, struct generation_answer *out)
{
	char *whole = os_whole(a);
	int rc = openai_parse_completion(whole, strlen(whole), out);

	free(whole);
	return rc < 0 ? -EIO : 0;
}

int openai_chat_stream(struct http_client *hc, const char *path, const char *body,
		       backend_text_fn on_text, void *arg, struct backend_cancel *cancel,
		       struct generation_answer *out, struct backend_error *err)
{
	char *sbody = os_body(body);
	int rc = sse_call(hc, path, sbody, os_event, os_read_whole, on_text, arg, cancel, out, err);

	free(sbody);
	return rc;
}
