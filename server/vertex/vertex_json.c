/* vertex_json.c - the Vertex family's JSON: a job as a TuningJob (state, sub-state,
 * tuningDataStats, progress, tunedModel), the create body in (camelCase or snake_case,
 * validated naming the field) and the training file's `contents` lines (naming the line). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/vertex/vertex.h"

#define MAX_EPOCHS     10000
#define MAX_MULTIPLIER 1000.0 /* a multiplier of it trains at rate 1 */
#define MAX_DISPLAY    128
#define MAX_LABELS     64
#define MAX_INPUT      40000
#define MAX_OUTPUT     5000
#define MAX_EXAMPLES   100000

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(why, why_len, __VA_ARGS__);                                               \
		return -EINVAL;                                                                    \
	} while (0)

const char *srv_vertex_state(const struct srv_model *m)
{
	switch (m->state) {
	case SRV_STATE_CREATING:
		if (m->cancel_requested)
			return "JOB_STATE_CANCELLING";
		return m->start_ns ? "JOB_STATE_RUNNING" : "JOB_STATE_PENDING";
	case SRV_STATE_ACTIVE:
		return "JOB_STATE_SUCCEEDED";
	case SRV_STATE_FAILED:
		return m->err_code == 1 ? "JOB_STATE_CANCELLED" : "JOB_STATE_FAILED";
	default:
		return "JOB_STATE_UNSPECIFIED";
	}
}

static void add_time(cJSON *o, const char *key, int64_t ns)
{
	char buf[48];
	if (ns <= 0)
		return;
	srv_json_time(ns, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

/* int64 fields go out as strings, as proto3 JSON has them. */
static void add_int64(cJSON *o, const char *key, long long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	cJSON_AddStringToObject(o, key, buf);
}

static void add_float(cJSON *o, const char *key, double v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.7g", v);
	cJSON_AddNumberToObject(o, key, strtod(buf, NULL));
}

static cJSON *spec_json(const struct srv_model *m)
{
	cJSON *spec = cJSON_CreateObject();
	if (m->dataset)
		cJSON_AddStringToObject(spec, "trainingDatasetUri", m->dataset);
	if (m->validation)
		cJSON_AddStringToObject(spec, "validationDatasetUri", m->validation);
	cJSON *hp = cJSON_AddObjectToObject(spec, "hyperParameters");
	add_int64(hp, "epochCount", m->epoch_count);
	add_float(hp, "learningRateMultiplier", m->lr_multiplier);
	if (m->adapter_size)
		cJSON_AddStringToObject(hp, "adapterSize", m->adapter_size);
	return spec;
}

/* Progress never says more than was done: an epoch counts once all its steps ran. */
static void progress_json(cJSON *o, const struct srv_model *m)
{
	cJSON *st = cJSON_AddObjectToObject(o, "tuningDataStats");
	cJSON *sup = cJSON_AddObjectToObject(st, "supervisedTuningDataStats");
	add_int64(sup, "tuningDatasetExampleCount", m->n_examples);
	add_int64(sup, "tuningStepCount", m->total_steps);
	if (m->state == SRV_STATE_CREATING)
		cJSON_AddStringToObject(o, "tuningJobState",
					m->start_ns ? "TUNING_JOB_STATE_TUNING"
						    : "TUNING_JOB_STATE_WAITING_FOR_CAPACITY");
	long long done = m->state == SRV_STATE_ACTIVE ? m->total_steps : m->completed_steps;
	long long epochs =
	    m->n_examples > 0 ? done * (long long)m->batch_size / (long long)m->n_examples : 0;
	if (epochs > m->epoch_count)
		epochs = m->epoch_count;
	cJSON *md = cJSON_AddObjectToObject(o, "tuningJobMetadata");
	add_int64(md, "completedEpochCount", epochs);
	add_int64(md, "completedStepCount", done);
}

/* The validation set's loss after each epoch, as evaluation runs of the checkpoint that
 * epoch ended with (checkpointId: the epoch): the service keeps its own metrics of a
 * validation set in an Experiment, which this server does not serve. */
static void validation_json(cJSON *o, const struct srv_model *m)
{
	cJSON *runs;

	if (!m->n_val_loss)
		return;
	runs = cJSON_AddArrayToObject(o, "evaluateDatasetRuns");
	for (int i = 0; i < m->n_val_loss; i++) {
		cJSON *run = cJSON_CreateObject(), *agg, *res, *r;
		char id[16];
		snprintf(id, sizeof(id), "%d", i + 1);
		cJSON_AddStringToObject(run, "checkpointId", id);
		agg = cJSON_AddObjectToObject(
		    cJSON_AddObjectToObject(run, "evaluateDatasetResponse"), "aggregationOutput");
		res = cJSON_AddArrayToObject(agg, "aggregationResults");
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "aggregationMetric", "AVERAGE");
		cJSON_AddStringToObject(r, "metric", "validation_loss");
		add_float(cJSON_AddObjectToObject(r, "pointwiseMetricResult"), "score",
			  m->val_loss[i]);
		cJSON_AddItemToArray(res, r);
		cJSON_AddItemToArray(runs, run);
	}
}

cJSON *srv_vertex_job_json(const struct srv_model *m)
{
	char name[256];
	cJSON *o = cJSON_CreateObject();
	snprintf(name, sizeof(name), "%s/tuningJobs/%s", m->parent, m->id);
	cJSON_AddStringToObject(o, "name", name);
	if (m->display_name)
		cJSON_AddStringToObject(o, "tunedModelDisplayName", m->display_name);
	if (m->description)
		cJSON_AddStringToObject(o, "description", m->description);
	if (m->base_model)
		cJSON_AddStringToObject(o, "baseModel", m->base_model);
	cJSON_AddItemToObject(o, "supervisedTuningSpec", spec_json(m));
	cJSON_AddStringToObject(o, "state", srv_vertex_state(m));
	add_time(o, "createTime", m->create_ns);
	add_time(o, "startTime", m->start_ns);
	add_time(o, "endTime", m->complete_ns);
	add_time(o, "updateTime", m->update_ns);
	if (m->state == SRV_STATE_FAILED) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", m->err_code ? m->err_code : 13);
		cJSON_AddStringToObject(e, "message", m->err_msg ? m->err_msg : "tuning failed");
	}
	if (m->n_labels) {
		cJSON *l = cJSON_AddObjectToObject(o, "labels");
		for (size_t i = 0; i < m->n_labels; i++)
			cJSON_AddStringToObject(l, m->labels[i].key, m->labels[i].value);
	}
	if (m->state == SRV_STATE_ACTIVE) {
		cJSON *tm = cJSON_AddObjectToObject(o, "tunedModel");
		snprintf(name, sizeof(name), "%s/models/%s@1", m->parent, m->id);
		cJSON_AddStringToObject(tm, "model", name);
		snprintf(name, sizeof(name), "%s/endpoints/%s", m->parent, m->id);
		cJSON_AddStringToObject(tm, "endpoint", name);
	}
	progress_json(o, m);
	validation_json(o, m);
	return o;
}

