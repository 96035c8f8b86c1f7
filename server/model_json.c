/* model_json.c - TunedModel / Operation JSON of tunedfs-server, both ways.
 * Parsing helpers are in json_util.c; files and locking in store.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/model_json.h"

static const char *const state_names[] = {"STATE_UNSPECIFIED", "CREATING", "ACTIVE", "FAILED"};

void srv_examples_free(struct srv_example *ex, size_t n)
{
	for (size_t i = 0; ex && i < n; i++) {
		free(ex[i].input);
		free(ex[i].output);
	}
	free(ex);
}

int srv_total_steps(long n_examples, int epochs, int batch)
{
	if (n_examples <= 0 || epochs <= 0 || batch <= 0)
		return 0;
	long long work = (long long)n_examples * epochs;
	long long steps = (work + batch - 1) / batch;
	return steps > 0x7fffffff ? 0x7fffffff : (int)steps;
}

static void add_time(cJSON *o, const char *key, int64_t ns)
{
	char buf[48];
	if (ns <= 0)
		return;
	srv_json_time(ns, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

/* Floats go out rounded to single precision, as the service's float fields do. */
static void add_float(cJSON *o, const char *key, double v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.7g", v);
	cJSON_AddNumberToObject(o, key, strtod(buf, NULL));
}

