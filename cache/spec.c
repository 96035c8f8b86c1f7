/* spec.c - the parsers of a draft's config and of the generation settings (key = value
 * lines or one JSON object, both read through one key table), and the canonical text of
 * those settings. Pure, no I/O; examples.jsonl is spec_examples.c, text helpers spec_text.c. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cache/draft.h"
#include "cache/spec.h"
#include "base/xalloc.h"
#include "cache/spec_impl.h"

#define SPEC_MAX_KEYS  16
#define SPEC_LABEL_LEN 96

enum spec_kind {
	SPEC_STR,	  /* free text with a length limit in characters */
	SPEC_BASE_MODEL,  /* models/x or x */
	SPEC_TUNED_MODEL, /* tunedModels/x or x */
	SPEC_INT,
	SPEC_REAL,
	SPEC_LIST, /* stop sequences */
};

struct spec_key {
	const char *snake, *camel;
	enum spec_kind kind;
	double min, max;
	int min_exclusive;
	size_t max_chars;
};

/* Config keys, in the order the "known:" list shows them. */
enum {
	CK_BASE_MODEL,
	CK_DISPLAY_NAME,
	CK_DESCRIPTION,
	CK_EPOCH_COUNT,
	CK_BATCH_SIZE,
	CK_LEARNING_RATE,
	CK_LR_MULTIPLIER,
	CK_TEMPERATURE,
	CK_TOP_P,
	CK_TOP_K,
	CK_SOURCE_MODEL,
	CK_SYSTEM_INSTRUCTION,
	CK_ADAPTER_SIZE,
	CK_PRICE_PER_MTOK,
	CK_VALIDATION_EXAMPLES,
	CK_COUNT
};

_Static_assert(CK_COUNT <= SPEC_MAX_KEYS, "a config key beyond the parse state's arrays");

static const struct spec_key spec_config_keys[CK_COUNT] = {
    [CK_BASE_MODEL] = {"base_model", "baseModel", SPEC_BASE_MODEL, 0, 0, 0, 0},
    [CK_DISPLAY_NAME] = {"display_name", "displayName", SPEC_STR, 0, 0, 0, 40},
    [CK_DESCRIPTION] = {"description", "description", SPEC_STR, 0, 0, 0, 16384},
    [CK_EPOCH_COUNT] = {"epoch_count", "epochCount", SPEC_INT, 1, 10000, 0, 0},
    [CK_BATCH_SIZE] = {"batch_size", "batchSize", SPEC_INT, 1, 1024, 0, 0},
    [CK_LEARNING_RATE] = {"learning_rate", "learningRate", SPEC_REAL, 0, 1, 1, 0},
    [CK_LR_MULTIPLIER] = {"learning_rate_multiplier", "learningRateMultiplier", SPEC_REAL, 0, 1e9,
			  1, 0},
    [CK_TEMPERATURE] = {"temperature", "temperature", SPEC_REAL, 0, 2, 0, 0},
    [CK_TOP_P] = {"top_p", "topP", SPEC_REAL, 0, 1, 0, 0},
    [CK_TOP_K] = {"top_k", "topK", SPEC_INT, 1, 2147483647.0, 0, 0},
    [CK_SOURCE_MODEL] = {"source_model", "sourceModel", SPEC_TUNED_MODEL, 0, 0, 0, 0},
    [CK_SYSTEM_INSTRUCTION] = {"system_instruction", "systemInstruction", SPEC_STR, 0, 0, 0, 16384},
    [CK_ADAPTER_SIZE] = {"adapter_size", "adapterSize", SPEC_STR, 0, 0, 0, 40},
    /* not sent: the estimate's cost line */
    [CK_PRICE_PER_MTOK] = {"price_per_mtok", "pricePerMtok", SPEC_REAL, 0, 1e9, 0, 0},
    /* the name of a file in the draft's eval/, sent as the validation set */
    [CK_VALIDATION_EXAMPLES] = {"validation_examples", "validationExamples", SPEC_STR, 0, 0, 0,
				120},
};

