/* gemini_body.c - the request bodies the client sends: tunedModels.create, patch and
 * generateContent, in the camelCase proto3 JSON of the reference. Only set fields are
 * sent (the service rejects unknown names and treats absent as default). */
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void gb_oom(const void *p)
{
	if (!p)
		xalloc_die(0);
}

static cJSON *gb_object(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_AddObjectToObject(parent, key);
	gb_oom(o);
	return o;
}

static void gb_string(cJSON *o, const char *key, const char *value)
{
	if (value)
		gb_oom(cJSON_AddStringToObject(o, key, value));
}

static void gb_number(cJSON *o, const char *key, double value)
{
	gb_oom(cJSON_AddNumberToObject(o, key, value));
}

static char *gb_finish(cJSON *root)
{
	char *s = gemini_json_print(root);
	cJSON_Delete(root);
	return s;
}

static void gb_hyperparameters(cJSON *task, const struct tuning_settings *ts)
{
	cJSON *hp;

	if (ts->epochs <= 0 && ts->batch_size <= 0 && ts->learning_rate <= 0 &&
	    ts->learning_rate_multiplier <= 0)
		return;
	hp = gb_object(task, "hyperparameters");
	if (ts->epochs > 0)
		gb_number(hp, "epochCount", ts->epochs);
	if (ts->batch_size > 0)
		gb_number(hp, "batchSize", ts->batch_size);
	/* One oneof: the explicit rate wins when a caller set both. */
	if (ts->learning_rate > 0)
		gb_number(hp, "learningRate", ts->learning_rate);
	else if (ts->learning_rate_multiplier > 0)
		gb_number(hp, "learningRateMultiplier", ts->learning_rate_multiplier);
}

/* A name with its collection prefix, whether or not it came with one. */
static void gb_name(cJSON *o, const char *key, const char *prefix, const char *name)
{
	char *full;

	if (!name)
		return;
	if (strncmp(name, prefix, strlen(prefix)) == 0) {
		gb_string(o, key, name);
		return;
	}
	full = xasprintf("%s%s", prefix, name);
	gb_string(o, key, full);
	free(full);
}

char *gemini_tuning_request_json(const struct tuning_request *req)
{
	cJSON *root = cJSON_CreateObject(), *task, *examples, *arr;

	gb_oom(root);
	gb_string(root, "displayName", req->display_name);
	gb_string(root, "description", req->description);
	if (req->source_model)
		gb_name(gb_object(root, "tunedModelSource"), "tunedModel", "tunedModels/",
			req->source_model);
	else
		gb_name(root, "baseModel", "models/", req->base_model);
	if (req->generation.has_temperature)
		gb_number(root, "temperature", req->generation.temperature);
	if (req->generation.has_top_p)
		gb_number(root, "topP", req->generation.top_p);
	if (req->generation.has_top_k)
		gb_number(root, "topK", req->generation.top_k);
	task = gb_object(root, "tuningTask");
	gb_hyperparameters(task, &req->settings);
	examples = gb_object(gb_object(task, "trainingData"), "examples");
	arr = cJSON_AddArrayToObject(examples, "examples");
	gb_oom(arr);
	for (size_t i = 0; i < req->n_examples; i++) {
		cJSON *ex = cJSON_CreateObject();
		gb_oom(ex);
		gb_string(ex, "textInput", req->examples[i].input);
		gb_string(ex, "output", req->examples[i].output ? req->examples[i].output : "");
		cJSON_AddItemToArray(arr, ex);
	}
	return gb_finish(root);
}

/* root's "contents": one user turn whose parts are the n texts. */
static void gb_user_turn(cJSON *root, const char *const *texts, size_t n)
{
	cJSON *contents = cJSON_AddArrayToObject(root, "contents"), *content, *parts, *part;

	gb_oom(contents);
	content = cJSON_CreateObject();
	gb_oom(content);
	cJSON_AddItemToArray(contents, content);
	gb_string(content, "role", "user");
	parts = cJSON_AddArrayToObject(content, "parts");
	gb_oom(parts);
	for (size_t i = 0; i < n; i++) {
		part = cJSON_CreateObject();
		gb_oom(part);
		cJSON_AddItemToArray(parts, part);
		gb_string(part, "text", texts[i] ? texts[i] : "");
	}
}

char *gemini_count_request_json(const char *const *texts, size_t n)
{
	cJSON *root = cJSON_CreateObject();

	gb_oom(root);
	gb_user_turn(root, texts, n);
	return gb_finish(root);
}

char *gemini_generate_request_json(const char *prompt, const struct generation_settings *gs)
{
	cJSON *root = cJSON_CreateObject(), *cfg;

	gb_oom(root);
	gb_user_turn(root, &prompt, 1);
	if (!gs || !(gs->has_temperature || gs->has_top_p || gs->has_top_k ||
		     gs->has_max_output_tokens || gs->n_stop_sequences))
		return gb_finish(root);
	cfg = gb_object(root, "generationConfig");
	if (gs->has_temperature)
		gb_number(cfg, "temperature", gs->temperature);
	if (gs->has_top_p)
		gb_number(cfg, "topP", gs->top_p);
	if (gs->has_top_k)
		gb_number(cfg, "topK", gs->top_k);
	if (gs->has_max_output_tokens)
		gb_number(cfg, "maxOutputTokens", gs->max_output_tokens);
	if (gs->n_stop_sequences) {
		cJSON *stops = cJSON_AddArrayToObject(cfg, "stopSequences");
		gb_oom(stops);
		for (size_t i = 0; i < gs->n_stop_sequences && i < BACKEND_MAX_STOP_SEQUENCES;
		     i++) {
			cJSON *s =
			    cJSON_CreateString(gs->stop_sequences[i] ? gs->stop_sequences[i] : "");
			gb_oom(s);
			cJSON_AddItemToArray(stops, s);
		}
	}
	return gb_finish(root);
}

/* Adds the one field a mask path names; 0, or -EINVAL for a path this client cannot send. */
static int gb_patch_field(cJSON *root, const struct gemini_tuned_model *f, const char *path)
{
	if (strcmp(path, "displayName") == 0)
		gb_string(root, "displayName", f->display_name ? f->display_name : "");
	else if (strcmp(path, "description") == 0)
		gb_string(root, "description", f->description ? f->description : "");
	else if (strcmp(path, "temperature") == 0 && f->has_temperature)
		gb_number(root, "temperature", f->temperature);
	else if (strcmp(path, "topP") == 0 && f->has_top_p)
		gb_number(root, "topP", f->top_p);
	else if (strcmp(path, "topK") == 0 && f->has_top_k)
		gb_number(root, "topK", f->top_k);
	else if (strcmp(path, "temperature") && strcmp(path, "topP") && strcmp(path, "topK"))
		return -EINVAL;
	/* temperature/topP/topK named but unset: absent in the body clears them. */
	return 0;
}

int gemini_patch_body(const struct gemini_tuned_model *fields, const char *update_mask, char **out)
{
	cJSON *root = cJSON_CreateObject();
	char *mask, *save = NULL, *tok;
	int rc = 0;

	gb_oom(root);
	*out = NULL;
	if (!update_mask || !*update_mask) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	mask = xstrdup(update_mask);
	for (tok = strtok_r(mask, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save))
		rc = gb_patch_field(root, fields, tok);
	free(mask);
	if (rc < 0) {
		cJSON_Delete(root);
		return rc;
	}
	*out = gb_finish(root);
	return 0;
}
