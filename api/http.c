/* http.c - the one HTTP layer of the service client, over libcurl.
 * Holds the client (endpoint checks, the pool of reused easy handles, the shared DNS and
 * TLS-session cache), one attempt of a request, and the retry loop around it.
 * The status -> errno table and the error envelope live in http_error.c. */
#include "api/http.h"
#include "api/creds.h"
#include "api/gemini.h"
#include "api/http_internal.h"
#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_POOL_MAX	 32
#define HTTP_MAX_HEADERS 8
#define HTTP_BODY_MAX	 (256L * 1024 * 1024) /* hostile peers must not exhaust memory */

struct http_client {
	struct http_options opt;
	char *base_url;	 /* scheme://host[:port] without a trailing slash */
	char *unix_path; /* set for unix: endpoints */
	char *shown;	 /* the endpoint as messages show it */
	struct creds *creds;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *pool[HTTP_POOL_MAX];
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

struct http_sink {
	char *buf;
	size_t len, cap;
	int too_big;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc;

void *http_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "tunedfs: out of memory\n");
		abort();
	}
	return p;
}

char *http_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(http_xmalloc(n), s, n);
}

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void http_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
	struct http_client *hc = user;
	(void)h;
	(void)access;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&hc->share_locks[data]);
}

static void http_share_unlock(CURL *h, curl_lock_data data, void *user)
{
	struct http_client *hc = user;
	(void)h;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&hc->share_locks[data]);
}

int http_host_is_loopback(const char *host)
{
	unsigned char a4[4], a6[16];
	static const unsigned char lo6[16] = {[15] = 1};

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	if (inet_pton(AF_INET6, host, a6) == 1)
		return memcmp(a6, lo6, sizeof(a6)) == 0;
	return 0;
}

/* Splits "scheme://host[:port][/]" and checks what plain http may reach. */
static int http_parse_endpoint(struct http_client *hc, const char *ep, struct gemini_error *err)
{
	const char *rest, *end;
	char host[256];
	size_t n;
	int tls;

	if (strncmp(ep, "unix:", 5) == 0) {
		if (ep[5] != '/') {
			http_error_set(err, 0, "",
				       "endpoint %s: a unix socket path must be absolute", ep);
			return -EINVAL;
		}
		hc->unix_path = http_xstrdup(ep + 5);
		hc->base_url = http_xstrdup("http://localhost");
		return 0;
	}
	if (strncasecmp(ep, "https://", 8) == 0) {
		tls = 1;
		rest = ep + 8;
	} else if (strncasecmp(ep, "http://", 7) == 0) {
		tls = 0;
		rest = ep + 7;
	} else {
		http_error_set(err, 0, "",
			       "endpoint %s: expected https://HOST[:PORT], http://127.0.0.1:PORT "
			       "or unix:/PATH",
			       ep);
		return -EINVAL;
	}
	if (strpbrk(rest, "@?#") || strchr(rest, ' ')) {
		http_error_set(err, 0, "", "endpoint %s: no user, query or fragment allowed", ep);
		return -EINVAL;
	}
	if (*rest == '[') {
		end = strchr(rest, ']');
		if (!end) {
			http_error_set(err, 0, "", "endpoint %s: unclosed [ in the host", ep);
			return -EINVAL;
		}
		rest++;
	} else {
		end = rest + strcspn(rest, ":/");
	}
	n = (size_t)(end - rest);
	if (n == 0 || n >= sizeof(host)) {
		http_error_set(err, 0, "", "endpoint %s: no host", ep);
		return -EINVAL;
	}
	memcpy(host, rest, n);
	host[n] = '\0';
	if (!tls && !http_host_is_loopback(host)) {
		http_error_set(err, 0, "",
			       "endpoint %s: plain http is only allowed to 127.0.0.0/8, ::1, "
			       "localhost or a unix socket; use https",
			       ep);
		return -EINVAL;
	}
	hc->base_url = http_xstrdup(ep);
	n = strlen(hc->base_url);
	while (n > 0 && hc->base_url[n - 1] == '/')
		hc->base_url[--n] = '\0';
	return 0;
}