enum { GK_TEMPERATURE, GK_TOP_P, GK_TOP_K, GK_MAX_OUTPUT_TOKENS, GK_STOP_SEQUENCES, GK_COUNT };

static const struct spec_key spec_generation_keys[GK_COUNT] = {
    [GK_TEMPERATURE] = {"temperature", "temperature", SPEC_REAL, 0, 2, 0, 0},
    [GK_TOP_P] = {"top_p", "topP", SPEC_REAL, 0, 1, 0, 0},
    [GK_TOP_K] = {"top_k", "topK", SPEC_INT, 1, 2147483647.0, 0, 0},
    [GK_MAX_OUTPUT_TOKENS] = {"max_output_tokens", "maxOutputTokens", SPEC_INT, 1, 2147483647.0, 0,
			      0},
    [GK_STOP_SEQUENCES] = {"stop_sequences", "stopSequences", SPEC_LIST, 0, 0, 0, 0},
};

/* A JSON object scope: which member names lead to which key or nested object. Output-only
 * fields of a TunedModel are ignored so that a model.json can serve as a config. */
struct spec_field {
	const char *snake, *camel;
	int key; /* index into the key table, or one of the SPEC_F_* below */
	const struct spec_scope *sub;
};
#define SPEC_F_OBJECT	-1
#define SPEC_F_IGNORE	-2
#define SPEC_F_EXAMPLES -3

struct spec_scope {
	const struct spec_field *fields;
	size_t n;
};

#define SPEC_SCOPE(a)                                                                              \
	{                                                                                          \
		a, sizeof(a) / sizeof(a[0])                                                        \
	}

static const struct spec_field spec_hyper_fields[] = {
    {"epoch_count", "epochCount", CK_EPOCH_COUNT, NULL},
    {"batch_size", "batchSize", CK_BATCH_SIZE, NULL},
    {"learning_rate", "learningRate", CK_LEARNING_RATE, NULL},
    {"learning_rate_multiplier", "learningRateMultiplier", CK_LR_MULTIPLIER, NULL},
};
static const struct spec_scope spec_hyper_scope = SPEC_SCOPE(spec_hyper_fields);

static const struct spec_field spec_task_fields[] = {
    {"hyperparameters", "hyperparameters", SPEC_F_OBJECT, &spec_hyper_scope},
    {"training_data", "trainingData", SPEC_F_EXAMPLES, NULL},
    {"start_time", "startTime", SPEC_F_IGNORE, NULL},
    {"complete_time", "completeTime", SPEC_F_IGNORE, NULL},
    {"snapshots", "snapshots", SPEC_F_IGNORE, NULL},
};
static const struct spec_scope spec_task_scope = SPEC_SCOPE(spec_task_fields);

static const struct spec_field spec_source_fields[] = {
    {"tuned_model", "tunedModel", CK_SOURCE_MODEL, NULL},
    {"base_model", "baseModel", SPEC_F_IGNORE, NULL},
};
static const struct spec_scope spec_source_scope = SPEC_SCOPE(spec_source_fields);

static const struct spec_field spec_config_fields[] = {
    {"base_model", "baseModel", CK_BASE_MODEL, NULL},
    {"display_name", "displayName", CK_DISPLAY_NAME, NULL},
    {"description", "description", CK_DESCRIPTION, NULL},
    {"epoch_count", "epochCount", CK_EPOCH_COUNT, NULL},
    {"batch_size", "batchSize", CK_BATCH_SIZE, NULL},
    {"learning_rate", "learningRate", CK_LEARNING_RATE, NULL},
    {"learning_rate_multiplier", "learningRateMultiplier", CK_LR_MULTIPLIER, NULL},
    {"temperature", "temperature", CK_TEMPERATURE, NULL},
    {"top_p", "topP", CK_TOP_P, NULL},
    {"top_k", "topK", CK_TOP_K, NULL},
    {"source_model", "sourceModel", CK_SOURCE_MODEL, NULL},
    {"system_instruction", "systemInstruction", CK_SYSTEM_INSTRUCTION, NULL},
    {"adapter_size", "adapterSize", CK_ADAPTER_SIZE, NULL},
    {"validation_examples", "validationExamples", CK_VALIDATION_EXAMPLES, NULL},
    {"tuning_task", "tuningTask", SPEC_F_OBJECT, &spec_task_scope},
    {"tuned_model_source", "tunedModelSource", SPEC_F_OBJECT, &spec_source_scope},
    {"name", "name", SPEC_F_IGNORE, NULL},
    {"state", "state", SPEC_F_IGNORE, NULL},
    {"create_time", "createTime", SPEC_F_IGNORE, NULL},
    {"update_time", "updateTime", SPEC_F_IGNORE, NULL},
};
static const struct spec_scope spec_config_scope = SPEC_SCOPE(spec_config_fields);

