/* http.h - the one HTTP layer of the service clients, over libcurl.
 * Connection reuse across threads, timeouts, retries with backoff and jitter, the delay
 * the service asks for, cancellation, and the HTTP status -> errno table. Knows no service:
 * how a service words its errors comes in through the read_error hook (google_rpc.h, ...),
 * its credentials through an http_auth the caller hands in (creds.h makes one); what the
 * calls mean is the backends'. */
#ifndef TUNEDFS_HTTP_H
#define TUNEDFS_HTTP_H

#include "api/backend.h"

#include <stddef.h>

struct http_response;

/* Reads an error answer: fills err (code: the service's word for it, kind: what that word
 * means) and returns its errno; *asked_ms gets the delay the service asked for, left alone
 * when none. */
typedef int (*http_read_error_fn)(const struct http_response *resp, long *asked_ms,
				  struct backend_error *err);

struct http_options {
	const char *endpoint;	       /* "https://HOST[:PORT]", "http://127.0.0.1:PORT" or
					  "unix:/path/to/socket" */
	long connect_timeout_ms;       /* default 10000 */
	long timeout_ms;	       /* whole transfer, default 60000 */
	long generate_timeout_ms;      /* for long calls (generation), default 300000 */
	int max_attempts;	       /* default 1000: max_retry_ms is what bounds retries */
	long max_retry_ms;	       /* total budget across retries, default 120000 */
	long backoff_initial_ms;       /* default 500 */
	long backoff_max_ms;	       /* default 30000 */
	http_read_error_fn read_error; /* NULL: the HTTP status alone (http_errno) */
	const char *client_header;     /* one more header line on every request, or NULL */
	const char *client_headers[3]; /* more such lines (unused entries NULL) */
	/* Names of answer headers to keep in http_response.headers (lower case, NULL-ended),
	 * for a read_error that needs them (a rate limit's reset time). */
	const char *const *keep_headers;
};

/* Where a client's credential headers come from. The transport knows no credential
 * source: it asks these hooks on every attempt and tells them of a 401. */
struct http_auth {
	/* Fills up to max header lines (heap strings the transport wipes and frees); returns
	 * the count or a negative errno with err filled. */
	int (*headers)(void *ctx, char **headers, size_t max, struct backend_error *err);
	/* A 401 came back for the bearer token token_seen (NULL: none was sent). */
	void (*invalidate)(void *ctx, const char *token_seen);
	void *ctx;
};

struct http_client;

struct http_response {
	long status; /* 0 when no answer came */
	char *body;  /* NUL-terminated, heap */
	size_t len;
	char *location; /* the Location header when asked for (http_call_options), heap */
	char *headers;	/* the kept headers (http_options.keep_headers) as "name: value\n"
			   lines, heap; NULL when none came */
	size_t held;	/* bytes of the in-flight budget this body holds until cleared */
};

/* The value of a kept header in resp (name in lower case), copied into buf; 0 or -ENOENT. */
int http_response_header(const struct http_response *resp, const char *name, char *buf, size_t len);

enum http_method { HTTP_GET, HTTP_POST, HTTP_PATCH, HTTP_DELETE, HTTP_PUT };

/* What one call may need beyond a JSON body; every field may be left 0. */
struct http_call_options {
	const char *content_type; /* of the body; NULL: application/json */
	size_t body_len;	  /* 0: strlen(body) */
	const char *extra_header; /* one more header line for this call ("Content-Range: ...") */
	const char *extra_headers[4]; /* more such lines (unused entries NULL) */
	int long_timeout;	      /* generate_timeout_ms instead of timeout_ms */
	int once;		      /* a single attempt, no retries */
	int fresh;		      /* a new connection: libcurl resends nothing on its own */
	int want_location;	      /* keep the Location header in resp->location */
	/* Called as a 2xx answer's body arrives, with all of this attempt's body so far;
	 * (NULL, 0) opens every attempt, so that a retry starts its reader afresh. */
	void (*on_body)(void *arg, const char *body, size_t len);
	void *on_body_arg;
	int *maybe_done; /* set when an earlier attempt may have been carried out (a transfer
			    cut short, a 5xx): a create meeting 409 may be its own work */
};

/* Validates the endpoint: https always, plain http only to loopback or a unix socket.
 * auth may be NULL (no credentials sent); the client copies the struct, and its ctx must
 * outlive the client. */
int http_client_new(const struct http_options *opt, const struct http_auth *auth,
		    struct http_client **out, struct backend_error *err);
void http_client_free(struct http_client *hc);
/* The endpoint as given, for messages. */
const char *http_client_endpoint(const struct http_client *hc);

/* path starts with "/" and may carry a query string. body may be NULL. Retries inside:
 * 429, 500, 502, 503, 504, a 409 that read_error calls EAGAIN, and transfers that got no
 * answer, waiting the Retry-After header or the delay read_error found, else full-jitter
 * backoff, within max_attempts and max_retry_ms; a 401 is told to the auth hooks and is
 * tried once more. A cancel is seen within 50 ms, in flight or while waiting: -EINTR.
 * Returns 0 with a 2xx response in *resp; else a negative errno, err filled, and *resp
 * (if non-NULL status) still filled for the caller to free. Transport failures have no
 * code and http_status 0; their kind is BACKEND_ERROR_CANCELLED, _TIMEOUT, _UNREACHABLE
 * or _TOO_LARGE. */
int http_call(struct http_client *hc, enum http_method method, const char *path, const char *body,
	      const struct http_call_options *o, struct backend_cancel *cancel,
	      struct http_response *resp, struct backend_error *err);
/* http_call with a JSON body and only long_timeout set. */
int http_request(struct http_client *hc, enum http_method method, const char *path,
		 const char *body, int long_timeout, struct backend_cancel *cancel,
		 struct http_response *resp, struct backend_error *err);
void http_response_clear(struct http_response *resp);

/* One form POST to a whole URL, once, without credentials (the token endpoints). */
int http_post_form(const char *url, const char *form, long timeout_ms, struct http_response *resp,
		   struct backend_error *err);

/* The one mapping from an HTTP status to errno, DESIGN.md's table. */
int http_errno(long http_status);

/* The kind an HTTP status stands for when the service says no more: a 2xx that is an
 * error is a bad answer, 429 rate limited, 401 credentials, 5xx unavailable (504 timeout). */
enum backend_error_kind http_error_kind(long http_status);

/* Fills err (when not NULL), its kind http_error_kind(http_status); code is the service's
 * own word, "" when it sent none. */
void http_error_set(struct backend_error *err, long http_status, const char *code, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
/* Fills err (when not NULL) for a failure with no answer behind it: kind, no HTTP status,
 * no code. */
void http_error_local(struct backend_error *err, enum backend_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies text into dst as one printable line: service messages reach logs and files. */
void http_copy_line(char *dst, size_t cap, const char *src);

/* The budget of answer bodies held in memory at once (received or being received, until
 * http_response_clear), over every client of the process (default 512 MiB). An answer that would
 * pass it waits (the attempt is retried within the time budget) or, when it could never fit, fails
 * at once with a message naming it. */
void http_set_inflight_limit(size_t bytes);
size_t http_inflight_limit(void);

/* Counters for tests and benchmarks. */
struct http_stats {
	unsigned long requests, retries, failures;
};
void http_client_stats(struct http_client *hc, struct http_stats *out);

#endif
