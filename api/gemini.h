/* gemini.h - the typed client of the Gemini API tuning service (REST v1beta).
 * Holds the resource types tunedfs reads and writes and one call per remote method.
 * Knows nothing of files or caches; HTTP, retries and credentials live in http.h / creds.h. */
#ifndef TUNEDFS_GEMINI_H
#define TUNEDFS_GEMINI_H

#include <stdatomic.h>
#include <stddef.h>

struct http_client;

/* Why a call failed. Every call that returns a negative errno fills one of these
 * (when the caller passed one): HTTP status (0 when no answer came), the service's
 * status string ("INVALID_ARGUMENT", ...; empty when none) and its message. */
struct gemini_error {
	int http_status;
	char status[40];
	char message[512];
};

/* Set by another thread to abort a call in flight (a FUSE interrupt, unmount).
 * A cancelled call returns -EINTR. */
struct gemini_cancel {
	atomic_int cancelled;
};

enum tuned_model_state {
	TUNED_MODEL_STATE_UNSPECIFIED = 0,
	TUNED_MODEL_CREATING,
	TUNED_MODEL_ACTIVE,
	TUNED_MODEL_FAILED,
};

struct tuning_snapshot {
	int step;
	int epoch;
	double mean_loss;
	char compute_time[40]; /* RFC 3339, may be empty */
};

/* A TunedModel resource. Strings are heap-owned (NULL when absent). */
struct tuned_model {
	char *name; /* "tunedModels/{id}" */
	char *display_name;
	char *description;
	char *base_model;   /* "models/..." (for a model tuned from another: the root base) */
	char *source_model; /* tunedModelSource.tunedModel, NULL when tuned from a base */
	enum tuned_model_state state;
	char *create_time;
	char *update_time;
	int has_temperature, has_top_p, has_top_k;
	double temperature, top_p;
	int top_k;
	int epoch_count, batch_size; /* 0 when absent */
	double learning_rate, learning_rate_multiplier;
	struct tuning_snapshot *snapshots;
	size_t n_snapshots;
	char *json; /* the resource exactly as the service returned it (model.json) */
};

/* A long-running operation of tunedModels.create. */
struct tuning_operation {
	char *name; /* "tunedModels/{id}/operations/{op}" */
	char *tuned_model;
	int done;
	int total_steps, completed_steps;
	double completed_percent;
	struct tuning_snapshot *snapshots;
	size_t n_snapshots;
	int has_error;
	int error_code; /* google.rpc code, not HTTP */
	char *error_message;
};

struct tuning_example {
	char *text_input;
	char *output;
};

/* What to tune: the body of tunedModels.create. Unset numbers are 0 / has_* == 0. */
struct tuning_request {
	char *id; /* tunedModelId, required by this client */
	char *display_name;
	char *description;
	char *base_model;   /* exactly one of base_model / source_model */
	char *source_model; /* "tunedModels/..." */
	int epoch_count;
	int batch_size;
	int has_learning_rate, has_learning_rate_multiplier;
	double learning_rate, learning_rate_multiplier;
	int has_temperature, has_top_p, has_top_k;
	double temperature, top_p;
	int top_k;
	struct tuning_example *examples;
	size_t n_examples;
};

/* Generation settings (GenerationConfig); has_* says which are set. */
#define GEMINI_MAX_STOP_SEQUENCES 5
struct generation_settings {
	int has_temperature, has_top_p, has_top_k, has_max_output_tokens;
	double temperature, top_p;
	int top_k;
	int max_output_tokens;
	char *stop_sequences[GEMINI_MAX_STOP_SEQUENCES];
	size_t n_stop_sequences;
};

struct generation_result {
	char *text;          /* all text parts of candidates[0], thoughts skipped; "" when none */
	char *finish_reason; /* "STOP", "MAX_TOKENS", ...; NULL when absent */
	char *block_reason;  /* promptFeedback.blockReason when the prompt was blocked, else NULL */
	char *json;          /* the whole GenerateContentResponse as received */
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
 * else a negative errno from http_errno_for() and err filled. cancel may be NULL. */
int gemini_list_tuned_models(struct gemini_client *gc, struct gemini_cancel *cancel,
			     struct tuned_model **out, size_t *n_out, struct gemini_error *err);
int gemini_get_tuned_model(struct gemini_client *gc, const char *name,
			   struct gemini_cancel *cancel, struct tuned_model *out,
			   struct gemini_error *err);
/* Sends tunedModelId; a 409 on a retry of this same call is taken as its own success
 * (the model is fetched and its operation found). */
int gemini_create_tuned_model(struct gemini_client *gc, const struct tuning_request *req,
			      struct gemini_cancel *cancel, struct tuning_operation *out,
			      struct gemini_error *err);
/* update_mask: comma-separated camelCase paths, e.g. "displayName,temperature". */
int gemini_patch_tuned_model(struct gemini_client *gc, const char *name,
			     const struct tuned_model *fields, const char *update_mask,
			     struct gemini_cancel *cancel, struct tuned_model *out,
			     struct gemini_error *err);
int gemini_delete_tuned_model(struct gemini_client *gc, const char *name,
			      struct gemini_cancel *cancel, struct gemini_error *err);
int gemini_get_operation(struct gemini_client *gc, const char *op_name,
			 struct gemini_cancel *cancel, struct tuning_operation *out,
			 struct gemini_error *err);
/* The newest operation of a model (for models created elsewhere). -ENOENT when none. */
int gemini_find_operation(struct gemini_client *gc, const char *model_name,
			  struct gemini_cancel *cancel, struct tuning_operation *out,
			  struct gemini_error *err);
int gemini_generate(struct gemini_client *gc, const char *model_name, const char *prompt,
		    const struct generation_settings *gs, struct gemini_cancel *cancel,
		    struct generation_result *out, struct gemini_error *err);
int gemini_list_base_models(struct gemini_client *gc, struct gemini_cancel *cancel,
			    struct base_model **out, size_t *n_out, struct gemini_error *err);

/* JSON mapping, exposed for tests and fuzzers: parse one resource from text. */
int gemini_parse_tuned_model(const char *json, size_t len, struct tuned_model *out);
int gemini_parse_operation(const char *json, size_t len, struct tuning_operation *out);
int gemini_parse_generation(const char *json, size_t len, struct generation_result *out);
/* Builds the create body (without the id, which goes in the query). Heap string. */
char *gemini_tuning_request_json(const struct tuning_request *req);
/* Builds the generateContent body. Heap string. */
char *gemini_generate_request_json(const char *prompt, const struct generation_settings *gs);

void tuned_model_clear(struct tuned_model *m);
void tuned_model_copy(struct tuned_model *dst, const struct tuned_model *src);
void tuning_operation_clear(struct tuning_operation *op);
void tuning_request_clear(struct tuning_request *req);
void generation_settings_clear(struct generation_settings *gs);
void generation_result_clear(struct generation_result *r);
void base_models_free(struct base_model *v, size_t n);
void tuned_models_free(struct tuned_model *v, size_t n);

const char *tuned_model_state_name(enum tuned_model_state s); /* "CREATING", ... */

/* tunedModelId rule: ^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$ */
int gemini_valid_model_id(const char *id);

#endif
