/* openai_json.c - OpenAI fine-tuning's JSON: a fine_tuning.job read into the neutral
 * tuned_model, the create body, the training data as chat lines, and progress from events
 * and checkpoints. No I/O; chat completions are openai_chat.c's. */
#include "api/openai_internal.h"
#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "base/num.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *oj_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *oj_str(const cJSON *o, const char *key)
{
	const cJSON *v = oj_get(o, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static char *oj_dup(const cJSON *o, const char *key)
{
	const char *s = oj_str(o, key);
	return s ? xstrdup(s) : NULL;
}

/* A number, or 0 when absent or "auto". */
static double oj_num(const cJSON *o, const char *key)
{
	const cJSON *v = oj_get(o, key);
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : 0;
}

long openai_json_count(const cJSON *o, const char *key)
{
	const cJSON *v = oj_get(o, key);
	long n;

	return cJSON_IsNumber(v) && num_count(v->valuedouble, &n) ? n : -1;
}

/* A time in seconds since the epoch, or 0 when absent or not one. */
static time_t oj_time(const cJSON *o, const char *key)
{
	long t;

	return num_count(oj_num(o, key), &t) ? (time_t)t : 0;
}

static int oj_int(const cJSON *o, const char *key)
{
	double d = oj_num(o, key);
	return d > 0 && d < 2e9 ? (int)d : 0;
}

static void oj_check(const void *p)
{
	if (!p)
		xalloc_die(0);
}

int openai_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64 || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static enum backend_state oj_state(const char *s, int *failed)
{
	*failed = 0;
	if (!s)
		return BACKEND_STATE_UNKNOWN;
	if (!strcmp(s, "validating_files") || !strcmp(s, "queued") || !strcmp(s, "running") ||
	    !strcmp(s, "pausing") || !strcmp(s, "paused") || !strcmp(s, "cancelling"))
		return BACKEND_CREATING;
	if (!strcmp(s, "succeeded"))
		return BACKEND_ACTIVE;
	if (!strcmp(s, "failed") || !strcmp(s, "cancelled")) {
		*failed = 1;
		return BACKEND_FAILED;
	}
	return BACKEND_STATE_UNKNOWN;
}

/* The suffix of "ft:BASE:ORG:SUFFIX:ID", or NULL. Heap. */
static char *oj_model_suffix(const char *model)
{
	const char *p = model, *f[5];
	int n = 0;

	if (!model || strncmp(model, "ft:", 3) != 0)
		return NULL;
	for (; *p && n < 5; p++)
		if (*p == ':')
			f[n++] = p;
	if (n != 4 || f[3] - f[2] <= 1)
		return NULL;
	return xstrndup(f[2] + 1, (size_t)(f[3] - f[2] - 1));
}

/* The directory name: our metadata, else the suffix, else the job's id. */
static char *oj_name(const cJSON *job, const char *id)
{
	const char *meta = oj_str(oj_get(job, "metadata"), OPENAI_NAME_KEY);
	const char *suffix = oj_str(job, "user_provided_suffix");
	char *from_model = oj_model_suffix(oj_str(job, "fine_tuned_model"));

	if (openai_name_ok(meta)) {
		free(from_model);
		return xstrdup(meta);
	}
	if (openai_name_ok(suffix)) {
		free(from_model);
		return xstrdup(suffix);
	}
	if (openai_name_ok(from_model))
		return from_model;
	free(from_model);
	return openai_name_ok(id) ? xstrdup(id) : NULL;
}

static void oj_settings(const cJSON *job, struct tuned_model *m)
{
	const cJSON *hp = oj_get(oj_get(oj_get(job, "method"), "supervised"), "hyperparameters");

	if (!cJSON_IsObject(hp))
		hp = oj_get(job, "hyperparameters");
	m->settings.epochs = oj_int(hp, "n_epochs");
	m->settings.batch_size = oj_int(hp, "batch_size");
	m->settings.learning_rate_multiplier = oj_num(hp, "learning_rate_multiplier");
}

static char *oj_failure(const cJSON *job, const char *status)
{
	const char *why = oj_str(oj_get(job, "error"), "message");

	if (why)
		return xstrdup(why);
	if (status && !strcmp(status, "cancelled"))
		return xstrdup("the fine-tuning job was cancelled");
	return xstrdup("the fine-tuning job failed without a reason given");
}

static int oj_job(const cJSON *job, const char *raw, size_t len, struct tuned_model *m)
{
	const char *id = oj_str(job, "id"), *status = oj_str(job, "status");
	time_t created = oj_time(job, "created_at"), finished = oj_time(job, "finished_at");
	int failed;

	memset(m, 0, sizeof(*m));
	m->percent = -1;
	if (!cJSON_IsObject(job) || !id || !(m->id = oj_name(job, id)))
		return -EINVAL;
	m->job = xstrdup(id);
	m->state = oj_state(status, &failed);
	m->endpoint = oj_dup(job, "fine_tuned_model");
	m->version = xasprintf("%s %ld %s", status ? status : "", (long)finished,
			       m->endpoint ? m->endpoint : "");
	m->display_name = oj_dup(job, "user_provided_suffix");
	m->base_model = oj_dup(job, "model");
	m->created = created;
	m->updated = finished > 0 ? finished : created;
	oj_settings(job, m);
	if (m->state == BACKEND_ACTIVE)
		m->percent = 100;
	if (failed)
		m->failure = oj_failure(job, status);
	m->raw_json = raw && !memchr(raw, '\0', len) ? xstrndup(raw, len) : NULL;
	if (!m->raw_json)
		oj_check(m->raw_json = cJSON_PrintUnformatted(job));
	return 0;
}

int openai_parse_job(const char *json, size_t len, struct tuned_model *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	int rc = oj_job(root, json, len, out);

	if (rc < 0)
		tuned_model_clear(out);
	cJSON_Delete(root);
	return rc;
}

int openai_parse_page(const char *json, size_t len, struct model_page *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *data = oj_get(root, "data"), *j, *last = NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root) || !cJSON_IsArray(data)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	out->v = xcalloc((size_t)cJSON_GetArraySize(data) + 1, sizeof(*out->v));
	cJSON_ArrayForEach(j, data)
	{
		char *one = cJSON_PrintUnformatted(j); /* model.json shows the job, not the page */
		oj_check(one);
		if (oj_job(j, one, strlen(one), &out->v[n]) == 0)
			n++;
		else
			tuned_model_clear(&out->v[n]);
		free(one);
		last = j;
	}
	out->n = n;
	if (cJSON_IsTrue(oj_get(root, "has_more")) && last && oj_str(last, "id"))
		out->next = xstrdup(oj_str(last, "id"));
	cJSON_Delete(root);
	return 0;
}

char *openai_job_string(const char *raw_json, const char *key, int meta)
{
	cJSON *root = raw_json ? cJSON_Parse(raw_json) : NULL;
	char *s = oj_dup(meta ? oj_get(root, "metadata") : root, key);

	cJSON_Delete(root);
	return s;
}

char *openai_create_body(const struct tuning_request *r, const char *file_id, const char *digest)
{
	return openai_create_body_val(r, file_id, NULL, digest);
}

char *openai_create_body_val(const struct tuning_request *r, const char *file_id,
			     const char *validation_id, const char *digest)
{
	cJSON *root = cJSON_CreateObject(), *md, *method, *sup, *hp;
	const char *base = r->base_model ? r->base_model : "";
	char *s;

	oj_check(root);
	if (!strncmp(base, "models/", 7))
		base += 7; /* the config's Gemini spelling */
	oj_check(cJSON_AddStringToObject(root, "model", base));
	oj_check(cJSON_AddStringToObject(root, "training_file", file_id));
	if (validation_id)
		oj_check(cJSON_AddStringToObject(root, "validation_file", validation_id));
	oj_check(cJSON_AddStringToObject(root, "suffix", r->id));
	oj_check(md = cJSON_AddObjectToObject(root, "metadata"));
	oj_check(cJSON_AddStringToObject(md, OPENAI_NAME_KEY, r->id));
	oj_check(cJSON_AddStringToObject(md, OPENAI_DATA_KEY, digest));
	oj_check(method = cJSON_AddObjectToObject(root, "method"));
	oj_check(cJSON_AddStringToObject(method, "type", "supervised"));
	oj_check(sup = cJSON_AddObjectToObject(method, "supervised"));
	oj_check(hp = cJSON_AddObjectToObject(sup, "hyperparameters"));
	if (r->settings.epochs > 0)
		oj_check(cJSON_AddNumberToObject(hp, "n_epochs", r->settings.epochs));
	if (r->settings.batch_size > 0)
		oj_check(cJSON_AddNumberToObject(hp, "batch_size", r->settings.batch_size));
	if (r->settings.learning_rate_multiplier > 0)
		oj_check(cJSON_AddNumberToObject(hp, "learning_rate_multiplier",
						 r->settings.learning_rate_multiplier));
	oj_check(s = cJSON_PrintUnformatted(root));
	cJSON_Delete(root);
	return s;
}

static void oj_message(cJSON *messages, const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();

	oj_check(m);
	oj_check(cJSON_AddStringToObject(m, "role", role));
	oj_check(cJSON_AddStringToObject(m, "content", text ? text : ""));
	cJSON_AddItemToArray(messages, m);
}

/* A native line: {"messages": [...]} whose every message has a known role and content. */
static int oj_native_ok(const cJSON *o)
{
	const cJSON *msgs = oj_get(o, "messages"), *m;
	int assistant = 0;

	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) < 2)
		return 0;
	cJSON_ArrayForEach(m, msgs)
	{
		const char *role = oj_str(m, "role");
		const cJSON *content = oj_get(m, "content");
		if (!role ||
		    (strcmp(role, "system") && strcmp(role, "developer") && strcmp(role, "user") &&
		     strcmp(role, "assistant") && strcmp(role, "tool")))
			return 0;
		if (!cJSON_IsString(content) && !cJSON_IsArray(content) && !oj_get(m, "tool_calls"))
			return 0;
		assistant |= !strcmp(role, "assistant");
	}
	return assistant;
}