/* Fields of a TuningJob a create may carry; output-only ones are accepted and ignored. */
static const char *const job_fields[] = {"name",
					 "baseModel",
					 "preTunedModel",
					 "supervisedTuningSpec",
					 "tunedModelDisplayName",
					 "description",
					 "labels",
					 "state",
					 "createTime",
					 "startTime",
					 "endTime",
					 "updateTime",
					 "error",
					 "encryptionSpec",
					 "serviceAccount",
					 "tunedModel",
					 "tuningDataStats",
					 "experiment",
					 NULL};
static const char *const spec_fields[] = {"trainingDatasetUri",
					  "validationDatasetUri",
					  "hyperParameters",
					  "exportLastCheckpointOnly",
					  "tuningMode",
					  "evaluationConfig",
					  NULL};
static const char *const hp_fields[] = {"epochCount", "learningRateMultiplier", "adapterSize",
					"batchSize",  "learningRate",		NULL};
static const char *const adapter_sizes[] = {"ADAPTER_SIZE_UNSPECIFIED", "ADAPTER_SIZE_ONE",
					    "ADAPTER_SIZE_TWO",		"ADAPTER_SIZE_FOUR",
					    "ADAPTER_SIZE_EIGHT",	"ADAPTER_SIZE_SIXTEEN",
					    "ADAPTER_SIZE_THIRTY_TWO"};

static int opt_string(const cJSON *obj, const char *camel, size_t max, char **out, char *why,
		      size_t why_len)
{
	const cJSON *it = srv_json_field(obj, camel);
	if (!it || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsString(it))
		BAD("Invalid value at '%s': expected a string.", camel);
	if (strlen(it->valuestring) > max)
		BAD("Invalid value at '%s': longer than %zu characters.", camel, max);
	free(*out);
	*out = xstrdup(it->valuestring);
	return 0;
}

