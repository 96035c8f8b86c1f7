/* gemini_request.c - what Gemini clients send about tuned models: the create body
 * (TunedModel with its training data) and PATCH bodies, in camelCase or snake_case,
 * validated with messages naming the field. Output mapping is in gemini_json.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/gemini/gemini_json.h"
#include "server/jobs.h"

/* Input names of TunedModel and its parts; output-only ones are accepted and ignored. */
static const char *const model_fields[] = {"name",
					   "baseModel",
					   "tunedModelSource",
					   "displayName",
					   "description",
					   "temperature",
					   "topP",
					   "topK",
					   "state",
					   "createTime",
					   "updateTime",
					   "tuningTask",
					   "readerProjectNumbers",
					   NULL};
static const char *const task_fields[] = {"startTime",	  "completeTime",    "snapshots",
					  "trainingData", "hyperparameters", NULL};
static const char *const hp_fields[] = {"learningRate", "learningRateMultiplier", "epochCount",
					"batchSize", NULL};
static const char *const data_fields[] = {"examples", NULL};
static const char *const examples_fields[] = {"examples", NULL};
static const char *const example_fields[] = {"textInput", "output", NULL};
static const char *const source_fields_names[] = {"tunedModel", "baseModel", NULL};

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(why, why_len, __VA_ARGS__);                                               \
		return -EINVAL;                                                                    \
	} while (0)

/* A string member: absent leaves *out NULL; present must be a string. */
static int opt_string(const cJSON *obj, const char *camel, size_t max, char **out, char *why,
		      size_t why_len)
{
	const cJSON *it = srv_json_field(obj, camel);
	*out = NULL;
	if (!it || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsString(it))
		BAD("Invalid value at '%s': expected a string.", camel);
	if (strlen(it->valuestring) > max)
		BAD("Invalid value at '%s': longer than %zu characters.", camel, max);
	*out = xstrdup(it->valuestring);
	return 0;
}

static int sampling_fields(const cJSON *body, struct srv_model *m, char *why, size_t why_len)
{
	const cJSON *it;
	double d;
	int64_t v;
	if ((it = srv_json_field(body, "temperature")) && !cJSON_IsNull(it)) {
		if (srv_json_double(it, &d) || d < 0 || d > 2)
			BAD("Invalid value at 'temperature': must be a number in [0, 2].");
		m->has_temperature = 1;
		m->temperature = d;
	}
	if ((it = srv_json_field(body, "topP")) && !cJSON_IsNull(it)) {
		if (srv_json_double(it, &d) || d < 0 || d > 1)
			BAD("Invalid value at 'top_p': must be a number in [0, 1].");
		m->has_top_p = 1;
		m->top_p = d;
	}
	if ((it = srv_json_field(body, "topK")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v < 0 || v > 1000000)
			BAD("Invalid value at 'top_k': must be an integer in [0, 1000000].");
		m->has_top_k = 1;
		m->top_k = (int)v;
	}
	return 0;
}

static int hyperparameters(const cJSON *h, long n_examples, struct srv_model *m, char *why,
			   size_t why_len)
{
	const cJSON *it;
	int64_t v;
	double d;
	m->epoch_count = SRV_DEFAULT_EPOCHS;
	m->batch_size = srv_jobs_default_batch(n_examples);
	m->learning_rate = SRV_DEFAULT_LR;
	m->lr_multiplier = 0;
	if (h && !cJSON_IsNull(h) && !cJSON_IsObject(h))
		BAD("Invalid value at 'tuning_task.hyperparameters': expected an object.");
	if (srv_json_known_fields(h, hp_fields, "tuning_task.hyperparameters", why, why_len))
		return -EINVAL;
	if ((it = srv_json_field(h, "epochCount")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v < 1 || v > SRV_MAX_EPOCHS)
			BAD("Invalid value at 'tuning_task.hyperparameters.epoch_count': must be "
			    "an "
			    "integer in [1, %d].",
			    SRV_MAX_EPOCHS);
		m->epoch_count = (int)v;
	}
	if ((it = srv_json_field(h, "batchSize")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v < 1 || v > SRV_MAX_BATCH)
			BAD("Invalid value at 'tuning_task.hyperparameters.batch_size': must be an "
			    "integer in [1, %d].",
			    SRV_MAX_BATCH);
		m->batch_size = (int)v;
	}
	const cJSON *lr = srv_json_field(h, "learningRate");
	const cJSON *mult = srv_json_field(h, "learningRateMultiplier");
	if (lr && mult && !cJSON_IsNull(lr) && !cJSON_IsNull(mult))
		BAD("Invalid value at 'tuning_task.hyperparameters': set learning_rate or "
		    "learning_rate_multiplier, not both.");
	if (lr && !cJSON_IsNull(lr)) {
		if (srv_json_double(lr, &d) || d <= 0 || d > 1)
			BAD("Invalid value at 'tuning_task.hyperparameters.learning_rate': must be "
			    "a "
			    "number in (0, 1].");
		m->learning_rate = d;
	} else if (mult && !cJSON_IsNull(mult)) {
		if (srv_json_double(mult, &d) || d <= 0 || d * SRV_DEFAULT_LR > 1)
			BAD("Invalid value at "
			    "'tuning_task.hyperparameters.learning_rate_multiplier': "
			    "must be a positive number no larger than %g.",
			    1 / SRV_DEFAULT_LR);
		m->lr_multiplier = d;
		m->learning_rate = d * SRV_DEFAULT_LR;
	}
	return 0;
}

