/* vertex_json.c - Vertex AI's JSON for the Vertex backend: a TuningJob read into the
 * neutral tuned_model (names, states, progress from the optional fields only), the create
 * body, and the training data as "contents" lines. No I/O here. */
#include "api/vertex_internal.h"
#include "api/google_rpc.h"
#include "base/dynbuf.h"
#include "base/rfc3339.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *vj_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *vj_str(const cJSON *o, const char *key)
{
	const cJSON *v = vj_get(o, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static char *vj_dup(const cJSON *o, const char *key)
{
	const char *s = vj_str(o, key);
	return s ? xstrdup(s) : NULL;
}

static int vj_int(const cJSON *o, const char *key)
{
	double d = 0;
	return google_json_number(o, key, &d) && d > 0 && d < 2e9 ? (int)d : 0;
}

int vertex_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++)
		if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static enum backend_state vj_state(const char *s, int *failed)
{
	static const char *const creating[] = {"JOB_STATE_QUEUED",  "JOB_STATE_PENDING",
					       "JOB_STATE_RUNNING", "JOB_STATE_UPDATING",
					       "JOB_STATE_PAUSED",  "JOB_STATE_CANCELLING"};
	static const char *const failing[] = {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
					      "JOB_STATE_EXPIRED"};

	*failed = 0;
	if (!s)
		return BACKEND_STATE_UNKNOWN;
	if (!strcmp(s, "JOB_STATE_SUCCEEDED") || !strcmp(s, "JOB_STATE_PARTIALLY_SUCCEEDED"))
		return BACKEND_ACTIVE;
	for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++)
		if (!strcmp(s, failing[i])) {
			*failed = 1;
			return BACKEND_FAILED;
		}
	for (size_t i = 0; i < sizeof(creating) / sizeof(creating[0]); i++)
		if (!strcmp(s, creating[i]))
			return BACKEND_CREATING;
	return BACKEND_STATE_UNKNOWN;
}

/* The directory name: our label, else the display name, else the job's own id. */
static char *vj_id(const cJSON *job, const char *name)
{
	const char *label = vj_str(vj_get(job, "labels"), VERTEX_LABEL);
	const char *shown = vj_str(job, "tunedModelDisplayName");
	const char *tail = name ? strrchr(name, '/') : NULL;

	if (vertex_name_ok(label))
		return xstrdup(label);
	if (vertex_name_ok(shown))
		return xstrdup(shown);
	return tail && vertex_name_ok(tail + 1) ? xstrdup(tail + 1) : NULL;
}

/* evaluateDatasetRuns as progress lines: "evaluation checkpoint C METRIC VALUE" for each
 * aggregated result with a score, "evaluation checkpoint C error MESSAGE" for a failed run. */
static void vj_evaluation(const cJSON *job, struct tuned_model *m)
{
	const cJSON *run, *res;
	struct dynbuf b = DYNBUF_INIT;

	cJSON_ArrayForEach(run, vj_get(job, "evaluateDatasetRuns"))
	{
		const char *ckpt = vj_str(run, "checkpointId"), *err;
		const cJSON *out =
		    vj_get(vj_get(run, "evaluateDatasetResponse"), "aggregationOutput");
		err = vj_str(vj_get(run, "error"), "message");
		if (err)
			dynbuf_printf(&b, "evaluation checkpoint %.40s error %.200s\n",
				      ckpt ? ckpt : "-", err);
		cJSON_ArrayForEach(res, vj_get(out, "aggregationResults"))
		{
			const char *metric = vj_str(res, "metric");
			const cJSON *c;
			double score;
			cJSON_ArrayForEach(c, res)
			{
				if (cJSON_IsObject(c) && google_json_number(c, "score", &score)) {
					dynbuf_printf(
					    &b, "evaluation checkpoint %.40s %.60s %.6f\n",
					    ckpt ? ckpt : "-", metric ? metric : c->string, score);
					break;
				}
			}
		}
	}
	if (b.len)
		m->evaluation = dynbuf_take(&b, NULL);
	dynbuf_free(&b);
}

static void vj_progress(const cJSON *job, struct tuned_model *m)
{
	const cJSON *stats = vj_get(vj_get(job, "tuningDataStats"), "supervisedTuningDataStats");
	const cJSON *meta = vj_get(job, "tuningJobMetadata");

	m->percent = -1;
	m->total_steps = vj_int(stats, "tuningStepCount");
	m->completed_steps = vj_int(meta, "completedStepCount");
	m->completed_epochs = vj_int(meta, "completedEpochCount");
	vj_evaluation(job, m);
}

