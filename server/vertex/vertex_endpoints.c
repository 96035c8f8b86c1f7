/* vertex_endpoints.c - what a succeeded Vertex tuning job makes: its endpoint (prompted
 * with generateContent, streamGenerateContent and countTokens; read, undeployed, deleted)
 * and its model (read, deleted), each with the job's id; and the operations those removals
 * return, done at once. Request and answer shapes: google_content.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/generate.h"
#include "server/google/google_content.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/vertex/vertex.h"

enum part { ENDPOINT, MODEL };

/* The job behind endpoint or model id, when that part of it exists; else fills rep. */
static struct srv_model *find_part(struct srv *s, const struct srv_params *p, enum part part,
				   struct srv_reply *rep)
{
	char id[64], parent[300];
	const char *what = part == ENDPOINT ? "Endpoint" : "Model";
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(srv_param(p, "id"), "@"), srv_param(p, "id"));
	struct srv_model *m = srv_vertex_find(s, p, id, what, NULL);
	pthread_mutex_lock(&s->store->lock);
	int there = m && m->state == SRV_STATE_ACTIVE &&
		    !(part == ENDPOINT ? m->endpoint_deleted : m->model_deleted);
	pthread_mutex_unlock(&s->store->lock);
	if (there)
		return m;
	if (m)
		srv_model_put(s->store, m);
	srv_vertex_parent(p, parent, sizeof(parent));
	srv_reply_error(rep, 404, "NOT_FOUND", "%s %s/%s/%s not found.", what, parent,
			part == ENDPOINT ? "endpoints" : "models", id);
	return NULL;
}

static void generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     int stream, struct srv_reply *rep)
{
	struct srv_gen_params g = {.max_bytes = SRV_GOOGLE_DEF_OUT};
	cJSON *body = NULL;
	char *prompt = NULL, *text = NULL, version[300], why[256];
	size_t plen = 0;
	const char *finish = "STOP";
	if (srv_body_json(req, 0, &body, rep))
		return;
	struct srv_model *m = find_part(s, p, ENDPOINT, rep);
	if (!m)
		goto out;
	pthread_mutex_lock(&s->store->lock);
	srv_generate_defaults(m, &g);
	int undeployed = m->undeployed;
	snprintf(version, sizeof(version), "%s/models/%s@1", m->parent, m->id);
	pthread_mutex_unlock(&s->store->lock);
	if (undeployed) {
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"Endpoint %s has no deployed model to serve the request.", m->id);
		goto out;
	}
	if (srv_google_gen_request(body, &g, &prompt, &plen, rep))
		goto out;
	if (memmem(prompt, plen, SRV_GOOGLE_BLOCK_MARK, strlen(SRV_GOOGLE_BLOCK_MARK))) {
		srv_google_gen_answer(req, stream, version, NULL, NULL, plen, rep);
		goto out;
	}
	int rc = srv_generate_run(s, m, prompt, plen, &g, &text, &finish, why, sizeof(why));
	if (rc)
		srv_reply_error(rep, 500, "INTERNAL", "Generation failed: %s.", why);
	else
		srv_google_gen_answer(req, stream, version, text, finish, plen, rep);
out:
	free(prompt);
	free(text);
	cJSON_Delete(body);
	srv_model_put(s->store, m);
}

void srv_vertex_generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep)
{
	generate(s, req, p, 0, rep);
}

void srv_vertex_stream(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep)
{
	generate(s, req, p, 1, rep);
}

void srv_vertex_count_tokens(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	cJSON *body;
	if (srv_body_json(req, 0, &body, rep))
		return;
	/* Publisher models count too (an estimate before tuning); endpoints must exist. */
	int publisher = *srv_param(p, "pub") != '\0';
	struct srv_model *m = publisher ? NULL : find_part(s, p, ENDPOINT, rep);
	if (m || publisher)
		srv_google_count_tokens(body, rep);
	srv_model_put(s->store, m);
	cJSON_Delete(body);
}

/* A long-running operation already done, as the removals answer. */
static void done_operation(const struct srv_params *p, const char *type, struct srv_reply *rep)
{
	char parent[300], name[400], id[24];
	srv_vertex_parent(p, parent, sizeof(parent));
	srv_id_random(id, 12);
	snprintf(name, sizeof(name), "%s/operations/%s", parent, id);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "done", 1);
	cJSON *r = cJSON_AddObjectToObject(o, "response");
	cJSON_AddStringToObject(r, "@type", type);
	srv_reply_json(rep, 200, o);
}