static const struct spec_field spec_genconf_fields[] = {
    {"temperature", "temperature", GK_TEMPERATURE, NULL},
    {"top_p", "topP", GK_TOP_P, NULL},
    {"top_k", "topK", GK_TOP_K, NULL},
    {"max_output_tokens", "maxOutputTokens", GK_MAX_OUTPUT_TOKENS, NULL},
    {"stop_sequences", "stopSequences", GK_STOP_SEQUENCES, NULL},
};
static const struct spec_scope spec_genconf_scope = SPEC_SCOPE(spec_genconf_fields);

static const struct spec_field spec_generation_fields[] = {
    {"temperature", "temperature", GK_TEMPERATURE, NULL},
    {"top_p", "topP", GK_TOP_P, NULL},
    {"top_k", "topK", GK_TOP_K, NULL},
    {"max_output_tokens", "maxOutputTokens", GK_MAX_OUTPUT_TOKENS, NULL},
    {"stop_sequences", "stopSequences", GK_STOP_SEQUENCES, NULL},
    {"generation_config", "generationConfig", SPEC_F_OBJECT, &spec_genconf_scope},
};
static const struct spec_scope spec_generation_scope = SPEC_SCOPE(spec_generation_fields);

/* One parse: where messages go and what has been read so far. */
struct spec_parse {
	struct spec_msg m;
	const struct spec_key *keys;
	size_t n_keys;
	int set[SPEC_MAX_KEYS];
	int line[SPEC_MAX_KEYS];		   /* kv form: line of the key; JSON: 0 */
	char label[SPEC_MAX_KEYS][SPEC_LABEL_LEN]; /* the key or JSON path as written */
	char *str[SPEC_MAX_KEYS];
	double num[SPEC_MAX_KEYS];
	char *list[BACKEND_MAX_STOP_SEQUENCES];
	size_t n_list;
};

static void spec_parse_free(struct spec_parse *ps)
{
	for (size_t i = 0; i < SPEC_MAX_KEYS; i++)
		free(ps->str[i]);
	for (size_t i = 0; i < ps->n_list; i++)
		free(ps->list[i]);
	memset(ps->str, 0, sizeof(ps->str));
	ps->n_list = 0;
}

/* Checks a number against the key's range and records it. */
static int spec_store_number(struct spec_parse *ps, int k, int line, double v)
{
	const struct spec_key *key = &ps->keys[k];
	const char *label = ps->label[k];

	if (key->min_exclusive ? !(v > key->min) : !(v >= key->min))
		return spec_fail(&ps->m, line, "%s must be %s %.15g", label,
				 key->min_exclusive ? ">" : ">=", key->min);
	if (!(v <= key->max))
		return spec_fail(&ps->m, line, "%s must be <= %.15g", label, key->max);
	ps->num[k] = v;
	return 0;
}

static int spec_store_text_number(struct spec_parse *ps, int k, int line, const char *s, size_t n)
{
	int whole = ps->keys[k].kind == SPEC_INT;
	char q[64];
	double v;

	if (spec_number(s, n, whole, &v) < 0)
		return spec_fail(&ps->m, line, "%s: %s is not a %s", ps->label[k],
				 spec_quote(q, sizeof(q), s, n), whole ? "whole number" : "number");
	return spec_store_number(ps, k, line, v);
}

