/* google_content.c - generateContent as the Gemini API and Vertex AI speak it, for
 * tunedfs-server (see google_content.h): request checks, the prompt, responses, chunks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/google/google_content.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/reply.h"
#include "server/tokens.h"

#define BAD(...)                                                                                   \
	do {                                                                                       \
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", __VA_ARGS__);                        \
		return -EINVAL;                                                                    \
	} while (0)

/* Request fields a client may send; the ones this server does not use are ignored. */
static const char *const request_fields[] = {"model",
					     "contents",
					     "systemInstruction",
					     "generationConfig",
					     "safetySettings",
					     "tools",
					     "toolConfig",
					     "cachedContent",
					     NULL};
static const char *const config_fields[] = {"candidateCount",
					    "stopSequences",
					    "maxOutputTokens",
					    "temperature",
					    "topP",
					    "topK",
					    "seed",
					    "responseMimeType",
					    "responseSchema",
					    "responseJsonSchema",
					    "presencePenalty",
					    "frequencyPenalty",
					    "responseLogprobs",
					    "logprobs",
					    "responseModalities",
					    "thinkingConfig",
					    "speechConfig",
					    "imageConfig",
					    "mediaResolution",
					    "enableEnhancedCivicAnswers",
					    NULL};
static const char *const content_fields[] = {"parts", "role", NULL};

static int known(const cJSON *obj, const char *const *names, const char *at, struct srv_reply *rep)
{
	char why[256];
	if (srv_json_known_fields(obj, names, at, why, sizeof(why)) == 0)
		return 0;
	srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
	return -EINVAL;
}

static int gen_config(const cJSON *gc, struct srv_gen_params *g, struct srv_reply *rep)
{
	const cJSON *it;
	double d;
	int64_t v;
	if (gc && !cJSON_IsNull(gc) && !cJSON_IsObject(gc))
		BAD("Invalid value at 'generation_config': expected an object.");
	if (known(gc, config_fields, "generation_config", rep))
		return -EINVAL;
	if ((it = srv_json_field(gc, "temperature")) && !cJSON_IsNull(it)) {
		if (srv_json_double(it, &d) || d < 0 || d > 2)
			BAD("Invalid value at 'generation_config.temperature': must be in [0, 2].");
		g->temperature = d;
	}
	if ((it = srv_json_field(gc, "topP")) && !cJSON_IsNull(it)) {
		if (srv_json_double(it, &d) || d < 0 || d > 1)
			BAD("Invalid value at 'generation_config.top_p': must be in [0, 1].");
		g->top_p = d;
	}
	if ((it = srv_json_field(gc, "topK")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v < 0 || v > 1000000)
			BAD("Invalid value at 'generation_config.top_k': must be a non-negative "
			    "integer.");
		g->top_k = (int)v;
	}
	if ((it = srv_json_field(gc, "maxOutputTokens")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v < 1 || v > SRV_GOOGLE_MAX_OUT)
			BAD("Invalid value at 'generation_config.max_output_tokens': must be in "
			    "[1, %d].",
			    SRV_GOOGLE_MAX_OUT);
		g->max_bytes = (long)v;
	}
	if ((it = srv_json_field(gc, "candidateCount")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v != 1)
			BAD("Invalid value at 'generation_config.candidate_count': only 1 is "
			    "supported.");
	}
	if ((it = srv_json_field(gc, "seed")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v))
			BAD("Invalid value at 'generation_config.seed': must be an integer.");
		g->seed = (uint64_t)v;
		g->has_seed = 1;
	}
	if ((it = srv_json_field(gc, "stopSequences")) && !cJSON_IsNull(it)) {
		if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > 5)
			BAD("Invalid value at 'generation_config.stop_sequences': at most 5 "
			    "strings.");
		const cJSON *e;
		cJSON_ArrayForEach(e, it)
		{
			if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) > 256)
				BAD("Invalid value at 'generation_config.stop_sequences': each "
				    "must "
				    "be a non-empty string of at most 256 bytes.");
			g->stops[g->n_stops++] = e->valuestring;
		}
	}
	return 0;
}

