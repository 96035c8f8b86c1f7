/* gemini_json.c - reading the service's JSON into the types of gemini.h.
 * Every input is untrusted: wrong types read as absent (proto3: absent = default), and
 * malformed text is -EINVAL, never a crash. Request bodies are built in gemini_body.c. */
#include "api/gemini.h"
#include "api/gemini_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *gemini_json_parse(const char *json, size_t len)
{
	const char *end = NULL;
	cJSON *root;
	char *buf;

	if (!json || len == 0)
		return NULL;
	/* A private NUL-terminated copy: the parser never reads past what we were given. */
	buf = gemini_xstrndup(json, len);
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root && end) {
		for (const char *p = end; p < buf + len; p++) {
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
				cJSON_Delete(root);
				root = NULL;
				break;
			}
		}
	}
	free(buf);
	return root;
}

char *gemini_json_print(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s) {
		fprintf(stderr, "tunedfs: out of memory (JSON print)\n");
		abort();
	}
	return s;
}

static const cJSON *gj_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const cJSON *gj_array(const cJSON *o, const char *key)
{
	const cJSON *v = gj_get(o, key);
	return cJSON_IsArray(v) ? v : NULL;
}

static const char *gj_str(const cJSON *o, const char *key)
{
	const cJSON *v = gj_get(o, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static char *gj_dup(const cJSON *o, const char *key)
{
	const char *s = gj_str(o, key);
	return s ? gemini_xstrdup(s) : NULL;
}

/* proto3 numbers: a JSON number, or a string ("1e-3", "NaN", int64 as text). */
static int gj_num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = gj_get(o, key);
	char *end;
	double d;

	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return 1;
	}
	if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
		return 0;
	d = strtod(v->valuestring, &end);
	if (*end)
		return 0;
	*out = d;
	return 1;
}

static int gj_int(const cJSON *o, const char *key, int *out)
{
	double d;

	if (!gj_num(o, key, &d) || isnan(d))
		return 0;
	if (d > INT_MAX)
		d = INT_MAX;
	if (d < INT_MIN)
		d = INT_MIN;
	*out = (int)d;
	return 1;
}

static int gj_bool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(gj_get(o, key));
}