static int spec_valid_base_name(const char *s, size_t n)
{
	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

/* Records a string value: length limits and model-name normalisation. */

static int spec_store_string(struct spec_parse *ps, int k, int line, const char *s)
{
	const struct spec_key *key = &ps->keys[k];
	const char *label = ps->label[k];
	size_t chars = spec_utf8_chars(s);
	char q[64];

	if (key->kind == SPEC_STR) {
		if (key->max_chars && chars > key->max_chars)
			return spec_fail(&ps->m, line, "%s is %zu characters long (at most %zu)",
					 label, chars, key->max_chars);
		ps->str[k] = xstrndup(s, strlen(s));
		return 0;
	}
	if (key->kind == SPEC_BASE_MODEL) {
		size_t len = strlen(s), skip = strncmp(s, "models/", 7) == 0 ? 7 : 0;

		if (strncmp(s, "tunedModels/", 12) == 0)
			return spec_fail(&ps->m, line, "%s: %s is a tuned model (use source_model)",
					 label, spec_quote(q, sizeof(q), s, strlen(s)));
		if (!spec_valid_base_name(s + skip, len - skip))
			return spec_fail(&ps->m, line,
					 "%s: %s is not a model name (e.g. "
					 "models/gemini-1.5-flash-001-tuning)",
					 label, spec_quote(q, sizeof(q), s, strlen(s)));
		ps->str[k] = xmalloc(len - skip + 8);
		memcpy(ps->str[k], "models/", 7);
		memcpy(ps->str[k] + 7, s + skip, len - skip + 1);
		return 0;
	}
	/* SPEC_TUNED_MODEL */
	const char *id = strncmp(s, "tunedModels/", 12) == 0 ? s + 12 : s;

	if (!draft_valid_name(id))
		return spec_fail(&ps->m, line,
				 "%s: %s is not a tuned model name (e.g. tunedModels/my-model)",
				 label, spec_quote(q, sizeof(q), s, strlen(s)));
	ps->str[k] = xmalloc(strlen(id) + 13);
	snprintf(ps->str[k], strlen(id) + 13, "tunedModels/%s", id);
	return 0;
}

static int spec_add_stop(struct spec_parse *ps, int k, int line, const char *s)
{
	if (*s == '\0')
		return spec_fail(&ps->m, line, "%s: a stop sequence may not be empty",
				 ps->label[k]);
	if (ps->n_list >= BACKEND_MAX_STOP_SEQUENCES)
		return spec_fail(&ps->m, line, "%s: at most %d stop sequences", ps->label[k],
				 BACKEND_MAX_STOP_SEQUENCES);
	ps->list[ps->n_list++] = xstrndup(s, strlen(s));
	return 0;
}

/* A JSON value (from the JSON form, or a quoted / bracketed kv value) for key k. */
static int spec_store_json(struct spec_parse *ps, int k, int line, const cJSON *item)
{
	const struct spec_key *key = &ps->keys[k];
	const char *label = ps->label[k];

	if (key->kind == SPEC_LIST) {
		const cJSON *el;
		int rc;

		if (cJSON_IsString(item))
			return spec_add_stop(ps, k, line, item->valuestring);
		if (!cJSON_IsArray(item))
			return spec_fail(&ps->m, line,
					 "%s: expected a list of strings like [\"END\"]", label);
		cJSON_ArrayForEach(el, item)
		{
			if (!cJSON_IsString(el))
				return spec_fail(&ps->m, line, "%s: expected a list of strings",
						 label);
			if ((rc = spec_add_stop(ps, k, line, el->valuestring)) < 0)
				return rc;
		}
		return 0;
	}
	if (key->kind == SPEC_INT || key->kind == SPEC_REAL) {
		double v;

		if (cJSON_IsString(item))
			return spec_store_text_number(ps, k, line, item->valuestring,
						      strlen(item->valuestring));
		if (!cJSON_IsNumber(item))
			return spec_fail(&ps->m, line, "%s: expected a number", label);
		v = item->valuedouble;
		if (!isfinite(v))
			return spec_fail(&ps->m, line, "%s: not a finite number", label);
		if (key->kind == SPEC_INT && (floor(v) != v || fabs(v) > 1e15))
			return spec_fail(&ps->m, line, "%s: %g is not a whole number", label, v);
		return spec_store_number(ps, k, line, v);
	}
	if (!cJSON_IsString(item))
		return spec_fail(&ps->m, line, "%s: expected a string", label);
	return spec_store_string(ps, k, line, item->valuestring);
}

/* Marks key k as set at (line, label); a second setting is an error. */
static int spec_claim(struct spec_parse *ps, int k, int line, const char *label)
{
	if (ps->set[k]) {
		if (line > 0 && ps->line[k] > 0)
			return spec_fail(&ps->m, line,
					 "duplicate key \"%s\" (first set on line %d)", label,
					 ps->line[k]);
		return spec_fail(&ps->m, line, "%s: duplicate of %s", label, ps->label[k]);
	}
	ps->set[k] = 1;
	ps->line[k] = line;
	snprintf(ps->label[k], sizeof(ps->label[k]), "%s", label);
	return 0;
}

static void spec_known(const struct spec_key *keys, size_t n, char *out, size_t out_len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o < out_len; i++)
		o += (size_t)snprintf(out + o, out_len - o, "%s%s", i ? ", " : "", keys[i].snake);
}

