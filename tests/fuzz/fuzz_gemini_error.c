/* fuzz_gemini_error.c - libFuzzer target for the client's reading of error answers: the
 * {"error": {...}} envelope with its RetryInfo/ErrorInfo details (http_error_from_envelope)
 * and Duration strings (http_parse_duration_ms). Input: two bytes of HTTP status, the body.
 * What it fills reaches the `error` file and the log, so it must be one printable line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gemini.h"
#include "api/backend.h"
#include "api/google_rpc.h"
#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_gemini_error: contract broken: %s\n", why);
	abort();
}

static void fz_printable_line(const char *s, size_t cap, const char *what)
{
	const char *end = memchr(s, '\0', cap);

	if (!end)
		fz_fail(what);
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fz_fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response resp;
	struct backend_error err;
	long asked = -1, ms = -1;
	int rc;

	if (size < 2)
		return 0;
	memset(&resp, 0, sizeof(resp));
	resp.status = 100 + (data[0] | data[1] << 8) % 500;
	resp.len = size - 2;
	/* http.h: the body is NUL-terminated, len bytes before the terminator. */
	resp.body = malloc(resp.len + 1);
	if (!resp.body)
		abort();
	memcpy(resp.body, data + 2, resp.len);
	resp.body[resp.len] = '\0';
	memset(&err, 'x', sizeof(err));
	rc = google_rpc_read_error(&resp, &asked, &err);
	if (rc >= 0)
		fz_fail("an error answer mapped to success");
	if (err.http_status != resp.status)
		fz_fail("http_status not kept");
	fz_printable_line(err.code, sizeof(err.code), "status is not one printable line");
	fz_printable_line(err.message, sizeof(err.message), "message is not one printable line");
	if (asked != -1 && asked < 0)
		fz_fail("negative retry delay");
	if (google_rpc_duration_ms(resp.body, &ms) == 0 && ms < 0)
		fz_fail("negative duration");
	free(resp.body);
	return 0;
}
