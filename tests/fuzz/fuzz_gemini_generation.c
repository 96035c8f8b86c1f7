/* fuzz_gemini_generation.c - libFuzzer target for gemini_parse_generation(), the client's
 * reading of a GenerateContentResponse: candidates, text parts, finish and block
 * reasons. On success text and json are always there (text "" when no part). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gemini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_gemini_generation: contract broken: %s\n", why);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct generation_answer r;
	size_t n;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = gemini_parse_generation((const char *)data, size, &r);
	if (rc > 0)
		fz_fail("positive return");
	if (rc == 0) {
		if (!r.text)
			fz_fail("text is NULL on success");
		if (!r.raw_json)
			fz_fail("json is NULL on success");
		n = strlen(r.text) + strlen(r.raw_json);
		if (r.finish_reason)
			n += strlen(r.finish_reason);
		if (r.block_reason)
			n += strlen(r.block_reason);
		if (n == (size_t)-1)
			abort();
	}
	generation_answer_clear(&r);
	return 0;
}