static int spec_find_key(const struct spec_parse *ps, const char *s, size_t n)
{
	for (size_t i = 0; i < ps->n_keys; i++) {
		const struct spec_key *key = &ps->keys[i];

		if ((strlen(key->snake) == n && memcmp(key->snake, s, n) == 0) ||
		    (strlen(key->camel) == n && memcmp(key->camel, s, n) == 0))
			return (int)i;
	}
	return -1;
}

/* One `key = value` line. The value is taken as JSON when quoted (or, for lists, when
 * bracketed), else literally. */
static int spec_kv_line(struct spec_parse *ps, int line, const char *s, const char *e)
{
	const char *eq = memchr(s, '=', (size_t)(e - s)), *ks = s, *ke, *vs, *ve;
	char q[64], known[400], key[SPEC_LABEL_LEN];
	int k, rc;

	if (!eq)
		return spec_fail(&ps->m, line, "expected key = value, got %s",
				 spec_quote(q, sizeof(q), s, (size_t)(e - s)));
	ke = eq;
	vs = eq + 1;
	ve = e;
	spec_trim(&ks, &ke);
	spec_trim(&vs, &ve);
	if (ks == ke)
		return spec_fail(&ps->m, line, "missing key before \"=\"");
	k = spec_find_key(ps, ks, (size_t)(ke - ks));
	if (k < 0) {
		spec_known(ps->keys, ps->n_keys, known, sizeof(known));
		return spec_fail(&ps->m, line, "unknown key %s (known: %s)",
				 spec_quote(q, sizeof(q), ks, (size_t)(ke - ks)), known);
	}
	snprintf(key, sizeof(key), "%.*s", (int)(ke - ks), ks);
	if ((rc = spec_claim(ps, k, line, key)) < 0)
		return rc;
	if (vs == ve) {
		if (ps->keys[k].kind == SPEC_INT || ps->keys[k].kind == SPEC_REAL)
			return spec_fail(&ps->m, line, "%s: missing value", key);
		ps->set[k] = 0; /* an empty value leaves the key unset */
		return 0;
	}
	if (*vs == '"' || (*vs == '[' && ps->keys[k].kind == SPEC_LIST)) {
		const char *end = NULL;
		cJSON *item = cJSON_ParseWithLengthOpts(vs, (size_t)(ve - vs), &end, 0);

		if (!item || end != ve) {
			cJSON_Delete(item);
			return spec_fail(&ps->m, line,
					 "%s: bad quoted value (write \"text\", with \\\" and \\\\ "
					 "for quotes and backslashes)",
					 key);
		}
		rc = spec_store_json(ps, k, line, item);
		cJSON_Delete(item);
		return rc;
	}
	if (ps->keys[k].kind == SPEC_INT || ps->keys[k].kind == SPEC_REAL)
		return spec_store_text_number(ps, k, line, vs, (size_t)(ve - vs));
	{
		char *v = xstrndup(vs, (size_t)(ve - vs));

		rc = ps->keys[k].kind == SPEC_LIST ? spec_add_stop(ps, k, line, v)
						   : spec_store_string(ps, k, line, v);
		free(v);
	}
	return rc;
}

