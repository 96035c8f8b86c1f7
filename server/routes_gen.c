/* routes_gen.c - generation and base models in tunedfs-server: generateContent and
 * streamGenerateContent on tuned models (the trained byte model, bytes counted as
 * tokens), and the base models list/get. tunedModels CRUD is routes_tuned.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/handlers.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/model_json.h"
#include "server/nn.h"

#define LOCAL_MODEL	 "models/tunedfs-local-1"
#define MAX_PROMPT_BYTES 40000
#define DEFAULT_MAX_OUT	 1024
#define MAX_OUT		 8192
#define BLOCK_MARK	 "TUNEDFS-BLOCK"

static const char *const base_models[] = {
    LOCAL_MODEL,
    "models/gemini-1.0-pro-001",
    "models/gemini-1.5-flash-001-tuning",
};

int srv_base_model_known(const char *name)
{
	for (size_t i = 0; name && i < sizeof(base_models) / sizeof(base_models[0]); i++)
		if (!strcmp(name, base_models[i]))
			return 1;
	return 0;
}

static cJSON *base_model_json(const char *name)
{
	int local = !strcmp(name, LOCAL_MODEL);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "baseModelId", name + 7);
	cJSON_AddStringToObject(o, "version", local ? "1" : "001");
	cJSON_AddStringToObject(o, "displayName", local ? "tunedfs local byte model" : name + 7);
	cJSON_AddStringToObject(o, "description",
				local ? "A small byte-level model trained from scratch on the "
					"examples of each tuned model."
				      : "Accepted for compatibility: tuning it trains the local "
					"byte model (models/tunedfs-local-1).");
	cJSON_AddNumberToObject(o, "inputTokenLimit", MAX_PROMPT_BYTES);
	cJSON_AddNumberToObject(o, "outputTokenLimit", MAX_OUT);
	cJSON *m = cJSON_AddArrayToObject(o, "supportedGenerationMethods");
	cJSON_AddItemToArray(m, cJSON_CreateString("createTunedModel"));
	cJSON_AddNumberToObject(o, "temperature", 0);
	cJSON_AddNumberToObject(o, "maxTemperature", 2);
	cJSON_AddNumberToObject(o, "topP", 1);
	cJSON_AddNumberToObject(o, "topK", 40);
	return o;
}

void srv_models_list(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	int size;
	unsigned long long pos;
	if (srv_page_params(req, 50, 1000, &size, &pos, rep))
		return;
	cJSON *out = cJSON_CreateObject();
	/* Only the local model is listed; the real service's names are accepted aliases. */
	if (pos == 0)
		cJSON_AddItemToArray(cJSON_AddArrayToObject(out, "models"),
				     base_model_json(LOCAL_MODEL));
	srv_reply_json(rep, 200, out);
}

void srv_models_get(struct srv *s, const char *name, struct srv_reply *rep)
{
	char full[128];
	snprintf(full, sizeof(full), "models/%s", name);
	if (!srv_base_model_known(full)) {
		srv_reply_error(rep, 404, "NOT_FOUND", "Model %.100s is not found.", full);
		return;
	}
	srv_reply_json(rep, 200, base_model_json(full));
}

struct gen_params {
	double temperature, top_p;
	int top_k;
	long max_bytes;
	uint64_t seed;
	int has_seed;
	char *stops[5];
	size_t n_stops;
};

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

static int gen_config(const cJSON *gc, struct gen_params *g, struct srv_reply *rep)
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
		if (srv_json_int(it, &v) || v < 1 || v > MAX_OUT)
			BAD("Invalid value at 'generation_config.max_output_tokens': must be in "
			    "[1, %d].",
			    MAX_OUT);
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
	char *buf = xmalloc(MAX_PROMPT_BYTES + 1);
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
		if (n + l > MAX_PROMPT_BYTES) {
			free(buf);
			BAD("Invalid value at 'contents': the prompt is longer than %d bytes.",
			    MAX_PROMPT_BYTES);
		}
		memcpy(buf + n, t ? t->valuestring : "", l);
		n += l;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* A byte model can emit any bytes; JSON needs UTF-8: bad bytes become U+FFFD. */
