/* http_error.c - filling a backend_error: the setter, the printable copy of a service's
 * words, the plain reading of an error answer (a service's own envelope is its read_error
 * hook) and the wording of transport failures. No I/O: http.c and http_retry.c do it. */
#include "api/backend.h"
#include "api/http.h"
#include "api/http_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_error_set(struct backend_error *err, long http_status, const char *code, const char *fmt,
		    ...)
{
	va_list ap;

	if (!err)
		return;
	err->kind = http_error_kind(http_status);
	err->http_status = (int)http_status;
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void http_error_local(struct backend_error *err, enum backend_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->kind = kind;
	err->http_status = 0;
	err->code[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void http_copy_line(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for (; src && *src && o + 1 < cap; src++)
		dst[o++] = ((unsigned char)*src < 0x20 || *src == 0x7f) ? ' ' : *src;
	dst[o] = '\0';
}

int http_read_error_plain(const struct http_response *resp, long *asked_ms,
			  struct backend_error *err)
{
	(void)asked_ms;
	http_error_set(err, resp->status, "", "HTTP %ld from the service", resp->status);
	return http_errno(resp->status);
}

int http_size_error(const char *endpoint, const struct http_attempt *at, struct backend_error *err)
{
	size_t mib = http_inflight_limit() >> 20;

	if (at->too_big) {
		http_error_local(err, BACKEND_ERROR_TOO_LARGE,
				 "the answer from %s is too large: %s", endpoint, at->errbuf);
		return -EIO;
	}
	if (at->over_budget == 2)
		http_error_local(err, BACKEND_ERROR_TOO_LARGE,
				 "the answer from %s is larger than -o max_inflight_mib=%zu",
				 endpoint, mib);
	else
		http_error_local(
		    err, BACKEND_ERROR_TOO_LARGE,
		    "answers in flight from %s passed -o max_inflight_mib=%zu; gave up "
		    "waiting for room",
		    endpoint, mib);
	return -EIO;
}

int http_transport_error(const char *endpoint, CURLcode code, int os_errno, const char *errbuf,
			 struct backend_error *err)
{
	const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(code);

	switch (code) {
	case CURLE_ABORTED_BY_CALLBACK:
		http_error_local(err, BACKEND_ERROR_CANCELLED, "request to %s cancelled", endpoint);
		return -EINTR;
	case CURLE_OPERATION_TIMEDOUT:
		http_error_local(err, BACKEND_ERROR_TIMEOUT, "timed out talking to %s: %s",
				 endpoint, why);
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		if (os_errno)
			why = strerror(os_errno);
		http_error_local(err, BACKEND_ERROR_UNREACHABLE, "cannot reach %s: %s", endpoint,
				 why);
		return -EIO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		http_error_local(err, BACKEND_ERROR_UNREACHABLE,
				 "cannot reach %s: its TLS certificate did not verify (%s)",
				 endpoint, why);
		return -EIO;
	case CURLE_PARTIAL_FILE:
		http_error_local(err, BACKEND_ERROR_UNREACHABLE,
				 "the answer from %s was cut short: %s", endpoint, why);
		return -EIO;
	case CURLE_RECV_ERROR:
		http_error_local(err, BACKEND_ERROR_UNREACHABLE, "the connection to %s broke: %s",
				 endpoint, why);
		return -EIO;
	case CURLE_WRITE_ERROR:
		http_error_local(err, BACKEND_ERROR_UNREACHABLE,
				 "the answer from %s could not be kept: %s", endpoint, why);
		return -EIO;
	case CURLE_GOT_NOTHING:
		http_error_local(err, BACKEND_ERROR_UNREACHABLE,
				 "cannot reach %s: empty reply from server", endpoint);
		return -EIO;
	default:
		http_error_local(err, BACKEND_ERROR_UNREACHABLE, "cannot reach %s: %s", endpoint,
				 why);
		return -EIO;
	}
}
