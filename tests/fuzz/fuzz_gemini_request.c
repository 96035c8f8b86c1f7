/* fuzz_gemini_request.c - libFuzzer target for gemini_generate_request_json(), the body the
 * client sends for a prompt. Input: generation settings text, a NUL byte, then the prompt.
 * Whatever bytes the prompt holds, the body must be valid JSON whose first part's text
 * is exactly the prompt: a prompt must never be able to add or change request fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/gemini.h"
#include "cache/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_gemini_request: contract broken: %s\n", why);
	abort();
}

static const cJSON *fz_first(const cJSON *obj, const char *key)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1)
		fz_fail(key);
	return cJSON_GetArrayItem(arr, 0);
}

static void fz_check(const char *prompt, const struct generation_settings *gs)
{
	char *text = gemini_generate_request_json(prompt, gs);
	const cJSON *part, *t;
	cJSON *body;

	if (!text)
		fz_fail("gemini_generate_request_json returned NULL");
	body = cJSON_Parse(text);
	if (!body)
		fz_fail("generateContent body is not valid JSON");
	part = fz_first(fz_first(body, "contents"), "parts");
	t = cJSON_GetObjectItemCaseSensitive(part, "text");
	if (!cJSON_IsString(t) || strcmp(t->valuestring, prompt) != 0)
		fz_fail("prompt changed on its way into the body");
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "contents")) != 1)
		fz_fail("prompt produced more than one content");
	cJSON_Delete(body);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t gen_len = nul ? (size_t)(nul - data) : size;
	size_t prompt_len = nul ? size - gen_len - 1 : 0;
	struct generation_settings gs;
	char msg[128];
	char *prompt = malloc(prompt_len + 1);

	if (!prompt)
		abort();
	if (prompt_len)
		memcpy(prompt, nul + 1, prompt_len);
	prompt[prompt_len] = '\0';
	memset(&gs, 0, sizeof(gs));
	if (spec_parse_generation((const char *)data, gen_len, &gs, msg, sizeof(msg)) != 0) {
		generation_settings_clear(&gs);
		memset(&gs, 0, sizeof(gs));
	}
	fz_check(prompt, &gs);
	generation_settings_clear(&gs);
	free(prompt);
	return 0;
}