static int vj_job(const cJSON *job, const char *raw, size_t len, struct tuned_model *m)
{
	const cJSON *spec = vj_get(job, "supervisedTuningSpec");
	const cJSON *hp = vj_get(spec, "hyperParameters");
	const char *name = vj_str(job, "name"), *updated = vj_str(job, "updateTime");
	int failed;
	double d;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(job) || !name || !(m->id = vj_id(job, name)))
		return -EINVAL;
	m->job = xstrdup(name);
	m->state = vj_state(vj_str(job, "state"), &failed);
	m->version = xasprintf("%s %s", updated ? updated : "",
			       vj_str(job, "state") ? vj_str(job, "state") : "");
	m->display_name = vj_dup(job, "tunedModelDisplayName");
	m->description = vj_dup(job, "description");
	m->base_model = vj_dup(job, "baseModel");
	if (!m->base_model)
		m->base_model = vj_dup(vj_get(job, "preTunedModel"), "baseModel");
	m->created = rfc3339_parse(vj_str(job, "createTime"));
	m->updated = rfc3339_parse(updated);
	m->settings.epochs = vj_int(hp, "epochCount");
	if (google_json_number(hp, "learningRateMultiplier", &d))
		m->settings.learning_rate_multiplier = d;
	m->settings.adapter_size = vj_dup(hp, "adapterSize");
	vj_progress(job, m);
	m->endpoint = vj_dup(vj_get(job, "tunedModel"), "endpoint");
	if (failed) {
		const char *why = vj_str(vj_get(job, "error"), "message");
		m->failure = xstrdup(why ? why : "the tuning job ended without a reason given");
	}
	m->raw_json = raw && !memchr(raw, '\0', len) ? xstrndup(raw, len) : NULL;
	if (!m->raw_json) {
		m->raw_json = cJSON_PrintUnformatted(job);
		if (!m->raw_json)
			xalloc_die(0);
	}
	return 0;
}

int vertex_parse_job(const char *json, size_t len, struct tuned_model *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	int rc = vj_job(root, json, len, out);

	if (rc < 0)
		tuned_model_clear(out);
	cJSON_Delete(root);
	return rc;
}

int vertex_parse_page(const char *json, size_t len, struct model_page *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *jobs = vj_get(root, "tuningJobs"), *j;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root) || (jobs && !cJSON_IsArray(jobs))) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	out->v = xcalloc((size_t)cJSON_GetArraySize(jobs) + 1, sizeof(*out->v));
	cJSON_ArrayForEach(j, jobs)
	{
		/* each job's own text: model.json shows the job, not the page */
		char *one = cJSON_PrintUnformatted(j);
		if (!one)
			xalloc_die(0);
		if (vj_job(j, one, strlen(one), &out->v[n]) == 0)
			n++;
		else
			tuned_model_clear(&out->v[n]);
		free(one);
	}
	out->n = n;
	out->next = vj_dup(root, "nextPageToken");
	cJSON_Delete(root);
	return 0;
}

char *vertex_job_model(const char *raw_json)
{
	cJSON *root = raw_json ? cJSON_Parse(raw_json) : NULL;
	const char *model = vj_str(vj_get(root, "tunedModel"), "model");
	char *out = NULL, *at;

	if (model) {
		out = xstrdup(model);
		if ((at = strchr(out, '@')))
			*at = '\0';
	}
	cJSON_Delete(root);
	return out;
}

int vertex_job_is(const char *raw_json, const char *id, const char *uri)
{
	cJSON *root = raw_json ? cJSON_Parse(raw_json) : NULL;
	const char *label = vj_str(vj_get(root, "labels"), VERTEX_LABEL);
	const char *data = vj_str(vj_get(root, "supervisedTuningSpec"), "trainingDatasetUri");
	int is = label && data && !strcmp(label, id) && !strcmp(data, uri);

	cJSON_Delete(root);
	return is;
}

