/* reply.h - a request and its reply as every route family of tunedfs-server sees them,
 * and the helpers they share: JSON and raw answers, errors through the family's own
 * envelope, extra headers, query/form/percent decoding, JSON bodies, page tokens and SSE
 * framing. No routing (router.h), no HTTP library (http.c), no service's words. */
#ifndef TUNEDFS_SERVER_REPLY_H
#define TUNEDFS_SERVER_REPLY_H

#include <stdarg.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/dynbuf.h"

struct srv_family;

struct srv_request {
	const char *method;
	const char *path;  /* percent-decoded, without the query */
	const char *query; /* raw, without '?'; NULL when none */
	const char *body;  /* not NUL-terminated; NULL when none */
	size_t body_len;
	const char *api_key_header; /* x-goog-api-key, NULL when absent */
	const char *authorization;  /* Authorization, NULL when absent */
	/* Any other header by name (case-insensitive); NULL when absent. May be NULL. */
	const char *(*header)(const struct srv_request *req, const char *name);
	void *conn; /* the transport's, for header */
};

struct srv_reply {
	int status;
	char *body; /* heap, free()d by srv_reply_free */
	size_t body_len;
	const char *content_type;
	int drop;			 /* close the connection without an answer */
	long delay_ms;			 /* wait this long before answering */
	long retry_after;		 /* > 0: send Retry-After: N */
	const char *route;		 /* static name, for counters */
	const struct srv_family *family; /* whose error envelope; NULL = the plain one */
	struct dynbuf headers;		 /* extra "Name: value\n" lines */
};

void srv_reply_free(struct srv_reply *rep);

/* An error in the family's envelope (the plain {"error": {"code", "message", "status"}}
 * when it has none); status is the service's error word (NOT_FOUND, invalid_request...). */
void srv_reply_error(struct srv_reply *rep, int http_status, const char *status, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
/* The plain envelope, for families whose errors look like it. */
void srv_reply_error_plain(struct srv_reply *rep, int http_status, const char *status,
			   const char *msg);
/* Takes ownership of obj; answers it indented (two spaces, one field a line). */
void srv_reply_json(struct srv_reply *rep, int http_status, cJSON *obj);
/* Answers compact JSON text (indented on the way out). */
void srv_reply_text(struct srv_reply *rep, int http_status, const char *compact);
/* Answers body as it is (takes ownership of the heap buffer). */
void srv_reply_raw(struct srv_reply *rep, int http_status, const char *content_type, char *body,
		   size_t len);
/* Adds a response header. */
void srv_reply_header(struct srv_reply *rep, const char *name, const char *value);

/* Header name of req, or NULL. */
const char *srv_request_header(const struct srv_request *req, const char *name);

/* Value of query parameter name (camelCase; its snake_case form also matches),
 * percent-decoded into buf. 1 when present, 0 when absent, -EINVAL when too long. */
int srv_query_get(const char *query, const char *name, char *buf, size_t len);
/* Value of the field name (exactly that name) of an application/x-www-form-urlencoded
 * text of len bytes, decoded ('+' is a space) into a heap string; NULL when absent;
 * *bad set when it is malformed. */
char *srv_form_get(const char *form, size_t len, const char *name, int *bad);
/* Decodes %XX and (when plus is set) '+' in place; -EINVAL on a bad escape or NUL. */
int srv_percent_decode(char *s, int plus);

/* Parses the body as JSON into *out, or fills rep with 400 and returns -EINVAL. An
 * absent or blank body gives an empty object when empty_ok. */
int srv_body_json(const struct srv_request *req, int empty_ok, cJSON **out, struct srv_reply *rep);
/* Reads pageSize (default def, clamped to max) and pageToken (a position); fills rep
 * with 400 and returns -EINVAL when either is malformed. */
int srv_page_params(const struct srv_request *req, int def, int max, int *size,
		    unsigned long long *pos, struct srv_reply *rep);
/* The opaque token for position pos into buf; 0 and *pos when tok is one. */
void srv_page_token(unsigned long long pos, char *buf, size_t len);
int srv_page_token_parse(const char *tok, unsigned long long *pos);

/* One server-sent event "data: JSON" (compact, on one line) appended to b. */
void srv_sse_event(struct dynbuf *b, const cJSON *obj);
/* Answers the events of b as text/event-stream (takes b's text). */
void srv_reply_sse(struct srv_reply *rep, struct dynbuf *b);

#endif
