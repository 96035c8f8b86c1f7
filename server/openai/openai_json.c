/* openai_json.c - the OpenAI family's JSON: a job as a fine_tuning.job (status, resolved
 * hyperparameters, fine_tuned_model, trained_tokens, error, metadata), the create body in
 * (method.supervised or the older top-level hyperparameters, "auto" or numbers), and chat
 * JSONL training lines (naming the line). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/openai/openai.h"

#define MAX_EPOCHS     50
#define MAX_BATCH      256
#define MAX_MULTIPLIER 1000.0
#define MAX_SUFFIX     64
#define MAX_METADATA   16
#define MAX_INPUT      40000
#define MAX_OUTPUT     5000
#define MAX_EXAMPLES   100000

#define BAD(p, ...)                                                                                \
	do {                                                                                       \
		*param = (p);                                                                      \
		snprintf(why, why_len, __VA_ARGS__);                                               \
		return -EINVAL;                                                                    \
	} while (0)

static const char *status_of(const struct srv_model *m)
{
	if (m->cancel_requested || (m->state == SRV_STATE_FAILED && m->err_code == 1))
		return "cancelled";
	switch (m->state) {
	case SRV_STATE_CREATING:
		return m->start_ns ? "running" : "queued";
	case SRV_STATE_ACTIVE:
		return "succeeded";
	default:
		return "failed";
	}
}

static void add_secs(cJSON *o, const char *key, int64_t ns)
{
	if (ns > 0)
		cJSON_AddNumberToObject(o, key, (double)(ns / 1000000000));
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *hyper_json(const struct srv_model *m)
{
	char buf[32];
	cJSON *h = cJSON_CreateObject();
	cJSON_AddNumberToObject(h, "n_epochs", m->epoch_count);
	cJSON_AddNumberToObject(h, "batch_size", m->batch_size);
	snprintf(buf, sizeof(buf), "%.7g", m->lr_multiplier);
	cJSON_AddNumberToObject(h, "learning_rate_multiplier", strtod(buf, NULL));
	return h;
}

static void error_json(cJSON *o, const struct srv_model *m)
{
	if (m->state != SRV_STATE_FAILED || m->err_code == 1) {
		cJSON_AddNullToObject(o, "error");
		return;
	}
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	int bad_file = m->err_code == 3;
	cJSON_AddStringToObject(e, "code", bad_file ? "invalid_training_file" : "server_error");
	cJSON_AddStringToObject(e, "message", m->err_msg ? m->err_msg : "fine-tuning failed");
	if (bad_file)
		cJSON_AddStringToObject(e, "param", "training_file");
	else
		cJSON_AddNullToObject(e, "param");
}

cJSON *srv_openai_job_json(const struct srv_model *m)
{
	char name[512];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "object", "fine_tuning.job");
	cJSON_AddStringToObject(o, "id", m->id);
	cJSON_AddStringToObject(o, "model", m->base_model ? m->base_model : "");
	add_secs(o, "created_at", m->create_ns);
	add_secs(o, "finished_at", m->state == SRV_STATE_CREATING ? 0 : m->complete_ns);
	if (m->state == SRV_STATE_ACTIVE) {
		srv_openai_model_name(m, name, sizeof(name));
		cJSON_AddStringToObject(o, "fine_tuned_model", name);
		cJSON_AddNumberToObject(o, "trained_tokens",
					(double)(m->data_bytes * m->epoch_count));
	} else {
		cJSON_AddNullToObject(o, "fine_tuned_model");
		cJSON_AddNullToObject(o, "trained_tokens");
	}
	cJSON_AddStringToObject(o, "organization_id", SRV_OPENAI_OWNER);
	cJSON_AddArrayToObject(o, "result_files");
	cJSON_AddStringToObject(o, "status", status_of(m));
	if (m->validation)
		cJSON_AddStringToObject(o, "validation_file", m->validation);
	else
		cJSON_AddNullToObject(o, "validation_file");
	cJSON_AddStringToObject(o, "training_file", m->dataset ? m->dataset : "");
	cJSON_AddItemToObject(o, "hyperparameters", hyper_json(m));
	error_json(o, m);
	if (m->display_name)
		cJSON_AddStringToObject(o, "user_provided_suffix", m->display_name);
	else
		cJSON_AddNullToObject(o, "user_provided_suffix");
	cJSON_AddNumberToObject(o, "seed", (double)m->seed);
	cJSON_AddNullToObject(o, "estimated_finish");
	cJSON_AddArrayToObject(o, "integrations");
	if (m->n_labels) {
		cJSON *md = cJSON_AddObjectToObject(o, "metadata");
		for (size_t i = 0; i < m->n_labels; i++)
			cJSON_AddStringToObject(md, m->labels[i].key, m->labels[i].value);
	} else {
		cJSON_AddNullToObject(o, "metadata");
	}
	cJSON *method = cJSON_AddObjectToObject(o, "method");
	cJSON_AddStringToObject(method, "type", "supervised");
	cJSON *sup = cJSON_AddObjectToObject(method, "supervised");
	cJSON_AddItemToObject(sup, "hyperparameters", hyper_json(m));
	return o;
}

/* A hyperparameter given as "auto" (or absent: *v untouched, 0) or a number (1). */
static int auto_or_number(const cJSON *h, const char *key, double *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(h, key);
	if (!it || cJSON_IsNull(it) || (cJSON_IsString(it) && !strcmp(it->valuestring, "auto")))
		return 0;
	if (!cJSON_IsNumber(it))
		return -EINVAL;
	*v = it->valuedouble;
	return 1;
}

