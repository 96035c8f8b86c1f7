/* gemini_json.c - reading the service's JSON into the types of gemini.h.
 * Every input is untrusted: wrong types read as absent (proto3: absent = default), and
 * malformed text is -EINVAL, never a crash. Request bodies are built in gemini_body.c. */
#include "base/num.h"
#include "api/gemini.h"
#include "api/google_rpc.h"
#include "api/gemini_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses text that lies inside a NUL-terminated buffer of ours, so that the parser can
 * never read past memory we own; anything but whitespace after the value is an error. */
static cJSON *gj_parse_within(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);

	if (root && end) {
		for (const char *p = end; p < text + len; p++) {
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
				cJSON_Delete(root);
				return NULL;
			}
		}
	}
	return root;
}

cJSON *gemini_json_parse(const char *json, size_t len)
{
	cJSON *root;
	char *buf;

	if (!json || len == 0)
		return NULL;
	/* A private NUL-terminated copy: the parser never reads past what we were given. */
	buf = xstrndup(json, len);
	root = gj_parse_within(buf, len);
	free(buf);
	return root;
}

char *gemini_json_print(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		xalloc_die(0);
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
	return s ? xstrdup(s) : NULL;
}

static int gj_int(const cJSON *o, const char *key, int *out)
{
	double d;

	if (!google_json_number(o, key, &d) || isnan(d))
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

static void gj_snapshots(const cJSON *arr, struct gemini_snapshot **out, size_t *n_out)
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
	*out = xcalloc(n, sizeof(**out));
	cJSON_ArrayForEach(s, arr)
	{
		struct gemini_snapshot *t = &(*out)[i++];
		double d;
		gj_int(s, "step", &t->step);
		gj_int(s, "epoch", &t->epoch);
		if (google_json_number(s, "meanLoss", &d))
			t->mean_loss = d;
		gj_copy_line(t->compute_time, sizeof(t->compute_time), gj_str(s, "computeTime"));
	}
	*n_out = n;
}

/* The text as received, unless a NUL inside would cut the C string short of it. */
static char *gj_raw_or_print(const cJSON *o, const char *raw, size_t len)
{
	if (raw && !memchr(raw, '\0', len))
		return xstrndup(raw, len);
	return gemini_json_print(o);
}

static enum gemini_model_state gj_state(const cJSON *o)
{
	const char *s = gj_str(o, "state");
	int v = 0;

	if (s) {
		if (strcmp(s, "CREATING") == 0)
			return GEMINI_MODEL_CREATING;
		if (strcmp(s, "ACTIVE") == 0)
			return GEMINI_MODEL_ACTIVE;
		if (strcmp(s, "FAILED") == 0)
			return GEMINI_MODEL_FAILED;
		return GEMINI_MODEL_STATE_UNSPECIFIED;
	}
	if (gj_int(o, "state", &v) && v >= 0 && v <= GEMINI_MODEL_FAILED)
		return (enum gemini_model_state)v;
	return GEMINI_MODEL_STATE_UNSPECIFIED;
}

void gemini_model_from_json(const cJSON *o, const char *raw, size_t raw_len,
			    struct gemini_tuned_model *m)
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
	m->has_temperature = google_json_number(o, "temperature", &m->temperature);
	m->has_top_p = google_json_number(o, "topP", &m->top_p);
	m->has_top_k = gj_int(o, "topK", &m->top_k);
	gj_int(hp, "epochCount", &m->epoch_count);
	gj_int(hp, "batchSize", &m->batch_size);
	if (google_json_number(hp, "learningRate", &d))
		m->learning_rate = d;
	if (google_json_number(hp, "learningRateMultiplier", &d))
		m->learning_rate_multiplier = d;
	gj_snapshots(gj_get(task, "snapshots"), &m->snapshots, &m->n_snapshots);
	m->json = gj_raw_or_print(o, raw, raw_len);
}

