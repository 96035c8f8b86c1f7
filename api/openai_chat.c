/* openai_chat.c - chat completions for the openai backend: the request body (the prompt as
 * one user message, the generation settings OpenAI has) and the answer read back from a
 * chat.completion. No I/O; the call itself is openai.c's. */
#include "api/openai_internal.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oc_check(const void *p)
{
	if (!p)
		xalloc_die(0);
}

char *openai_chat_body(const char *model, const char *prompt, const struct generation_settings *gs,
		       char *why, size_t why_len)
{
	cJSON *root, *messages, *m;
	char *s;

	if (gs && gs->has_top_k) {
		snprintf(why, why_len,
			 "generation: top_k: OpenAI chat completions have no top_k; remove it "
			 "(temperature, top_p, max_output_tokens and stop_sequences are "
			 "supported)");
		return NULL;
	}
	oc_check(root = cJSON_CreateObject());
	oc_check(cJSON_AddStringToObject(root, "model", model));
	oc_check(messages = cJSON_AddArrayToObject(root, "messages"));
	oc_check(m = cJSON_CreateObject());
	oc_check(cJSON_AddStringToObject(m, "role", "user"));
	oc_check(cJSON_AddStringToObject(m, "content", prompt));
	cJSON_AddItemToArray(messages, m);
	if (gs && gs->has_temperature)
		oc_check(cJSON_AddNumberToObject(root, "temperature", gs->temperature));
	if (gs && gs->has_top_p)
		oc_check(cJSON_AddNumberToObject(root, "top_p", gs->top_p));
	if (gs && gs->has_max_output_tokens)
		oc_check(
		    cJSON_AddNumberToObject(root, "max_completion_tokens", gs->max_output_tokens));
	if (gs && gs->n_stop_sequences) {
		cJSON *stop = cJSON_AddArrayToObject(root, "stop");
		oc_check(stop);
		for (size_t i = 0; i < gs->n_stop_sequences; i++) {
			cJSON *v = cJSON_CreateString(gs->stop_sequences[i]);
			oc_check(v);
			cJSON_AddItemToArray(stop, v);
		}
	}
	oc_check(s = cJSON_PrintUnformatted(root));
	cJSON_Delete(root);
	return s;
}

/* A message's content: a string, or an array of {"type": "text", "text"} parts. */
static char *oc_content(const cJSON *content)
{
	const cJSON *p;
	size_t n = 0;
	char *s;

	if (cJSON_IsString(content))
		return xstrdup(content->valuestring);
	if (cJSON_IsNull(content) || !content)
		return xstrdup("");
	if (!cJSON_IsArray(content))
		return NULL;
	cJSON_ArrayForEach(p, content)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
		n += cJSON_IsString(t) ? strlen(t->valuestring) : 0;
	}
	s = xcalloc(1, n + 1);
	cJSON_ArrayForEach(p, content)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
		if (cJSON_IsString(t))
			strcat(s, t->valuestring);
	}
	return s;
}

int openai_parse_completion(const char *json, size_t len, struct generation_answer *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	const cJSON *first = cJSON_GetArrayItem(choices, 0);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
	const cJSON *finish = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root) || !cJSON_IsArray(choices) || !cJSON_IsObject(msg) ||
	    !(out->text = oc_content(cJSON_GetObjectItemCaseSensitive(msg, "content")))) {
		cJSON_Delete(root);
		generation_answer_clear(out);
		return -EINVAL;
	}
	if (cJSON_IsString(finish))
		out->finish_reason = xstrdup(finish->valuestring);
	if (cJSON_IsString(refusal) && *refusal->valuestring)
		out->block_reason = xstrdup(refusal->valuestring);
	out->in_tokens = openai_json_count(usage, "prompt_tokens");
	out->out_tokens = openai_json_count(usage, "completion_tokens");
	out->total_tokens = openai_json_count(usage, "total_tokens");
	out->raw_json = xstrndup(json, len);
	cJSON_Delete(root);
	return 0;
}
