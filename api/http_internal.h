/* http_internal.h - what http.c and http_error.c share inside api/, not a public contract.
 * the client's state, one attempt of a transfer, the error envelope reader, the
 * transport-error wording and small allocation helpers. */
#ifndef TUNEDFS_HTTP_INTERNAL_H
#define TUNEDFS_HTTP_INTERNAL_H

#include "api/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct gemini_error;
struct gemini_cancel;
struct creds;

#define HTTP_POOL_MAX 32

/* A reusable transfer: the multi handle owns the connection cache, so the pair is kept
 * together and a connection stays alive from one call to the next. */
struct http_conn {
	CURLM *multi;
	CURL *easy;
};

struct http_client {
	struct http_options opt;
	char *base_url;	 /* scheme://host[:port] without a trailing slash */
	char *unix_path; /* set for unix: endpoints */
	char *shown;	 /* the endpoint as messages show it */
	int tls;	 /* https: nothing may ever go out in plain text */
	struct creds *creds;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	struct http_conn pool[HTTP_POOL_MAX];
	int n_pool;
	int debug;
	atomic_ulong requests, retries, failures;
	pthread_mutex_t rand_lock;
	uint64_t rand_state;
};

/* What one attempt produced, for the retry loop to judge. */
struct http_attempt {
	CURLcode code;
	long status;
	long retry_after_s; /* Retry-After header, -1 when none */
	int os_errno;
	char errbuf[CURL_ERROR_SIZE];
	char *token; /* the bearer token this attempt sent, for creds_invalidate */
};

struct http_conn http_pool_get(struct http_client *hc);
void http_pool_put(struct http_client *hc, struct http_conn c);

/* One attempt: fills resp (the body even of HTTP errors) and at. Returns 0 when the
 * transfer ran (at->code says how it ended), or a negative errno from the credentials. */
int http_attempt_once(struct http_client *hc, enum http_method method, const char *url,
		      const char *body, int long_timeout, struct gemini_cancel *cancel,
		      struct http_response *resp, struct http_attempt *at,
		      struct gemini_error *err);
void http_attempt_clear(struct http_attempt *at);
const char *http_method_name(enum http_method m);

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