static char *utf8_clean(const char *s, size_t len)
{
	char *out = xmalloc(len * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = srv_utf8_len((const unsigned char *)s + i, len - i);
		if (n == 0 || (n == 1 && s[i] == '\0')) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
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

static cJSON *response_json(const char *id, const char *text, const char *finish,
			    size_t prompt_bytes, size_t out_bytes)
{
	cJSON *o = cJSON_CreateObject();
	if (text) {
		cJSON *cand = cJSON_CreateObject();
		cJSON *content = cJSON_AddObjectToObject(cand, "content");
		cJSON *part = cJSON_CreateObject();
		cJSON_AddStringToObject(part, "text", text);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(content, "parts"), part);
		cJSON_AddStringToObject(content, "role", "model");
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
	char name[80], rid[24];
	snprintf(name, sizeof(name), "tunedModels/%s", id);
	cJSON_AddStringToObject(o, "modelVersion", name);
	srv_id_random(rid, 20);
	cJSON_AddStringToObject(o, "responseId", rid);
	return o;
}

/* Runs the model: fills *text (heap, UTF-8) and *finish. */
static int run_model(struct srv *s, struct srv_model *m, const char *prompt, size_t len,
		     const struct gen_params *g, char **text, const char **finish,
		     struct srv_reply *rep)
{
	char why[256] = "";
	struct srv_net *net = srv_store_net(s->store, m, why, sizeof(why));
	if (!net) {
		srv_reply_error(rep, 500, "INTERNAL",
				"Cannot load the weights of tunedModels/%s: "
				"%s.",
				m->id, why);
		return -EIO;
	}
	struct nn_sampling smp = {g->temperature, g->top_p, g->top_k, (size_t)g->max_bytes,
				  g->seed};
	char *raw = NULL;
	size_t raw_len = 0;
	int hit = 0;
	int rc = nn_generate(net->nn, prompt, len, &smp, &raw, &raw_len, &hit);
	srv_net_put(s->store, net);
	if (rc) {
		srv_reply_error(rep, 500, "INTERNAL", "Generation failed: %s.", strerror(-rc));
		return rc;
	}
	*finish = hit ? "MAX_TOKENS" : "STOP";
	for (size_t i = 0; i < g->n_stops; i++) {
		char *at = memmem(raw, raw_len, g->stops[i], strlen(g->stops[i]));
		if (at) {
			raw_len = (size_t)(at - raw);
			*finish = "STOP";
		}
	}
	*text = utf8_clean(raw, raw_len);
	free(raw);
	return 0;
}

/* Settings of the model itself are the defaults; the request's override them. */
static int model_defaults(struct srv *s, const char *id, struct gen_params *g,
			  struct srv_model **out, struct srv_reply *rep)
{
	struct srv_model *m = srv_store_find(s->store, id);
	if (!m) {
		srv_reply_error(rep, 404, "NOT_FOUND",
				"Tuned model tunedModels/%.64s does not exist.", id);
		return -ENOENT;
	}
	pthread_mutex_lock(&s->store->lock);
	enum srv_state state = m->state;
	g->temperature = m->has_temperature ? m->temperature : 0;
	g->top_p = m->has_top_p ? m->top_p : 1;
	g->top_k = m->has_top_k ? m->top_k : 0;
	pthread_mutex_unlock(&s->store->lock);
	if (state != SRV_STATE_ACTIVE) {
		static const char *const names[] = {"STATE_UNSPECIFIED", "CREATING", "ACTIVE",
						    "FAILED"};
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"Tuned model tunedModels/%s is not ready to serve: its state is "
				"%s, not ACTIVE.",
				id, names[state]);
		srv_model_put(s->store, m);
		return -EAGAIN;
	}
	*out = m;
	return 0;
}

static void finish_reply(const struct srv_request *req, int stream, cJSON *resp,
			 struct srv_reply *rep)
{
	char alt[16] = "";
	if (!stream) {
		srv_reply_json(rep, 200, resp);
		return;
	}
	char *one = srv_json_print(resp);
	cJSON_Delete(resp);
	size_t n = strlen(one) + 16;
	rep->body = xmalloc(n);
	if (srv_query_get(req->query, "alt", alt, sizeof(alt)) == 1 && !strcmp(alt, "sse")) {
		rep->body_len = (size_t)snprintf(rep->body, n, "data: %s\r\n\r\n", one);
		rep->content_type = "text/event-stream";
	} else {
		rep->body_len = (size_t)snprintf(rep->body, n, "[%s]", one);
		rep->content_type = "application/json; charset=UTF-8";
	}
	rep->status = 200;
	free(one);
}

void srv_generate(struct srv *s, const char *id, int stream, const struct srv_request *req,
		  struct srv_reply *rep)
{
	struct gen_params g = {.max_bytes = DEFAULT_MAX_OUT};
	struct srv_model *m = NULL;
	cJSON *body = NULL;
	char *prompt = NULL, *text = NULL;
	size_t plen = 0;
	const char *finish = "STOP";
	if (srv_body_json(req, 0, &body, rep) || model_defaults(s, id, &g, &m, rep) ||
	    gen_config(srv_json_field(body, "generationConfig"), &g, rep) ||
	    prompt_text(body, &prompt, &plen, rep))
		goto out;
	if (!g.has_seed)
		srv_random_bytes(&g.seed, sizeof(g.seed));
	if (memmem(prompt, plen, BLOCK_MARK, strlen(BLOCK_MARK))) {
		finish_reply(req, stream, response_json(id, NULL, NULL, plen, 0), rep);
		goto out;
	}
	if (run_model(s, m, prompt, plen, &g, &text, &finish, rep))
		goto out;
	finish_reply(req, stream, response_json(id, text, finish, plen, strlen(text)), rep);
out:
	free(prompt);
	free(text);
	cJSON_Delete(body);
	srv_model_put(s->store, m);
}