/* The prompt: the text parts of the last turn. */
static int prompt_text(const cJSON *body, char **out, size_t *len, struct srv_reply *rep)
{
	if (known(body, request_fields, "", rep))
		return -EINVAL;
	const cJSON *contents = srv_json_field(body, "contents");
	if (!cJSON_IsArray(contents) || cJSON_GetArraySize(contents) == 0)
		BAD("Invalid value at 'contents': at least one Content is required.");
	const cJSON *c;
	cJSON_ArrayForEach(c, contents)
	{
		if (!cJSON_IsObject(c) || !cJSON_IsArray(srv_json_field(c, "parts")))
			BAD("Invalid value at 'contents': each Content needs a 'parts' array.");
		if (known(c, content_fields, "contents[]", rep))
			return -EINVAL;
	}
	const cJSON *si = srv_json_field(body, "systemInstruction");
	if (si && !cJSON_IsNull(si) && !cJSON_IsObject(si))
		BAD("Invalid value at 'system_instruction': expected a Content object.");
	const cJSON *last = cJSON_GetArrayItem(contents, cJSON_GetArraySize(contents) - 1);
	size_t n = 0;
	char *buf = xmalloc(SRV_GOOGLE_MAX_PROMPT + 1);
	const cJSON *p;
	cJSON_ArrayForEach(p, srv_json_field(last, "parts"))
	{
		const cJSON *t = srv_json_field(p, "text");
		if (!cJSON_IsObject(p) || (t && !cJSON_IsString(t))) {
			free(buf);
			BAD("Invalid value at 'contents.parts': a Part must be an object whose "
			    "'text' is a string.");
		}
		size_t l = t ? strlen(t->valuestring) : 0;
		if (n + l > SRV_GOOGLE_MAX_PROMPT) {
			free(buf);
			BAD("Invalid value at 'contents': the prompt is longer than %d bytes.",
			    SRV_GOOGLE_MAX_PROMPT);
		}
		memcpy(buf + n, t ? t->valuestring : "", l);
		n += l;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int srv_google_gen_request(const cJSON *body, struct srv_gen_params *g, char **prompt, size_t *len,
			   struct srv_reply *rep)
{
	if (!cJSON_IsObject(body))
		BAD("Invalid JSON payload received. Expected an object.");
	if (gen_config(srv_json_field(body, "generationConfig"), g, rep))
		return -EINVAL;
	return prompt_text(body, prompt, len, rep);
}

static cJSON *safety_ratings(void)
{
	static const char *const cats[] = {"HARM_CATEGORY_SEXUALLY_EXPLICIT",
					   "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_HARASSMENT",
					   "HARM_CATEGORY_DANGEROUS_CONTENT"};
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < 4; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "category", cats[i]);
		cJSON_AddStringToObject(r, "probability", "NEGLIGIBLE");
		cJSON_AddItemToArray(arr, r);
	}
	return arr;
}

/* One response (or chunk): text is its part (NULL: blocked), finish NULL in a chunk
 * that is not the last. */
static cJSON *response_json(const char *version, const char *text, const char *finish,
			    size_t prompt_bytes, size_t out_bytes, const char *rid)
{
	cJSON *o = cJSON_CreateObject();
	if (text) {
		cJSON *cand = cJSON_CreateObject();
		cJSON *content = cJSON_AddObjectToObject(cand, "content");
		cJSON *part = cJSON_CreateObject();
		cJSON_AddStringToObject(part, "text", text);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(content, "parts"), part);
		cJSON_AddStringToObject(content, "role", "model");
		if (finish)
			cJSON_AddStringToObject(cand, "finishReason", finish);
		cJSON_AddNumberToObject(cand, "index", 0);
		cJSON_AddItemToObject(cand, "safetyRatings", safety_ratings());
		cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "candidates"), cand);
	}
	cJSON *fb = cJSON_AddObjectToObject(o, "promptFeedback");
	if (!text)
		cJSON_AddStringToObject(fb, "blockReason", "SAFETY");
	cJSON_AddItemToObject(fb, "safetyRatings", safety_ratings());
	cJSON *u = cJSON_AddObjectToObject(o, "usageMetadata");
	cJSON_AddNumberToObject(u, "promptTokenCount", (double)prompt_bytes);
	if (text)
		cJSON_AddNumberToObject(u, "candidatesTokenCount", (double)out_bytes);
	cJSON_AddNumberToObject(u, "totalTokenCount", (double)(prompt_bytes + out_bytes));
	cJSON_AddStringToObject(o, "modelVersion", version);
	cJSON_AddStringToObject(o, "responseId", rid);
	return o;
}

