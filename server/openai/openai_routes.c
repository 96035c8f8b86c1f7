/* openai_routes.c - the OpenAI family of tunedfs-server: its route table (the paths of
 * api.openai.com a fine-tuning client uses), OpenAI's error envelope, the Bearer key check,
 * fine-tuned model names, and the models routes (list, retrieve, delete). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/openai/openai.h"

void srv_openai_error(struct srv_reply *rep, int http_status, const char *type, const char *param,
		      const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "type", type);
	if (param)
		cJSON_AddStringToObject(e, "param", param);
	else
		cJSON_AddNullToObject(e, "param");
	if (code)
		cJSON_AddStringToObject(e, "code", code);
	else
		cJSON_AddNullToObject(e, "code");
	srv_reply_json(rep, http_status, o);
}

/* The shared helpers speak in status words; OpenAI's envelope has a type and a code. */
static void openai_error(struct srv_reply *rep, int http_status, const char *status,
			 const char *msg)
{
	const char *type = "invalid_request_error", *code = NULL;
	if (http_status == 429) {
		type = "requests";
		code = "rate_limit_exceeded";
	} else if (http_status >= 500) {
		type = "server_error";
	} else if (http_status == 401) {
		code = "invalid_api_key";
	} else if (http_status == 404) {
		code = "not_found";
	}
	srv_openai_error(rep, http_status, type, NULL, code, "%s", msg);
}

/* Compares without an early exit, so timing does not tell how much of a key matched. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

/* Authorization: Bearer KEY; with --api-key-file only that key, else any. */
static int openai_auth(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	const char *b = req->authorization;
	if (!b || strncasecmp(b, "Bearer ", 7) || !b[7]) {
		srv_openai_error(
		    rep, 401, "invalid_request_error", NULL, NULL,
		    "You didn't provide an API key. You need to provide your API key "
		    "in an Authorization header using Bearer auth (i.e. Authorization: "
		    "Bearer YOUR_KEY).");
		return -EACCES;
	}
	if (!s->api_key || same_secret(b + 7, s->api_key))
		return 0;
	srv_openai_error(rep, 401, "invalid_request_error", NULL, "invalid_api_key",
			 "Incorrect API key provided.");
	return -EACCES;
}

static const char *const base_models[] = {
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o-mini",
    "tunedfs-local-1",
};

int srv_openai_base_known(const char *name)
{
	for (size_t i = 0; i < sizeof(base_models) / sizeof(base_models[0]); i++)
		if (!strcmp(name, base_models[i]))
			return 1;
	return 0;
}

void srv_openai_model_name(const struct srv_model *m, char *buf, size_t len)
{
	const char *tail = strncmp(m->id, "ftjob-", 6) ? m->id : m->id + 6;
	if (m->display_name && *m->display_name)
		snprintf(buf, len, "ft:%s:%s:%s:%s", m->base_model, SRV_OPENAI_OWNER,
			 m->display_name, tail);
	else
		snprintf(buf, len, "ft:%s:%s::%s", m->base_model, SRV_OPENAI_OWNER, tail);
}

struct srv_model *srv_openai_find_model(struct srv *s, const char *name)
{
	char id[64], mine[512];
	const char *colon = strrchr(name, ':');
	if (strncmp(name, "ft:", 3) || !colon || strlen(colon + 1) > 40)
		return NULL;
	snprintf(id, sizeof(id), "ftjob-%s", colon + 1);
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_store_lookup_locked(s->store, id);
	if (m) {
		srv_openai_model_name(m, mine, sizeof(mine));
		if (strcmp(m->family, "openai") || m->state != SRV_STATE_ACTIVE ||
		    m->model_deleted || strcmp(mine, name))
			m = NULL;
	}
	if (m)
		m->refs++;
	pthread_mutex_unlock(&s->store->lock);
	return m;
}

struct srv_model *srv_openai_find_job(struct srv *s, const char *id, struct srv_reply *rep)
{
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_store_lookup_locked(s->store, id);
	if (m && strcmp(m->family, "openai"))
		m = NULL;
	if (m)
		m->refs++;
	pthread_mutex_unlock(&s->store->lock);
	if (!m)
		srv_openai_error(rep, 404, "invalid_request_error", "id", "fine_tune_not_found",
				 "No fine-tuning job found with id %.64s.", id);
	return m;
}

static cJSON *model_json(const char *id, int64_t created_ns, const char *owner)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "object", "model");
	cJSON_AddNumberToObject(o, "created", (double)(created_ns / 1000000000));
	cJSON_AddStringToObject(o, "owned_by", owner);
	return o;
}

