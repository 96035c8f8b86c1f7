/* http_transfer.c - one attempt of a request: headers (credentials fetched per attempt),
 * method and body, the answer collected with a size cap, and a wait that notices a
 * cancel within 50 ms. Whether to try again is http_retry.c's business. */
#include "api/backend.h"
#include "api/http.h"
#include "api/http_internal.h"
#include "base/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_HEADERS 8
#define HTTP_BODY_MAX	 (256L * 1024 * 1024) /* hostile peers must not exhaust memory */

struct http_sink {
	char *buf;
	size_t len, cap; /* cap bytes of the budget are held */
	int too_big;
	int over_budget; /* 1: others hold the budget now, 2: this answer could never fit */
	CURL *easy;
	const struct http_call_options *o; /* its on_body, for answers read as they come */
};

/* Grows the buffer to hold need bytes, within the budget; -1 when it may not. An answer
 * whose length is said in advance takes all of it at once or nothing (transfers that
 * each held a part could wait on one another for ever); else the buffer doubles while
 * there is room, then grows by what is needed. */
static int http_sink_grow(struct http_sink *s, size_t need)
{
	size_t cap = s->cap ? s->cap * 2 : 4096, limit = http_inflight_limit();
	curl_off_t whole = -1;
	int said = 0;

	if (s->easy &&
	    curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &whole) == CURLE_OK &&
	    whole >= 0 && (size_t)whole + 1 >= need) {
		cap = need = (size_t)whole + 1;
		said = 1;
	}
	if (cap < need)
		cap = need;
	if (cap > (size_t)HTTP_BODY_MAX + 1)
		cap = (size_t)HTTP_BODY_MAX + 1;
	if (need > limit || (http_budget_take(cap - s->cap) < 0 &&
			     (said || (cap = need, http_budget_take(cap - s->cap) < 0)))) {
		s->over_budget = need > limit ? 2 : 1;
		return -1;
	}
	s->buf = xrealloc(s->buf, cap);
	s->cap = cap;
	return 0;
}

/* 1 when the answer says in advance that it is larger than one answer may be. */
static int http_said_too_big(const struct http_sink *s)
{
	curl_off_t whole = -1;

	return s->len == 0 && s->easy &&
	       curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &whole) == CURLE_OK &&
	       whole > HTTP_BODY_MAX;
}

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *user)
{
	struct http_sink *s = user;
	size_t n = size * nmemb;

	if (s->len + n > (size_t)HTTP_BODY_MAX || http_said_too_big(s)) {
		s->too_big = 1;
		return 0;
	}
	if (s->len + n + 1 > s->cap && http_sink_grow(s, s->len + n + 1) < 0)
		return 0;
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	if (s->o->on_body) {
		long status = 0;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			s->o->on_body(s->o->on_body_arg, s->buf, s->len);
	}
	return n;
}

static int http_progress_cb(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			    curl_off_t ulnow)
{
	struct backend_cancel *cancel = user;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancel && atomic_load(&cancel->cancelled) ? 1 : 0;
}

/* What the header callback collects: Location (resumable uploads) when asked for, and
 * the headers the client keeps for its read_error. */
struct http_header_sink {
	char **location;
	const char *const *keep;
	struct http_attempt *at;
};

static void http_keep_header(struct http_header_sink *hs, const char *data, size_t n)
{
	const char *colon = memchr(data, ':', n), *v, *end = data + n;
	size_t name_len, old;

	if (!colon)
		return;
	name_len = (size_t)(colon - data);
	for (const char *const *k = hs->keep; *k; k++) {
		if (strlen(*k) != name_len || strncasecmp(*k, data, name_len) != 0)
			continue;
		v = colon + 1;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		old = hs->at->kept ? strlen(hs->at->kept) : 0;
		if (old > 4096)
			return;
		hs->at->kept = xrealloc(hs->at->kept, old + name_len + (size_t)(end - v) + 4);
		snprintf(hs->at->kept + old, name_len + (size_t)(end - v) + 4, "%s: %.*s\n", *k,
			 (int)(end - v), v);
		return;
	}
}

