/* openai_error.c - how OpenAI says why a call failed: the {"error": {message, type, param,
 * code}} envelope read into a backend_error through the project's one errno table, and the
 * delay a 429 asks for (x-ratelimit-reset-*). The transport calls it as its read_error
 * hook; no I/O here. */
#include "api/backend.h"
#include "api/http.h"
#include "api/openai_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *const openai_kept_headers[] = {"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
					   NULL};

int openai_duration_ms(const char *s, long *ms)
{
	double total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		double v = 0, scale = 1;
		int digits = 0;
		for (; isdigit((unsigned char)*p); p++, digits++)
			v = v * 10 + (*p - '0');
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++, digits++)
				v += (*p - '0') * (scale /= 10);
		if (!digits || v > 1e9)
			return -EINVAL;
		if (p[0] == 'm' && p[1] == 's')
			total += v, p += 2;
		else if (*p == 'h')
			total += v * 3600000, p++;
		else if (*p == 'm')
			total += v * 60000, p++;
		else if (*p == 's')
			total += v * 1000, p++;
		else
			return -EINVAL;
	}
	*ms = (long)total + (total > (double)(long)total);
	return 0;
}

/* The longest reset any kept header names: the limit that was hit is among them. */
static void openai_asked(const struct http_response *resp, long *asked_ms)
{
	long best = -1;

	for (const char *const *h = openai_kept_headers; *h; h++) {
		char v[64];
		long ms;
		if (http_response_header(resp, *h, v, sizeof(v)) == 0 &&
		    openai_duration_ms(v, &ms) == 0 && ms > best)
			best = ms;
	}
	if (best >= 0)
		*asked_ms = best;
}

/* The envelope's code words that say more than the HTTP status does. */
static int openai_errno(long status, const char *code)
{
	if (!strcmp(code, "invalid_api_key") || !strcmp(code, "invalid_organization"))
		return -EACCES;
	return http_errno(status);
}

int openai_read_error(const struct http_response *resp, long *asked_ms, struct backend_error *err)
{
	cJSON *root = resp->body && resp->len ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
	const cJSON *e = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
	char word[48] = "";
	int rc;

	/* code is the precise word ("invalid_api_key"); type the broad one */
	if (cJSON_IsString(code) && *code->valuestring)
		http_copy_line(word, sizeof(word), code->valuestring);
	else if (cJSON_IsString(type) && *type->valuestring)
		http_copy_line(word, sizeof(word), type->valuestring);
	rc = openai_errno(resp->status, word);
	if (cJSON_IsString(m) && *m->valuestring) {
		http_error_set(err, resp->status, word, "%s", "");
		if (err)
			http_copy_line(err->message, sizeof(err->message), m->valuestring);
	} else {
		http_error_set(err, resp->status, word, "HTTP %ld from the service%s", resp->status,
			       cJSON_IsObject(e) ? "" : " (no error details)");
	}
	if (resp->status == 429)
		openai_asked(resp, asked_ms);
	cJSON_Delete(root);
	return rc;
}