static cJSON *snapshots_json(const struct srv_model *m)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < m->n_snaps; i++) {
		const struct srv_snapshot *s = &m->snaps[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "step", s->step);
		if (s->epoch)
			cJSON_AddNumberToObject(o, "epoch", s->epoch);
		add_float(o, "meanLoss", s->mean_loss);
		add_time(o, "computeTime", s->compute_ns);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *tuning_task_json(const struct srv_model *m)
{
	cJSON *t = cJSON_CreateObject();
	add_time(t, "startTime", m->start_ns);
	add_time(t, "completeTime", m->complete_ns);
	if (m->n_snaps)
		cJSON_AddItemToObject(t, "snapshots", snapshots_json(m));
	cJSON *h = cJSON_AddObjectToObject(t, "hyperparameters");
	if (m->lr_multiplier > 0)
		add_float(h, "learningRateMultiplier", m->lr_multiplier);
	else
		add_float(h, "learningRate", m->learning_rate);
	cJSON_AddNumberToObject(h, "epochCount", m->epoch_count);
	cJSON_AddNumberToObject(h, "batchSize", m->batch_size);
	return t;
}

/* type, when set, leads the object as the "@type" of an Any. */
static cJSON *model_json(const struct srv_model *m, int flags, const char *type)
{
	char name[80];
	cJSON *o = cJSON_CreateObject();
	if (type)
		cJSON_AddStringToObject(o, "@type", type);
	snprintf(name, sizeof(name), "tunedModels/%s", m->id);
	cJSON_AddStringToObject(o, "name", name);
	if (m->source_model) {
		cJSON *src = cJSON_AddObjectToObject(o, "tunedModelSource");
		cJSON_AddStringToObject(src, "tunedModel", m->source_model);
		if (m->base_model)
			cJSON_AddStringToObject(src, "baseModel", m->base_model);
	} else if (m->base_model) {
		cJSON_AddStringToObject(o, "baseModel", m->base_model);
	}
	if (m->display_name && *m->display_name)
		cJSON_AddStringToObject(o, "displayName", m->display_name);
	if (m->description && *m->description)
		cJSON_AddStringToObject(o, "description", m->description);
	if (m->has_temperature)
		add_float(o, "temperature", m->temperature);
	if (m->has_top_p)
		add_float(o, "topP", m->top_p);
	if (m->has_top_k)
		cJSON_AddNumberToObject(o, "topK", m->top_k);
	if (m->state != SRV_STATE_UNSPECIFIED)
		cJSON_AddStringToObject(o, "state", state_names[m->state]);
	add_time(o, "createTime", m->create_ns);
	add_time(o, "updateTime", m->update_ns);
	cJSON_AddItemToObject(o, "tuningTask", tuning_task_json(m));
	if (flags & SRV_JSON_STORED) {
		char seq[32];
		cJSON *x = cJSON_AddObjectToObject(o, "tunedfsServer");
		snprintf(seq, sizeof(seq), "%" PRIu64, m->seq);
		cJSON_AddStringToObject(x, "seq", seq);
		cJSON_AddStringToObject(x, "operation", m->op_id);
		cJSON_AddNumberToObject(x, "examples", (double)m->n_examples);
		cJSON_AddNumberToObject(x, "totalSteps", m->total_steps);
		cJSON_AddNumberToObject(x, "completedSteps", m->completed_steps);
		add_float(x, "learningRate", m->learning_rate);
	}
	return o;
}

cJSON *srv_json_model(const struct srv_model *m, int flags)
{
	return model_json(m, flags, NULL);
}

const char *srv_json_model_text(struct srv_model *m, size_t *len)
{
	if (!m->wire_cache || m->cache_update_ns != m->update_ns || m->cache_snaps != m->n_snaps ||
	    m->cache_state != m->state) {
		cJSON *o = model_json(m, SRV_JSON_WIRE, NULL);
		free(m->wire_cache);
		m->wire_cache = srv_json_print(o);
		m->wire_len = strlen(m->wire_cache);
		cJSON_Delete(o);
		m->cache_update_ns = m->update_ns;
		m->cache_snaps = m->n_snaps;
		m->cache_state = m->state;
	}
	*len = m->wire_len;
	return m->wire_cache;
}

cJSON *srv_json_operation(const struct srv_model *m)
{
	char name[128];
	cJSON *o = cJSON_CreateObject();
	snprintf(name, sizeof(name), "tunedModels/%s/operations/%s", m->id, m->op_id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON *md = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(md, "@type", SRV_TYPE_PREFIX "CreateTunedModelMetadata");
	snprintf(name, sizeof(name), "tunedModels/%s", m->id);
	cJSON_AddStringToObject(md, "tunedModel", name);
	cJSON_AddNumberToObject(md, "totalSteps", m->total_steps);
	if (m->completed_steps > 0) {
		cJSON_AddNumberToObject(md, "completedSteps", m->completed_steps);
		double pct = m->total_steps ? 100.0 * m->completed_steps / m->total_steps : 0;
		add_float(md, "completedPercent", pct);
	}
	if (m->n_snaps)
		cJSON_AddItemToObject(md, "snapshots", snapshots_json(m));
	if (m->state == SRV_STATE_ACTIVE) {
		cJSON_AddBoolToObject(o, "done", 1);
		cJSON *r = model_json(m, SRV_JSON_WIRE, SRV_TYPE_PREFIX "TunedModel");
		cJSON_AddItemToObject(o, "response", r);
	} else if (m->state == SRV_STATE_FAILED) {
		cJSON_AddBoolToObject(o, "done", 1);
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", m->err_code ? m->err_code : 13);
		cJSON_AddStringToObject(e, "message", m->err_msg ? m->err_msg : "tuning failed");
	}
	return o;
}

static char *dup_field(const cJSON *obj, const char *camel)
{
	const cJSON *it = srv_json_field(obj, camel);
	return cJSON_IsString(it) ? xstrdup(it->valuestring) : NULL;
}

static int64_t time_field(const cJSON *obj, const char *camel)
{
	const cJSON *it = srv_json_field(obj, camel);
	int64_t ns = 0;
	if (cJSON_IsString(it) && srv_json_parse_time(it->valuestring, &ns) == 0)
		return ns;
	return 0;
}

static int int_field(const cJSON *obj, const char *camel, int64_t *v)
{
	return srv_json_int(srv_json_field(obj, camel), v);
}

static void load_snapshots(const cJSON *arr, struct srv_model *m)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, arr)
	{
		struct srv_snapshot snap = {0};
		int64_t v;
		double d;
		if (int_field(s, "step", &v) == 0)
			snap.step = (int)v;
		if (int_field(s, "epoch", &v) == 0)
			snap.epoch = (int)v;
		if (srv_json_double(srv_json_field(s, "meanLoss"), &d) == 0)
			snap.mean_loss = d;
		snap.compute_ns = time_field(s, "computeTime");
		srv_model_add_snapshot(m, &snap);
	}
}

