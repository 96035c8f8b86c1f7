/* http.c - the service client's HTTP state: endpoint checks, libcurl's one-time set-up,
 * the pool of reused transfers and the shared DNS and TLS-session cache, the counters.
 * One transfer is http_transfer.c's, the retry loop http_retry.c's, errors http_error.c's. */
#include "api/http.h"
#include "api/backend.h"
#include "api/http_internal.h"
#include "base/loopback.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc;

static void http_global_init(void)
{
	struct sigaction old;

	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* With CURLOPT_NOSIGNAL (needed with threads) libcurl no longer shields TLS writes
	 * from SIGPIPE, and a peer that resets would kill the daemon. Only the default
	 * disposition is changed: a handler the program installed stays. */
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
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

/* Splits "scheme://host[:port][/]" and checks what plain http may reach. */
static int http_parse_endpoint(struct http_client *hc, const char *ep, struct backend_error *err)
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
		hc->unix_path = xstrdup(ep + 5);
		hc->base_url = xstrdup("http://localhost");
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
	for (const char *c = rest; *c; c++) {
		/* URL parsers disagree on these; what we check must be what libcurl connects to. */
		if (strchr("@?#\\%", *c) || (unsigned char)*c <= ' ' || *c == 0x7f) {
			http_error_set(err, 0, "",
				       "endpoint %s: no user, query, fragment, escapes or spaces "
				       "allowed",
				       ep);
			return -EINVAL;
		}
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
	hc->tls = tls;
	if (!tls && !loopback_host(host)) {
		http_error_set(err, 0, "",
			       "endpoint %s: plain http is only allowed to 127.0.0.0/8, ::1, "
			       "localhost or a unix socket; use https",
			       ep);
		return -EINVAL;
	}
	hc->base_url = xstrdup(ep);
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
		o->max_attempts = 1000; /* the time budget, max_retry_ms, is what ends retries */
	if (o->max_retry_ms <= 0)
		o->max_retry_ms = 120000;
	if (o->backoff_initial_ms <= 0)
		o->backoff_initial_ms = 500;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 30000;
}

int http_client_new(const struct http_options *opt, const struct http_auth *auth,
		    struct http_client **out, struct backend_error *err)
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
	hc = xcalloc(1, sizeof(*hc));
	hc->opt = *opt;
	http_defaults(&hc->opt);
	rc = http_parse_endpoint(hc, opt->endpoint, err);
	if (rc < 0) {
		free(hc->base_url);
		free(hc->unix_path);
		free(hc);
		return rc;
	}
	if (!hc->opt.read_error)
		hc->opt.read_error = http_read_error_plain;
	hc->shown = xstrdup(opt->endpoint);
	hc->opt.endpoint = hc->shown;
	if (auth)
		hc->auth = *auth;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&hc->share_locks[i], NULL);
	pthread_mutex_init(&hc->pool_lock, NULL);
	pthread_mutex_init(&hc->rand_lock, NULL);
	hc->rand_state = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)hc << 16);
	/* DNS and TLS sessions are shared; connections stay with each pooled easy handle,
	 * since libcurl does not support one connection cache used by concurrent threads. */
	hc->share = curl_share_init();
	if (!hc->share)
		xalloc_die(0);
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
	for (int i = 0; i < hc->n_pool; i++) {
		curl_multi_cleanup(hc->pool[i].multi);
		curl_easy_cleanup(hc->pool[i].easy);
	}
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

static void http_conn_close(struct http_conn c)
{
	curl_multi_cleanup(c.multi);
	curl_easy_cleanup(c.easy);
}

struct http_conn http_pool_get(struct http_client *hc)
{
	struct http_conn c = {0};

	pthread_mutex_lock(&hc->pool_lock);
	if (hc->n_pool > 0)
		c = hc->pool[--hc->n_pool];
	pthread_mutex_unlock(&hc->pool_lock);
	if (c.easy)
		return c;
	c.easy = curl_easy_init();
	c.multi = curl_multi_init();
	if (!c.easy || !c.multi)
		xalloc_die(0);
	return c;
}

void http_pool_put(struct http_client *hc, struct http_conn c)
{
	pthread_mutex_lock(&hc->pool_lock);
	if (hc->n_pool < HTTP_POOL_MAX) {
		hc->pool[hc->n_pool++] = c;
		c.easy = NULL;
	}
	pthread_mutex_unlock(&hc->pool_lock);
	if (c.easy)
		http_conn_close(c);
}

void http_response_clear(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	http_budget_give(resp->held);
	resp->held = 0;
	free(resp->location);
	resp->location = NULL;
	free(resp->headers);
	resp->headers = NULL;
	resp->len = 0;
	resp->status = 0;
}

int http_response_header(const struct http_response *resp, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = resp ? resp->headers : NULL; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t line = nl ? (size_t)(nl - p) : strlen(p);
		if (line > n + 1 && strncmp(p, name, n) == 0 && p[n] == ':') {
			snprintf(buf, len, "%.*s", (int)(line - n - 2), p + n + 2);
			return 0;
		}
		p = nl ? nl + 1 : p + line;
	}
	return -ENOENT;
}

const char *http_client_endpoint(const struct http_client *hc)
{
	return hc->shown;
}

void http_client_stats(struct http_client *hc, struct http_stats *out)
{
	out->requests = atomic_load(&hc->requests);
	out->retries = atomic_load(&hc->retries);
	out->failures = atomic_load(&hc->failures);
}
