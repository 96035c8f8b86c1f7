/* gemini_stream.c - streamGenerateContent?alt=sse for the Gemini API and Vertex AI: each
 * event one GenerateContentResponse whose parts are the next piece of text, usage counts
 * taken from the last event that has them (they are cumulative, never summed), and the
 * answer put back together as the one GenerateContentResponse generateContent gives. */
#include "api/gemini.h"
#include "api/http.h"
#include "api/sse.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gs_event(struct sse_answer *a, const char *data, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(data, len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	struct generation_answer g;

	if (!cJSON_IsObject(root) || e) {
		if (!cJSON_IsObject(root))
			snprintf(a->why, sizeof(a->why), "an event that is not a JSON object");
		else
			http_copy_line(a->why, sizeof(a->why),
				       cJSON_IsString(msg) ? msg->valuestring : "(no message)");
		cJSON_Delete(root);
		return -EIO;
	}
	cJSON_Delete(root);
	if (gemini_parse_generation(data, len, &g) < 0) {
		snprintf(a->why, sizeof(a->why), "an event that is not a GenerateContentResponse");
		return -EIO;
	}
	sse_answer_text(a, g.text, g.text ? strlen(g.text) : 0);
	if (g.finish_reason)
		sse_answer_set(&a->finish, g.finish_reason);
	if (g.block_reason)
		sse_answer_set(&a->block, g.block_reason);
	if (g.in_tokens >= 0)
		a->in_tokens = g.in_tokens;
	if (g.out_tokens >= 0)
		a->out_tokens = g.out_tokens;
	sse_answer_set(&a->last, data);
	generation_answer_clear(&g);
	return 0;
}

/* The last event with the whole text as its one part and the finish reason seen. */
static char *gs_whole(const struct sse_answer *a)
{
	cJSON *root = cJSON_Parse(a->last ? a->last : "{}");
	cJSON *cands, *first, *content, *parts, *part;
	char *s;

	if (!root)
		xalloc_die(0);
	cands = cJSON_GetObjectItemCaseSensitive(root, "candidates");
	if (!cJSON_IsArray(cands) && a->text.len) {
		cJSON_DeleteItemFromObjectCaseSensitive(root, "candidates");
		cands = cJSON_AddArrayToObject(root, "candidates");
	}
	first = cJSON_GetArrayItem(cands, 0);
	if (cands && !cJSON_IsObject(first)) {
		first = cJSON_CreateObject();
		cJSON_AddItemToArray(cands, first);
	}
	if (first) {
		cJSON_DeleteItemFromObjectCaseSensitive(first, "content");
		content = cJSON_AddObjectToObject(first, "content");
		parts = cJSON_AddArrayToObject(content, "parts");
		part = cJSON_CreateObject();
		cJSON_AddStringToObject(part, "text", a->text.data ? a->text.data : "");
		cJSON_AddItemToArray(parts, part);
		cJSON_AddStringToObject(content, "role", "model");
		if (a->finish && !cJSON_HasObjectItem(first, "finishReason"))
			cJSON_AddStringToObject(first, "finishReason", a->finish);
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!s)
		xalloc_die(0);
	return s;
}

/* The answer as generateContent gives it, whose text must be what the events carried. */
static int gs_read_whole(const struct sse_answer *a, struct generation_answer *out)
{
	char *whole = gs_whole(a);
	int rc = gemini_parse_generation(whole, strlen(whole), out);

	free(whole);
	if (rc < 0 || strcmp(out->text ? out->text : "", a->text.data ? a->text.data : "") != 0)
		return -EIO;
	out->in_tokens = a->in_tokens;
	out->out_tokens = a->out_tokens;
	return 0;
}

int gemini_stream_call(struct http_client *hc, const char *path, const char *body,
		       backend_text_fn on_text, void *arg, struct backend_cancel *cancel,
		       struct generation_answer *out, struct backend_error *err)
{
	return sse_call(hc, path, body, gs_event, gs_read_whole, on_text, arg, cancel, out, err);
}
