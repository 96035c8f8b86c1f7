/* gemini_models.c - the Gemini family's base models (list, get) and generation on tuned
 * models (generateContent, streamGenerateContent): the request and answer shapes are
 * google_content.c, running the model generate.c. tunedModels CRUD is gemini_tuned.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/gemini/gemini.h"
#include "server/generate.h"
#include "server/google/google_content.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/srv.h"

#define LOCAL_MODEL "models/tunedfs-local-1"

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
	cJSON_AddNumberToObject(o, "inputTokenLimit", SRV_GOOGLE_MAX_PROMPT);
	cJSON_AddNumberToObject(o, "outputTokenLimit", SRV_GOOGLE_MAX_OUT);
	cJSON *m = cJSON_AddArrayToObject(o, "supportedGenerationMethods");
	cJSON_AddItemToArray(m, cJSON_CreateString("createTunedModel"));
	cJSON_AddNumberToObject(o, "temperature", 0);
	cJSON_AddNumberToObject(o, "maxTemperature", 2);
	cJSON_AddNumberToObject(o, "topP", 1);
	cJSON_AddNumberToObject(o, "topK", 40);
	return o;
}

void srv_models_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep)
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

void srv_models_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep)
{
	char full[128];
	snprintf(full, sizeof(full), "models/%.100s", srv_param(p, "id"));
	if (!srv_base_model_known(full)) {
		srv_reply_error(rep, 404, "NOT_FOUND", "Model %.100s is not found.", full);
		return;
	}
	srv_reply_json(rep, 200, base_model_json(full));
}

void srv_models_generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep)
{
	srv_reply_error(rep, 400, "FAILED_PRECONDITION",
			"models/%.100s has not been tuned on anything: create a tuned model "
			"from it and prompt that.",
			srv_param(p, "id"));
}

/* The model with a reference and its sampling settings as defaults, when it can answer. */
static int model_defaults(struct srv *s, const char *id, struct srv_gen_params *g,
			  struct srv_model **out, struct srv_reply *rep)
{
	struct srv_model *m = srv_gemini_find(s, id);
	if (!m) {
		srv_reply_error(rep, 404, "NOT_FOUND",
				"Tuned model tunedModels/%.64s does not exist.", id);
		return -ENOENT;
	}
	pthread_mutex_lock(&s->store->lock);
	enum srv_state state = m->state;
	srv_generate_defaults(m, g);
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

static void generate(struct srv *s, const char *id, int stream, const struct srv_request *req,
		     struct srv_reply *rep)
{
	struct srv_gen_params g = {.max_bytes = SRV_GOOGLE_DEF_OUT};
	struct srv_model *m = NULL;
	cJSON *body = NULL;
	char *prompt = NULL, *text = NULL, version[80], why[256];
	size_t plen = 0;
	const char *finish = "STOP";
	snprintf(version, sizeof(version), "tunedModels/%s", id);
	if (srv_body_json(req, 0, &body, rep) || model_defaults(s, id, &g, &m, rep) ||
	    srv_google_gen_request(body, &g, &prompt, &plen, rep))
		goto out;
	if (memmem(prompt, plen, SRV_GOOGLE_BLOCK_MARK, strlen(SRV_GOOGLE_BLOCK_MARK))) {
		srv_google_gen_answer(req, stream, version, NULL, NULL, plen, rep);
		goto out;
	}
	int rc = srv_generate_run(s, m, prompt, plen, &g, &text, &finish, why, sizeof(why));
	if (rc == -EIO)
		srv_reply_error(rep, 500, "INTERNAL", "Cannot load the weights of %s: %s.", version,
				why);
	else if (rc)
		srv_reply_error(rep, 500, "INTERNAL", "Generation failed: %s.", why);
	else
		srv_google_gen_answer(req, stream, version, text, finish, plen, rep);
out:
	free(prompt);
	free(text);
	cJSON_Delete(body);
	srv_model_put(s->store, m);
}

void srv_tuned_generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep)
{
	generate(s, srv_param(p, "id"), 0, req, rep);
}

void srv_tuned_stream(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		      struct srv_reply *rep)
{
	generate(s, srv_param(p, "id"), 1, req, rep);
}

/* countTokens on a base model (the estimate before tuning) or on a tuned one of this
 * family, in whatever state: counting runs no model. */
void srv_models_count_tokens(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	char full[128];
	cJSON *body;
	snprintf(full, sizeof(full), "models/%.100s", srv_param(p, "id"));
	if (!srv_base_model_known(full)) {
		srv_reply_error(rep, 404, "NOT_FOUND", "Model %.100s is not found.", full);
		return;
	}
	if (srv_body_json(req, 0, &body, rep))
		return;
	srv_google_count_tokens(body, rep);
	cJSON_Delete(body);
}

void srv_tuned_count_tokens(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep)
{
	struct srv_model *m = srv_gemini_find(s, srv_param(p, "id"));
	cJSON *body;
	if (!m) {
		srv_reply_error(rep, 404, "NOT_FOUND",
				"Tuned model tunedModels/%.64s does not exist.",
				srv_param(p, "id"));
		return;
	}
	srv_model_put(s->store, m);
	if (srv_body_json(req, 0, &body, rep))
		return;
	srv_google_count_tokens(body, rep);
	cJSON_Delete(body);
}
