/* openai_error.c - how OpenAI says why a call failed: the {"error": {message, type, code}}
 * envelope read to an errno and an error kind, and the delay a 429 asks for
 * (x-ratelimit-reset-*). The transport calls it as its read_error hook; no I/O here. */
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

/* The envelope's words (its code, else its type) that say more than the HTTP status does:
 * their errno (0: the status's) and the contract's kind. */
static const struct openai_word {
	const char *word;
	int err;
	enum backend_error_kind kind;
} openai_words[] = {
    {"invalid_api_key", EACCES, BACKEND_ERROR_CREDENTIALS},
    {"invalid_organization", EACCES, BACKEND_ERROR_CREDENTIALS},
    {"rate_limit_exceeded", 0, BACKEND_ERROR_RATE_LIMITED},
    {"insufficient_quota", 0, BACKEND_ERROR_RATE_LIMITED},
    {"server_error", 0, BACKEND_ERROR_UNAVAILABLE},
};

static const struct openai_word *openai_word_find(const char *word)
{
	for (size_t i = 0; i < sizeof(openai_words) / sizeof(*openai_words); i++)
		if (strcmp(openai_words[i].word, word) == 0)
			return &openai_words[i];
	return NULL;
}

int openai_errno(long status, const char *word)
{
	const struct openai_word *w = openai_word_find(word ? word : "");

	return w && w->err ? -w->err : http_errno(status);
}

enum backend_error_kind openai_error_kind(long status, const char *word)
{
	const struct openai_word *w = openai_word_find(word ? word : "");

	return w ? w->kind : http_error_kind(status);
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
	if (err)
		err->kind = openai_error_kind(resp->status, word);
	if (resp->status == 429)
		openai_asked(resp, asked_ms);
	cJSON_Delete(root);
	return rc;
}
