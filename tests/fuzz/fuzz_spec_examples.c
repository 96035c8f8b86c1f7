/* fuzz_spec_examples.c - libFuzzer target for spec_parse_examples(), the parser of a
 * draft's `examples.jsonl`. Checks memory safety and the contract: 0 or -EINVAL, a message
 * naming the file, accepted examples all valid UTF-8 with an output (or a service's own line
 * with "messages" or "contents", left to its backend), and a create body that carries every
 * example back unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/gemini.h"
#include "cache/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The Gemini API's character limits of one example, as its backend gives them. */
static const struct spec_example_limits fz_gemini = {40000, 5000};

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_spec_examples: contract broken: %s\n", why);
	abort();
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int fz_valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, need, min, cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += need + 1;
	}
	return 1;
}

static const cJSON *fz_child(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!item)
		fz_fail(key);
	return item;
}

/* The body's tuningTask.trainingData.examples.examples must list what was parsed. */
static void fz_check_body(const struct tuning_request *req)
{
	char *text = gemini_tuning_request_json(req);
	const cJSON *list, *ex;
	cJSON *body;
	size_t i = 0;

	if (!text)
		fz_fail("gemini_tuning_request_json returned NULL");
	body = cJSON_Parse(text);
	if (!body)
		fz_fail("create body is not valid JSON");
	list =
	    fz_child(fz_child(fz_child(fz_child(body, "tuningTask"), "trainingData"), "examples"),
		     "examples");
	if ((size_t)cJSON_GetArraySize(list) != req->n_examples)
		fz_fail("example count changed in the create body");
	cJSON_ArrayForEach(ex, list)
	{
		const cJSON *out = fz_child(ex, "output");
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(ex, "textInput");

		if (!cJSON_IsString(out) || strcmp(out->valuestring, req->examples[i].output) != 0)
			fz_fail("an output changed in the create body");
		if (req->examples[i].input &&
		    (!cJSON_IsString(in) || strcmp(in->valuestring, req->examples[i].input) != 0))
			fz_fail("a text input changed in the create body");
		i++;
	}
	cJSON_Delete(body);
	free(text);
}

static void fz_check_examples(const struct tuning_request *req)
{
	if (req->n_examples == 0 || !req->examples)
		fz_fail("accepted with no examples");
	for (size_t i = 0; i < req->n_examples; i++) {
		const struct tuning_example *ex = &req->examples[i];

		if (ex->native) { /* a service's own line, kept whole for its backend */
			cJSON *o = cJSON_Parse(ex->native);
			if (ex->output || ex->input)
				fz_fail("a native line with a pair beside it");
			if (!cJSON_IsObject(o) ||
			    (!cJSON_GetObjectItemCaseSensitive(o, "messages") &&
			     !cJSON_GetObjectItemCaseSensitive(o, "contents")))
				fz_fail("accepted a native line without messages or contents");
			if (!fz_valid_utf8((const unsigned char *)ex->native))
				fz_fail("accepted a native line that is not valid UTF-8");
			cJSON_Delete(o);
			continue;
		}
		if (!ex->output)
			fz_fail("accepted an example without output");
		if (!fz_valid_utf8((const unsigned char *)ex->output) ||
		    (ex->input && !fz_valid_utf8((const unsigned char *)ex->input)))
			fz_fail("accepted an example that is not valid UTF-8");
	}
}

/* Whether any example is a native line: the Gemini API refuses those before a body is made
 * (gemini_backend.c), so no body is checked then. */
static int fz_any_native(const struct tuning_request *req)
{
	for (size_t i = 0; i < req->n_examples; i++)
		if (req->examples[i].native)
			return 1;
	return 0;
}

static void fz_parse(const uint8_t *data, size_t size, size_t msg_len)
{
	struct tuning_request req;
	char *msg = malloc(msg_len);
	int rc;

	if (!msg)
		abort();
	memset(msg, 'x', msg_len);
	memset(&req, 0, sizeof(req));
	rc = spec_parse_examples((const char *)data, size, &fz_gemini, &req, msg, msg_len);
	if (rc == 0) {
		fz_check_examples(&req);
		if (msg_len > 16 && !fz_any_native(&req))
			fz_check_body(&req);
	} else {
		if (rc != -EINVAL)
			fz_fail("error other than -EINVAL");
		if (!memchr(msg, '\0', msg_len))
			fz_fail("message not NUL-terminated within msg_len");
		if (msg_len > 16 && strncmp(msg, "examples.jsonl", 14) != 0)
			fz_fail("message does not name the file");
	}
	tuning_request_clear(&req);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_parse(data, size, 256);
	fz_parse(data, size, 5);
	return 0;
}
