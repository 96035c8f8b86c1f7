/* fuzz_spec_generation.c - libFuzzer target for spec_parse_generation() and
 * spec_generation_canonical(). The canonical text is what `generation` reads back and what
 * the response cache hashes, so it must parse again to the same canonical text; the
 * generateContent body built from accepted settings must be valid JSON. */
#include <errno.h>
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
	fprintf(stderr, "fuzz_spec_generation: contract broken: %s\n", why);
	abort();
}

static void fz_check_request(const struct generation_settings *gs)
{
	char *text = gemini_generate_request_json("1", gs);
	cJSON *body;

	if (!text)
		fz_fail("gemini_generate_request_json returned NULL");
	body = cJSON_Parse(text);
	if (!body)
		fz_fail("generateContent body is not valid JSON");
	cJSON_Delete(body);
	free(text);
}

/* Reading `generation` back and writing it again must change nothing. */
static void fz_check_canonical(const struct generation_settings *gs)
{
	struct generation_settings again;
	char *text = spec_generation_canonical(gs), *text2;
	char msg[256];

	if (!text)
		fz_fail("spec_generation_canonical returned NULL");
	memset(&again, 0, sizeof(again));
	if (spec_parse_generation(text, strlen(text), &again, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "canonical text:\n%s\nrejected: %s\n", text, msg);
		fz_fail("canonical text does not parse");
	}
	text2 = spec_generation_canonical(&again);
	if (!text2 || strcmp(text, text2) != 0) {
		fprintf(stderr, "first:\n%s\nsecond:\n%s\n", text, text2 ? text2 : "(null)");
		fz_fail("canonical text is not stable");
	}
	free(text2);
	free(text);
	generation_settings_clear(&again);
}

static void fz_parse(const uint8_t *data, size_t size, size_t msg_len)
{
	struct generation_settings gs;
	char *msg = malloc(msg_len);
	int rc;

	if (!msg)
		abort();
	memset(msg, 'x', msg_len);
	memset(&gs, 0, sizeof(gs));
	rc = spec_parse_generation((const char *)data, size, &gs, msg, msg_len);
	if (rc == 0) {
		if (gs.n_stop_sequences > BACKEND_MAX_STOP_SEQUENCES)
			fz_fail("more stop sequences than the API allows");
		for (size_t i = 0; i < gs.n_stop_sequences; i++)
			if (!gs.stop_sequences[i])
				fz_fail("NULL stop sequence counted");
		if (msg_len > 16) {
			fz_check_canonical(&gs);
			fz_check_request(&gs);
		}
	} else {
		if (rc != -EINVAL)
			fz_fail("error other than -EINVAL");
		if (!memchr(msg, '\0', msg_len))
			fz_fail("message not NUL-terminated within msg_len");
		if (msg_len > 16 && strncmp(msg, "generation", 10) != 0)
			fz_fail("message does not name the file");
	}
	generation_settings_clear(&gs);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_parse(data, size, 256);
	fz_parse(data, size, 3);
	return 0;
}
