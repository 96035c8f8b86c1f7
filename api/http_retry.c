/* http_retry.c - http_request(): attempts until success, a final answer, the attempt cap
 * or the time budget; full-jitter backoff or the delay the service asked for, one credential
 * refresh after a 401, cancellable sleeps, the debug log and the counters' updates. */
#include "api/backend.h"
#include "api/http.h"
#include "api/http_internal.h"
#include "base/clock.h"
#include "base/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void http_debug_log(struct http_client *hc, enum http_method method, const char *path,
			   const struct http_attempt *at, int attempt)
{
	char masked[1024];
	size_t o = 0;

	/* key= values in a query are secrets; everything else in a path is not. */
	for (const char *p = path; *p && o + 8 < sizeof(masked); p++) {
		masked[o++] = *p;
		if ((*p == '?' || *p == '&') && strncmp(p + 1, "key=", 4) == 0) {
			memcpy(masked + o, "key=***", 7);
			o += 7;
			p += 4;
			while (p[1] && p[1] != '&')
				p++;
		}
	}
	masked[o] = '\0';
	if (at->code == CURLE_OK)
		fprintf(stderr, "tunedfs: http %s %s -> %ld (attempt %d)\n",
			http_method_name(method), masked, at->status, attempt);
	else
		fprintf(stderr, "tunedfs: http %s %s -> %s (attempt %d)\n",
			http_method_name(method), masked, curl_easy_strerror(at->code), attempt);
}

/* Full jitter: uniform in [0, min(max, initial * 2^(retry-1))]. */
static long http_backoff_ms(struct http_client *hc, int retry)
{
	long cap = hc->opt.backoff_initial_ms;
	uint64_t x;

	for (int i = 1; i < retry && cap < hc->opt.backoff_max_ms; i++)
		cap *= 2;
	if (cap > hc->opt.backoff_max_ms)
		cap = hc->opt.backoff_max_ms;
	pthread_mutex_lock(&hc->rand_lock);
	x = hc->rand_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	hc->rand_state = x;
	pthread_mutex_unlock(&hc->rand_lock);
	return (long)(x % (uint64_t)(cap + 1));
}