static void gj_copy_line(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void gj_snapshots(const cJSON *arr, struct tuning_snapshot **out, size_t *n_out)
{
	const cJSON *s;
	size_t n = 0, i = 0;

	*out = NULL;
	*n_out = 0;
	if (!cJSON_IsArray(arr))
		return;
	cJSON_ArrayForEach(s, arr) n++;
	if (n == 0)
		return;
	*out = gemini_xcalloc(n, sizeof(**out));
	cJSON_ArrayForEach(s, arr)
	{
		struct tuning_snapshot *t = &(*out)[i++];
		double d;
		gj_int(s, "step", &t->step);
		gj_int(s, "epoch", &t->epoch);
		if (gj_num(s, "meanLoss", &d))
			t->mean_loss = d;
		gj_copy_line(t->compute_time, sizeof(t->compute_time), gj_str(s, "computeTime"));
	}
	*n_out = n;
}

/* The text as received, unless a NUL inside would cut the C string short of it. */
static char *gj_raw_or_print(const cJSON *o, const char *raw, size_t len)
{
	if (raw && !memchr(raw, '\0', len))
		return gemini_xstrndup(raw, len);
	return gemini_json_print(o);
}

static enum tuned_model_state gj_state(const cJSON *o)
{
	const char *s = gj_str(o, "state");
	int v = 0;

	if (s) {
		if (strcmp(s, "CREATING") == 0)
			return TUNED_MODEL_CREATING;
		if (strcmp(s, "ACTIVE") == 0)
			return TUNED_MODEL_ACTIVE;
		if (strcmp(s, "FAILED") == 0)
			return TUNED_MODEL_FAILED;
		return TUNED_MODEL_STATE_UNSPECIFIED;
	}
	if (gj_int(o, "state", &v) && v >= 0 && v <= TUNED_MODEL_FAILED)
		return (enum tuned_model_state)v;
	return TUNED_MODEL_STATE_UNSPECIFIED;
}

void gemini_model_from_json(const cJSON *o, const char *raw, size_t raw_len, struct tuned_model *m)
{
	const cJSON *src = gj_get(o, "tunedModelSource");
	const cJSON *task = gj_get(o, "tuningTask");
	const cJSON *hp = gj_get(task, "hyperparameters");
	double d;

	memset(m, 0, sizeof(*m));
	m->name = gj_dup(o, "name");
	m->display_name = gj_dup(o, "displayName");
	m->description = gj_dup(o, "description");
	m->base_model = gj_dup(o, "baseModel");
	m->source_model = gj_dup(src, "tunedModel");
	if (!m->base_model)
		m->base_model = gj_dup(src, "baseModel");
	m->state = gj_state(o);
	m->create_time = gj_dup(o, "createTime");
	m->update_time = gj_dup(o, "updateTime");
	m->has_temperature = gj_num(o, "temperature", &m->temperature);
	m->has_top_p = gj_num(o, "topP", &m->top_p);
	m->has_top_k = gj_int(o, "topK", &m->top_k);
	gj_int(hp, "epochCount", &m->epoch_count);
	gj_int(hp, "batchSize", &m->batch_size);
	if (gj_num(hp, "learningRate", &d))
		m->learning_rate = d;
	if (gj_num(hp, "learningRateMultiplier", &d))
		m->learning_rate_multiplier = d;
	gj_snapshots(gj_get(task, "snapshots"), &m->snapshots, &m->n_snapshots);
	m->json = gj_raw_or_print(o, raw, raw_len);
}

int gemini_parse_tuned_model(const char *json, size_t len, struct tuned_model *out)
{
	cJSON *root = gemini_json_parse(json, len);

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	gemini_model_from_json(root, json, len, out);
	cJSON_Delete(root);
	return 0;
}

/* "tunedModels/x/operations/y" -> "tunedModels/x", for operations whose metadata is absent. */
static char *gj_model_of_operation(const char *op_name)
{
	const char *p;

	if (!op_name || strncmp(op_name, "tunedModels/", 12) != 0)
		return NULL;
	p = strchr(op_name + 12, '/');
	return p ? gemini_xstrndup(op_name, (size_t)(p - op_name)) : NULL;
}

void gemini_operation_from_json(const cJSON *o, struct tuning_operation *op)
{
	const cJSON *md = gj_get(o, "metadata");
	const cJSON *e = gj_get(o, "error");
	double d;

	memset(op, 0, sizeof(*op));
	op->name = gj_dup(o, "name");
	op->done = gj_bool(o, "done");
	op->tuned_model = gj_dup(md, "tunedModel");
	if (!op->tuned_model)
		op->tuned_model = gj_dup(gj_get(o, "response"), "name");
	if (!op->tuned_model)
		op->tuned_model = gj_model_of_operation(op->name);
	gj_int(md, "totalSteps", &op->total_steps);
	gj_int(md, "completedSteps", &op->completed_steps);
	if (gj_num(md, "completedPercent", &d) && !isnan(d))
		op->completed_percent = d;
	gj_snapshots(gj_get(md, "snapshots"), &op->snapshots, &op->n_snapshots);
	if (cJSON_IsObject(e)) {
		const char *msg = gj_str(e, "message");
		op->has_error = 1;
		gj_int(e, "code", &op->error_code);
		op->error_message = gemini_xstrdup(msg && *msg ? msg : "tuning failed");
	}
}

int gemini_parse_operation(const char *json, size_t len, struct tuning_operation *out)
{
	cJSON *root = gemini_json_parse(json, len);

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	gemini_operation_from_json(root, out);
	cJSON_Delete(root);
	return 0;
}

/* Appends the text parts of one Content, skipping the model's thoughts. */
static char *gj_parts_text(const cJSON *content)
{
	const cJSON *parts = gj_array(content, "parts"), *p;
	size_t total = 0, o = 0;
	char *text;

	cJSON_ArrayForEach(p, parts)
	{
		const char *t = gj_str(p, "text");
		if (t && !gj_bool(p, "thought"))
			total += strlen(t);
	}
	text = gemini_xmalloc(total + 1);
	cJSON_ArrayForEach(p, parts)
	{
		const char *t = gj_str(p, "text");
		if (t && !gj_bool(p, "thought")) {
			size_t n = strlen(t);
			memcpy(text + o, t, n);
			o += n;
		}
	}
	text[o] = '\0';
	return text;
}

int gemini_parse_generation(const char *json, size_t len, struct generation_result *out)
{
	cJSON *root = gemini_json_parse(json, len);
	const cJSON *cands, *first = NULL;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	cands = gj_get(root, "candidates");
	if (cJSON_IsArray(cands))
		first = cJSON_GetArrayItem(cands, 0);
	out->text = gj_parts_text(gj_get(first, "content"));
	out->finish_reason = gj_dup(first, "finishReason");
	out->block_reason = gj_dup(gj_get(root, "promptFeedback"), "blockReason");
	out->json = gj_raw_or_print(root, json, len);
	cJSON_Delete(root);
	return 0;
}

static const char *gj_skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Skips one JSON value of already validated text; returns the byte after it, NULL when
 * lost. Only brackets and strings matter, so nesting costs a counter, not recursion. */
static const char *gj_skip_value(const char *p, const char *end)
{
	long depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return gj_skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	for (; p < end; p++) {
		if (*p == '"') {
			p = gj_skip_string(p, end);
			if (!p)
				return NULL;
			p--;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
	}
	return NULL;
}

static const char *gj_skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Finds the byte spans of the elements of the top-level array under key, so a listed
 * model keeps the exact text the service sent. Returns the count found, -1 if lost. */
static long gj_array_spans(const char *json, size_t len, const char *key, const char **starts,
			   size_t *lens, size_t max)
{
	const char *p = json, *end = json + len, *k;
	size_t klen = strlen(key);
	long n = 0;

	p = gj_skip_ws(p, end);
	if (p >= end || *p++ != '{')
		return -1;
	for (;;) {
		p = gj_skip_ws(p, end);
		if (p >= end || *p != '"')
			return -1;
		k = p + 1;
		p = gj_skip_value(p, end);
		if (!p)
			return -1;
		/* cJSON decodes escapes and keeps the first of duplicate keys; an escaped key
		 * could be the member it chose, so give up rather than guess. */
		if (memchr(k, '\\', (size_t)(p - k)))
			return -1;
		int match = (size_t)(p - k) == klen + 1 && memcmp(k, key, klen) == 0;
		p = gj_skip_ws(p, end);
		if (p >= end || *p++ != ':')
			return -1;
		p = gj_skip_ws(p, end);
		if (match && p < end && *p == '[')
			break;
		p = gj_skip_value(p, end);
		if (!p)
			return -1;
		p = gj_skip_ws(p, end);
		if (p >= end || *p++ != ',')
			return -1;
	}
	for (p++;;) {
		const char *v;
		p = gj_skip_ws(p, end);
		if (p < end && *p == ']')
			return n;
		v = p;
		p = gj_skip_value(p, end);
		if (!p || (size_t)n >= max)
			return -1;
		starts[n] = v;
		lens[n++] = (size_t)(p - v);
		p = gj_skip_ws(p, end);
		if (p < end && *p == ',')
			p++;
		else if (p >= end || *p != ']')
			return -1;
	}
}

/* The span's text must parse to the very item cJSON gave us, or it is not its text. */
static int gj_span_is(const cJSON *item, const char *start, size_t len)
{
	cJSON *again = gemini_json_parse(start, len);
	int same = again && cJSON_Compare(item, again, 1);

	cJSON_Delete(again);
	return same;
}

static char *gj_next_token(const cJSON *root)
{
	const char *t = gj_str(root, "nextPageToken");
	return t && *t ? gemini_xstrdup(t) : NULL;
}

int gemini_parse_model_page(const char *json, size_t len, struct tuned_model **v, size_t *n,
			    size_t *cap, char **next_token)
{
	cJSON *root = gemini_json_parse(json, len);
	const cJSON *arr, *it;
	const char **starts = NULL;
	size_t *lens = NULL, count = 0, i = 0;
	long spans = -1;

	*next_token = NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	arr = gj_array(root, "tunedModels");
	if (arr)
		count = (size_t)cJSON_GetArraySize(arr);
	if (count) {
		starts = gemini_xcalloc(count, sizeof(*starts));
		lens = gemini_xcalloc(count, sizeof(*lens));
		spans = gj_array_spans(json, len, "tunedModels", starts, lens, count);
	}
	if (*n + count > *cap) {
		*cap = (*n + count) * 2;
		*v = gemini_xrealloc(*v, *cap * sizeof(**v));
	}
	cJSON_ArrayForEach(it, arr)
	{
		int exact = spans == (long)count && gj_span_is(it, starts[i], lens[i]);
		if (cJSON_IsObject(it))
			gemini_model_from_json(it, exact ? starts[i] : NULL, exact ? lens[i] : 0,
					       &(*v)[(*n)++]);
		i++;
	}
	free(starts);
	free(lens);
	*next_token = gj_next_token(root);
	cJSON_Delete(root);
	return 0;
}

static int gj_can_tune(const cJSON *m)
{
	const cJSON *methods = gj_array(m, "supportedGenerationMethods"), *x;

	cJSON_ArrayForEach(x, methods)
	{
		if (cJSON_IsString(x) && strcmp(x->valuestring, "createTunedModel") == 0)
			return 1;
	}
	return 0;
}

int gemini_parse_base_model_page(const char *json, size_t len, struct base_model **v, size_t *n,
				 size_t *cap, char **next_token)
{
	cJSON *root = gemini_json_parse(json, len);
	const cJSON *arr, *it;
	size_t count = 0;

	*next_token = NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	arr = gj_array(root, "models");
	if (arr)
		count = (size_t)cJSON_GetArraySize(arr);
	if (*n + count > *cap) {
		*cap = (*n + count) * 2;
		*v = gemini_xrealloc(*v, *cap * sizeof(**v));
	}
	cJSON_ArrayForEach(it, arr)
	{
		struct base_model *b;
		if (!cJSON_IsObject(it) || !gj_str(it, "name"))
			continue;
		b = &(*v)[(*n)++];
		b->name = gj_dup(it, "name");
		b->display_name = gj_dup(it, "displayName");
		b->can_tune = gj_can_tune(it);
	}
	*next_token = gj_next_token(root);
	cJSON_Delete(root);
	return 0;
}

int gemini_parse_operation_page(const char *json, size_t len, struct tuning_operation *best,
				int *have_best, char **next_token)
{
	cJSON *root = gemini_json_parse(json, len);
	const cJSON *arr, *it;

	*next_token = NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	arr = gj_array(root, "operations");
	/* Operations carry no time; one still running is the one that matters, else the
	 * last listed (services list in creation order). */
	cJSON_ArrayForEach(it, arr)
	{
		struct tuning_operation op;
		if (!cJSON_IsObject(it))
			continue;
		gemini_operation_from_json(it, &op);
		if (!op.name || (*have_best && !best->done && op.done)) {
			tuning_operation_clear(&op);
			continue;
		}
		if (*have_best)
			tuning_operation_clear(best);
		*best = op;
		*have_best = 1;
	}
	*next_token = gj_next_token(root);
	cJSON_Delete(root);
	return 0;
}