static int spec_kv(struct spec_parse *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int line = 0, rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *s = p;

		line++;
		p = nl ? nl + 1 : end;
		spec_trim(&s, &le);
		if (s == le || *s == '#')
			continue;
		if ((rc = spec_kv_line(ps, line, s, le)) < 0)
			return rc;
	}
	return 0;
}

static void spec_scope_known(const struct spec_scope *sc, char *out, size_t out_len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sc->n && o < out_len; i++)
		if (sc->fields[i].key != SPEC_F_IGNORE)
			o += (size_t)snprintf(out + o, out_len - o, "%s%s", o ? ", " : "",
					      sc->fields[i].camel);
}

/* Walks one JSON object of the given scope; path is where it sits ("" at the root). */
static int spec_json_object(struct spec_parse *ps, const struct spec_scope *sc, const cJSON *obj,
			    const char *path)
{
	const cJSON *item;
	char q[64], label[SPEC_LABEL_LEN], known[400];
	int rc;

	cJSON_ArrayForEach(item, obj)
	{
		const char *name = item->string ? item->string : "";
		const struct spec_field *f = NULL;

		for (size_t i = 0; i < sc->n && !f; i++)
			if (!strcmp(name, sc->fields[i].snake) ||
			    !strcmp(name, sc->fields[i].camel))
				f = &sc->fields[i];
		if (!f) {
			spec_scope_known(sc, known, sizeof(known));
			return spec_fail(&ps->m, 0, "unknown field %s%s%s (known: %s)",
					 spec_quote(q, sizeof(q), name, strlen(name)),
					 *path ? " in " : "", path, known);
		}
		snprintf(label, sizeof(label), "%s%s%s", path, *path ? "." : "", name);
		if (f->key == SPEC_F_IGNORE || cJSON_IsNull(item))
			continue;
		if (f->key == SPEC_F_EXAMPLES)
			return spec_fail(&ps->m, 0, "%s: put the examples into examples.jsonl",
					 label);
		if (f->key == SPEC_F_OBJECT) {
			if (!cJSON_IsObject(item))
				return spec_fail(&ps->m, 0, "%s: expected an object", label);
			if ((rc = spec_json_object(ps, f->sub, item, label)) < 0)
				return rc;
			continue;
		}
		if ((rc = spec_claim(ps, f->key, 0, label)) < 0)
			return rc;
		if ((rc = spec_store_json(ps, f->key, 0, item)) < 0)
			return rc;
	}
	return 0;
}

static int spec_json(struct spec_parse *ps, const struct spec_scope *root, const char *text,
		     size_t len)
{
	const char *end = NULL;
	cJSON *obj = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	int rc, line = 1;

	if (!obj) {
		for (const char *p = text; end && p < end && p < text + len; p++)
			line += *p == '\n';
		return spec_fail(&ps->m, line, "not valid JSON");
	}
	for (const char *p = end; p && p < text + len; p++) {
		if (!spec_is_space(*p)) {
			for (const char *c = text; c < p; c++)
				line += *c == '\n';
			cJSON_Delete(obj);
			return spec_fail(&ps->m, line, "text after the JSON object");
		}
	}
	rc = cJSON_IsObject(obj) ? spec_json_object(ps, root, obj, "")
				 : spec_fail(&ps->m, 0, "expected one JSON object");
	cJSON_Delete(obj);
	return rc;
}

