/* google_rpc.c - the google.rpc error envelope of google_rpc.h: status names to errno and
 * to the contract's error kinds, the names of bare HTTP errors, RetryInfo and ErrorInfo
 * details. No I/O: the transport hands the answer over through its read_error hook. */
#include "api/google_rpc.h"
#include "api/backend.h"
#include "api/http.h"
#include "base/num.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names whose errno or kind differs from their HTTP status's (http_errno, http_error_kind),
 * and every name alone for answers without an HTTP code. The first match wins, so specific
 * rows come first. */
static const struct google_rpc_row {
	long http;
	const char *status;
	int err;
	enum backend_error_kind kind;
} google_rpc_table[] = {
    {400, "API_KEY_INVALID", EACCES, BACKEND_ERROR_CREDENTIALS},
    {400, "FAILED_PRECONDITION", EACCES, BACKEND_ERROR_OTHER},
    {400, "INVALID_ARGUMENT", EINVAL, BACKEND_ERROR_OTHER},
    {400, "OUT_OF_RANGE", EINVAL, BACKEND_ERROR_OTHER},
    {409, "ALREADY_EXISTS", EEXIST, BACKEND_ERROR_OTHER},
    {409, "ABORTED", EAGAIN, BACKEND_ERROR_OTHER},
    {401, "UNAUTHENTICATED", EACCES, BACKEND_ERROR_CREDENTIALS},
    {403, "PERMISSION_DENIED", EACCES, BACKEND_ERROR_OTHER},
    {404, "NOT_FOUND", ENOENT, BACKEND_ERROR_OTHER},
    {429, "RESOURCE_EXHAUSTED", EAGAIN, BACKEND_ERROR_RATE_LIMITED},
    {499, "CANCELLED", EINTR, BACKEND_ERROR_CANCELLED},
    {500, "INTERNAL", EIO, BACKEND_ERROR_UNAVAILABLE},
    {500, "UNKNOWN", EIO, BACKEND_ERROR_UNAVAILABLE},
    {500, "DATA_LOSS", EIO, BACKEND_ERROR_UNAVAILABLE},
    {501, "UNIMPLEMENTED", ENOSYS, BACKEND_ERROR_OTHER},
    {503, "UNAVAILABLE", EIO, BACKEND_ERROR_UNAVAILABLE},
    {504, "DEADLINE_EXCEEDED", ETIMEDOUT, BACKEND_ERROR_TIMEOUT},
};

/* The row of a name at an HTTP status (0: the name alone), NULL when none. */
static const struct google_rpc_row *google_rpc_find(long http_status, const char *status)
{
	size_t n = sizeof(google_rpc_table) / sizeof(google_rpc_table[0]);

	for (size_t i = 0; status && *status && i < n; i++) {
		const struct google_rpc_row *r = &google_rpc_table[i];
		if (http_status != 0 && r->http != http_status)
			continue;
		if (strcmp(r->status, status) == 0)
			return r;
	}
	return NULL;
}

int google_rpc_errno(long http_status, const char *status)
{
	const struct google_rpc_row *r = google_rpc_find(http_status, status);

	if (r)
		return -r->err;
	return http_status ? http_errno(http_status) : -EIO;
}

enum backend_error_kind google_rpc_kind(long http_status, const char *status)
{
	const struct google_rpc_row *r = google_rpc_find(http_status, status);

	return r ? r->kind : http_error_kind(http_status);
}

/* Canonical status names for answers that carry no envelope; none for a status Google
 * gives no name of its own (a proxy's 502 page says nothing about the service). */
static const char *google_rpc_default_status(long http_status)
{
	switch (http_status) {
	case 400:
		return "INVALID_ARGUMENT";
	case 401:
		return "UNAUTHENTICATED";
	case 403:
		return "PERMISSION_DENIED";
	case 404:
		return "NOT_FOUND";
	case 409:
		return "ALREADY_EXISTS";
	case 429:
		return "RESOURCE_EXHAUSTED";
	case 499:
		return "CANCELLED";
	case 500:
		return "INTERNAL";
	case 501:
		return "UNIMPLEMENTED";
	case 503:
		return "UNAVAILABLE";
	case 504:
		return "DEADLINE_EXCEEDED";
	default:
		return "";
	}
}

int google_rpc_duration_ms(const char *s, long *ms)
{
	long secs = 0, frac_ms = 0, scale = 100;
	int digits = 0, round_up = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	/* More than a day is no delay worth waiting for; cap instead of overflowing. */
	while (isdigit((unsigned char)*p)) {
		if (secs < 86400L * 365)
			secs = secs * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			if (scale > 0)
				frac_ms += (*p - '0') * scale;
			else if (*p != '0')
				round_up = 1;
			scale /= 10;
		}
	}
	if (digits == 0 || *p != 's' || p[1] != '\0')
		return -EINVAL;
	*ms = secs * 1000 + frac_ms + round_up;
	return 0;
}

static void google_rpc_details(const cJSON *details, long *asked_ms, char *reason, size_t cap)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, details)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "@type");
		const char *t = cJSON_IsString(type) ? type->valuestring : "";
		const char *tail = strrchr(t, '/');
		tail = tail ? tail + 1 : t;
		if (strcmp(tail, "google.rpc.RetryInfo") == 0) {
			const cJSON *rd = cJSON_GetObjectItemCaseSensitive(d, "retryDelay");
			long v;
			if (cJSON_IsString(rd) && google_rpc_duration_ms(rd->valuestring, &v) == 0)
				*asked_ms = v;
		} else if (strcmp(tail, "google.rpc.ErrorInfo") == 0) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "reason");
			if (cJSON_IsString(r))
				http_copy_line(reason, cap, r->valuestring);
		}
	}
}

int google_rpc_read_error(const struct http_response *resp, long *asked_ms,
			  struct backend_error *err)
{
	char reason[64] = "", status[48] = "";
	const cJSON *e = NULL, *m, *s;
	cJSON *root = NULL;
	long http = resp->status;

	if (resp->body && resp->len > 0)
		root = cJSON_ParseWithLength(resp->body, resp->len);
	if (root)
		e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(e)) {
		s = cJSON_GetObjectItemCaseSensitive(e, "status");
		m = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (cJSON_IsString(s))
			http_copy_line(status, sizeof(status), s->valuestring);
		google_rpc_details(cJSON_GetObjectItemCaseSensitive(e, "details"), asked_ms, reason,
				   sizeof(reason));
		if (!status[0])
			snprintf(status, sizeof(status), "%s", google_rpc_default_status(http));
		http_error_set(err, http, status, "%s", "");
		if (err)
			http_copy_line(err->message, sizeof(err->message),
				       cJSON_IsString(m) && *m->valuestring ? m->valuestring
									    : status);
	} else {
		snprintf(status, sizeof(status), "%s", google_rpc_default_status(http));
		http_error_set(err, http, status, "HTTP %ld %s from %s", http,
			       status[0] ? status : "error", "the service (no error details)");
	}
	cJSON_Delete(root);
	if (strcmp(reason, "API_KEY_INVALID") == 0)
		snprintf(status, sizeof(status), "%s",
			 reason); /* the reason decides, not the code */
	if (err)
		err->kind = google_rpc_kind(http, status);
	return google_rpc_errno(http, status);
}

int google_json_number(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	char *end;
	double d;

	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return 1;
	}
	if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
		return 0;
	d = strtod(v->valuestring, &end);
	if (*end)
		return 0;
	*out = d;
	return 1;
}

long google_json_count(const cJSON *o, const char *key)
{
	double d;
	long n;

	return google_json_number(o, key, &d) && num_count(d, &n) ? n : -1;
}
