/* openai_chat.c - POST /v1/chat/completions of the OpenAI family on fine-tuned models:
 * the last user message is the prompt; the answer whole, or with "stream": true as
 * chat.completion.chunk events ending in data: [DONE]. Running the model: generate.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/generate.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/openai/openai.h"
#include "server/tokens.h"

#define MAX_PROMPT  40000
#define MAX_OUT	    8192
#define DEF_OUT	    1024
#define CHUNK_BYTES 8

#define BAD(param, ...)                                                                            \
	do {                                                                                       \
		srv_openai_error(rep, 400, "invalid_request_error", param, NULL, __VA_ARGS__);     \
		return -EINVAL;                                                                    \
	} while (0)

static int number(const cJSON *body, const char *key, double lo, double hi, double *v,
		  struct srv_reply *rep)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(body, key);
	if (!it || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble < lo || it->valuedouble > hi)
		BAD(key, "%s must be a number in [%g, %g].", key, lo, hi);
	*v = it->valuedouble;
	return 1;
}

/* Sampling settings and stop strings of the request over g. */
static int settings(const cJSON *body, struct srv_gen_params *g, struct srv_reply *rep)
{
	double v;
	int rc;
	if ((rc = number(body, "temperature", 0, 2, &v, rep)) < 0)
		return rc;
	if (rc)
		g->temperature = v;
	if ((rc = number(body, "top_p", 0, 1, &v, rep)) < 0)
		return rc;
	if (rc)
		g->top_p = v;
	if ((rc = number(body, "n", 1, 1, &v, rep)) < 0)
		return rc;
	if ((rc = number(body, "max_tokens", 1, MAX_OUT, &v, rep)) < 0 ||
	    (!rc && (rc = number(body, "max_completion_tokens", 1, MAX_OUT, &v, rep)) < 0))
		return rc;
	if (rc)
		g->max_bytes = (long)v;
	if ((rc = number(body, "seed", -9.2e18, 9.2e18, &v, rep)) < 0)
		return rc;
	if (rc)
		g->seed = (uint64_t)(int64_t)v, g->has_seed = 1;
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop"), *e;
	if (cJSON_IsString(stop)) {
		g->stops[g->n_stops++] = stop->valuestring;
	} else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) <= 4) {
		cJSON_ArrayForEach(e, stop)
		{
			if (!cJSON_IsString(e) || !*e->valuestring)
				BAD("stop", "stop must be a string or up to 4 strings.");
			g->stops[g->n_stops++] = e->valuestring;
		}
	} else if (stop && !cJSON_IsNull(stop)) {
		BAD("stop", "stop must be a string or up to 4 strings.");
	}
	return 0;
}

/* The prompt: the text of the last user message. */
static int prompt_of(const cJSON *body, struct dynbuf *b, struct srv_reply *rep)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages"), *m, *last = NULL;
	if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs))
		BAD("messages", "messages must be a non-empty array.");
	cJSON_ArrayForEach(m, msgs)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (!cJSON_IsString(role))
			BAD("messages", "each message needs a role.");
		if (!strcmp(role->valuestring, "user"))
			last = m;
	}
	if (!last)
		BAD("messages", "messages must hold a user message.");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(last, "content"), *p;
	if (cJSON_IsString(c)) {
		dynbuf_puts(b, c->valuestring);
	} else if (cJSON_IsArray(c)) {
		cJSON_ArrayForEach(p, c)
		{
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
			if (cJSON_IsString(t))
				dynbuf_puts(b, t->valuestring);
		}
	} else {
		BAD("messages", "a user message's content must be text.");
	}
	if (b->len > MAX_PROMPT)
		BAD("messages", "the prompt is longer than %d bytes.", MAX_PROMPT);
	return 0;
}

static cJSON *completion(const char *id, int64_t created, const char *model, int chunk)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "object", chunk ? "chat.completion.chunk" : "chat.completion");
	cJSON_AddNumberToObject(o, "created", (double)created);
	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddNullToObject(o, "system_fingerprint");
	return o;
}

static cJSON *usage(size_t in, size_t out)
{
	cJSON *u = cJSON_CreateObject();
	cJSON_AddNumberToObject(u, "prompt_tokens", (double)in);
	cJSON_AddNumberToObject(u, "completion_tokens", (double)out);
	cJSON_AddNumberToObject(u, "total_tokens", (double)(in + out));
	return u;
}