static int one_example(const cJSON *e, size_t i, struct srv_example *out, char *why, size_t why_len)
{
	if (!cJSON_IsObject(e))
		BAD("Invalid value at 'tuning_task.training_data.examples.examples[%zu]': expected "
		    "an object.",
		    i);
	char at[96];
	snprintf(at, sizeof(at), "tuning_task.training_data.examples.examples[%zu]", i);
	if (srv_json_known_fields(e, example_fields, at, why, why_len))
		return -EINVAL;
	const cJSON *in = srv_json_field(e, "textInput");
	const cJSON *o = srv_json_field(e, "output");
	if (!cJSON_IsString(in))
		BAD("Invalid value at 'tuning_task.training_data.examples.examples[%zu].text_input'"
		    ": a string is required.",
		    i);
	if (!cJSON_IsString(o))
		BAD("Invalid value at 'tuning_task.training_data.examples.examples[%zu].output': a "
		    "string is required.",
		    i);
	size_t il = strlen(in->valuestring), ol = strlen(o->valuestring);
	if (il > SRV_MAX_INPUT_BYTES)
		BAD("Invalid value at 'tuning_task.training_data.examples.examples[%zu].text_input'"
		    ": longer than %d characters.",
		    i, SRV_MAX_INPUT_BYTES);
	if (ol == 0 || ol > SRV_MAX_OUTPUT_BYTES)
		BAD("Invalid value at 'tuning_task.training_data.examples.examples[%zu].output': "
		    "must hold 1 to %d characters.",
		    i, SRV_MAX_OUTPUT_BYTES);
	out->input = xstrndup(in->valuestring, il);
	out->input_len = il;
	out->output = xstrndup(o->valuestring, ol);
	out->output_len = ol;
	return 0;
}

static int training_data(const cJSON *task, struct srv_example **ex, size_t *n_ex, char *why,
			 size_t why_len)
{
	const cJSON *td = srv_json_field(task, "trainingData");
	if (!td || cJSON_IsNull(td))
		BAD("Missing required field 'tuning_task.training_data'.");
	if (srv_json_known_fields(td, data_fields, "tuning_task.training_data", why, why_len))
		return -EINVAL;
	const cJSON *wrap = srv_json_field(td, "examples");
	const cJSON *arr = srv_json_field(wrap, "examples");
	if (srv_json_known_fields(wrap, examples_fields, "tuning_task.training_data.examples", why,
				  why_len))
		return -EINVAL;
	if (!wrap || !cJSON_IsObject(wrap) || !arr)
		BAD("Missing required field 'tuning_task.training_data.examples.examples'.");
	if (!cJSON_IsArray(arr))
		BAD("Invalid value at 'tuning_task.training_data.examples.examples': expected an "
		    "array.");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0)
		BAD("Invalid value at 'tuning_task.training_data.examples.examples': the training "
		    "data is empty.");
	if (n > SRV_MAX_EXAMPLES)
		BAD("Invalid value at 'tuning_task.training_data.examples.examples': more than %d "
		    "examples.",
		    SRV_MAX_EXAMPLES);
	struct srv_example *out = xcalloc(n, sizeof(*out));
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		int rc = one_example(e, i, &out[i], why, why_len);
		if (rc) {
			srv_examples_free(out, i);
			return rc;
		}
		i++;
	}
	*ex = out;
	*n_ex = n;
	return 0;
}

static int source_fields(const cJSON *body, struct srv_model *m, char *why, size_t why_len)
{
	if (opt_string(body, "baseModel", 256, &m->base_model, why, why_len))
		return -EINVAL;
	const cJSON *src = srv_json_field(body, "tunedModelSource");
	if (src && !cJSON_IsNull(src)) {
		if (srv_json_known_fields(src, source_fields_names, "tuned_model_source", why,
					  why_len))
			return -EINVAL;
		const cJSON *tm = srv_json_field(src, "tunedModel");
		if (!cJSON_IsString(tm) || strncmp(tm->valuestring, "tunedModels/", 12) != 0 ||
		    strlen(tm->valuestring) > 64)
			BAD("Invalid value at 'tuned_model_source.tuned_model': expected "
			    "'tunedModels/ID'.");
		if (m->base_model)
			BAD("Invalid value at 'base_model': set base_model or tuned_model_source, "
			    "not both.");
		m->source_model = xstrdup(tm->valuestring);
	} else if (!m->base_model || !*m->base_model) {
		BAD("Missing required field 'base_model'.");
	}
	return 0;
}

