/* http_internal.h - what http.c and http_error.c share inside api/, not a public contract.
 * The error envelope reader, the transport-error wording and small allocation helpers. */
#ifndef TUNEDFS_HTTP_INTERNAL_H
#define TUNEDFS_HTTP_INTERNAL_H

#include "api/http.h"

#include <curl/curl.h>
#include <stddef.h>

struct gemini_error;

void *http_xmalloc(size_t n);
char *http_xstrdup(const char *s);

void http_error_set(struct gemini_error *err, long http_status, const char *status, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

/* Fills err from an HTTP error answer and returns its errno; *asked_ms gets the
 * RetryInfo.retryDelay in milliseconds, left alone when there is none. */
int http_error_from_envelope(const struct http_response *resp, long *asked_ms,
			     struct gemini_error *err);

/* Fills err for a transfer that got no answer and returns its errno. */
int http_transport_error(const char *endpoint, CURLcode code, int os_errno, const char *errbuf,
			 struct gemini_error *err);

int http_host_is_loopback(const char *host);

/* http_request with one more out: *maybe_done is set when an earlier attempt may have
 * reached the service and been carried out (a transfer cut short, a 5xx), so that a
 * create meeting 409 on its retry can recognise its own work. */
int http_request_ex(struct http_client *hc, enum http_method method, const char *path,
		    const char *body, int long_timeout, struct gemini_cancel *cancel,
		    struct http_response *resp, struct gemini_error *err, int *maybe_done);

#endif