/* Keys and values: at most 64 of lowercase letters, digits, '_' and '-'; keys start with a
 * letter. */
static int label_ok(const char *s, int key)
{
	size_t n = strlen(s);
	if (n > 63 || (key && (n == 0 || s[0] < 'a' || s[0] > 'z')))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int labels(const cJSON *body, struct srv_model *m, char *why, size_t why_len)
{
	const cJSON *l = srv_json_field(body, "labels"), *it;
	if (!l || cJSON_IsNull(l))
		return 0;
	if (!cJSON_IsObject(l) || cJSON_GetArraySize(l) > MAX_LABELS)
		BAD("Invalid value at 'labels': expected a map of at most %d strings.", MAX_LABELS);
	size_t n = 0;
	struct srv_kv kv[MAX_LABELS];
	cJSON_ArrayForEach(it, l)
	{
		if (!cJSON_IsString(it) || !label_ok(it->string, 1) ||
		    !label_ok(it->valuestring, 0))
			BAD("Invalid value at 'labels': '%.64s' - keys and values are at most 63 "
			    "lowercase letters, digits, '_' or '-', keys starting with a letter.",
			    it->string ? it->string : "");
		kv[n].key = it->string;
		kv[n++].value = it->valuestring;
	}
	srv_model_set_labels(m, kv, n);
	return 0;
}

static int adapter(const cJSON *it, struct srv_model *m, char *why, size_t why_len)
{
	if (!it || cJSON_IsNull(it))
		return 0;
	for (size_t i = 0; cJSON_IsString(it) && i < sizeof(adapter_sizes) / sizeof(*adapter_sizes);
	     i++)
		if (!strcmp(it->valuestring, adapter_sizes[i])) {
			m->adapter_size = i ? xstrdup(adapter_sizes[i]) : NULL;
			return 0;
		}
	BAD("Invalid value at 'supervised_tuning_spec.hyper_parameters.adapter_size': expected "
	    "one of ADAPTER_SIZE_ONE, _TWO, _FOUR, _EIGHT, _SIXTEEN, _THIRTY_TWO.");
}

static int hyper_parameters(const cJSON *hp, struct srv_model *m, char *why, size_t why_len)
{
	const cJSON *it;
	int64_t v;
	double d;
	m->epoch_count = SRV_VERTEX_DEFAULT_EPOCHS;
	m->lr_multiplier = 1;
	if (hp && !cJSON_IsNull(hp) && !cJSON_IsObject(hp))
		BAD("Invalid value at 'supervised_tuning_spec.hyper_parameters': expected an "
		    "object.");
	if (srv_json_known_fields(hp, hp_fields, "supervised_tuning_spec.hyper_parameters", why,
				  why_len))
		return -EINVAL;
	if ((it = srv_json_field(hp, "batchSize")) || (it = srv_json_field(hp, "learningRate")))
		BAD("Invalid value at 'supervised_tuning_spec.hyper_parameters.%s': only open "
		    "models take a batch size or learning rate; Gemini models take "
		    "learning_rate_multiplier.",
		    it->string);
	if ((it = srv_json_field(hp, "epochCount")) && !cJSON_IsNull(it)) {
		if (srv_json_int(it, &v) || v < 1 || v > MAX_EPOCHS)
			BAD("Invalid value at "
			    "'supervised_tuning_spec.hyper_parameters.epoch_count': "
			    "must be an integer in [1, %d].",
			    MAX_EPOCHS);
		m->epoch_count = (int)v;
	}
	if ((it = srv_json_field(hp, "learningRateMultiplier")) && !cJSON_IsNull(it)) {
		if (srv_json_double(it, &d) || !(d > 0) || d > MAX_MULTIPLIER)
			BAD("Invalid value at "
			    "'supervised_tuning_spec.hyper_parameters.learning_rate_multiplier': "
			    "must "
			    "be a positive number no larger than %g.",
			    MAX_MULTIPLIER);
		m->lr_multiplier = d;
	}
	m->learning_rate = m->lr_multiplier * SRV_DEFAULT_LR;
	return adapter(srv_json_field(hp, "adapterSize"), m, why, why_len);
}

static int spec(const cJSON *body, struct srv_model *m, char *why, size_t why_len)
{
	const cJSON *sp = srv_json_field(body, "supervisedTuningSpec");
	if (!cJSON_IsObject(sp))
		BAD("Invalid value at 'supervised_tuning_spec': required (this server tunes with "
		    "supervised tuning only).");
	if (srv_json_known_fields(sp, spec_fields, "supervised_tuning_spec", why, why_len))
		return -EINVAL;
	const cJSON *uri = srv_json_field(sp, "trainingDatasetUri");
	if (!cJSON_IsString(uri) || strncmp(uri->valuestring, "gs://", 5))
		BAD("Invalid value at 'supervised_tuning_spec.training_dataset_uri': a gs:// URI "
		    "of a JSONL file is required.");
	m->dataset = xstrdup(uri->valuestring);
	uri = srv_json_field(sp, "validationDatasetUri");
	if (uri && (!cJSON_IsString(uri) || strncmp(uri->valuestring, "gs://", 5)))
		BAD("Invalid value at 'supervised_tuning_spec.validation_dataset_uri': a gs:// "
		    "URI of a JSONL file is expected.");
	if (uri)
		m->validation = xstrdup(uri->valuestring);
	return hyper_parameters(srv_json_field(sp, "hyperParameters"), m, why, why_len);
}

int srv_vertex_create_request(const cJSON *body, struct srv_model *m, char *why, size_t why_len)
{
	if (!cJSON_IsObject(body))
		BAD("Invalid JSON payload received. Expected a TuningJob object.");
	if (srv_json_known_fields(body, job_fields, "", why, why_len))
		return -EINVAL;
	if (srv_json_field(body, "preTunedModel"))
		BAD("Invalid value at 'pre_tuned_model': continuous tuning is not supported by "
		    "this server; give base_model.");
	const cJSON *base = srv_json_field(body, "baseModel");
	if (!cJSON_IsString(base) || !*base->valuestring || strlen(base->valuestring) > 200)
		BAD("Invalid value at 'base_model': required, e.g. \"gemini-2.5-flash\".");
	m->base_model = xstrdup(base->valuestring);
	if (opt_string(body, "tunedModelDisplayName", MAX_DISPLAY, &m->display_name, why,
		       why_len) ||
	    opt_string(body, "description", 16384, &m->description, why, why_len) ||
	    labels(body, m, why, why_len))
		return -EINVAL;
	return spec(body, m, why, why_len);
}

/* The text parts of one Content. */
static int content_text(const cJSON *c, struct dynbuf *b)
{
	const cJSON *parts = srv_json_field(c, "parts"), *p;
	if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0)
		return -EINVAL;
	cJSON_ArrayForEach(p, parts)
	{
		const cJSON *t = srv_json_field(p, "text");
		if (!cJSON_IsString(t))
			return -EINVAL;
		dynbuf_puts(b, t->valuestring);
	}
	return 0;
}