int gemini_parse_tuned_model(const char *json, size_t len, struct gemini_tuned_model *out)
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
	return p ? xstrndup(op_name, (size_t)(p - op_name)) : NULL;
}

void gemini_operation_from_json(const cJSON *o, struct gemini_operation *op)
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
	if (google_json_number(md, "completedPercent", &d) && !isnan(d))
		op->completed_percent = d;
	gj_snapshots(gj_get(md, "snapshots"), &op->snapshots, &op->n_snapshots);
	if (cJSON_IsObject(e)) {
		const char *msg = gj_str(e, "message");
		op->has_error = 1;
		gj_int(e, "code", &op->error_code);
		op->error_message = xstrdup(msg && *msg ? msg : "tuning failed");
	}
}

int gemini_parse_operation(const char *json, size_t len, struct gemini_operation *out)
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
	text = xmalloc(total + 1);
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

static void gj_tokens(const cJSON *usage, struct generation_answer *out)
{
	double v;

	if (google_json_number(usage, "promptTokenCount", &v))
		num_whole(v, &out->in_tokens);
	if (google_json_number(usage, "candidatesTokenCount", &v))
		num_whole(v, &out->out_tokens);
	if (google_json_number(usage, "totalTokenCount", &v))
		num_whole(v, &out->total_tokens);
}

int gemini_parse_generation(const char *json, size_t len, struct generation_answer *out)
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
	out->raw_json = gj_raw_or_print(root, json, len);
	out->in_tokens = out->out_tokens = out->total_tokens = -1;
	gj_tokens(gj_get(root, "usageMetadata"), out);
	cJSON_Delete(root);
	return 0;
}

/* Why root is not what kind asks for, into why; 0 when it is. */
static int gj_unusable(const cJSON *root, enum gemini_answer kind, char *why, size_t cap)
{
	const cJSON *e = gj_get(root, "error"), *cands = gj_get(root, "candidates");
	const char *msg = gj_str(e, "message");

	if (!cJSON_IsObject(root))
		snprintf(why, cap, "not a JSON object");
	else if (e)
		snprintf(why, cap, "a success that carries an error: %.300s",
			 msg && *msg ? msg : "(no message)");
	else if (kind == GEMINI_ANSWER_MODEL && !gj_str(root, "name"))
		snprintf(why, cap, "a TunedModel without a name");
	else if (kind == GEMINI_ANSWER_GENERATION && cands && !cJSON_IsArray(cands))
		snprintf(why, cap, "candidates that are not a list");
	else if (kind == GEMINI_ANSWER_GENERATION && !cands &&
		 !cJSON_IsObject(gj_get(root, "promptFeedback")))
		snprintf(why, cap, "neither candidates nor promptFeedback");
	else
		return 0;
	return -EINVAL;
}

