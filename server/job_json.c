/* job_json.c - the server's own file format for a job (DIR/jobs/ID/job.json): every
 * field of the neutral record, both ways. No service's wire JSON here (the families map
 * the record to theirs); no files or locking (store.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"
#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/store.h"

static const char *const state_names[] = {"UNSPECIFIED", "CREATING", "ACTIVE", "FAILED"};

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

static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
}

static void add_time(cJSON *o, const char *key, int64_t ns)
{
	char buf[48];
	if (ns <= 0)
		return;
	srv_json_time(ns, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

static void add_int64(cJSON *o, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	cJSON_AddStringToObject(o, key, buf);
}

static cJSON *settings_json(const struct srv_model *m)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddNumberToObject(s, "epochs", m->epoch_count);
	cJSON_AddNumberToObject(s, "batchSize", m->batch_size);
	cJSON_AddNumberToObject(s, "learningRate", m->learning_rate);
	cJSON_AddNumberToObject(s, "learningRateMultiplier", m->lr_multiplier);
	add_str(s, "adapterSize", m->adapter_size);
	if (m->seed)
		add_int64(s, "seed", m->seed);
	if (m->has_temperature)
		cJSON_AddNumberToObject(s, "temperature", m->temperature);
	if (m->has_top_p)
		cJSON_AddNumberToObject(s, "topP", m->top_p);
	if (m->has_top_k)
		cJSON_AddNumberToObject(s, "topK", m->top_k);
	return s;
}

static cJSON *progress_json(const struct srv_model *m)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddNumberToObject(p, "examples", (double)m->n_examples);
	cJSON_AddNumberToObject(p, "dataBytes", (double)m->data_bytes);
	cJSON_AddNumberToObject(p, "totalSteps", m->total_steps);
	cJSON_AddNumberToObject(p, "completedSteps", m->completed_steps);
	if (m->n_val_loss) {
		cJSON *v = cJSON_AddArrayToObject(p, "validationLoss");
		for (int i = 0; i < m->n_val_loss; i++)
			cJSON_AddItemToArray(v, cJSON_CreateNumber(m->val_loss[i]));
	}
	cJSON *arr = cJSON_AddArrayToObject(p, "snapshots");
	for (size_t i = 0; i < m->n_snaps; i++) {
		const struct srv_snapshot *s = &m->snaps[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "step", s->step);
		cJSON_AddNumberToObject(o, "epoch", s->epoch);
		cJSON_AddNumberToObject(o, "meanLoss", s->mean_loss);
		add_time(o, "at", s->compute_ns);
		cJSON_AddItemToArray(arr, o);
	}
	return p;
}

cJSON *srv_job_json(const struct srv_model *m)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", m->id);
	add_int64(o, "seq", m->seq);
	cJSON_AddStringToObject(o, "family", m->family);
	cJSON_AddStringToObject(o, "operation", m->op_id);
	add_str(o, "parent", m->parent);
	add_str(o, "displayName", m->display_name);
	add_str(o, "description", m->description);
	add_str(o, "baseModel", m->base_model);
	add_str(o, "sourceModel", m->source_model);
	add_str(o, "dataset", m->dataset);
	add_str(o, "validation", m->validation);
	cJSON_AddStringToObject(o, "state", state_names[m->state]);
	add_time(o, "created", m->create_ns);
	add_time(o, "updated", m->update_ns);
	add_time(o, "started", m->start_ns);
	add_time(o, "completed", m->complete_ns);
	cJSON_AddItemToObject(o, "settings", settings_json(m));
	cJSON_AddItemToObject(o, "progress", progress_json(m));
	if (m->n_labels) {
		cJSON *l = cJSON_AddObjectToObject(o, "labels");
		for (size_t i = 0; i < m->n_labels; i++)
			cJSON_AddStringToObject(l, m->labels[i].key, m->labels[i].value);
	}
	if (m->err_code || m->err_msg) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", m->err_code);
		add_str(e, "message", m->err_msg);
	}
	if (m->cancel_requested)
		cJSON_AddBoolToObject(o, "cancelRequested", 1);
	if (m->undeployed)
		cJSON_AddBoolToObject(o, "undeployed", 1);
	if (m->endpoint_deleted)
		cJSON_AddBoolToObject(o, "endpointDeleted", 1);
	if (m->model_deleted)
		cJSON_AddBoolToObject(o, "modelDeleted", 1);
	return o;
}

static char *dup_str(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(it) ? xstrdup(it->valuestring) : NULL;
}

static int64_t time_of(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	int64_t ns = 0;
	if (cJSON_IsString(it) && srv_json_parse_time(it->valuestring, &ns) == 0)
		return ns;
	return 0;
}

static double num_of(const cJSON *obj, const char *key, double def)
{
	double d;
	return srv_json_double(cJSON_GetObjectItemCaseSensitive(obj, key), &d) == 0 ? d : def;
}

/* A whole number kept in the record that fits an int, else def. */
static int int_of(const cJSON *obj, const char *key, int def)
{
	int n;
	return num_int(num_of(obj, key, def), &n) ? n : def;
}

static long long_of(const cJSON *obj, const char *key)
{
	long n;
	return num_whole(num_of(obj, key, 0), &n) ? n : 0;
}