static char *oj_line(const struct tuning_request *r, const struct tuning_example *ex, char *why,
		     size_t why_len, const char *where)
{
	cJSON *o;
	char *s;

	if (ex->native) {
		o = cJSON_Parse(ex->native);
		if (!oj_native_ok(o)) {
			snprintf(why, why_len,
				 "%s: a native line needs a \"messages\" array of {\"role\", "
				 "\"content\"} objects with an assistant answer",
				 where);
			cJSON_Delete(o);
			return NULL;
		}
	} else {
		cJSON *messages;
		oj_check(o = cJSON_CreateObject());
		oj_check(messages = cJSON_AddArrayToObject(o, "messages"));
		if (r->system_instruction)
			oj_message(messages, "system", r->system_instruction);
		oj_message(messages, "user", ex->input);
		oj_message(messages, "assistant", ex->output);
	}
	oj_check(s = cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
	return s;
}

static int oj_lines(const struct tuning_request *r, const struct tuning_example *ex, size_t n,
		    const char *file, char **out, size_t *len, char *why, size_t why_len)
{
	struct dynbuf b = DYNBUF_INIT;
	char where[300];

	for (size_t i = 0; i < n; i++) {
		tuning_example_where(&ex[i], i, file, where, sizeof where);
		char *line = oj_line(r, &ex[i], why, why_len, where);
		if (!line) {
			dynbuf_free(&b);
			return -EINVAL;
		}
		dynbuf_puts(&b, line);
		dynbuf_puts(&b, "\n");
		free(line);
	}
	*out = dynbuf_take(&b, len);
	return 0;
}

int openai_training_lines(const struct tuning_request *r, char **out, size_t *len, char *why,
			  size_t why_len)
{
	return oj_lines(r, r->examples, r->n_examples, "examples.jsonl", out, len, why, why_len);
}

int openai_validation_lines(const struct tuning_request *r, char **out, size_t *len, char *why,
			    size_t why_len)
{
	return oj_lines(r, r->validation, r->n_validation,
			r->validation_file ? r->validation_file : "validation_examples", out, len,
			why, why_len);
}

static void oj_add_snapshot(struct tuned_model *m, int step, double loss, time_t at)
{
	struct tuning_snapshot *s;

	if (step <= 0)
		return;
	m->snapshots = xrealloc(m->snapshots, (m->n_snapshots + 1) * sizeof(*m->snapshots));
	s = &m->snapshots[m->n_snapshots++];
	memset(s, 0, sizeof(*s));
	s->step = step;
	s->mean_loss = loss;
	s->at = at;
}

/* The validation loss metrics report (valid_loss, or full_valid_loss over the whole set)
 * kept with the snapshot of that step. */
static void oj_valid_loss(struct tuned_model *m, int step, const cJSON *metrics)
{
	const cJSON *v = oj_get(metrics, "full_valid_loss");

	if (!cJSON_IsNumber(v))
		v = oj_get(metrics, "valid_loss");
	if (!cJSON_IsNumber(v))
		return;
	for (size_t i = m->n_snapshots; i-- > 0;)
		if (m->snapshots[i].step == step) {
			m->snapshots[i].has_valid_loss = 1;
			m->snapshots[i].valid_loss = v->valuedouble;
			return;
		}
}

/* The validation losses as progress lines, "evaluation step S valid_loss L". */
static void oj_evaluation(struct tuned_model *m)
{
	struct dynbuf b = DYNBUF_INIT;

	for (size_t i = 0; i < m->n_snapshots; i++)
		if (m->snapshots[i].has_valid_loss)
			dynbuf_printf(&b, "evaluation step %d valid_loss %.6f\n",
				      m->snapshots[i].step, m->snapshots[i].valid_loss);
	free(m->evaluation);
	m->evaluation = b.len ? dynbuf_take(&b, NULL) : NULL;
	dynbuf_free(&b);
}

int openai_parse_events(const char *json, size_t len, const char *known, struct tuned_model *m,
			int *more, char **last, char **first)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *data = oj_get(root, "data"), *ev, *tail = NULL;
	int met = 0;

	*more = 0;
	*last = NULL;
	if (!cJSON_IsArray(data)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(ev, data)
	{
		const cJSON *d = oj_get(ev, "data");
		const char *type = oj_str(ev, "type"), *id = oj_str(ev, "id");
		if (id && known && !strcmp(id, known)) {
			met = 1; /* this one and all older were read before */
			break;
		}
		if (id && first && !*first)
			*first = xstrdup(id);
		tail = ev;
		if (!type || strcmp(type, "metrics") || !cJSON_IsNumber(oj_get(d, "step")))
			continue;
		if (oj_int(d, "total_steps") > m->total_steps)
			m->total_steps = oj_int(d, "total_steps");
		oj_add_snapshot(m, oj_int(d, "step"), oj_num(d, "train_loss"),
				oj_time(ev, "created_at"));
		oj_valid_loss(m, oj_int(d, "step"), d);
	}
	if (!met && tail && oj_str(tail, "id") && cJSON_IsTrue(oj_get(root, "has_more"))) {
		*more = 1;
		*last = xstrdup(oj_str(tail, "id"));
	}
	cJSON_Delete(root);
	return 0;
}

int openai_parse_checkpoints(const char *json, size_t len, struct tuned_model *m)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *data = oj_get(root, "data"), *c;

	if (!cJSON_IsArray(data)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(c, data)
	{
		const cJSON *metrics = oj_get(c, "metrics");
		int step = oj_int(c, "step_number"), known = 0;
		for (size_t i = 0; i < m->n_snapshots; i++)
			known |= m->snapshots[i].step == step;
		if (!known)
			oj_add_snapshot(m, step, oj_num(metrics, "train_loss"),
					oj_time(c, "created_at"));
		oj_valid_loss(m, step, metrics);
		if (step > m->total_steps && m->state == BACKEND_ACTIVE)
			m->total_steps = step;
	}
	cJSON_Delete(root);
	return 0;
}

static int oj_by_step(const void *a, const void *b)
{
	const struct tuning_snapshot *x = a, *y = b;
	return (x->step > y->step) - (x->step < y->step);
}

void openai_finish_progress(struct tuned_model *m)
{
	size_t n = 0;
	int per_epoch = 0;

	if (m->n_snapshots > 1)
		qsort(m->snapshots, m->n_snapshots, sizeof(*m->snapshots), oj_by_step);
	for (size_t i = 0; i < m->n_snapshots; i++)
		if (n == 0 || m->snapshots[n - 1].step != m->snapshots[i].step)
			m->snapshots[n++] = m->snapshots[i];
		else if (m->snapshots[i].has_valid_loss)
			m->snapshots[n - 1] = m->snapshots[i];
	m->n_snapshots = n;
	oj_evaluation(m);
	if (m->settings.epochs > 0 && m->total_steps >= m->settings.epochs)
		per_epoch = m->total_steps / m->settings.epochs;
	for (size_t i = 0; i < n; i++)
		m->snapshots[i].epoch =
		    per_epoch ? (m->snapshots[i].step + per_epoch - 1) / per_epoch : 0;
	m->completed_steps = n ? m->snapshots[n - 1].step : 0;
	if (m->state == BACKEND_ACTIVE && m->total_steps > 0)
		m->completed_steps = m->total_steps;
	m->completed_epochs = per_epoch ? m->completed_steps / per_epoch : 0;
	/* a service that reports more steps done than it has in all is believed on the
	 * steps: progress never above 100 % */
	if (m->total_steps > 0 && m->completed_steps > m->total_steps)
		m->total_steps = m->completed_steps;
	if (m->state == BACKEND_ACTIVE)
		m->percent = 100;
	else if (m->total_steps > 0)
		m->percent = 100.0 * m->completed_steps / m->total_steps;
}