int gemini_check_answer(const char *json, size_t len, enum gemini_answer kind, char *why,
			size_t cap)
{
	cJSON *root = gemini_json_parse(json, len);
	int rc = gj_unusable(root, kind, why, cap);

	cJSON_Delete(root);
	return rc;
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

/* One top-level member of an object: the key's raw bytes and the value's span. */
struct gj_member {
	const char *key, *val;
	size_t klen, vlen;
};

/* Splits a top-level object into members, or an array (key NULL) into elements, without
 * building a tree. Returns the count, or -1 when the text is not the plain shape this
 * understands (keys with escapes or NULs included: cJSON decodes or cuts them, so the
 * caller's slow path, which does the same, must decide). */
static long gj_split(const char *p, const char *end, int object, struct gj_member **out)
{
	struct gj_member *v = NULL;
	size_t n = 0, cap = 0;

	p = gj_skip_ws(p, end);
	if (p >= end || *p++ != (object ? '{' : '['))
		goto lost;
	p = gj_skip_ws(p, end);
	if (p < end && *p == (object ? '}' : ']'))
		goto done;
	for (;;) {
		struct gj_member m = {0};
		p = gj_skip_ws(p, end);
		if (object) {
			if (p >= end || *p != '"')
				goto lost;
			m.key = p + 1;
			p = gj_skip_string(p, end);
			if (!p || memchr(m.key, '\\', (size_t)(p - m.key)) ||
			    memchr(m.key, '\0', (size_t)(p - m.key)))
				goto lost;
			m.klen = (size_t)(p - 1 - m.key);
			p = gj_skip_ws(p, end);
			if (p >= end || *p++ != ':')
				goto lost;
			p = gj_skip_ws(p, end);
		}
		m.val = p;
		p = gj_skip_value(p, end);
		if (!p || p == m.val)
			goto lost;
		m.vlen = (size_t)(p - m.val);
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = m;
		p = gj_skip_ws(p, end);
		if (p < end && *p == ',')
			p++;
		else if (p < end && *p == (object ? '}' : ']'))
			break;
		else
			goto lost;
	}
done:
	/* The closing bracket ends the text: anything after it but whitespace is garbage. */
	if (gj_skip_ws(p + 1, end) != end)
		goto lost;
	*out = v;
	return (long)n;
lost:
	free(v);
	*out = NULL;
	return -1;
}

static int gj_key_is(const struct gj_member *m, const char *key)
{
	return m->klen == strlen(key) && memcmp(m->key, key, m->klen) == 0;
}

static char *gj_next_token(const cJSON *root)
{
	const char *t = gj_str(root, "nextPageToken");
	return t && *t ? xstrdup(t) : NULL;
}

/* The usual page, read member by member: each model is parsed from its own span, so its
 * fields and its model.json are the same text, and no tree of the whole page is built.
 * Returns 0, or -1 to leave the page to the slow path. */
static int gj_model_page_fast(const char *copy, size_t len, struct gemini_tuned_model **v,
			      size_t *n, size_t *cap, char **next_token)
{
	struct gj_member *mem = NULL, *el = NULL;
	long nm, ne = 0;
	int seen_models = 0, seen_token = 0, rc = 0;
	size_t n0 = *n;

	nm = gj_split(copy, copy + len, 1, &mem);
	for (long i = 0; i < nm && rc == 0; i++) {
		cJSON *val = NULL;
		if (gj_key_is(&mem[i], "error")) {
			rc = -1; /* the slow path refuses it */
			break;
		}
		if (gj_key_is(&mem[i], "tunedModels") && !seen_models++ && mem[i].val[0] == '[') {
			ne = gj_split(mem[i].val, mem[i].val + mem[i].vlen, 0, &el);
			if (ne < 0)
				rc = -1;
			if (ne > 0 && *n + (size_t)ne > *cap) {
				*cap = (*n + (size_t)ne) * 2;
				*v = xrealloc(*v, *cap * sizeof(**v));
			}
			for (long j = 0; j < ne && rc == 0; j++) {
				cJSON *own = gj_parse_within(el[j].val, el[j].vlen);
				if (!own)
					rc = -1;
				else if (cJSON_IsObject(own))
					gemini_model_from_json(own, el[j].val, el[j].vlen,
							       &(*v)[(*n)++]);
				cJSON_Delete(own);
			}
			free(el);
			continue;
		}
		/* Every other member is still checked: a broken page is the slow path's call. */
		val = gj_parse_within(mem[i].val, mem[i].vlen);
		if (!val)
			rc = -1;
		else if (gj_key_is(&mem[i], "nextPageToken") && !seen_token++ &&
			 cJSON_IsString(val) && *val->valuestring)
			*next_token = xstrdup(val->valuestring);
		cJSON_Delete(val);
	}
	free(mem);
	if (nm < 0 || rc < 0) {
		for (size_t i = n0; i < *n; i++)
			gemini_tuned_model_clear(&(*v)[i]);
		*n = n0;
		free(*next_token);
		*next_token = NULL;
		return -1;
	}
	return 0;
}

/* Any page cJSON accepts: the tree decides, and models are printed from it. */
static int gj_model_page_slow(const char *copy, size_t len, struct gemini_tuned_model **v,
			      size_t *n, size_t *cap, char **next_token)
{
	cJSON *root = gj_parse_within(copy, len);
	const cJSON *arr, *it;
	size_t count = 0;

	if (!cJSON_IsObject(root) || gj_get(root, "error") ||
	    (gj_get(root, "tunedModels") && !gj_array(root, "tunedModels"))) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	arr = gj_array(root, "tunedModels");
	if (arr)
		count = (size_t)cJSON_GetArraySize(arr);
	if (*n + count > *cap) {
		*cap = (*n + count) * 2;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsObject(it))
			gemini_model_from_json(it, NULL, 0, &(*v)[(*n)++]);
	}
	*next_token = gj_next_token(root);
	cJSON_Delete(root);
	return 0;
}

