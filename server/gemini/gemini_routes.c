/* gemini_routes.c - the Gemini API family of tunedfs-server: its route table (the paths
 * of generativelanguage.googleapis.com this server answers), envelope and credentials. */
#include <string.h>

#include "server/gemini/gemini.h"
#include "server/gemini/gemini_json.h"
#include "server/google/google_rpc.h"

#define ALL  "v1beta v1alpha v1"
#define BETA "v1beta v1alpha"

static const struct srv_route routes[] = {
    {"GET", "/{v}/models", ALL, "models.list", srv_models_list, 0},
    {"GET", "/{v}/models/{id}", ALL, "models.get", srv_models_get, 0},
    {"POST", "/{v}/models/{id}:generateContent", ALL, "models.generateContent", srv_models_generate,
     0},
    {"POST", "/{v}/models/{id}:streamGenerateContent", ALL, "models.generateContent",
     srv_models_generate, 0},
    {"POST", "/{v}/models/{id}:countTokens", ALL, "models.countTokens", srv_models_count_tokens, 0},
    {"GET", "/{v}/tunedModels", BETA, "tunedModels.list", srv_tuned_list, 0},
    {"POST", "/{v}/tunedModels", BETA, "tunedModels.create", srv_tuned_create, 0},
    {"GET", "/{v}/tunedModels/{id}", ALL, "tunedModels.get", srv_tuned_get, 0},
    {"PATCH", "/{v}/tunedModels/{id}", BETA, "tunedModels.patch", srv_tuned_patch, 0},
    {"DELETE", "/{v}/tunedModels/{id}", BETA, "tunedModels.delete", srv_tuned_delete, 0},
    {"POST", "/{v}/tunedModels/{id}:generateContent", ALL, "tunedModels.generateContent",
     srv_tuned_generate, 0},
    {"POST", "/{v}/tunedModels/{id}:streamGenerateContent", ALL,
     "tunedModels.streamGenerateContent", srv_tuned_stream, 0},
    {"POST", "/{v}/tunedModels/{id}:countTokens", ALL, "tunedModels.countTokens",
     srv_tuned_count_tokens, 0},
    {"GET", "/{v}/tunedModels/{id}/operations", ALL, "operations.list", srv_op_list, 0},
    {"GET", "/{v}/tunedModels/{id}/operations/{op}", ALL, "operations.get", srv_op_get, 0},
    {"POST", "/{v}/tunedModels/{id}/operations/{op}:cancel", ALL, "operations.cancel",
     srv_op_cancel, 0},
    {"POST", "/{v}/models/{id}:batchGenerateContent", BETA, "models.batchGenerateContent",
     srv_gemini_batch_create, 0},
    {"POST", "/{v}/tunedModels/{id}:batchGenerateContent", BETA, "tunedModels.batchGenerateContent",
     srv_gemini_batch_create, 0},
    {"GET", "/{v}/batches", BETA, "batches.list", srv_gemini_batch_list, 0},
    {"GET", "/{v}/batches/{id}", BETA, "batches.get", srv_gemini_batch_get, 0},
    {"POST", "/{v}/batches/{id}:cancel", BETA, "batches.cancel", srv_gemini_batch_cancel, 0},
    {"DELETE", "/{v}/batches/{id}", BETA, "batches.delete", srv_gemini_batch_delete, 0},
    {"POST", "/upload/{v}/files", BETA, "media.upload", srv_gemini_file_upload, 0},
    {"GET", "/{v}/files", BETA, "gemini.files.list", srv_gemini_file_list, 0},
    {"GET", "/{v}/files/{id}", BETA, "gemini.files.get", srv_gemini_file_get, 0},
    {"DELETE", "/{v}/files/{id}", BETA, "gemini.files.delete", srv_gemini_file_delete, 0},
    {"GET", "/{v}/files/{id}:download", BETA, "gemini.files.download", srv_gemini_file_download, 0},
    {"GET", "/download/{v}/files/{id}:download", BETA, "gemini.files.download",
     srv_gemini_file_download, 0},
};

static const char *const prefixes[] = {"/v1beta/", "/v1alpha/", "/upload/v1beta/",
				       "/download/v1beta/", NULL};

const struct srv_family srv_family_gemini = {
    .name = "gemini",
    .prefixes = prefixes,
    .routes = routes,
    .n_routes = sizeof(routes) / sizeof(routes[0]),
    .error = srv_google_error,
    .auth = srv_google_auth_key_or_bearer,
};

struct srv_model *srv_gemini_lookup_locked(struct srv *s, const char *id)
{
	struct srv_model *m = srv_store_lookup_locked(s->store, id);
	return m && !strcmp(m->family, "gemini") ? m : NULL;
}

struct srv_model *srv_gemini_find(struct srv *s, const char *id)
{
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_gemini_lookup_locked(s, id);
	if (m)
		m->refs++;
	pthread_mutex_unlock(&s->store->lock);
	return m;
}

void srv_gemini_warm(struct srv_model *m)
{
	size_t len;
	if (!strcmp(m->family, "gemini"))
		srv_json_model_text(m, &len);
}