static int hyperparameters(const cJSON *h, struct srv_model *m, char *why, size_t why_len,
			   const char **param)
{
	double e = 0, b = 0, lr = 0;
	int he = auto_or_number(h, "n_epochs", &e);
	int hb = auto_or_number(h, "batch_size", &b);
	int hl = auto_or_number(h, "learning_rate_multiplier", &lr);
	if (h && !cJSON_IsNull(h) && !cJSON_IsObject(h))
		BAD("hyperparameters", "hyperparameters must be an object.");
	/* the range first: a cast of a number outside int's is undefined */
	if (he < 0 || (he && (!(e >= 1 && e <= MAX_EPOCHS) || e != (int)e)))
		BAD("hyperparameters.n_epochs",
		    "n_epochs must be \"auto\" or an integer in [1, %d].", MAX_EPOCHS);
	if (hb < 0 || (hb && (!(b >= 1 && b <= MAX_BATCH) || b != (int)b)))
		BAD("hyperparameters.batch_size",
		    "batch_size must be \"auto\" or an integer in [1, %d].", MAX_BATCH);
	if (hl < 0 || (hl && !(lr > 0 && lr <= MAX_MULTIPLIER)))
		BAD("hyperparameters.learning_rate_multiplier",
		    "learning_rate_multiplier must be \"auto\" or a positive number up to %g.",
		    MAX_MULTIPLIER);
	m->epoch_count = he ? (int)e : 0; /* 0: auto, settled once the file is read */
	m->batch_size = hb ? (int)b : 0;
	m->lr_multiplier = hl ? lr : 1;
	m->learning_rate = m->lr_multiplier * SRV_DEFAULT_LR;
	return 0;
}

static int metadata(const cJSON *md, struct srv_model *m, char *why, size_t why_len,
		    const char **param)
{
	struct srv_kv kv[MAX_METADATA];
	size_t n = 0;
	const cJSON *it;
	if (!md || cJSON_IsNull(md))
		return 0;
	if (!cJSON_IsObject(md) || cJSON_GetArraySize(md) > MAX_METADATA)
		BAD("metadata", "metadata must be an object of at most %d string values.",
		    MAX_METADATA);
	cJSON_ArrayForEach(it, md)
	{
		if (!cJSON_IsString(it) || strlen(it->string) > 64 || strlen(it->valuestring) > 512)
			BAD("metadata",
			    "metadata keys are at most 64 characters and values strings "
			    "of at most 512.");
		kv[n].key = it->string;
		kv[n++].value = it->valuestring;
	}
	srv_model_set_labels(m, kv, n);
	return 0;
}

static const char *const create_fields[] = {
    "model",  "training_file", "validation_file", "hyperparameters", "method",
    "suffix", "seed",	       "metadata",	  "integrations",    NULL};

