/* http_error.c - the one table from (HTTP status, status string) to errno, and the reading
 * of the service's error envelope and of transport failures into a gemini_error.
 * No I/O here: http.c performs the requests and decides about retries. */
#include "api/gemini.h"
#include "api/http.h"
#include "api/http_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_error_set(struct gemini_error *err, long http_status, const char *status, const char *fmt,
		    ...)
{
	va_list ap;

	if (!err)
		return;
	err->http_status = (int)http_status;
	snprintf(err->status, sizeof(err->status), "%s", status ? status : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Rows with a status string match it exactly; a row with NULL matches any string for
 * its HTTP code. The first match wins, so specific rows come first. A status string
 * alone (http 0) also finds its row, for Operation.error and ErrorInfo reasons. */
static const struct http_errno_row {
	long http;
	const char *status;
	int err;
} http_errno_table[] = {
    {400, "API_KEY_INVALID", EACCES},
    {400, "FAILED_PRECONDITION", EACCES},
    {400, "INVALID_ARGUMENT", EINVAL},
    {400, "OUT_OF_RANGE", EINVAL},
    {400, NULL, EINVAL},
    {401, NULL, EACCES},
    {403, NULL, EACCES},
    {404, NULL, ENOENT},
    {409, "ALREADY_EXISTS", EEXIST},
    {409, "ABORTED", EAGAIN},
    {409, NULL, EEXIST},
    {429, NULL, EAGAIN},
    {499, NULL, EINTR},
    {500, NULL, EIO},
    {501, NULL, ENOSYS},
    {502, NULL, EIO},
    {503, NULL, EIO},
    {504, NULL, ETIMEDOUT},
    {401, "UNAUTHENTICATED", EACCES},
    {403, "PERMISSION_DENIED", EACCES},
    {404, "NOT_FOUND", ENOENT},
    {429, "RESOURCE_EXHAUSTED", EAGAIN},
    {499, "CANCELLED", EINTR},
    {500, "INTERNAL", EIO},
    {500, "UNKNOWN", EIO},
    {500, "DATA_LOSS", EIO},
    {501, "UNIMPLEMENTED", ENOSYS},
    {503, "UNAVAILABLE", EIO},
    {504, "DEADLINE_EXCEEDED", ETIMEDOUT},
};

int http_errno_for(long http_status, const char *status)
{
	size_t n = sizeof(http_errno_table) / sizeof(http_errno_table[0]);

	if (!status)
		status = "";
	if (http_status == 0 && !*status)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		const struct http_errno_row *r = &http_errno_table[i];
		if (http_status != 0 && r->http != http_status)
			continue;
		if (r->status ? strcmp(r->status, status) == 0 : http_status != 0)
			return -r->err;
	}
	if (http_status >= 400 && http_status < 500)
		return -EINVAL;
	return -EIO;
}

/* Canonical status names for answers that carry no envelope (a proxy's 502 page). */
static const char *http_default_status(long http_status)
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
	case 501:
		return "UNIMPLEMENTED";
	case 503:
		return "UNAVAILABLE";
	case 504:
		return "DEADLINE_EXCEEDED";
	default:
		return http_status >= 500 ? "INTERNAL" : "";
	}
}

int http_parse_duration_ms(const char *s, long *ms)
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

/* Copies text into dst as one printable line: service messages reach logs and files. */
static void http_copy_line(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for (; src && *src && o + 1 < cap; src++)
		dst[o++] = ((unsigned char)*src < 0x20 || *src == 0x7f) ? ' ' : *src;
	dst[o] = '\0';
}

static void http_read_details(const cJSON *details, long *asked_ms, char *reason, size_t cap)
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
			if (cJSON_IsString(rd) && http_parse_duration_ms(rd->valuestring, &v) == 0)
				*asked_ms = v;
		} else if (strcmp(tail, "google.rpc.ErrorInfo") == 0) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "reason");
			if (cJSON_IsString(r))
				http_copy_line(reason, cap, r->valuestring);
		}
	}
}

int http_error_from_envelope(const struct http_response *resp, long *asked_ms,
			     struct gemini_error *err)
{
	char reason[64] = "", status[40] = "";
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
		http_read_details(cJSON_GetObjectItemCaseSensitive(e, "details"), asked_ms, reason,
				  sizeof(reason));
		if (!status[0])
			snprintf(status, sizeof(status), "%s", http_default_status(http));
		http_error_set(err, http, status, "%s", "");
		http_copy_line(err->message, sizeof(err->message),
			       cJSON_IsString(m) && *m->valuestring ? m->valuestring : status);
	} else {
		snprintf(status, sizeof(status), "%s", http_default_status(http));
		http_error_set(err, http, status, "HTTP %ld %s from %s", http,
			       status[0] ? status : "error", "the service (no error details)");
	}
	cJSON_Delete(root);
	if (strcmp(reason, "API_KEY_INVALID") == 0)
		return http_errno_for(http, reason);
	return http_errno_for(http, status);
}

int http_transport_error(const char *endpoint, CURLcode code, int os_errno, const char *errbuf,
			 struct gemini_error *err)
{
	const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(code);

	switch (code) {
	case CURLE_ABORTED_BY_CALLBACK:
		http_error_set(err, 0, "CANCELLED", "request to %s cancelled", endpoint);
		return -EINTR;
	case CURLE_OPERATION_TIMEDOUT:
		http_error_set(err, 0, "DEADLINE_EXCEEDED", "timed out talking to %s: %s", endpoint,
			       why);
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		if (os_errno)
			why = strerror(os_errno);
		http_error_set(err, 0, "UNAVAILABLE", "cannot reach %s: %s", endpoint, why);
		return -EIO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		http_error_set(err, 0, "UNAVAILABLE",
			       "cannot reach %s: its TLS certificate did not verify (%s)", endpoint,
			       why);
		return -EIO;
	case CURLE_GOT_NOTHING:
		http_error_set(err, 0, "UNAVAILABLE", "cannot reach %s: empty reply from server",
			       endpoint);
		return -EIO;
	default:
		http_error_set(err, 0, "UNAVAILABLE", "cannot reach %s: %s", endpoint, why);
		return -EIO;
	}
}