static void http_defaults(struct http_options *o)
{
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = 10000;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 60000;
	if (o->generate_timeout_ms <= 0)
		o->generate_timeout_ms = 300000;
	if (o->max_attempts <= 0)
		o->max_attempts = 5;
	if (o->max_retry_ms <= 0)
		o->max_retry_ms = 120000;
	if (o->backoff_initial_ms <= 0)
		o->backoff_initial_ms = 500;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 30000;
}

int http_client_new(const struct http_options *opt, struct creds *creds, struct http_client **out,
		    struct gemini_error *err)
{
	struct http_client *hc;
	const char *dbg;
	int rc;

	*out = NULL;
	pthread_once(&http_once, http_global_init);
	if (http_global_rc != CURLE_OK) {
		http_error_set(err, 0, "", "libcurl initialisation failed: %s",
			       curl_easy_strerror(http_global_rc));
		return -EIO;
	}
	if (!opt || !opt->endpoint || !*opt->endpoint) {
		http_error_set(err, 0, "", "no endpoint given");
		return -EINVAL;
	}
	hc = http_xmalloc(sizeof(*hc));
	memset(hc, 0, sizeof(*hc));
	hc->opt = *opt;
	http_defaults(&hc->opt);
	rc = http_parse_endpoint(hc, opt->endpoint, err);
	if (rc < 0) {
		free(hc->base_url);
		free(hc->unix_path);
		free(hc);
		return rc;
	}
	hc->shown = http_xstrdup(opt->endpoint);
	hc->opt.endpoint = hc->shown;
	hc->creds = creds;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&hc->share_locks[i], NULL);
	pthread_mutex_init(&hc->pool_lock, NULL);
	pthread_mutex_init(&hc->rand_lock, NULL);
	hc->rand_state = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)hc << 16);
	/* DNS and TLS sessions are shared; connections stay with each pooled easy handle,
	 * since libcurl does not support one connection cache used by concurrent threads. */
	hc->share = curl_share_init();
	if (!hc->share) {
		fprintf(stderr, "tunedfs: out of memory\n");
		abort();
	}
	curl_share_setopt(hc->share, CURLSHOPT_LOCKFUNC, http_share_lock);
	curl_share_setopt(hc->share, CURLSHOPT_UNLOCKFUNC, http_share_unlock);
	curl_share_setopt(hc->share, CURLSHOPT_USERDATA, hc);
	curl_share_setopt(hc->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(hc->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	dbg = getenv("TUNEDFS_HTTP_DEBUG");
	hc->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
	*out = hc;
	return 0;
}

void http_client_free(struct http_client *hc)
{
	if (!hc)
		return;
	for (int i = 0; i < hc->n_pool; i++)
		curl_easy_cleanup(hc->pool[i]);
	curl_share_cleanup(hc->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&hc->share_locks[i]);
	pthread_mutex_destroy(&hc->pool_lock);
	pthread_mutex_destroy(&hc->rand_lock);
	free(hc->base_url);
	free(hc->unix_path);
	free(hc->shown);
	free(hc);
}

static CURL *http_pool_get(struct http_client *hc)
{
	CURL *h = NULL;

	pthread_mutex_lock(&hc->pool_lock);
	if (hc->n_pool > 0)
		h = hc->pool[--hc->n_pool];
	pthread_mutex_unlock(&hc->pool_lock);
	if (!h)
		h = curl_easy_init();
	if (!h) {
		fprintf(stderr, "tunedfs: out of memory (curl_easy_init)\n");
		abort();
	}
	return h;
}

static void http_pool_put(struct http_client *hc, CURL *h)
{
	pthread_mutex_lock(&hc->pool_lock);
	if (hc->n_pool < HTTP_POOL_MAX) {
		hc->pool[hc->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&hc->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *user)
{
	struct http_sink *s = user;
	size_t n = size * nmemb;

	if (s->len + n > (size_t)HTTP_BODY_MAX) {
		s->too_big = 1;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *nb = realloc(s->buf, cap);
		if (!nb) {
			fprintf(stderr, "tunedfs: out of memory\n");
			abort();
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int http_progress_cb(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			    curl_off_t ulnow)
{
	struct gemini_cancel *cancel = user;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancel && atomic_load(&cancel->cancelled) ? 1 : 0;
}

static struct curl_slist *http_headers(struct http_client *hc, const char *body, char **token,
				       int *rc, struct gemini_error *err)
{
	static const char bearer[] = "Authorization: Bearer ";

	struct curl_slist *list = NULL, *tmp;
	char *cred[HTTP_MAX_HEADERS];
	int n = 0;

	*rc = 0;
#define HTTP_APPEND(line)                                                                          \
	do {                                                                                       \
		tmp = curl_slist_append(list, (line));                                             \
		if (!tmp) {                                                                        \
			fprintf(stderr, "tunedfs: out of memory\n");                               \
			abort();                                                                   \
		}                                                                                  \
		list = tmp;                                                                        \
	} while (0)
	if (body)
		HTTP_APPEND("Content-Type: application/json");
	HTTP_APPEND("Accept: application/json");
	HTTP_APPEND("x-goog-api-client: tunedfs/" TUNEDFS_VERSION);
	HTTP_APPEND("Expect:"); /* no 100-continue round trip for small JSON bodies */
	if (hc->creds) {
		n = creds_headers(hc->creds, cred, HTTP_MAX_HEADERS, err);
		if (n < 0) {
			*rc = n;
			curl_slist_free_all(list);
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			HTTP_APPEND(cred[i]);
			if (!*token && strncasecmp(cred[i], bearer, sizeof(bearer) - 1) == 0)
				*token = http_xstrdup(cred[i] + sizeof(bearer) - 1);
			explicit_bzero(cred[i], strlen(cred[i]));
			free(cred[i]);
		}
	}
#undef HTTP_APPEND
	return list;
}

static void http_free_headers(struct curl_slist *list)
{
	/* The list carries secrets: wipe before the memory goes back to the heap. */
	for (struct curl_slist *p = list; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(list);
}

static void http_set_method(CURL *h, enum http_method method, const char *body)
{
	switch (method) {
	case HTTP_GET:
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	case HTTP_POST:
		break;
	case HTTP_PATCH:
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
		break;
	case HTTP_DELETE:
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		if (!body)
			return;
		break;
	}
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
}

static const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "GET";
	case HTTP_POST:
		return "POST";
	case HTTP_PATCH:
		return "PATCH";
	case HTTP_DELETE:
		return "DELETE";
	}
	return "?";
}

static void http_attempt_clear(struct http_attempt *at)
{
	if (at->token) {
		explicit_bzero(at->token, strlen(at->token));
		free(at->token);
	}
	memset(at, 0, sizeof(*at));
}

/* One attempt: fills resp (body even on HTTP errors) and at. Returns 0 when an answer
 * came, else a negative errno for a local failure (credentials). */
static int http_attempt_once(struct http_client *hc, enum http_method method, const char *url,
			     const char *body, int long_timeout, struct gemini_cancel *cancel,
			     struct http_response *resp, struct http_attempt *at,
			     struct gemini_error *err)
{
	struct http_sink sink = {0};
	struct curl_slist *hdrs;
	curl_off_t ra = -1;
	CURL *h;
	int rc;

	http_attempt_clear(at);
	at->retry_after_s = -1;
	hdrs = http_headers(hc, body, &at->token, &rc, err);
	if (rc < 0)
		return rc;
	h = http_pool_get(hc);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, hc->share);
	if (hc->unix_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, hc->unix_path);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, hc->opt.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 long_timeout ? hc->opt.generate_timeout_ms : hc->opt.timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, cancel);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, at->errbuf);
	http_set_method(h, method, body);

	at->code = curl_easy_perform(h);
	if (sink.too_big)
		snprintf(at->errbuf, sizeof(at->errbuf), "answer larger than %ld bytes",
			 HTTP_BODY_MAX);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &at->status);
	if (at->code != CURLE_OK) {
		long oe = 0;
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oe);
		at->os_errno = (int)oe;
		/* A transfer cut short has no answer worth reading. */
		at->status = 0;
	}
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		at->retry_after_s = (long)ra;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	http_pool_put(hc, h);
	http_free_headers(hdrs);

	http_response_clear(resp);
	resp->status = at->status;
	resp->body = sink.buf ? sink.buf : http_xstrdup("");
	resp->len = sink.len;
	return 0;
}

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

