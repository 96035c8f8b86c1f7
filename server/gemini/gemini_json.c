/* gemini_json.c - the Gemini family's wire JSON of a job: TunedModel and its Operation
 * (camelCase, defaults omitted, int64 as strings). Requests in: gemini_request.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/gemini/gemini_json.h"

static const char *const state_names[] = {"STATE_UNSPECIFIED", "CREATING", "ACTIVE", "FAILED"};

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
static cJSON *model_json(const struct srv_model *m, const char *type)
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
	return o;
}

cJSON *srv_json_model(const struct srv_model *m)
{
	return model_json(m, NULL);
}

const char *srv_json_model_text(struct srv_model *m, size_t *len)
{
	if (!m->wire_cache || m->cache_update_ns != m->update_ns || m->cache_snaps != m->n_snaps ||
	    m->cache_state != m->state) {
		cJSON *o = model_json(m, NULL);
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
		cJSON *r = model_json(m, SRV_TYPE_PREFIX "TunedModel");
		cJSON_AddItemToObject(o, "response", r);
	} else if (m->state == SRV_STATE_FAILED) {
		cJSON_AddBoolToObject(o, "done", 1);
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", m->err_code ? m->err_code : 13);
		cJSON_AddStringToObject(e, "message", m->err_msg ? m->err_msg : "tuning failed");
	}
	return o;
}