void srv_vertex_endpoint_get(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	char name[400], tm[48];
	struct srv_model *m = find_part(s, p, ENDPOINT, rep);
	if (!m)
		return;
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&s->store->lock);
	snprintf(name, sizeof(name), "%s/endpoints/%s", m->parent, m->id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "displayName", m->display_name ? m->display_name : m->id);
	cJSON *arr = cJSON_AddArrayToObject(o, "deployedModels");
	srv_json_time(m->complete_ns, tm, sizeof(tm));
	if (!m->undeployed) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "id", m->id);
		snprintf(name, sizeof(name), "%s/models/%s", m->parent, m->id);
		cJSON_AddStringToObject(d, "model", name);
		cJSON_AddStringToObject(d, "modelVersionId", "1");
		cJSON_AddStringToObject(d, "createTime", tm);
		cJSON_AddItemToArray(arr, d);
	}
	cJSON_AddStringToObject(o, "createTime", tm);
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, m);
	srv_reply_json(rep, 200, o);
}

void srv_vertex_undeploy(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep)
{
	cJSON *body;
	if (srv_body_json(req, 0, &body, rep))
		return;
	const cJSON *dm = srv_json_field(body, "deployedModelId");
	struct srv_model *m = find_part(s, p, ENDPOINT, rep);
	int ok = 0;
	if (m) {
		pthread_mutex_lock(&s->store->lock);
		ok = cJSON_IsString(dm) && !strcmp(dm->valuestring, m->id) && !m->undeployed;
		if (ok) {
			m->undeployed = 1;
			m->update_ns = srv_now_ns();
		}
		pthread_mutex_unlock(&s->store->lock);
		if (ok) {
			srv_store_persist(s->store, m);
			done_operation(p,
				       "type.googleapis.com/google.cloud.aiplatform.v1."
				       "UndeployModelResponse",
				       rep);
		} else {
			srv_reply_error(rep, 400, "INVALID_ARGUMENT",
					"Invalid value at 'deployed_model_id': no such model is "
					"deployed on endpoint %s.",
					m->id);
		}
	}
	srv_model_put(s->store, m);
	cJSON_Delete(body);
}

/* Removes the part of m (endpoint or model), refused while the model is deployed. */
static void remove_part(struct srv *s, const struct srv_params *p, enum part part,
			struct srv_reply *rep)
{
	struct srv_model *m = find_part(s, p, part, rep);
	if (!m)
		return;
	pthread_mutex_lock(&s->store->lock);
	int deployed = !m->undeployed && !m->endpoint_deleted;
	if (!deployed) {
		if (part == ENDPOINT)
			m->endpoint_deleted = 1;
		else
			m->model_deleted = 1;
		m->update_ns = srv_now_ns();
	}
	pthread_mutex_unlock(&s->store->lock);
	if (deployed) {
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"%s %s still has a deployed model: undeploy it first.",
				part == ENDPOINT ? "Endpoint" : "Model", m->id);
	} else {
		srv_store_persist(s->store, m);
		done_operation(p, "type.googleapis.com/google.protobuf.Empty", rep);
	}
	srv_model_put(s->store, m);
}

void srv_vertex_endpoint_delete(struct srv *s, const struct srv_request *req,
				const struct srv_params *p, struct srv_reply *rep)
{
	remove_part(s, p, ENDPOINT, rep);
}

void srv_vertex_model_delete(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	remove_part(s, p, MODEL, rep);
}

void srv_vertex_model_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	char name[400], tm[48];
	struct srv_model *m = find_part(s, p, MODEL, rep);
	if (!m)
		return;
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&s->store->lock);
	snprintf(name, sizeof(name), "%s/models/%s", m->parent, m->id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "displayName", m->display_name ? m->display_name : m->id);
	cJSON_AddStringToObject(o, "versionId", "1");
	srv_json_time(m->complete_ns, tm, sizeof(tm));
	cJSON_AddStringToObject(o, "createTime", tm);
	cJSON *arr = cJSON_AddArrayToObject(o, "deployedModels");
	if (!m->undeployed && !m->endpoint_deleted) {
		cJSON *d = cJSON_CreateObject();
		snprintf(name, sizeof(name), "%s/endpoints/%s", m->parent, m->id);
		cJSON_AddStringToObject(d, "endpoint", name);
		cJSON_AddStringToObject(d, "deployedModelId", m->id);
		cJSON_AddItemToArray(arr, d);
	}
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, m);
	srv_reply_json(rep, 200, o);
}

void srv_vertex_operation_get(struct srv *s, const struct srv_request *req,
			      const struct srv_params *p, struct srv_reply *rep)
{
	char parent[300], name[400];
	srv_vertex_parent(p, parent, sizeof(parent));
	snprintf(name, sizeof(name), "%s/operations/%.64s", parent, srv_param(p, "op"));
	/* Every operation this server starts is over before it answers. */
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "done", 1);
	srv_reply_json(rep, 200, o);
}
