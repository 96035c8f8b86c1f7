/* fuzz_spec_config.c - libFuzzer target for spec_parse_config(), the parser of a draft's
 * `config` file. Beyond memory safety it checks the contract of cache/spec.h: 0 or -EINVAL,
 * a NUL-terminated message naming the file, and an accepted config always yielding a
 * create body that is valid JSON carrying the same names. */
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
	fprintf(stderr, "fuzz_spec_config: contract broken: %s\n", why);
	abort();
}

static void fz_same_string(const cJSON *body, const char *key, const char *want)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, key);

	if (!want)
		return;
	if (!cJSON_IsString(item) || strcmp(item->valuestring, want) != 0)
		fz_fail(key);
}

/* An accepted config must go out to the service unchanged: escaping bugs in the
 * request builder show up here as a string that does not come back. */
static void fz_check_body(const struct tuning_request *req)
{
	char *text = gemini_tuning_request_json(req);
	cJSON *body;

	if (!text)
		fz_fail("gemini_tuning_request_json returned NULL");
	body = cJSON_Parse(text);
	if (!body)
		fz_fail("create body is not valid JSON");
	fz_same_string(body, "displayName", req->display_name);
	fz_same_string(body, "description", req->description);
	fz_same_string(body, "baseModel", req->base_model);
	cJSON_Delete(body);
	free(text);
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
	rc = spec_parse_config((const char *)data, size, &req, msg, msg_len);
	if (rc == 0) {
		if (msg_len > 16)
			fz_check_body(&req);
	} else {
		if (rc != -EINVAL)
			fz_fail("error other than -EINVAL");
		if (!memchr(msg, '\0', msg_len))
			fz_fail("message not NUL-terminated within msg_len");
		if (msg_len > 16 && strncmp(msg, "config", 6) != 0)
			fz_fail("message does not name the file");
	}
	tuning_request_clear(&req);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_parse(data, size, 256);
	/* A tiny buffer must truncate the message, never overrun it. */
	fz_parse(data, size, 7);
	return 0;
}