static void models_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep)
{
	char name[512];
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "object", "list");
	cJSON *arr = cJSON_AddArrayToObject(out, "data");
	for (size_t i = 0; i < sizeof(base_models) / sizeof(base_models[0]); i++)
		cJSON_AddItemToArray(
		    arr, model_json(base_models[i], 1700000000LL * 1000000000LL, "system"));
	pthread_mutex_lock(&s->store->lock);
	for (size_t i = 0; i < s->store->n; i++) {
		const struct srv_model *m = s->store->by_seq[i];
		if (strcmp(m->family, "openai") || m->state != SRV_STATE_ACTIVE || m->model_deleted)
			continue;
		srv_openai_model_name(m, name, sizeof(name));
		cJSON_AddItemToArray(arr, model_json(name, m->complete_ns, SRV_OPENAI_OWNER));
	}
	pthread_mutex_unlock(&s->store->lock);
	srv_reply_json(rep, 200, out);
}

static void model_not_found(struct srv_reply *rep, const char *name)
{
	srv_openai_error(rep, 404, "invalid_request_error", "model", "model_not_found",
			 "The model `%.300s` does not exist or you do not have access to it.",
			 name);
}

static void models_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep)
{
	const char *name = srv_param(p, "model");
	if (srv_openai_base_known(name)) {
		srv_reply_json(rep, 200, model_json(name, 1700000000LL * 1000000000LL, "system"));
		return;
	}
	struct srv_model *m = srv_openai_find_model(s, name);
	if (!m) {
		model_not_found(rep, name);
		return;
	}
	pthread_mutex_lock(&s->store->lock);
	cJSON *o = model_json(name, m->complete_ns, SRV_OPENAI_OWNER);
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, m);
	srv_reply_json(rep, 200, o);
}

static void models_delete(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	const char *name = srv_param(p, "model");
	if (srv_openai_base_known(name)) {
		srv_openai_error(rep, 403, "invalid_request_error", "model", NULL,
				 "You have insufficient permissions to delete %.300s: only "
				 "fine-tuned models can be deleted.",
				 name);
		return;
	}
	struct srv_model *m = srv_openai_find_model(s, name);
	if (!m) {
		model_not_found(rep, name);
		return;
	}
	pthread_mutex_lock(&s->store->lock);
	m->model_deleted = 1;
	m->update_ns = srv_now_ns();
	pthread_mutex_unlock(&s->store->lock);
	srv_store_persist(s->store, m);
	srv_model_put(s->store, m);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", name);
	cJSON_AddStringToObject(o, "object", "model");
	cJSON_AddBoolToObject(o, "deleted", 1);
	srv_reply_json(rep, 200, o);
}

static const struct srv_route routes[] = {
    {"POST", "/v1/files", NULL, "files.create", srv_openai_file_create, 0},
    {"GET", "/v1/files", NULL, "files.list", srv_openai_file_list, 0},
    {"GET", "/v1/files/{id}", NULL, "files.retrieve", srv_openai_file_get, 0},
    {"GET", "/v1/files/{id}/content", NULL, "files.content", srv_openai_file_content, 0},
    {"DELETE", "/v1/files/{id}", NULL, "files.delete", srv_openai_file_delete, 0},
    {"POST", "/v1/fine_tuning/jobs", NULL, "fine_tuning.jobs.create", srv_openai_job_create, 0},
    {"GET", "/v1/fine_tuning/jobs", NULL, "fine_tuning.jobs.list", srv_openai_job_list, 0},
    {"GET", "/v1/fine_tuning/jobs/{id}", NULL, "fine_tuning.jobs.retrieve", srv_openai_job_get, 0},
    {"POST", "/v1/fine_tuning/jobs/{id}/cancel", NULL, "fine_tuning.jobs.cancel",
     srv_openai_job_cancel, 0},
    {"GET", "/v1/fine_tuning/jobs/{id}/events", NULL, "fine_tuning.jobs.events",
     srv_openai_job_events, 0},
    {"GET", "/v1/fine_tuning/jobs/{id}/checkpoints", NULL, "fine_tuning.jobs.checkpoints",
     srv_openai_job_checkpoints, 0},
    {"POST", "/v1/chat/completions", NULL, "chat.completions", srv_openai_chat, 0},
    {"POST", "/v1/batches", NULL, "openai.batches.create", srv_openai_batch_create, 0},
    {"GET", "/v1/batches", NULL, "openai.batches.list", srv_openai_batch_list, 0},
    {"GET", "/v1/batches/{id}", NULL, "openai.batches.retrieve", srv_openai_batch_get, 0},
    {"POST", "/v1/batches/{id}/cancel", NULL, "openai.batches.cancel", srv_openai_batch_cancel, 0},
    /* Before the Gemini family in the list: /v1/models is OpenAI's here. */
    {"GET", "/v1/models", NULL, "openai.models.list", models_list, 0},
    {"GET", "/v1/models/{model*}", NULL, "openai.models.retrieve", models_get, 0},
    {"DELETE", "/v1/models/{model*}", NULL, "openai.models.delete", models_delete, 0},
};

static const char *const prefixes[] = {"/v1/files",  "/v1/fine_tuning/", "/v1/chat/",
				       "/v1/models", "/v1/batches",	 NULL};

const struct srv_family srv_family_openai = {
    .name = "openai",
    .prefixes = prefixes,
    .routes = routes,
    .n_routes = sizeof(routes) / sizeof(routes[0]),
    .error = openai_error,
    .auth = openai_auth,
};