/* Sleeps in short slices so that a cancel is seen within 50 ms. */
static int http_sleep_ms(long ms, struct backend_cancel *cancel)
{
	long end = (long)clock_now_ms() + ms;

	for (;;) {
		long left = end - (long)clock_now_ms();
		if (cancel && atomic_load(&cancel->cancelled))
			return -EINTR;
		if (left <= 0)
			return 0;
		if (left > 50)
			left = 50;
		struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* A 409 is a conflict to report, unless the service called it a race to retry (EAGAIN). */
static int http_status_retryable(long status, int rc)
{
	if (status == 409)
		return rc == -EAGAIN;
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static int http_transport_retryable(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* State of one call across its attempts. */
struct http_call {
	long start_ms;
	int attempt;
	int refreshed; /* the auth hooks were told of a 401 once */
	struct http_attempt at;
};

/* Decides whether to try again and sleeps first. Returns 1 to retry, 0 to stop,
 * -EINTR when cancelled while waiting. */
static int http_wait_retry(struct http_client *hc, struct http_call *call, int retryable,
			   long asked_ms, int once, struct backend_cancel *cancel)
{
	long left, delay;

	if (!retryable || once || call->attempt >= hc->opt.max_attempts)
		return 0;
	left = hc->opt.max_retry_ms - ((long)clock_now_ms() - call->start_ms);
	if (left <= 0)
		return 0;
	delay = asked_ms >= 0 ? asked_ms : http_backoff_ms(hc, call->attempt);
	if (delay > left)
		delay = left;
	if (http_sleep_ms(delay, cancel) < 0)
		return -EINTR;
	atomic_fetch_add(&hc->retries, 1);
	return 1;
}

static int http_finish(struct http_client *hc, int rc)
{
	if (rc < 0)
		atomic_fetch_add(&hc->failures, 1);
	return rc;
}

/* Reads a failed attempt: fills err, returns its errno, says whether a retry may help
 * and how long the service asked to wait (-1: not said). */
static int http_judge(struct http_client *hc, struct http_call *call,
		      const struct http_response *resp, struct backend_error *err, int *retryable,
		      long *asked_ms, int *maybe_done)
{
	const struct http_attempt *at = &call->at;
	int rc;

	*asked_ms = -1;
	if (at->too_big || at->over_budget) {
		/* room in the budget comes back as other answers end: wait for it */
		*retryable = at->over_budget == 1;
		/* room comes back as answers end: a short random wait, so waiters do not
		 * all come back at once */
		*asked_ms = at->over_budget == 1
				? http_backoff_ms(hc, call->attempt < 3 ? call->attempt : 3)
				: -1;
		if (maybe_done)
			*maybe_done = 1; /* an answer was on its way: the request arrived */
		return http_size_error(hc->shown, at, err);
	}
	if (at->code != CURLE_OK) {
		rc = http_transport_error(hc->shown, at->code, at->os_errno, at->errbuf, err);
		*retryable = rc != -EINTR && http_transport_retryable(at->code);
		/* Only a connection never made proves the service saw nothing. */
		if (maybe_done && at->code != CURLE_COULDNT_CONNECT &&
		    at->code != CURLE_COULDNT_RESOLVE_HOST)
			*maybe_done = 1;
		return rc;
	}
	rc = hc->opt.read_error(resp, asked_ms, err);
	*retryable = http_status_retryable(at->status, rc);
	if (at->status == 401 && hc->auth.headers && !call->refreshed) {
		call->refreshed = 1;
		if (hc->auth.invalidate)
			hc->auth.invalidate(hc->auth.ctx, at->token);
		*retryable = 1;
		*asked_ms = 0;
	}
	if (maybe_done && at->status >= 500)
		*maybe_done = 1;
	if (at->retry_after_s >= 0)
		*asked_ms = at->retry_after_s * 1000;
	return rc;
}

int http_call(struct http_client *hc, enum http_method method, const char *path, const char *body,
	      const struct http_call_options *o, struct backend_cancel *cancel,
	      struct http_response *resp, struct backend_error *err)
{
	static const struct http_call_options none;
	struct http_call call = {.start_ms = (long)clock_now_ms()};
	struct backend_error scratch;
	struct http_response local = {0};
	int *maybe_done;
	char *url;
	int rc;

	if (!o)
		o = &none;
	maybe_done = o->maybe_done;
	if (!err)
		err = &scratch;
	if (!resp)
		resp = &local;
	memset(resp, 0, sizeof(*resp));
	memset(err, 0, sizeof(*err));
	if (maybe_done)
		*maybe_done = 0;
	if (!path || path[0] != '/') {
		http_error_set(err, 0, "", "bad request path");
		return http_finish(hc, -EINVAL);
	}
	url = xasprintf("%s%s", hc->base_url, path);
	for (;;) {
		long asked_ms;
		int retryable, w;

		if (cancel && atomic_load(&cancel->cancelled)) {
			http_error_local(err, BACKEND_ERROR_CANCELLED, "request cancelled");
			rc = -EINTR;
			break;
		}
		call.attempt++;
		atomic_fetch_add(&hc->requests, 1);
		rc = http_attempt_once(hc, method, url, body, o, cancel, resp, &call.at, err);
		if (rc < 0)
			break;
		if (hc->debug)
			http_debug_log(hc, method, path, &call.at, call.attempt);
		if (call.at.code == CURLE_OK && call.at.status >= 200 && call.at.status < 300) {
			memset(err, 0, sizeof(*err));
			break;
		}
		rc = http_judge(hc, &call, resp, err, &retryable, &asked_ms, maybe_done);
		w = http_wait_retry(hc, &call, retryable, asked_ms, o->once, cancel);
		if (w < 0) {
			http_error_local(err, BACKEND_ERROR_CANCELLED, "request cancelled");
			rc = -EINTR;
		}
		if (w <= 0)
			break;
	}
	free(url);
	http_attempt_clear(&call.at);
	if (resp == &local)
		http_response_clear(&local);
	return http_finish(hc, rc);
}

int http_request(struct http_client *hc, enum http_method method, const char *path,
		 const char *body, int long_timeout, struct backend_cancel *cancel,
		 struct http_response *resp, struct backend_error *err)
{
	struct http_call_options o = {.long_timeout = long_timeout};

	return http_call(hc, method, path, body, &o, cancel, resp, err);
}

int http_post_form(const char *url, const char *form, long timeout_ms, struct http_response *resp,
		   struct backend_error *err)
{
	struct http_call_options o = {.content_type = "application/x-www-form-urlencoded",
				      .once = 1};
	struct http_options ho = {.timeout_ms = timeout_ms,
				  .connect_timeout_ms = timeout_ms < 10000 ? timeout_ms : 10000};
	struct http_client *hc;
	const char *host = strstr(url, "://"), *slash;
	char *base;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!host) {
		http_error_set(err, 0, "", "%s is not an http(s) URL", url);
		return -EINVAL;
	}
	slash = strchr(host + 3, '/');
	base = slash ? xstrndup(url, (size_t)(slash - url)) : xstrdup(url);
	ho.endpoint = base;
	rc = http_client_new(&ho, NULL, &hc, err);
	if (rc == 0) {
		rc = http_call(hc, HTTP_POST, slash ? slash : "/", form, &o, NULL, resp, err);
		http_client_free(hc);
	}
	free(base);
	return rc;
}
