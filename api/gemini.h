/* gemini.h - the typed client of the Gemini API tuning service (REST v1beta): its wire
 * types (TunedModel, Operation) and one call per remote method. Private to api/: the
 * cache sees it only as backend_gemini_ops (gemini_backend.c maps it to backend.h's types).
 * Knows nothing of files or caches; HTTP, retries and credentials live in http.h / creds.h. */
#ifndef TUNEDFS_GEMINI_H
#define TUNEDFS_GEMINI_H

#include "api/backend.h"

#include <stddef.h>

struct http_client;

enum gemini_model_state {
	GEMINI_MODEL_STATE_UNSPECIFIED = 0,
	GEMINI_MODEL_CREATING,
	GEMINI_MODEL_ACTIVE,
	GEMINI_MODEL_FAILED,
};

struct gemini_snapshot {
	int step;
	int epoch;
	double mean_loss;
	char compute_time[40]; /* RFC 3339, may be empty */
};

/* A TunedModel resource. Strings are heap-owned (NULL when absent). */
struct gemini_tuned_model {
	char *name; /* "tunedModels/{id}" */
	char *display_name;
	char *description;
	char *base_model;   /* "models/..." (for a model tuned from another: the root base) */
	char *source_model; /* tunedModelSource.tunedModel, NULL when tuned from a base */
	enum gemini_model_state state;
	char *create_time;
	char *update_time;
	int has_temperature, has_top_p, has_top_k;
	double temperature, top_p;
	int top_k;
	int epoch_count, batch_size; /* 0 when absent */
	double learning_rate, learning_rate_multiplier;
	struct gemini_snapshot *snapshots;
	size_t n_snapshots;
	char *json; /* the resource exactly as the service returned it (model.json) */
};

/* A long-running operation of tunedModels.create. */
struct gemini_operation {
	char *name; /* "tunedModels/{id}/operations/{op}" */
	char *tuned_model;
	int done;
	int total_steps, completed_steps;
	double completed_percent;
	struct gemini_snapshot *snapshots;
	size_t n_snapshots;
	int has_error;
	int error_code; /* google.rpc code, not HTTP */
	char *error_message;
};

struct base_model {
	char *name;
	char *display_name;
	int can_tune; /* supportedGenerationMethods has "createTunedModel" */
};

struct gemini_client;

/* The client does not own the http client; several gemini clients may share one. */
int gemini_client_new(struct http_client *http, struct gemini_client **out);
void gemini_client_free(struct gemini_client *gc);

/* All calls: 0 on success (out filled, caller frees with the matching *_clear/free),
 * else a negative errno (google_rpc_errno) and err filled. cancel may be NULL. */
int gemini_list_tuned_models(struct gemini_client *gc, struct backend_cancel *cancel,
			     struct gemini_tuned_model **out, size_t *n_out,
			     struct backend_error *err);
/* One page of tunedModels.list; *next the next page's token (heap) or NULL. */
int gemini_list_page(struct gemini_client *gc, const char *token, struct backend_cancel *cancel,
		     struct gemini_tuned_model **out, size_t *n_out, char **next,
		     struct backend_error *err);
int gemini_get_tuned_model(struct gemini_client *gc, const char *name,
			   struct backend_cancel *cancel, struct gemini_tuned_model *out,
			   struct backend_error *err);
/* Sends tunedModelId; a 409 on a retry of this same call is taken as its own success
 * (the model is fetched and its operation found). */
int gemini_create_tuned_model(struct gemini_client *gc, const struct tuning_request *req,
			      struct backend_cancel *cancel, struct gemini_operation *out,
			      struct backend_error *err);
/* update_mask: comma-separated camelCase paths, e.g. "displayName,temperature". */
int gemini_patch_tuned_model(struct gemini_client *gc, const char *name,
			     const struct gemini_tuned_model *fields, const char *update_mask,
			     struct backend_cancel *cancel, struct gemini_tuned_model *out,
			     struct backend_error *err);