static int sampling_json_load(const cJSON *model, struct srv_model *m)
{
	double d;
	int64_t v;
	if (srv_json_double(srv_json_field(model, "temperature"), &d) == 0) {
		m->has_temperature = 1;
		m->temperature = d;
	}
	if (srv_json_double(srv_json_field(model, "topP"), &d) == 0) {
		m->has_top_p = 1;
		m->top_p = d;
	}
	if (int_field(model, "topK", &v) == 0) {
		m->has_top_k = 1;
		m->top_k = (int)v;
	}
	return 0;
}

static enum srv_state state_of(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && !strcmp(s, state_names[i]))
			return (enum srv_state)i;
	return SRV_STATE_UNSPECIFIED;
}

static void load_hyperparameters(const cJSON *h, struct srv_model *m)
{
	int64_t v;
	double d;
	if (int_field(h, "epochCount", &v) == 0)
		m->epoch_count = (int)v;
	if (int_field(h, "batchSize", &v) == 0)
		m->batch_size = (int)v;
	if (srv_json_double(srv_json_field(h, "learningRate"), &d) == 0)
		m->learning_rate = d;
	if (srv_json_double(srv_json_field(h, "learningRateMultiplier"), &d) == 0) {
		m->lr_multiplier = d;
		m->learning_rate = d * SRV_DEFAULT_LR;
	}
}

int srv_json_model_load(const cJSON *model, const cJSON *op, struct srv_model *m)
{
	const cJSON *name = srv_json_field(model, "name");
	const cJSON *x = srv_json_field(model, "tunedfsServer");
	int64_t v;
	if (!cJSON_IsString(name) || strncmp(name->valuestring, "tunedModels/", 12) != 0 ||
	    strlen(name->valuestring + 12) >= sizeof(m->id) || !cJSON_IsObject(x))
		return -EINVAL;
	snprintf(m->id, sizeof(m->id), "%s", name->valuestring + 12);
	const cJSON *opid = srv_json_field(x, "operation");
	/* seq counts from 1; what srv_json_model writes must read back the same. */
	if (!cJSON_IsString(opid) || strlen(opid->valuestring) >= sizeof(m->op_id) ||
	    int_field(x, "seq", &v) || v < 1)
		return -EINVAL;
	m->seq = (uint64_t)v;
	snprintf(m->op_id, sizeof(m->op_id), "%s", opid->valuestring);
	const cJSON *src = srv_json_field(model, "tunedModelSource");
	m->source_model = dup_field(src, "tunedModel");
	m->base_model = src ? dup_field(src, "baseModel") : dup_field(model, "baseModel");
	m->display_name = dup_field(model, "displayName");
	m->description = dup_field(model, "description");
	if (sampling_json_load(model, m))
		return -EINVAL;
	const cJSON *st = srv_json_field(model, "state");
	m->state = state_of(cJSON_IsString(st) ? st->valuestring : NULL);
	m->create_ns = time_field(model, "createTime");
	m->update_ns = time_field(model, "updateTime");
	const cJSON *task = srv_json_field(model, "tuningTask");
	m->start_ns = time_field(task, "startTime");
	m->complete_ns = time_field(task, "completeTime");
	load_hyperparameters(srv_json_field(task, "hyperparameters"), m);
	load_snapshots(srv_json_field(task, "snapshots"), m);
	if (int_field(x, "examples", &v) == 0)
		m->n_examples = (long)v;
	if (int_field(x, "totalSteps", &v) == 0)
		m->total_steps = (int)v;
	if (int_field(x, "completedSteps", &v) == 0)
		m->completed_steps = (int)v;
	double d;
	if (srv_json_double(srv_json_field(x, "learningRate"), &d) == 0)
		m->learning_rate = d;
	const cJSON *err = srv_json_field(op, "error");
	if (cJSON_IsObject(err)) {
		m->err_code = int_field(err, "code", &v) == 0 ? (int)v : 13;
		m->err_msg = dup_field(err, "message");
	}
	return 0;
}
