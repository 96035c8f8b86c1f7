/* spec_examples.c - the parser of examples.jsonl: one {"text_input", "output"} object a
 * line, within the character limits its caller passes (the backend's), or a line in a
 * service's own format ("messages", "contents"), kept whole for the backend to check.
 * Pure, no I/O, no service's figures; config and generation live in spec.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cache/spec.h"
#include "base/xalloc.h"
#include "cache/spec_impl.h"

struct spec_examples {
	struct tuning_example *v;
	size_t n, cap;
};

static void spec_examples_free(struct tuning_example *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].input);
		free(v[i].output);
		free(v[i].native);
	}
	free(v);
}

/* Checks one decoded example string: a string, and at most max_chars long (0: any). */
static int spec_example_field(struct spec_msg *m, int line, const cJSON *item, const char *name,
			      size_t max_chars, const char **out)
{
	size_t chars;

	if (*out)
		return spec_fail(m, line, "duplicate field \"%s\"", name);
	if (!cJSON_IsString(item))
		return spec_fail(m, line, "\"%s\" must be a string", name);
	chars = spec_utf8_chars(item->valuestring);
	if (max_chars && chars > max_chars)
		return spec_fail(m, line, "\"%s\" is %zu characters long (at most %zu)", name,
				 chars, max_chars);
	*out = item->valuestring;
	return 0;
}

static struct tuning_example *spec_example_new(struct spec_examples *ex)
{
	if (ex->n == ex->cap) {
		struct tuning_example *nv;

		ex->cap = ex->cap ? ex->cap * 2 : 16;
		nv = realloc(ex->v, ex->cap * sizeof(*ex->v));
		if (!nv)
			xalloc_die(0);
		ex->v = nv;
	}
	memset(&ex->v[ex->n], 0, sizeof(ex->v[ex->n]));
	return &ex->v[ex->n++];
}

/* A line in a service's own format: the backend that speaks it checks the rest. */
static int spec_example_native(const cJSON *obj)
{
	return cJSON_IsObject(obj) && (cJSON_GetObjectItemCaseSensitive(obj, "messages") ||
				       cJSON_GetObjectItemCaseSensitive(obj, "contents"));
}

static int spec_example_line(struct spec_msg *m, int line, const char *s, size_t n,
			     const struct spec_example_limits *lim, struct spec_examples *ex)
{
	const char *end = NULL, *in = NULL, *out = NULL;
	cJSON *obj, *item;
	char q[64];
	int rc = 0;

	if (memchr(s, '\0', n))
		return spec_fail(m, line, "contains a NUL byte");
	if (spec_utf8_valid((const unsigned char *)s, n) < n)
		return spec_fail(m, line, "not valid UTF-8");
	obj = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	if (!obj)
		return spec_fail(m, line,
				 "not valid JSON (write one {\"text_input\": ..., \"output\": ...} "
				 "object a line)");
	if (end != s + n)
		rc = spec_fail(m, line, "text after the JSON object (one object a line)");
	else if (!cJSON_IsObject(obj))
		rc = spec_fail(m, line,
			       "expected a JSON object like {\"text_input\": \"...\", \"output\": "
			       "\"...\"}");
	else if (spec_example_native(obj)) {
		struct tuning_example *e = spec_example_new(ex);
		e->native = xstrndup(s, n);
		e->line = line;
		cJSON_Delete(obj);
		return 0;
	}
	cJSON_ArrayForEach(item, obj)
	{
		const char *name = item->string ? item->string : "";

		if (rc < 0)
			break;
		if (!strcmp(name, "text_input") || !strcmp(name, "textInput"))
			rc = spec_example_field(m, line, item, "text_input", lim->max_input_chars,
						&in);
		else if (!strcmp(name, "output"))
			rc = spec_example_field(m, line, item, "output", lim->max_output_chars,
						&out);
		else
			rc = spec_fail(m, line, "unknown field %s (known: text_input, output)",
				       spec_quote(q, sizeof(q), name, strlen(name)));
	}
	if (rc == 0 && !in)
		rc = spec_fail(m, line, "missing \"text_input\"");
	else if (rc == 0 && !out)
		rc = spec_fail(m, line, "missing \"output\"");
	else if (rc == 0 && !*out)
		rc = spec_fail(m, line, "\"output\" is empty");
	if (rc == 0) {
		struct tuning_example *e = spec_example_new(ex);
		e->line = line;
		e->input = xstrndup(in, strlen(in));
		e->output = xstrndup(out, strlen(out));
	}
	cJSON_Delete(obj);
	return rc;
}

int spec_parse_examples(const char *text, size_t len, const struct spec_example_limits *lim,
			struct tuning_request *req, char *msg, size_t msg_len)
{
	static const struct spec_example_limits none = {0, 0};
	struct spec_msg m = {"examples.jsonl", msg, msg_len};
	struct spec_examples ex = {0};
	const char *p = text, *end = text ? text + len : text;
	int line = 0, rc;

	if (msg && msg_len)
		msg[0] = '\0';
	if (text && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *s = p;

		line++;
		p = nl ? nl + 1 : end;
		spec_trim(&s, &le);
		if (s == le)
			continue;
		if ((rc = spec_example_line(&m, line, s, (size_t)(le - s), lim ? lim : &none,
					    &ex)) < 0) {
			spec_examples_free(ex.v, ex.n);
			return rc;
		}
	}
	if (ex.n == 0)
		return spec_fail(&m, 0,
				 "no examples (write one {\"text_input\": ..., \"output\": ...} "
				 "object a line)");
	spec_examples_free(req->examples, req->n_examples);
	req->examples = ex.v;
	req->n_examples = ex.n;
	return 0;
}