int gemini_delete_tuned_model(struct gemini_client *gc, const char *name,
			      struct backend_cancel *cancel, struct backend_error *err);
int gemini_get_operation(struct gemini_client *gc, const char *op_name,
			 struct backend_cancel *cancel, struct gemini_operation *out,
			 struct backend_error *err);
/* The newest operation of a model (for models created elsewhere). -ENOENT when none. */
int gemini_find_operation(struct gemini_client *gc, const char *model_name,
			  struct backend_cancel *cancel, struct gemini_operation *out,
			  struct backend_error *err);
/* countTokens of texts, the parts of one user turn, on model_name ("models/x" or a tuned
 * model id). */
int gemini_count_tokens(struct gemini_client *gc, const char *model_name, const char *const *texts,
			size_t n_texts, struct backend_cancel *cancel, long *n,
			struct backend_error *err);
int gemini_generate(struct gemini_client *gc, const char *model_name, const char *prompt,
		    const struct generation_settings *gs, struct backend_cancel *cancel,
		    struct generation_answer *out, struct backend_error *err);
/* streamGenerateContent: path is the whole one (":streamGenerateContent?alt=sse"), on_text
 * sees the text as it comes; out as gemini_generate's (see backend_generate_stream). */
int gemini_generate_stream(struct gemini_client *gc, const char *model_name, const char *prompt,
			   const struct generation_settings *gs, backend_text_fn on_text, void *arg,
			   struct backend_cancel *cancel, struct generation_answer *out,
			   struct backend_error *err);
int gemini_stream_call(struct http_client *hc, const char *path, const char *body,
		       backend_text_fn on_text, void *arg, struct backend_cancel *cancel,
		       struct generation_answer *out, struct backend_error *err);
int gemini_list_base_models(struct gemini_client *gc, struct backend_cancel *cancel,
			    struct base_model **out, size_t *n_out, struct backend_error *err);

/* JSON mapping, exposed for tests and fuzzers: parse one resource from text. */
int gemini_parse_tuned_model(const char *json, size_t len, struct gemini_tuned_model *out);
int gemini_parse_operation(const char *json, size_t len, struct gemini_operation *out);
int gemini_parse_generation(const char *json, size_t len, struct generation_answer *out);
/* totalTokens of a CountTokensResponse (Gemini API and Vertex AI alike): 0, or -EINVAL
 * when it is missing or not a count. */
int gemini_parse_token_count(const char *json, size_t len, long *n);
/* Whether a 2xx body is a well-formed answer of its kind (only such may be used or
 * cached): 0, or -EINVAL with why (the service's message when the body is an error). */
enum gemini_answer { GEMINI_ANSWER_MODEL, GEMINI_ANSWER_GENERATION };
int gemini_check_answer(const char *json, size_t len, enum gemini_answer kind, char *why,
			size_t cap);
/* Builds the create body (without the id, which goes in the query). Heap string. */
char *gemini_tuning_request_json(const struct tuning_request *req);
/* Builds the generateContent body. Heap string. */
char *gemini_generate_request_json(const char *prompt, const struct generation_settings *gs);
/* A CountTokensRequest: one user turn whose parts are texts. */
char *gemini_count_request_json(const char *const *texts, size_t n);

void gemini_tuned_model_clear(struct gemini_tuned_model *m);
void gemini_tuned_model_copy(struct gemini_tuned_model *dst, const struct gemini_tuned_model *src);
void gemini_operation_clear(struct gemini_operation *op);
void base_models_free(struct base_model *v, size_t n);
void gemini_tuned_models_free(struct gemini_tuned_model *v, size_t n);

const char *gemini_model_state_name(enum gemini_model_state s); /* "CREATING", ... */

/* tunedModelId rule: ^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$ */
int gemini_valid_model_id(const char *id);

#endif