int srv_openai_create_request(const cJSON *body, struct srv_model *m, char *why, size_t why_len,
			      const char **param)
{
	*param = NULL;
	if (!cJSON_IsObject(body))
		BAD(NULL, "Expected a JSON object.");
	for (const cJSON *it = body->child; it; it = it->next) {
		size_t i = 0;
		while (create_fields[i] && strcmp(create_fields[i], it->string))
			i++;
		if (!create_fields[i])
			BAD(it->string, "Unrecognized request argument supplied: %.64s",
			    it->string);
	}
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(body, "training_file");
	if (!cJSON_IsString(model) || !*model->valuestring)
		BAD("model", "Missing required parameter: 'model'.");
	if (!cJSON_IsString(file) || !*file->valuestring)
		BAD("training_file", "Missing required parameter: 'training_file'.");
	m->base_model = xstrdup(model->valuestring);
	m->dataset = xstrdup(file->valuestring);
	const cJSON *vfile = cJSON_GetObjectItemCaseSensitive(body, "validation_file");
	if (vfile && !cJSON_IsNull(vfile) && (!cJSON_IsString(vfile) || !*vfile->valuestring))
		BAD("validation_file", "validation_file must be a file id.");
	if (cJSON_IsString(vfile))
		m->validation = xstrdup(vfile->valuestring);
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(body, "method");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(body, "hyperparameters");
	if (method && !cJSON_IsNull(method)) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(method, "type");
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "supervised"))
			BAD("method.type",
			    "Only the supervised method is supported by this server.");
		h = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(method, "supervised"), "hyperparameters");
	}
	if (hyperparameters(h, m, why, why_len, param))
		return -EINVAL;
	const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(body, "suffix");
	if (suffix && !cJSON_IsNull(suffix)) {
		size_t n = cJSON_IsString(suffix) ? strlen(suffix->valuestring) : 0;
		if (!n || n > MAX_SUFFIX || strchr(suffix->valuestring, ':'))
			BAD("suffix", "suffix must be 1 to %d characters without ':'.", MAX_SUFFIX);
		m->display_name = xstrdup(suffix->valuestring);
	}
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(body, "seed");
	if (seed && !cJSON_IsNull(seed)) {
		if (!cJSON_IsNumber(seed) || seed->valuedouble < 0 ||
		    seed->valuedouble > 2147483647)
			BAD("seed", "seed must be an integer in [0, 2147483647].");
		m->seed = (uint64_t)seed->valuedouble;
	}
	return metadata(cJSON_GetObjectItemCaseSensitive(body, "metadata"), m, why, why_len, param);
}

/* A message's text: a string, or an array of {"type": "text", "text": ...} parts. */
static int message_text(const cJSON *msg, struct dynbuf *b)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content"), *p;
	if (cJSON_IsString(c)) {
		dynbuf_puts(b, c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return -EINVAL;
	cJSON_ArrayForEach(p, c)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
		if (!cJSON_IsString(t))
			return -EINVAL;
		dynbuf_puts(b, t->valuestring);
	}
	return 0;
}

static const char *role_of(const cJSON *msg)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(msg, "role");
	return cJSON_IsString(r) ? r->valuestring : "";
}

/* One line: the last assistant message is the output, the user message before it the
 * input. */
static int one_line(const cJSON *j, struct srv_example *ex, char *why, size_t why_len)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
	int n = cJSON_GetArraySize(msgs);
	if (!cJSON_IsObject(j) || !cJSON_IsArray(msgs) || n < 2) {
		snprintf(why, why_len,
			 "expected {\"messages\": [..., a user message, an assistant "
			 "message]}");
		return -EINVAL;
	}
	const cJSON *out = cJSON_GetArrayItem(msgs, n - 1), *in = cJSON_GetArrayItem(msgs, n - 2);
	struct dynbuf a = DYNBUF_INIT, b = DYNBUF_INIT;
	int rc = -EINVAL;
	if (strcmp(role_of(out), "assistant") || strcmp(role_of(in), "user"))
		snprintf(why, why_len, "the last two messages must have roles user then assistant");
	else if (message_text(in, &a) || message_text(out, &b) || !a.len || !b.len ||
		 a.len > MAX_INPUT || b.len > MAX_OUTPUT)
		snprintf(why, why_len,
			 "messages need text content: input 1 to %d bytes, output "
			 "1 to %d",
			 MAX_INPUT, MAX_OUTPUT);
	else
		rc = 0;
	if (rc) {
		dynbuf_free(&a);
		dynbuf_free(&b);
		return rc;
	}
	ex->input = dynbuf_take(&a, &ex->input_len);
	ex->output = dynbuf_take(&b, &ex->output_len);
	return 0;
}

int srv_openai_dataset(const char *text, size_t len, struct srv_example **out, size_t *n_out,
		       char *why, size_t why_len)
{
	if (srv_examples_jsonl(text, len, MAX_EXAMPLES, one_line, out, n_out, why, why_len))
		return -EINVAL;
	if (!*n_out) {
		snprintf(why, why_len, "the file holds no examples");
		return -EINVAL;
	}
	return 0;
}