int srv_json_create_request(const cJSON *body, struct srv_model *m, struct srv_example **ex,
			    size_t *n_ex, char *why, size_t why_len)
{
	*ex = NULL;
	*n_ex = 0;
	if (!cJSON_IsObject(body))
		BAD("Invalid JSON payload received. The body must be a TunedModel object.");
	if (srv_json_known_fields(body, model_fields, "", why, why_len))
		return -EINVAL;
	if (opt_string(body, "displayName", SRV_MAX_DISPLAY_NAME, &m->display_name, why, why_len) ||
	    opt_string(body, "description", SRV_MAX_DESCRIPTION, &m->description, why, why_len) ||
	    source_fields(body, m, why, why_len) || sampling_fields(body, m, why, why_len))
		return -EINVAL;
	const cJSON *task = srv_json_field(body, "tuningTask");
	if (!task || cJSON_IsNull(task))
		BAD("Missing required field 'tuning_task'.");
	if (!cJSON_IsObject(task))
		BAD("Invalid value at 'tuning_task': expected an object.");
	if (srv_json_known_fields(task, task_fields, "tuning_task", why, why_len))
		return -EINVAL;
	struct srv_example *list;
	size_t n;
	int rc = training_data(task, &list, &n, why, why_len);
	if (rc)
		return rc;
	rc = hyperparameters(srv_json_field(task, "hyperparameters"), (long)n, m, why, why_len);
	if (rc) {
		srv_examples_free(list, n);
		return rc;
	}
	m->n_examples = (long)n;
	m->total_steps = srv_total_steps(m->n_examples, m->epoch_count, m->batch_size);
	*ex = list;
	*n_ex = n;
	return 0;
}

/* Canonical camelCase name of a mask path, or NULL when it is not mutable. */
static const char *mutable_path(const char *p, size_t len)
{
	static const char *const names[][2] = {
	    {"displayName", "display_name"},
	    {"description", "description"},
	    {"temperature", "temperature"},
	    {"topP", "top_p"},
	    {"topK", "top_k"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (int j = 0; j < 2; j++)
			if (strlen(names[i][j]) == len && !strncmp(p, names[i][j], len))
				return names[i][0];
	return NULL;
}

static int patch_field(const cJSON *body, const char *camel, struct srv_model *next, char *why,
		       size_t why_len)
{
	if (!strcmp(camel, "displayName") || !strcmp(camel, "description")) {
		char *v;
		size_t max =
		    camel[0] == 'd' && camel[1] == 'i' ? SRV_MAX_DISPLAY_NAME : SRV_MAX_DESCRIPTION;
		if (opt_string(body, camel, max, &v, why, why_len))
			return -EINVAL;
		char **slot = camel[1] == 'i' ? &next->display_name : &next->description;
		free(*slot);
		*slot = v;
		return 0;
	}
	cJSON *one = cJSON_CreateObject();
	cJSON *it = srv_json_field(body, camel);
	if (it)
		cJSON_AddItemReferenceToObject(one, camel, it);
	int rc = sampling_fields(one, next, why, why_len);
	cJSON_Delete(one);
	if (rc)
		return rc;
	if (!it || cJSON_IsNull(it)) {
		if (!strcmp(camel, "temperature"))
			next->has_temperature = 0;
		else if (!strcmp(camel, "topP"))
			next->has_top_p = 0;
		else
			next->has_top_k = 0;
	}
	return 0;
}

int srv_json_patch(const cJSON *body, const char *mask, struct srv_model *m, char *why,
		   size_t why_len)
{
	if (!cJSON_IsObject(body))
		BAD("Invalid JSON payload received. The body must be a TunedModel object.");
	if (srv_json_known_fields(body, model_fields, "", why, why_len))
		return -EINVAL;
	struct srv_model next = *m;
	next.display_name = m->display_name ? xstrdup(m->display_name) : NULL;
	next.description = m->description ? xstrdup(m->description) : NULL;
	int rc = 0;
	if (mask && *mask) {
		const char *p = mask;
		while (*p && !rc) {
			size_t len = strcspn(p, ",");
			while (len && p[0] == ' ')
				p++, len--;
			const char *camel = mutable_path(p, len);
			if (!camel) {
				snprintf(why, why_len,
					 "Invalid value at 'update_mask': field '%.*s' cannot be "
					 "updated (mutable: displayName, description, temperature, "
					 "topP, topK).",
					 (int)(len > 64 ? 64 : len), p);
				rc = -EINVAL;
				break;
			}
			rc = patch_field(body, camel, &next, why, why_len);
			p += len;
			if (*p == ',')
				p++;
		}
	} else {
		static const char *const all[] = {"displayName", "description", "temperature",
						  "topP", "topK"};
		for (size_t i = 0; i < 5 && !rc; i++)
			if (srv_json_field(body, all[i]))
				rc = patch_field(body, all[i], &next, why, why_len);
	}
	if (rc) {
		free(next.display_name);
		free(next.description);
		return rc;
	}
	/* Field by field: the struct also holds a mutex other threads may hold. */
	free(m->display_name);
	free(m->description);
	m->display_name = next.display_name;
	m->description = next.description;
	m->has_temperature = next.has_temperature;
	m->temperature = next.temperature;
	m->has_top_p = next.has_top_p;
	m->top_p = next.top_p;
	m->has_top_k = next.has_top_k;
	m->top_k = next.top_k;
	return 0;
}