static long http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
static int http_sleep_ms(long ms, struct gemini_cancel *cancel)
{
	long end = http_now_ms() + ms;

	for (;;) {
		long left = end - http_now_ms();
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

static int http_status_retryable(long status, const char *status_str)
{
	if (status == 409)
		return strcmp(status_str, "ABORTED") == 0;
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
	int refreshed; /* creds_invalidate already used once */
	struct http_attempt at;
};

/* Decides whether to try again and sleeps first. Returns 1 to retry, 0 to stop,
 * -EINTR when cancelled while waiting. */
static int http_wait_retry(struct http_client *hc, struct http_call *call, int retryable,
			   long asked_ms, struct gemini_cancel *cancel)
{
	long left, delay;

	if (!retryable || call->attempt >= hc->opt.max_attempts)
		return 0;
	left = hc->opt.max_retry_ms - (http_now_ms() - call->start_ms);
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

int http_request_ex(struct http_client *hc, enum http_method method, const char *path,
		    const char *body, int long_timeout, struct gemini_cancel *cancel,
		    struct http_response *resp, struct gemini_error *err, int *maybe_done)
{
	struct http_call call = {.start_ms = http_now_ms()};
	struct gemini_error scratch;
	struct http_response local = {0};
	char *url;
	size_t n;
	int rc;

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
	n = strlen(hc->base_url) + strlen(path) + 1;
	url = http_xmalloc(n);
	snprintf(url, n, "%s%s", hc->base_url, path);
	for (;;) {
		long asked_ms = -1;
		int retryable, w;

		if (cancel && atomic_load(&cancel->cancelled)) {
			http_error_set(err, 0, "CANCELLED", "request cancelled");
			rc = -EINTR;
			break;
		}
		call.attempt++;
		atomic_fetch_add(&hc->requests, 1);
		rc = http_attempt_once(hc, method, url, body, long_timeout, cancel, resp, &call.at,
				       err);
		if (rc < 0)
			break;
		if (hc->debug)
			http_debug_log(hc, method, path, &call.at, call.attempt);
		if (call.at.code == CURLE_OK && call.at.status >= 200 && call.at.status < 300) {
			memset(err, 0, sizeof(*err));
			break;
		}
		if (call.at.code != CURLE_OK) {
			rc = http_transport_error(hc->shown, call.at.code, call.at.os_errno,
						  call.at.errbuf, err);
			retryable = rc != -EINTR && http_transport_retryable(call.at.code);
			if (maybe_done && call.at.code != CURLE_COULDNT_CONNECT &&
			    call.at.code != CURLE_COULDNT_RESOLVE_HOST)
				*maybe_done = 1;
		} else {
			rc = http_error_from_envelope(resp, &asked_ms, err);
			retryable = http_status_retryable(call.at.status, err->status);
			if (call.at.status == 401 && hc->creds && !call.refreshed) {
				call.refreshed = 1;
				creds_invalidate(hc->creds, call.at.token);
				retryable = 1;
				asked_ms = 0;
			}
			if (maybe_done && call.at.status >= 500)
				*maybe_done = 1;
			if (call.at.retry_after_s >= 0)
				asked_ms = call.at.retry_after_s * 1000;
		}
		w = http_wait_retry(hc, &call, retryable, asked_ms, cancel);
		if (w < 0) {
			http_error_set(err, 0, "CANCELLED", "request cancelled");
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
		 const char *body, int long_timeout, struct gemini_cancel *cancel,
		 struct http_response *resp, struct gemini_error *err)
{
	return http_request_ex(hc, method, path, body, long_timeout, cancel, resp, err, NULL);
}

void http_response_clear(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	resp->status = 0;
}

void http_client_stats(struct http_client *hc, struct http_stats *out)
{
	out->requests = atomic_load(&hc->requests);
	out->retries = atomic_load(&hc->retries);
	out->failures = atomic_load(&hc->failures);
}