/* Common front: UTF-8 and NUL checks, BOM skip, then kv or JSON. */
static int spec_parse_text(struct spec_parse *ps, const struct spec_scope *root, const char *text,
			   size_t len)
{
	size_t ok, first = 0;
	const char *nul;
	int line = 1;

	if (!text) {
		text = "";
		len = 0;
	}
	if (ps->m.msg && ps->m.msg_len)
		ps->m.msg[0] = '\0';
	ok = spec_utf8_valid((const unsigned char *)text, len);
	nul = len ? memchr(text, '\0', ok) : NULL;
	if (ok < len || nul) {
		size_t at = nul ? (size_t)(nul - text) : ok;

		for (size_t i = 0; i < at; i++)
			line += text[i] == '\n';
		return spec_fail(&ps->m, line, nul ? "contains a NUL byte" : "not valid UTF-8");
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		text += 3, len -= 3;
	while (first < len && spec_is_space(text[first]))
		first++;
	if (first < len && text[first] == '{')
		return spec_json(ps, root, text, len);
	return spec_kv(ps, text, len);
}

static int spec_config_cross(struct spec_parse *ps)
{
	int later;

	if (ps->set[CK_LEARNING_RATE] && ps->set[CK_LR_MULTIPLIER]) {
		later = ps->line[CK_LR_MULTIPLIER] >= ps->line[CK_LEARNING_RATE] ? CK_LR_MULTIPLIER
										 : CK_LEARNING_RATE;
		return spec_fail(&ps->m, ps->line[later],
				 "%s: set only one of learning_rate and learning_rate_multiplier",
				 ps->label[later]);
	}
	if (ps->set[CK_BASE_MODEL] && ps->set[CK_SOURCE_MODEL]) {
		later = ps->line[CK_SOURCE_MODEL] >= ps->line[CK_BASE_MODEL] ? CK_SOURCE_MODEL
									     : CK_BASE_MODEL;
		return spec_fail(&ps->m, ps->line[later],
				 "%s: set only one of base_model and source_model",
				 ps->label[later]);
	}
	if (!ps->set[CK_BASE_MODEL] && !ps->set[CK_SOURCE_MODEL])
		return spec_fail(&ps->m, 0,
				 "base_model is required (e.g. base_model = "
				 "models/gemini-1.5-flash-001-tuning)");
	return 0;
}

int spec_parse_config(const char *text, size_t len, struct tuning_request *req, char *msg,
		      size_t msg_len)
{
	struct spec_parse ps = {.m = {"config", msg, msg_len}};
	int rc;

	ps.keys = spec_config_keys;
	ps.n_keys = CK_COUNT;
	rc = spec_parse_text(&ps, &spec_config_scope, text, len);
	if (rc == 0)
		rc = spec_config_cross(&ps);
	if (rc < 0) {
		spec_parse_free(&ps);
		return rc;
	}
	free(req->display_name);
	free(req->description);
	free(req->base_model);
	free(req->source_model);
	free(req->system_instruction);
	free(req->validation_file);
	req->validation_file = ps.str[CK_VALIDATION_EXAMPLES];
	req->display_name = ps.str[CK_DISPLAY_NAME];
	req->description = ps.str[CK_DESCRIPTION];
	req->base_model = ps.str[CK_BASE_MODEL];
	req->source_model = ps.str[CK_SOURCE_MODEL];
	req->system_instruction = ps.str[CK_SYSTEM_INSTRUCTION];
	tuning_settings_clear(&req->settings);
	req->settings.adapter_size = ps.str[CK_ADAPTER_SIZE];
	req->settings.epochs = ps.set[CK_EPOCH_COUNT] ? (int)ps.num[CK_EPOCH_COUNT] : 0;
	req->settings.batch_size = ps.set[CK_BATCH_SIZE] ? (int)ps.num[CK_BATCH_SIZE] : 0;
	req->settings.learning_rate = ps.set[CK_LEARNING_RATE] ? ps.num[CK_LEARNING_RATE] : 0;
	req->settings.learning_rate_multiplier =
	    ps.set[CK_LR_MULTIPLIER] ? ps.num[CK_LR_MULTIPLIER] : 0;
	req->generation.has_temperature = ps.set[CK_TEMPERATURE];
	req->generation.temperature = ps.set[CK_TEMPERATURE] ? ps.num[CK_TEMPERATURE] : 0;
	req->generation.has_top_p = ps.set[CK_TOP_P];
	req->generation.top_p = ps.set[CK_TOP_P] ? ps.num[CK_TOP_P] : 0;
	req->generation.has_top_k = ps.set[CK_TOP_K];
	req->generation.top_k = ps.set[CK_TOP_K] ? (int)ps.num[CK_TOP_K] : 0;
	return 0;
}

int spec_config_number(const char *text, size_t len, const char *key, double *out)
{
	struct spec_parse ps = {.m = {"config", NULL, 0}};
	int rc, k;

	ps.keys = spec_config_keys;
	ps.n_keys = CK_COUNT;
	k = spec_find_key(&ps, key, strlen(key));
	rc = k < 0 ? -EINVAL : spec_parse_text(&ps, &spec_config_scope, text, len);
	if (rc == 0 && !ps.set[k])
		rc = -ENOENT;
	if (rc == 0)
		*out = ps.num[k];
	spec_parse_free(&ps);
	return rc;
}

int spec_parse_generation(const char *text, size_t len, struct generation_settings *gs, char *msg,
			  size_t msg_len)
{
	struct spec_parse ps = {.m = {"generation", msg, msg_len}};
	int rc;

	ps.keys = spec_generation_keys;
	ps.n_keys = GK_COUNT;
	rc = spec_parse_text(&ps, &spec_generation_scope, text, len);
	if (rc < 0) {
		spec_parse_free(&ps);
		return rc;
	}
	for (size_t i = 0; i < gs->n_stop_sequences && i < BACKEND_MAX_STOP_SEQUENCES; i++)
		free(gs->stop_sequences[i]);
	memset(gs, 0, sizeof(*gs));
	gs->has_temperature = ps.set[GK_TEMPERATURE];
	gs->temperature = ps.set[GK_TEMPERATURE] ? ps.num[GK_TEMPERATURE] : 0;
	gs->has_top_p = ps.set[GK_TOP_P];
	gs->top_p = ps.set[GK_TOP_P] ? ps.num[GK_TOP_P] : 0;
	gs->has_top_k = ps.set[GK_TOP_K];
	gs->top_k = ps.set[GK_TOP_K] ? (int)ps.num[GK_TOP_K] : 0;
	gs->has_max_output_tokens = ps.set[GK_MAX_OUTPUT_TOKENS];
	gs->max_output_tokens =
	    ps.set[GK_MAX_OUTPUT_TOKENS] ? (int)ps.num[GK_MAX_OUTPUT_TOKENS] : 0;
	for (size_t i = 0; i < ps.n_list; i++)
		gs->stop_sequences[i] = ps.list[i];
	gs->n_stop_sequences = ps.n_list;
	return 0;
}

char *spec_generation_canonical(const struct generation_settings *gs)
{
	char *out = xstrndup("", 0), num[64], line[128];
	size_t len = 0;

	if (gs->has_temperature) {
		spec_format_double(num, sizeof(num), gs->temperature);
		snprintf(line, sizeof(line), "temperature = %s\n", num);
		spec_append(&out, &len, line);
	}
	if (gs->has_top_p) {
		spec_format_double(num, sizeof(num), gs->top_p);
		snprintf(line, sizeof(line), "top_p = %s\n", num);
		spec_append(&out, &len, line);
	}
	if (gs->has_top_k) {
		snprintf(line, sizeof(line), "top_k = %d\n", gs->top_k);
		spec_append(&out, &len, line);
	}
	if (gs->has_max_output_tokens) {
		snprintf(line, sizeof(line), "max_output_tokens = %d\n", gs->max_output_tokens);
		spec_append(&out, &len, line);
	}
	if (gs->n_stop_sequences > 0) {
		cJSON *arr = cJSON_CreateArray();
		char *text;

		for (size_t i = 0; i < gs->n_stop_sequences && i < BACKEND_MAX_STOP_SEQUENCES; i++)
			cJSON_AddItemToArray(
			    arr,
			    cJSON_CreateString(gs->stop_sequences[i] ? gs->stop_sequences[i] : ""));
		text = cJSON_PrintUnformatted(arr);
		if (!text)
			xalloc_die(0);
		spec_append(&out, &len, "stop_sequences = ");
		spec_append(&out, &len, text);
		spec_append(&out, &len, "\n");
		cJSON_free(text);
		cJSON_Delete(arr);
	}
	return out;
}
