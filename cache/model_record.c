/* model_record.c - the kept listing's record of one model (model_record.h): every field of
 * the neutral tuned_model by its own name, the service's resource as one string. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"
#include "base/xalloc.h"
#include "cache/model_record.h"

static void mr_check(const void *p)
{
	if (!p)
		xalloc_die(0);
}

static void mr_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		mr_check(cJSON_AddStringToObject(o, key, v));
}

static void mr_num(cJSON *o, const char *key, double v)
{
	if (v != 0)
		mr_check(cJSON_AddNumberToObject(o, key, v));
}

static cJSON *mr_snapshots(const struct tuned_model *m)
{
	cJSON *arr = cJSON_CreateArray();

	mr_check(arr);
	for (size_t i = 0; i < m->n_snapshots; i++) {
		cJSON *s = cJSON_CreateObject();
		mr_check(s);
		mr_num(s, "step", m->snapshots[i].step);
		mr_num(s, "epoch", m->snapshots[i].epoch);
		mr_num(s, "mean_loss", m->snapshots[i].mean_loss);
		mr_num(s, "at", (double)m->snapshots[i].at);
		cJSON_AddItemToArray(arr, s);
	}
	return arr;
}

cJSON *model_record_to_json(const struct tuned_model *m)
{
	cJSON *o = cJSON_CreateObject(), *ts, *g;

	mr_check(o);
	mr_str(o, "id", m->id);
	mr_str(o, "version", m->version);
	mr_str(o, "display_name", m->display_name);
	mr_str(o, "description", m->description);
	mr_str(o, "base_model", m->base_model);
	mr_str(o, "source_model", m->source_model);
	mr_str(o, "state", backend_state_name(m->state));
	mr_num(o, "created", (double)m->created);
	mr_num(o, "updated", (double)m->updated);
	mr_check(ts = cJSON_AddObjectToObject(o, "settings"));
	mr_num(ts, "epochs", m->settings.epochs);
	mr_num(ts, "batch_size", m->settings.batch_size);
	mr_num(ts, "learning_rate", m->settings.learning_rate);
	mr_num(ts, "learning_rate_multiplier", m->settings.learning_rate_multiplier);
	mr_str(ts, "adapter_size", m->settings.adapter_size);
	mr_check(g = cJSON_AddObjectToObject(o, "generation"));
	if (m->generation.has_temperature)
		mr_check(cJSON_AddNumberToObject(g, "temperature", m->generation.temperature));
	if (m->generation.has_top_p)
		mr_check(cJSON_AddNumberToObject(g, "top_p", m->generation.top_p));
	if (m->generation.has_top_k)
		mr_check(cJSON_AddNumberToObject(g, "top_k", m->generation.top_k));
	mr_num(o, "total_steps", m->total_steps);
	mr_num(o, "completed_steps", m->completed_steps);
	mr_num(o, "completed_epochs", m->completed_epochs);
	mr_check(cJSON_AddNumberToObject(o, "percent", m->percent));
	cJSON_AddItemToObject(o, "snapshots", mr_snapshots(m));
	mr_str(o, "job", m->job);
	mr_str(o, "endpoint", m->endpoint);
	mr_str(o, "failure", m->failure);
	mr_str(o, "raw_json", m->raw_json);
	return o;
}

static char *mr_get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static double mr_get_num(const cJSON *o, const char *key, int *has)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (has)
		*has = cJSON_IsNumber(v);
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : 0;
}

/* A whole number that fits an int, else 0 (the record is a file, and files get damaged). */
static int mr_get_int(const cJSON *o, const char *key, int *has)
{
	int n;

	return num_int(mr_get_num(o, key, has), &n) ? n : 0;
}

static time_t mr_get_time(const cJSON *o, const char *key)
{
	long t;

	return num_whole(mr_get_num(o, key, NULL), &t) ? (time_t)t : 0;
}

static enum backend_state mr_state(const char *s)
{
	for (int i = BACKEND_CREATING; i <= BACKEND_FAILED; i++)
		if (s && strcmp(s, backend_state_name((enum backend_state)i)) == 0)
			return (enum backend_state)i;
	return BACKEND_STATE_UNKNOWN;
}

static void mr_read_snapshots(const cJSON *arr, struct tuned_model *m)
{
	const cJSON *s;
	size_t n = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return;
	m->snapshots = xcalloc((size_t)cJSON_GetArraySize(arr), sizeof(*m->snapshots));
	cJSON_ArrayForEach(s, arr)
	{
		m->snapshots[n].step = mr_get_int(s, "step", NULL);
		m->snapshots[n].epoch = mr_get_int(s, "epoch", NULL);
		m->snapshots[n].mean_loss = mr_get_num(s, "mean_loss", NULL);
		m->snapshots[n].at = mr_get_time(s, "at");
		n++;
	}
	m->n_snapshots = n;
}

int model_record_from_json(const cJSON *o, struct tuned_model *m)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "settings");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "generation");
	char *state;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(o) || !(m->id = mr_get_str(o, "id")))
		return -EINVAL;
	m->version = mr_get_str(o, "version");
	m->display_name = mr_get_str(o, "display_name");
	m->description = mr_get_str(o, "description");
	m->base_model = mr_get_str(o, "base_model");
	m->source_model = mr_get_str(o, "source_model");
	state = mr_get_str(o, "state");
	m->state = mr_state(state);
	free(state);
	m->created = mr_get_time(o, "created");
	m->updated = mr_get_time(o, "updated");
	m->settings.epochs = mr_get_int(ts, "epochs", NULL);
	m->settings.batch_size = mr_get_int(ts, "batch_size", NULL);
	m->settings.learning_rate = mr_get_num(ts, "learning_rate", NULL);
	m->settings.learning_rate_multiplier = mr_get_num(ts, "learning_rate_multiplier", NULL);
	m->settings.adapter_size = mr_get_str(ts, "adapter_size");
	m->generation.temperature = mr_get_num(g, "temperature", &m->generation.has_temperature);
	m->generation.top_p = mr_get_num(g, "top_p", &m->generation.has_top_p);
	m->generation.top_k = mr_get_int(g, "top_k", &m->generation.has_top_k);
	m->total_steps = mr_get_int(o, "total_steps", NULL);
	m->completed_steps = mr_get_int(o, "completed_steps", NULL);
	m->completed_epochs = mr_get_int(o, "completed_epochs", NULL);
	m->percent = mr_get_num(o, "percent", NULL);
	mr_read_snapshots(cJSON_GetObjectItemCaseSensitive(o, "snapshots"), m);
	m->job = mr_get_str(o, "job");
	m->endpoint = mr_get_str(o, "endpoint");
	m->failure = mr_get_str(o, "failure");
	m->raw_json = mr_get_str(o, "raw_json");
	return 0;
}
