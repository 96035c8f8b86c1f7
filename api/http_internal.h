/* http_internal.h - what the http*.c files share inside api/, not a public contract:
 * the client's state, one attempt of a transfer, the in-flight budget, the plain error
 * reader and the transport-error wording. */
#ifndef TUNEDFS_HTTP_INTERNAL_H
#define TUNEDFS_HTTP_INTERNAL_H

#include "api/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct backend_error;
struct backend_cancel;

#define HTTP_POOL_MAX 32

/* A reusable transfer: the multi handle owns the connection cache, so the pair is kept
 * together and a connection stays alive from one call to the next. */
struct http_conn {
	CURLM *multi;
	CURL *easy;
};

struct http_client {
	struct http_options opt;
	char *base_url;	       /* scheme://host[:port] without a trailing slash */
	char *unix_path;       /* set for unix: endpoints */
	char *shown;	       /* the endpoint as messages show it */
	int tls;	       /* https: nothing may ever go out in plain text */
	struct http_auth auth; /* headers NULL: no credentials */
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
	int too_big;	 /* the answer passed the cap on one answer */
	int over_budget; /* the answers in flight passed theirs: 1 wait, 2 never fits */
	char errbuf[CURL_ERROR_SIZE];
	char *token;	/* the bearer token this attempt sent, for auth.invalidate */
	char *location; /* the Location header, when asked for */
	char *kept;	/* the kept headers, "name: value\n" lines */
};

struct http_conn http_pool_get(struct http_client *hc);
void http_pool_put(struct http_client *hc, struct http_conn c);

/* One attempt: fills resp (the body even of HTTP errors) and at. Returns 0 when the
 * transfer ran (at->code says how it ended), or a negative errno from the credentials. */
int http_attempt_once(struct http_client *hc, enum http_method method, const char *url,
		      const char *body, const struct http_call_options *o,
		      struct backend_cancel *cancel, struct http_response *resp,
		      struct http_attempt *at, struct backend_error *err);
void http_attempt_clear(struct http_attempt *at);
const char *http_method_name(enum http_method m);

/* The read_error of a client given none: the HTTP status alone. */
int http_read_error_plain(const struct http_response *resp, long *asked_ms,
			  struct backend_error *err);

/* Takes n bytes of the in-flight budget (http_budget.c): 0, or -1 when they are not there. */
int http_budget_take(size_t n);
/* Gives back n bytes of the in-flight budget (a response's held, when it is cleared). */
void http_budget_give(size_t n);

/* Fills err for an answer cut off by a size cap (one answer's or the in-flight budget)
 * and returns its errno. */
int http_size_error(const char *endpoint, const struct http_attempt *at, struct backend_error *err);
/* Fills err for a transfer that got no answer and returns its errno. */
int http_transport_error(const char *endpoint, CURLcode code, int os_errno, const char *errbuf,
			 struct backend_error *err);

#endif
