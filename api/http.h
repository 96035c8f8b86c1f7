/* http.h - the one HTTP layer of the service client, over libcurl.
 * Connection reuse across threads, timeouts, retries with backoff and jitter, the
 * delay the service asks for, cancellation, and the single HTTP/status -> errno table.
 * Knows URLs and JSON envelopes, not what the calls mean (that is gemini.h). */
#ifndef TUNEDFS_HTTP_H
#define TUNEDFS_HTTP_H

#include <stddef.h>

struct gemini_error;
struct gemini_cancel;
struct creds;

struct http_options {
	const char *endpoint;	  /* "https://generativelanguage.googleapis.com" or
				     "http://127.0.0.1:PORT" or "unix:/path/to/socket" */
	long connect_timeout_ms;  /* default 10000 */
	long timeout_ms;	  /* whole transfer, default 60000 */
	long generate_timeout_ms; /* for generateContent, default 300000 */
	int max_attempts;	  /* default 5 */
	long max_retry_ms;	  /* total budget across retries, default 120000 */
	long backoff_initial_ms;  /* default 500 */
	long backoff_max_ms;	  /* default 30000 */
};

struct http_client;

struct http_response {
	long status; /* 0 when no answer came */
	char *body;  /* NUL-terminated, heap */
	size_t len;
};

enum http_method { HTTP_GET, HTTP_POST, HTTP_PATCH, HTTP_DELETE };

/* Validates the endpoint: https always, plain http only to loopback or a unix socket.
 * creds may be NULL (no credentials sent); the client does not own it. */
int http_client_new(const struct http_options *opt, struct creds *creds, struct http_client **out,
		    struct gemini_error *err);
void http_client_free(struct http_client *hc);

/* path starts with "/v1beta/..." and may carry a query string. body may be NULL.
 * long_timeout selects generate_timeout_ms. Retries inside: 429, 500, 502, 503, 504,
 * 409 ABORTED and transfers that got no answer, waiting the Retry-After header or the
 * RetryInfo.retryDelay asked for, else full-jitter backoff, within max_attempts and
 * max_retry_ms; a 401 invalidates the credentials and is tried once more. A cancel is
 * seen within 50 ms, in flight or while waiting, and returns -EINTR.
 * Returns 0 with a 2xx response in *resp; else a negative errno, err filled from the
 * error envelope, and *resp (if non-NULL status) still filled for the caller to free. */
int http_request(struct http_client *hc, enum http_method method, const char *path,
		 const char *body, int long_timeout, struct gemini_cancel *cancel,
		 struct http_response *resp, struct gemini_error *err);
void http_response_clear(struct http_response *resp);

/* The one mapping from (HTTP status, status string) to errno, DESIGN.md's table.
 * http_status 0 looks the status string up alone (an Operation.error has no HTTP code). */
int http_errno_for(long http_status, const char *status);

/* A protobuf Duration ("22s", "0.5s") in milliseconds, rounded up. -EINVAL if malformed. */
int http_parse_duration_ms(const char *s, long *ms);

/* Counters for tests and benchmarks. */
struct http_stats {
	unsigned long requests, retries, failures;
};
void http_client_stats(struct http_client *hc, struct http_stats *out);

#endif