static int flag_of(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static void load_settings(const cJSON *s, struct srv_model *m)
{
	m->epoch_count = int_of(s, "epochs", 0);
	m->batch_size = int_of(s, "batchSize", 0);
	m->learning_rate = num_of(s, "learningRate", 0);
	m->lr_multiplier = num_of(s, "learningRateMultiplier", 0);
	m->adapter_size = dup_str(s, "adapterSize");
	int64_t seed;
	if (srv_json_int(cJSON_GetObjectItemCaseSensitive(s, "seed"), &seed) == 0)
		m->seed = (uint64_t)seed;
	if (cJSON_GetObjectItemCaseSensitive(s, "temperature")) {
		m->has_temperature = 1;
		m->temperature = num_of(s, "temperature", 0);
	}
	if (cJSON_GetObjectItemCaseSensitive(s, "topP")) {
		m->has_top_p = 1;
		m->top_p = num_of(s, "topP", 1);
	}
	if (cJSON_GetObjectItemCaseSensitive(s, "topK")) {
		m->has_top_k = 1;
		m->top_k = int_of(s, "topK", 0);
	}
}

static void load_progress(const cJSON *p, struct srv_model *m)
{
	m->n_examples = long_of(p, "examples");
	m->data_bytes = long_of(p, "dataBytes");
	m->total_steps = int_of(p, "totalSteps", 0);
	m->completed_steps = int_of(p, "completedSteps", 0);
	const cJSON *s, *vl = cJSON_GetObjectItemCaseSensitive(p, "validationLoss");
	cJSON_ArrayForEach(s, vl)
	{
		m->val_loss = xrealloc(m->val_loss, (size_t)(m->n_val_loss + 1) * sizeof(double));
		m->val_loss[m->n_val_loss++] = cJSON_IsNumber(s) ? s->valuedouble : 0;
	}
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(p, "snapshots"))
	{
		struct srv_snapshot snap = {int_of(s, "step", 0), int_of(s, "epoch", 0),
					    num_of(s, "meanLoss", 0), time_of(s, "at")};
		if (m->n_snaps == m->cap_snaps) {
			m->cap_snaps = m->cap_snaps ? m->cap_snaps * 2 : 32;
			m->snaps = xrealloc(m->snaps, m->cap_snaps * sizeof(*m->snaps));
		}
		m->snaps[m->n_snaps++] = snap;
	}
}

static void load_labels(const cJSON *l, struct srv_model *m)
{
	const cJSON *it;
	size_t n = 0;
	cJSON_ArrayForEach(it, l) n++;
	if (!n)
		return;
	m->labels = xcalloc(n, sizeof(*m->labels));
	cJSON_ArrayForEach(it, l)
	{
		if (!cJSON_IsString(it) || !it->string)
			continue;
		m->labels[m->n_labels].key = xstrdup(it->string);
		m->labels[m->n_labels++].value = xstrdup(it->valuestring);
	}
}

int srv_job_json_load(const cJSON *j, struct srv_model *m)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
	const cJSON *fam = cJSON_GetObjectItemCaseSensitive(j, "family");
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "operation");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(j, "state");
	int64_t seq;
	if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof(m->id) ||
	    !cJSON_IsString(fam) || strlen(fam->valuestring) >= sizeof(m->family) ||
	    !cJSON_IsString(op) || strlen(op->valuestring) >= sizeof(m->op_id) ||
	    srv_json_int(cJSON_GetObjectItemCaseSensitive(j, "seq"), &seq) || seq < 1 ||
	    !cJSON_IsString(state))
		return -EINVAL;
	snprintf(m->id, sizeof(m->id), "%s", id->valuestring);
	snprintf(m->family, sizeof(m->family), "%s", fam->valuestring);
	snprintf(m->op_id, sizeof(m->op_id), "%s", op->valuestring);
	m->seq = (uint64_t)seq;
	m->state = SRV_STATE_UNSPECIFIED;
	for (int i = 0; i < 4; i++)
		if (!strcmp(state->valuestring, state_names[i]))
			m->state = (enum srv_state)i;
	m->parent = dup_str(j, "parent");
	m->display_name = dup_str(j, "displayName");
	m->description = dup_str(j, "description");
	m->base_model = dup_str(j, "baseModel");
	m->source_model = dup_str(j, "sourceModel");
	m->dataset = dup_str(j, "dataset");
	m->validation = dup_str(j, "validation");
	m->create_ns = time_of(j, "created");
	m->update_ns = time_of(j, "updated");
	m->start_ns = time_of(j, "started");
	m->complete_ns = time_of(j, "completed");
	load_settings(cJSON_GetObjectItemCaseSensitive(j, "settings"), m);
	load_progress(cJSON_GetObjectItemCaseSensitive(j, "progress"), m);
	load_labels(cJSON_GetObjectItemCaseSensitive(j, "labels"), m);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsObject(e)) {
		m->err_code = int_of(e, "code", 13);
		m->err_msg = dup_str(e, "message");
	}
	m->cancel_requested = flag_of(j, "cancelRequested");
	m->undeployed = flag_of(j, "undeployed");
	m->endpoint_deleted = flag_of(j, "endpointDeleted");
	m->model_deleted = flag_of(j, "modelDeleted");
	return 0;
}