#define CHUNK_BYTES 8

/* Where the chunk starting at i ends: about CHUNK_BYTES on, never inside a character. */
static size_t chunk_end(const char *text, size_t i, size_t len)
{
	size_t e = i + CHUNK_BYTES < len ? i + CHUNK_BYTES : len;
	while (e < len && ((unsigned char)text[e] & 0xc0) == 0x80)
		e++;
	return e;
}

/* The chunks of a streamed answer; usage counts are cumulative, as the service's are. */
static cJSON *chunks_json(const char *version, const char *text, const char *finish,
			  size_t prompt_bytes, const char *rid)
{
	cJSON *arr = cJSON_CreateArray();
	size_t len = text ? strlen(text) : 0, i = 0;
	do {
		size_t e = text ? chunk_end(text, i, len) : 0;
		char *piece = text ? xstrndup(text + i, e - i) : NULL;
		cJSON_AddItemToArray(arr, response_json(version, piece, e == len ? finish : NULL,
							prompt_bytes, e, rid));
		free(piece);
		i = e;
	} while (i < len);
	return arr;
}

void srv_google_gen_answer(const struct srv_request *req, int stream, const char *version,
			   const char *text, const char *finish, size_t prompt_bytes,
			   struct srv_reply *rep)
{
	char rid[24], alt[16] = "";
	srv_id_random(rid, 20);
	size_t out = srv_tokens_of(text);
	if (!stream) {
		srv_reply_json(rep, 200,
			       response_json(version, text, finish, prompt_bytes, out, rid));
		return;
	}
	cJSON *arr = chunks_json(version, text, finish, prompt_bytes, rid);
	if (srv_query_get(req->query, "alt", alt, sizeof(alt)) == 1 && !strcmp(alt, "sse")) {
		struct dynbuf b = DYNBUF_INIT;
		const cJSON *c;
		cJSON_ArrayForEach(c, arr) srv_sse_event(&b, c);
		cJSON_Delete(arr);
		srv_reply_sse(rep, &b);
		return;
	}
	char *text_arr = srv_json_print(arr);
	cJSON_Delete(arr);
	srv_reply_raw(rep, 200, "application/json; charset=UTF-8", text_arr, strlen(text_arr));
}

/* Tokens of the text parts of a contents array. */
static size_t contents_tokens(const cJSON *contents)
{
	size_t n = 0;
	const cJSON *c, *p;
	cJSON_ArrayForEach(c, contents)
	{
		cJSON_ArrayForEach(p, srv_json_field(c, "parts"))
		{
			const cJSON *t = srv_json_field(p, "text");
			if (cJSON_IsString(t))
				n += srv_tokens_of(t->valuestring);
		}
	}
	return n;
}

void srv_google_count_tokens(const cJSON *body, struct srv_reply *rep)
{
	const cJSON *contents = srv_json_field(body, "contents");
	const cJSON *inner = srv_json_field(body, "generateContentRequest");
	if (!contents && cJSON_IsObject(inner))
		contents = srv_json_field(inner, "contents");
	if (!cJSON_IsArray(contents)) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid value at 'contents': a list of Content is required.");
		return;
	}
	size_t n = contents_tokens(contents);
	const cJSON *si = srv_json_field(body, "systemInstruction");
	if (cJSON_IsObject(si)) {
		cJSON *one = cJSON_CreateArray();
		cJSON_AddItemReferenceToArray(one, (cJSON *)si);
		n += contents_tokens(one);
		cJSON_Delete(one);
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "totalTokens", (double)n);
	cJSON_AddNumberToObject(o, "totalBillableCharacters", (double)n);
	srv_reply_json(rep, 200, o);
}