static void whole(const char *id, int64_t created, const char *model, const char *text,
		  const char *finish, size_t in, struct srv_reply *rep)
{
	cJSON *o = completion(id, created, model, 0);
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", text);
	cJSON_AddNullToObject(msg, "refusal");
	cJSON_AddNullToObject(choice, "logprobs");
	cJSON_AddStringToObject(choice, "finish_reason", finish);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), choice);
	cJSON_AddItemToObject(o, "usage", usage(in, srv_tokens_of(text)));
	srv_reply_json(rep, 200, o);
}

/* One chunk: role and/or content in its delta, or the finish reason. */
static void chunk(struct dynbuf *b, const char *id, int64_t created, const char *model,
		  const char *role, const char *content, const char *finish)
{
	cJSON *o = completion(id, created, model, 1);
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
	if (role)
		cJSON_AddStringToObject(delta, "role", role);
	if (content)
		cJSON_AddStringToObject(delta, "content", content);
	cJSON_AddNullToObject(choice, "logprobs");
	if (finish)
		cJSON_AddStringToObject(choice, "finish_reason", finish);
	else
		cJSON_AddNullToObject(choice, "finish_reason");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), choice);
	srv_sse_event(b, o);
	cJSON_Delete(o);
}

static void streamed(const cJSON *body, const char *id, int64_t created, const char *model,
		     const char *text, const char *finish, size_t in, struct srv_reply *rep)
{
	struct dynbuf b = DYNBUF_INIT;
	size_t len = strlen(text);
	chunk(&b, id, created, model, "assistant", "", NULL);
	for (size_t i = 0; i < len;) {
		size_t e = i + CHUNK_BYTES < len ? i + CHUNK_BYTES : len;
		while (e < len && ((unsigned char)text[e] & 0xc0) == 0x80)
			e++;
		char *piece = xstrndup(text + i, e - i);
		chunk(&b, id, created, model, NULL, piece, NULL);
		free(piece);
		i = e;
	}
	chunk(&b, id, created, model, NULL, NULL, finish);
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"))) {
		cJSON *o = completion(id, created, model, 1);
		cJSON_AddArrayToObject(o, "choices");
		cJSON_AddItemToObject(o, "usage", usage(in, srv_tokens_count(text, len)));
		srv_sse_event(&b, o);
		cJSON_Delete(o);
	}
	dynbuf_puts(&b, "data: [DONE]\n\n");
	srv_reply_sse(rep, &b);
}

void srv_openai_chat(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep)
{
	struct srv_gen_params g = {.max_bytes = DEF_OUT};
	struct dynbuf prompt = DYNBUF_INIT;
	struct srv_model *m = NULL;
	char *text = NULL, why[256], id[48] = "chatcmpl-";
	const char *finish;
	cJSON *body;
	if (srv_body_json(req, 0, &body, rep))
		return;
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
	if (!cJSON_IsString(model)) {
		srv_openai_error(rep, 400, "invalid_request_error", "model", NULL,
				 "Missing required parameter: 'model'.");
		goto out;
	}
	if (!(m = srv_openai_find_model(s, model->valuestring))) {
		srv_openai_error(rep, 404, "invalid_request_error", "model", "model_not_found",
				 "The model `%.300s` does not exist or you do not have access to "
				 "it.",
				 model->valuestring);
		goto out;
	}
	pthread_mutex_lock(&s->store->lock);
	srv_generate_defaults(m, &g);
	pthread_mutex_unlock(&s->store->lock);
	if (settings(body, &g, rep) || prompt_of(body, &prompt, rep))
		goto out;
	int rc = srv_generate_run(s, m, prompt.data ? prompt.data : "", prompt.len, &g, &text,
				  &finish, why, sizeof(why));
	if (rc) {
		srv_openai_error(rep, 500, "server_error", NULL, NULL, "Generation failed: %s.",
				 why);
		goto out;
	}
	finish = !strcmp(finish, "MAX_TOKENS") ? "length" : "stop";
	srv_id_random(id + 9, 29);
	int64_t created = srv_now_ns() / 1000000000;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream")))
		streamed(body, id, created, model->valuestring, text, finish, prompt.len, rep);
	else
		whole(id, created, model->valuestring, text, finish, prompt.len, rep);
out:
	free(text);
	dynbuf_free(&prompt);
	cJSON_Delete(body);
	srv_model_put(s->store, m);
}