static const char *role_of(const cJSON *c)
{
	const cJSON *r = srv_json_field(c, "role");
	return cJSON_IsString(r) ? r->valuestring : "";
}

/* One line: the last "model" turn is the output, the turn before it (a "user" one) the
 * input. */
static int one_line(const cJSON *j, struct srv_example *ex, char *why, size_t why_len)
{
	const cJSON *contents = srv_json_field(j, "contents");
	int n = cJSON_GetArraySize(contents);
	if (!cJSON_IsObject(j) || !cJSON_IsArray(contents) || n < 2)
		BAD("expected {\"contents\": [a user turn, a model turn, ...]}");
	const cJSON *out = cJSON_GetArrayItem(contents, n - 1);
	const cJSON *in = cJSON_GetArrayItem(contents, n - 2);
	if (strcmp(role_of(out), "model") || strcmp(role_of(in), "user"))
		BAD("the last two turns must have roles \"user\" then \"model\"");
	struct dynbuf a = DYNBUF_INIT, b = DYNBUF_INIT;
	if (content_text(in, &a) || content_text(out, &b) || !a.len || !b.len ||
	    a.len > MAX_INPUT || b.len > MAX_OUTPUT) {
		dynbuf_free(&a);
		dynbuf_free(&b);
		BAD("each turn needs text parts: input 1 to %d bytes, output 1 to %d", MAX_INPUT,
		    MAX_OUTPUT);
	}
	ex->input = dynbuf_take(&a, &ex->input_len);
	ex->output = dynbuf_take(&b, &ex->output_len);
	return 0;
}

int srv_vertex_dataset(const char *text, size_t len, struct srv_example **out, size_t *n_out,
		       char *why, size_t why_len)
{
	if (srv_examples_jsonl(text, len, MAX_EXAMPLES, one_line, out, n_out, why, why_len))
		return -EINVAL;
	if (!*n_out) {
		snprintf(why, why_len, "no examples in it");
		return -EINVAL;
	}
	return 0;
}