/* object is "tunedfs/LABEL/train-<16 hex>.jsonl": what vertex.c names its uploads. */
static int vj_own_object(const char *object, const char *label)
{
	size_t n = strlen(VERTEX_DATA_DIR), l = strlen(label);
	const char *p = object + n + l;

	if (strncmp(object, VERTEX_DATA_DIR, n) != 0 || strncmp(object + n, label, l) != 0 ||
	    strncmp(p, "/train-", 7) != 0)
		return 0;
	p += 7;
	for (int i = 0; i < 16; i++, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return strcmp(p, ".jsonl") == 0;
}

int vertex_job_ours(const char *raw_json, char **bucket, char **object)
{
	cJSON *root = raw_json ? cJSON_Parse(raw_json) : NULL;
	const char *label = vj_str(vj_get(root, "labels"), VERTEX_LABEL);
	const char *data = vj_str(vj_get(root, "supervisedTuningSpec"), "trainingDatasetUri");
	const char *slash = data && !strncmp(data, "gs://", 5) ? strchr(data + 5, '/') : NULL;

	*bucket = *object = NULL;
	if (label && slash && slash > data + 5 && vj_own_object(slash + 1, label)) {
		*bucket = xstrndup(data + 5, (size_t)(slash - data - 5));
		*object = xstrdup(slash + 1);
	}
	cJSON_Delete(root);
	return label != NULL;
}

char *vertex_deployed_model(const char *json, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *dm = vj_get(root, "deployedModels");
	char *id = cJSON_IsArray(dm) ? vj_dup(cJSON_GetArrayItem(dm, 0), "id") : NULL;

	cJSON_Delete(root);
	return id;
}

static void vj_check(const void *p)
{
	if (!p)
		xalloc_die(0);
}

char *vertex_create_body(const struct tuning_request *r, const char *dataset_uri,
			 const char *validation_uri)
{
	cJSON *root = cJSON_CreateObject(), *spec, *hp, *labels;
	const char *base = r->base_model;
	char *s;

	vj_check(root);
	if (base && !strncmp(base, "models/", 7))
		base += 7; /* the tutorial's Gemini API spelling */
	vj_check(cJSON_AddStringToObject(root, "baseModel", base ? base : ""));
	vj_check(cJSON_AddStringToObject(root, "tunedModelDisplayName",
					 r->display_name ? r->display_name : r->id));
	if (r->description)
		vj_check(cJSON_AddStringToObject(root, "description", r->description));
	vj_check(labels = cJSON_AddObjectToObject(root, "labels"));
	vj_check(cJSON_AddStringToObject(labels, VERTEX_LABEL, r->id));
	vj_check(spec = cJSON_AddObjectToObject(root, "supervisedTuningSpec"));
	vj_check(cJSON_AddStringToObject(spec, "trainingDatasetUri", dataset_uri));
	if (validation_uri)
		vj_check(cJSON_AddStringToObject(spec, "validationDatasetUri", validation_uri));
	vj_check(hp = cJSON_AddObjectToObject(spec, "hyperParameters"));
	if (r->settings.epochs > 0)
		vj_check(cJSON_AddNumberToObject(hp, "epochCount", r->settings.epochs));
	if (r->settings.learning_rate_multiplier > 0)
		vj_check(cJSON_AddNumberToObject(hp, "learningRateMultiplier",
						 r->settings.learning_rate_multiplier));
	if (r->settings.adapter_size)
		vj_check(cJSON_AddStringToObject(hp, "adapterSize",
						 vertex_adapter_size(r->settings.adapter_size)));
	s = cJSON_PrintUnformatted(root);
	vj_check(s);
	cJSON_Delete(root);
	return s;
}

static void vj_turn(cJSON *contents, const char *role, const char *text)
{
	cJSON *turn = cJSON_CreateObject(), *parts, *part;

	vj_check(turn);
	vj_check(cJSON_AddStringToObject(turn, "role", role));
	vj_check(parts = cJSON_AddArrayToObject(turn, "parts"));
	vj_check(part = cJSON_CreateObject());
	vj_check(cJSON_AddStringToObject(part, "text", text ? text : ""));
	cJSON_AddItemToArray(parts, part);
	cJSON_AddItemToArray(contents, turn);
}

/* The service's name of an adapter size, from either its name or its number (config's
 * adapter_size = 4 or ADAPTER_SIZE_FOUR); NULL when it is neither. */
const char *vertex_adapter_size(const char *v)
{
	static const char *const names[][2] = {
	    {"1", "ADAPTER_SIZE_ONE"},	    {"2", "ADAPTER_SIZE_TWO"},
	    {"4", "ADAPTER_SIZE_FOUR"},	    {"8", "ADAPTER_SIZE_EIGHT"},
	    {"16", "ADAPTER_SIZE_SIXTEEN"}, {"32", "ADAPTER_SIZE_THIRTY_TWO"}};

	for (size_t i = 0; v && i < sizeof names / sizeof *names; i++)
		if (strcmp(v, names[i][0]) == 0 || strcmp(v, names[i][1]) == 0)
			return names[i][1];
	return NULL;
}

/* One example as a line: the tutorial's pair converted, a native line checked. */
static char *vj_line(const struct tuning_request *r, const struct tuning_example *ex, char *why,
		     size_t why_len, const char *where)
{
	cJSON *o;
	char *s;

	if (ex->native) {
		o = cJSON_Parse(ex->native);
		if (!cJSON_IsArray(vj_get(o, "contents"))) {
			snprintf(why, why_len, "%s: a native line needs a \"contents\" array",
				 where);
			cJSON_Delete(o);
			return NULL;
		}
	} else {
		cJSON *contents;
		vj_check(o = cJSON_CreateObject());
		vj_check(contents = cJSON_AddArrayToObject(o, "contents"));
		vj_turn(contents, "user", ex->input);
		vj_turn(contents, "model", ex->output);
		if (r->system_instruction) {
			cJSON *si = cJSON_AddObjectToObject(o, "systemInstruction"), *parts, *p;
			vj_check(si);
			vj_check(parts = cJSON_AddArrayToObject(si, "parts"));
			vj_check(p = cJSON_CreateObject());
			vj_check(cJSON_AddStringToObject(p, "text", r->system_instruction));
			cJSON_AddItemToArray(parts, p);
		}
	}
	s = cJSON_PrintUnformatted(o);
	vj_check(s);
	cJSON_Delete(o);
	return s;
}

int vertex_example_lines(const struct tuning_request *r, const struct tuning_example *ex, size_t n,
			 const char *file, char **out, size_t *len, char *why, size_t why_len)
{
	struct dynbuf b = DYNBUF_INIT;
	char where[300];

	for (size_t i = 0; i < n; i++) {
		tuning_example_where(&ex[i], i, file, where, sizeof where);
		char *line = vj_line(r, &ex[i], why, why_len, where);
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