static size_t http_header_cb(char *data, size_t size, size_t nmemb, void *user)
{
	struct http_header_sink *hs = user;
	size_t n = size * nmemb;

	/* a new answer (after a redirect or 100-continue) starts its headers afresh */
	if (n > 5 && strncmp(data, "HTTP/", 5) == 0 && hs->at->kept) {
		free(hs->at->kept);
		hs->at->kept = NULL;
	}
	if (hs->keep)
		http_keep_header(hs, data, n);
	if (hs->location && n > 9 && strncasecmp(data, "Location:", 9) == 0) {
		const char *v = data + 9, *end = data + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(*hs->location);
		*hs->location = xstrndup(v, (size_t)(end - v));
	}
	return n;
}

static struct curl_slist *http_headers(struct http_client *hc, const char *body,
				       const struct http_call_options *o, char **token, int *rc,
				       struct backend_error *err)
{
	static const char bearer[] = "Authorization: Bearer ";

	struct curl_slist *list = NULL, *tmp;
	char *cred[HTTP_MAX_HEADERS];
	int n = 0;

	*rc = 0;
#define HTTP_APPEND(line)                                                                          \
	do {                                                                                       \
		tmp = curl_slist_append(list, (line));                                             \
		if (!tmp)                                                                          \
			xalloc_die(strlen(line));                                                  \
		list = tmp;                                                                        \
	} while (0)
	if (body) {
		char *ct = xasprintf("Content-Type: %s",
				     o->content_type ? o->content_type : "application/json");
		HTTP_APPEND(ct);
		free(ct);
	}
	HTTP_APPEND("Accept: application/json");
	if (hc->opt.client_header)
		HTTP_APPEND(hc->opt.client_header);
	for (size_t i = 0; i < sizeof(hc->opt.client_headers) / sizeof(hc->opt.client_headers[0]);
	     i++)
		if (hc->opt.client_headers[i])
			HTTP_APPEND(hc->opt.client_headers[i]);
	if (o->extra_header)
		HTTP_APPEND(o->extra_header);
	for (size_t i = 0; i < sizeof(o->extra_headers) / sizeof(o->extra_headers[0]); i++)
		if (o->extra_headers[i])
			HTTP_APPEND(o->extra_headers[i]);
	HTTP_APPEND("Expect:"); /* no 100-continue round trip for small bodies */
	if (hc->auth.headers) {
		n = hc->auth.headers(hc->auth.ctx, cred, HTTP_MAX_HEADERS, err);
		if (n < 0) {
			*rc = n;
			curl_slist_free_all(list);
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			HTTP_APPEND(cred[i]);
			if (!*token && strncasecmp(cred[i], bearer, sizeof(bearer) - 1) == 0)
				*token = xstrdup(cred[i] + sizeof(bearer) - 1);
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

static void http_set_method(CURL *h, enum http_method method, const char *body, size_t len)
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
	case HTTP_PUT:
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		break;
	case HTTP_DELETE:
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		if (!body)
			return;
		break;
	}
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
}

const char *http_method_name(enum http_method m)
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
	case HTTP_PUT:
		return "PUT";
	}
	return "?";
}

void http_attempt_clear(struct http_attempt *at)
{
	if (at->token) {
		explicit_bzero(at->token, strlen(at->token));
		free(at->token);
	}
	free(at->location);
	free(at->kept);
	memset(at, 0, sizeof(*at));
}

/* Runs the transfer on its own multi handle, so the wait is ours: libcurl's progress
 * callback alone may go quiet for a second while a slow server thinks. */