char *gemini_scan_next_token(const char *json, size_t len)
{
	static const char key[] = "\"nextPageToken\"";
	const size_t klen = sizeof(key) - 1;
	const char *p, *end = json + len, *q;
	char *tok = NULL;
	cJSON *v;

	if (!json || len < klen)
		return NULL;
	/* the service writes it after the models: look from the end */
	for (p = end - klen;; p--) {
		if (*p == '"' && memcmp(p, key, klen) == 0)
			break;
		if (p == json)
			return NULL;
	}
	for (p += klen; p < end && *p && strchr(" \t\r\n", *p); p++)
		;
	if (p >= end || *p++ != ':')
		return NULL;
	while (p < end && *p && strchr(" \t\r\n", *p))
		p++;
	if (p >= end || *p != '"')
		return NULL;
	for (q = p + 1; q < end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= end)
		return NULL;
	v = gemini_json_parse(p, (size_t)(q + 1 - p));
	if (cJSON_IsString(v) && v->valuestring[0])
		tok = xstrdup(v->valuestring);
	cJSON_Delete(v);
	return tok;
}

int gemini_parse_model_page(const char *json, size_t len, struct gemini_tuned_model **v, size_t *n,
			    size_t *cap, char **next_token)
{
	char *copy;
	int rc;

	*next_token = NULL;
	if (!json || len == 0)
		return -EINVAL;
	/* Spans are parsed where they lie, inside this NUL-terminated copy. */
	copy = xstrndup(json, len);
	rc = gemini_parse_model_page_nul(copy, len, v, n, cap, next_token);
	free(copy);
	return rc;
}

int gemini_parse_model_page_nul(const char *json, size_t len, struct gemini_tuned_model **v,
				size_t *n, size_t *cap, char **next_token)
{
	int rc;

	*next_token = NULL;
	if (!json || len == 0)
		return -EINVAL;
	rc = gj_model_page_fast(json, len, v, n, cap, next_token);
	if (rc < 0)
		rc = gj_model_page_slow(json, len, v, n, cap, next_token);
	return rc;
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
		*v = xrealloc(*v, *cap * sizeof(**v));
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

int gemini_parse_operation_page(const char *json, size_t len, struct gemini_operation *best,
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
		struct gemini_operation op;
		if (!cJSON_IsObject(it))
			continue;
		gemini_operation_from_json(it, &op);
		if (!op.name || (*have_best && !best->done && op.done)) {
			gemini_operation_clear(&op);
			continue;
		}
		if (*have_best)
			gemini_operation_clear(best);
		*best = op;
		*have_best = 1;
	}
	*next_token = gj_next_token(root);
	cJSON_Delete(root);
	return 0;
}

/* totalTokens of a CountTokensResponse: 0, or -EINVAL when it is missing or not a count. */
int gemini_parse_token_count(const char *json, size_t len, long *n)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "totalTokens");
	int rc = -EINVAL;

	if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 1e15) {
		*n = (long)t->valuedouble;
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}
