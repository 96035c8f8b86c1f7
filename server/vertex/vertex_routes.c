/* vertex_routes.c - the Vertex AI family of tunedfs-server: its route table (the paths of
 * {L}-aiplatform.googleapis.com a tuning client uses, under /v1 and /v1beta1), envelope
 * (google.rpc) and credentials (a Bearer token), and finding a job under a parent. */
#include <stdio.h>
#include <string.h>

#include "server/google/google_rpc.h"
#include "server/vertex/vertex.h"

#define V   "v1 v1beta1"
#define LOC "/{v}/projects/{project}/locations/{location}"

static const struct srv_route routes[] = {
    {"POST", LOC "/tuningJobs", V, "tuningJobs.create", srv_vertex_create, 0},
    {"GET", LOC "/tuningJobs", V, "tuningJobs.list", srv_vertex_list, 0},
    {"GET", LOC "/tuningJobs/{id}", V, "tuningJobs.get", srv_vertex_get, 0},
    {"POST", LOC "/tuningJobs/{id}:cancel", V, "tuningJobs.cancel", srv_vertex_cancel, 0},
    {"POST", LOC "/endpoints/{id}:generateContent", V, "endpoints.generateContent",
     srv_vertex_generate, 0},
    {"POST", LOC "/endpoints/{id}:streamGenerateContent", V, "endpoints.streamGenerateContent",
     srv_vertex_stream, 0},
    {"POST", LOC "/endpoints/{id}:countTokens", V, "endpoints.countTokens", srv_vertex_count_tokens,
     0},
    {"POST", LOC "/publishers/{pub}/models/{id}:countTokens", V, "publishers.countTokens",
     srv_vertex_count_tokens, 0},
    {"GET", LOC "/endpoints/{id}", V, "endpoints.get", srv_vertex_endpoint_get, 0},
    {"POST", LOC "/endpoints/{id}:undeployModel", V, "endpoints.undeployModel", srv_vertex_undeploy,
     0},
    {"DELETE", LOC "/endpoints/{id}", V, "endpoints.delete", srv_vertex_endpoint_delete, 0},
    {"GET", LOC "/models/{id}", V, "models.get", srv_vertex_model_get, 0},
    {"DELETE", LOC "/models/{id}", V, "models.delete", srv_vertex_model_delete, 0},
    {"POST", LOC "/batchPredictionJobs", V, "batchPredictionJobs.create", srv_vertex_batch_create,
     0},
    {"GET", LOC "/batchPredictionJobs", V, "batchPredictionJobs.list", srv_vertex_batch_list, 0},
    {"GET", LOC "/batchPredictionJobs/{id}", V, "batchPredictionJobs.get", srv_vertex_batch_get, 0},
    {"POST", LOC "/batchPredictionJobs/{id}:cancel", V, "batchPredictionJobs.cancel",
     srv_vertex_batch_cancel, 0},
    {"DELETE", LOC "/batchPredictionJobs/{id}", V, "batchPredictionJobs.delete",
     srv_vertex_batch_delete, 0},
    {"GET", LOC "/operations/{op}", V, "operations.get", srv_vertex_operation_get, 0},
};

static const char *const prefixes[] = {"/v1/projects/", "/v1beta1/", NULL};

const struct srv_family srv_family_vertex = {
    .name = "vertex",
    .prefixes = prefixes,
    .routes = routes,
    .n_routes = sizeof(routes) / sizeof(routes[0]),
    .error = srv_google_error,
    .auth = srv_google_auth_bearer,
};

void srv_vertex_parent(const struct srv_params *p, char *buf, size_t len)
{
	snprintf(buf, len, "projects/%.100s/locations/%.100s", srv_param(p, "project"),
		 srv_param(p, "location"));
}

struct srv_model *srv_vertex_find(struct srv *s, const struct srv_params *p, const char *id,
				  const char *what, struct srv_reply *rep)
{
	char parent[300];
	srv_vertex_parent(p, parent, sizeof(parent));
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_store_lookup_locked(s->store, id);
	if (m && (strcmp(m->family, "vertex") || !m->parent || strcmp(m->parent, parent)))
		m = NULL;
	if (m)
		m->refs++;
	pthread_mutex_unlock(&s->store->lock);
	if (!m && rep)
		srv_reply_error(rep, 404, "NOT_FOUND", "%s %s/tuningJobs/%.64s not found.", what,
				parent, id);
	return m;
}