static CURLcode http_perform(CURLM *m, CURL *h, struct backend_cancel *cancel)
{
	CURLcode code = CURLE_OK;
	int running = 1;
	CURLMsg *msg;
	int left;

	if (curl_multi_add_handle(m, h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			code = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (cancel && atomic_load(&cancel->cancelled)) {
			code = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(m, NULL, 0, 50, NULL) != CURLM_OK) {
			code = CURLE_FAILED_INIT;
			break;
		}
	}
	while (running == 0 && (msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
			code = msg->data.result;
	curl_multi_remove_handle(m, h);
	return code;
}

static void http_set_options(struct http_client *hc, CURL *h, const char *url, int long_timeout,
			     struct curl_slist *hdrs)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, hc->tls ? "https" : "http");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* A generation may stay silent for minutes; keep middleboxes from dropping it. */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, hc->share);
	if (hc->unix_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, hc->unix_path);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, hc->opt.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 long_timeout ? hc->opt.generate_timeout_ms : hc->opt.timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_progress_cb);
}

int http_attempt_once(struct http_client *hc, enum http_method method, const char *url,
		      const char *body, const struct http_call_options *o,
		      struct backend_cancel *cancel, struct http_response *resp,
		      struct http_attempt *at, struct backend_error *err)
{
	struct http_sink sink = {0};
	struct http_header_sink hsink = {.keep = hc->opt.keep_headers, .at = at};
	struct curl_slist *hdrs;
	struct http_conn c;
	curl_off_t ra = -1;
	long oe = 0;
	int rc;

	http_attempt_clear(at);
	at->retry_after_s = -1;
	hdrs = http_headers(hc, body, o, &at->token, &rc, err);
	if (rc < 0)
		return rc;
	c = http_pool_get(hc);
	curl_easy_reset(c.easy);
	http_set_options(hc, c.easy, url, o->long_timeout, hdrs);
	/* libcurl sends a request again by itself when a reused connection turns out dead;
	 * a call that must not be repeated blindly gets a connection of its own */
	if (o->fresh)
		curl_easy_setopt(c.easy, CURLOPT_FRESH_CONNECT, 1L);
	if (o->want_location)
		hsink.location = &at->location;
	if (hsink.location || hsink.keep) {
		curl_easy_setopt(c.easy, CURLOPT_HEADERFUNCTION, http_header_cb);
		curl_easy_setopt(c.easy, CURLOPT_HEADERDATA, &hsink);
	}
	curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c.easy, CURLOPT_XFERINFODATA, cancel);
	curl_easy_setopt(c.easy, CURLOPT_ERRORBUFFER, at->errbuf);
	http_set_method(c.easy, method, body,
			body ? (o->body_len ? o->body_len : strlen(body)) : 0);

	sink.easy = c.easy;
	sink.o = o;
	if (o->on_body)
		o->on_body(o->on_body_arg, NULL, 0);
	at->code = http_perform(c.multi, c.easy, cancel);
	if (sink.too_big)
		snprintf(at->errbuf, sizeof(at->errbuf), "larger than %ld MiB",
			 HTTP_BODY_MAX >> 20);
	at->too_big = sink.too_big;
	at->over_budget = sink.over_budget;
	curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &at->status);
	if (at->code != CURLE_OK) {
		curl_easy_getinfo(c.easy, CURLINFO_OS_ERRNO, &oe);
		at->os_errno = (int)oe;
		/* A transfer cut short has no answer worth reading. */
		at->status = 0;
	}
	if (curl_easy_getinfo(c.easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		at->retry_after_s = (long)ra;
	curl_easy_setopt(c.easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c.easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, NULL);
	http_pool_put(hc, c);
	http_free_headers(hdrs);

	http_response_clear(resp);
	resp->status = at->status;
	resp->body = sink.buf ? sink.buf : xstrdup("");
	resp->len = sink.len;
	resp->held = sink.cap; /* given back by http_response_clear */
	if (at->location && at->code == CURLE_OK)
		resp->location = xstrdup(at->location);
	if (at->kept && at->code == CURLE_OK)
		resp->headers = xstrdup(at->kept);
	return 0;
}
