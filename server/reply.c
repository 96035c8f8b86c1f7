/* reply.c - the helpers every route family of tunedfs-server shares (see reply.h):
 * answers, errors through the family's envelope, headers, query and form decoding, JSON
 * bodies, page tokens and SSE framing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/reply.h"
#include "server/family.h"

void srv_reply_free(struct srv_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
	rep->body_len = 0;
	dynbuf_free(&rep->headers);
}

void srv_reply_raw(struct srv_reply *rep, int http_status, const char *content_type, char *body,
		   size_t len)
{
	free(rep->body);
	rep->status = http_status;
	rep->body = body;
	rep->body_len = len;
	rep->content_type = content_type;
}

void srv_reply_json(struct srv_reply *rep, int http_status, cJSON *obj)
{
	char *compact = srv_json_print(obj);
	char *pretty = srv_json_pretty(compact);
	free(compact);
	cJSON_Delete(obj);
	srv_reply_raw(rep, http_status, "application/json; charset=UTF-8", pretty, strlen(pretty));
}

void srv_reply_text(struct srv_reply *rep, int http_status, const char *compact)
{
	char *pretty = srv_json_pretty(compact);
	srv_reply_raw(rep, http_status, "application/json; charset=UTF-8", pretty, strlen(pretty));
}

void srv_reply_error_plain(struct srv_reply *rep, int http_status, const char *status,
			   const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddNumberToObject(e, "code", http_status);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "status", status);
	srv_reply_json(rep, http_status, o);
}

void srv_reply_error(struct srv_reply *rep, int http_status, const char *status, const char *fmt,
		     ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rep->family && rep->family->error)
		rep->family->error(rep, http_status, status, msg);
	else
		srv_reply_error_plain(rep, http_status, status, msg);
}

void srv_reply_header(struct srv_reply *rep, const char *name, const char *value)
{
	dynbuf_printf(&rep->headers, "%s: %s\n", name, value);
}

const char *srv_request_header(const struct srv_request *req, const char *name)
{
	return req->header ? req->header(req, name) : NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int srv_percent_decode(char *s, int plus)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '%') {
			int h = hexval((unsigned char)p[1]),
			    l = h < 0 ? -1 : hexval((unsigned char)p[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -EINVAL;
			*o++ = (char)(h * 16 + l);
			p += 2;
		} else if (*p == '+' && plus) {
			*o++ = ' ';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return 0;
}

int srv_query_get(const char *query, const char *name, char *buf, size_t len)
{
	char snake[64];
	srv_json_snake(name, snake, sizeof(snake));
	for (const char *p = query; p && *p;) {
		size_t plen = strcspn(p, "&");
		size_t klen = strcspn(p, "=&");
		int match = (klen == strlen(name) && !strncmp(p, name, klen)) ||
			    (klen == strlen(snake) && !strncmp(p, snake, klen));
		if (match) {
			const char *v = p + klen + (p[klen] == '=');
			size_t vlen = plen - (size_t)(v - p);
			if (p[klen] != '=')
				vlen = 0;
			if (vlen >= len)
				return -EINVAL;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return srv_percent_decode(buf, 1) ? -EINVAL : 1;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* A decoded copy of n bytes of form text; *bad set on a bad escape or a NUL. */
static char *form_decode(const char *s, size_t n, int *bad)
{
	char *out = xstrndup(s, n);
	if (strlen(out) != n || srv_percent_decode(out, 1))
		*bad = 1;
	return out;
}

static void wipe_free(char *s)
{
	if (s) {
		volatile char *v = s;
		while (*v)
			*v++ = 0;
	}
	free(s);
}

char *srv_form_get(const char *form, size_t len, const char *name, int *bad)
{
	const char *p = form, *end = form + len;
	char *found = NULL;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		const char *eq = memchr(p, '=', (size_t)(amp - p));
		if (amp > p && !eq) {
			*bad = 1;
		} else if (amp > p) {
			char *k = form_decode(p, (size_t)(eq - p), bad);
			char *v = form_decode(eq + 1, (size_t)(amp - eq - 1), bad);
			/* A repeated field is ambiguous: refused, as the real endpoints do. */
			if (!strcmp(k, name) && found)
				*bad = 1;
			else if (!strcmp(k, name) && *v)
				found = v, v = NULL;
			free(k);
			wipe_free(v);
		}
		p = amp + 1;
	}
	return found;
}

int srv_body_json(const struct srv_request *req, int empty_ok, cJSON **out, struct srv_reply *rep)
{
	char why[256];
	size_t i = 0;
	while (req->body && i < req->body_len && isspace((unsigned char)req->body[i]))
		i++;
	if (!req->body || i == req->body_len) {
		if (empty_ok) {
			*out = cJSON_CreateObject();
			return 0;
		}
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid JSON payload received. The request body is empty.");
		return -EINVAL;
	}
	if (srv_json_parse(req->body, req->body_len, out, why, sizeof(why))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
		return -EINVAL;
	}
	return 0;
}

#define TOKEN_MASK 0x5deece66da3b9f2bULL

void srv_page_token(unsigned long long pos, char *buf, size_t len)
{
	unsigned long long x = pos ^ TOKEN_MASK;
	unsigned check = (unsigned)((pos * 0x9e3779b97f4a7c15ULL) >> 48);
	snprintf(buf, len, "%016llx%04x", x, check);
}

int srv_page_token_parse(const char *tok, unsigned long long *pos)
{
	if (strlen(tok) != 20)
		return -EINVAL;
	for (const char *p = tok; *p; p++)
		if (hexval((unsigned char)*p) < 0)
			return -EINVAL;
	char head[17];
	memcpy(head, tok, 16);
	head[16] = '\0';
	unsigned long long x = strtoull(head, NULL, 16) ^ TOKEN_MASK;
	char again[32];
	srv_page_token(x, again, sizeof(again));
	if (strcasecmp(again, tok) != 0)
		return -EINVAL;
	*pos = x;
	return 0;
}

int srv_page_params(const struct srv_request *req, int def, int max, int *size,
		    unsigned long long *pos, struct srv_reply *rep)
{
	char buf[128];
	int rc = srv_query_get(req->query, "pageSize", buf, sizeof(buf));
	*size = def;
	*pos = 0;
	if (rc < 0) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "Invalid value at 'page_size'.");
		return -EINVAL;
	}
	if (rc == 1 && *buf) {
		char *end;
		errno = 0;
		long v = strtol(buf, &end, 10);
		if (errno || *end || v < 0) {
			srv_reply_error(
			    rep, 400, "INVALID_ARGUMENT",
			    "Invalid value at 'page_size' (TYPE_INT32), \"%.32s\": must "
			    "be a non-negative integer.",
			    buf);
			return -EINVAL;
		}
		*size = v == 0 ? def : (v > max ? max : (int)v);
	}
	rc = srv_query_get(req->query, "pageToken", buf, sizeof(buf));
	if (rc < 0 || (rc == 1 && *buf && srv_page_token_parse(buf, pos))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid value at 'page_token': not a token this server issued.");
		return -EINVAL;
	}
	return 0;
}

void srv_sse_event(struct dynbuf *b, const cJSON *obj)
{
	char *one = srv_json_print(obj);
	dynbuf_printf(b, "data: %s\r\n\r\n", one);
	free(one);
}

void srv_reply_sse(struct srv_reply *rep, struct dynbuf *b)
{
	size_t len;
	char *text = dynbuf_take(b, &len);
	srv_reply_raw(rep, 200, "text/event-stream", text, len);
}
