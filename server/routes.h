/* routes.h - tunedfs-server's request handling without HTTP: one call takes a request
 * (method, path, raw query, body, the credential headers) and fills a reply (status,
 * JSON body, what the transport should do). http.c feeds it from libmicrohttpd; a
 * fuzzer can feed it directly. Route handlers themselves are in handlers.h. */
#ifndef TUNEDFS_SERVER_ROUTES_H
#define TUNEDFS_SERVER_ROUTES_H

#include <stdarg.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct srv;

struct srv_request {
	const char *method;
	const char *path;  /* percent-decoded, without the query */
	const char *query; /* raw, without '?'; NULL when none */
	const char *body;  /* not NUL-terminated; NULL when none */
	size_t body_len;
	const char *api_key_header; /* x-goog-api-key, NULL when absent */
	const char *authorization;  /* Authorization, NULL when absent */
};

struct srv_reply {
	int status;
	char *body; /* heap, free()d by srv_reply_free */
	size_t body_len;
	const char *content_type;
	int drop;	   /* close the connection without an answer */
	long delay_ms;	   /* wait this long before answering */
	long retry_after;  /* > 0: send Retry-After: N */
	const char *route; /* static name, for counters */
};

/* Answers req into rep (always filled, also on error). Returns 0. */
int srv_handle(struct srv *s, const struct srv_request *req, struct srv_reply *rep);
void srv_reply_free(struct srv_reply *rep);

/* The error envelope {"error": {"code", "message", "status"}}. */
void srv_reply_error(struct srv_reply *rep, int http_status, const char *status, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
/* Takes ownership of obj. */
void srv_reply_json(struct srv_reply *rep, int http_status, cJSON *obj);
/* Answers compact JSON text (indented on the way out). */
void srv_reply_text(struct srv_reply *rep, int http_status, const char *compact);

/* Value of query parameter name (camelCase; its snake_case form also matches),
 * percent-decoded into buf. 1 when present, 0 when absent, -EINVAL when too long. */
int srv_query_get(const char *query, const char *name, char *buf, size_t len);
/* Decodes %XX and (when plus is set) '+' in place; -EINVAL on a bad escape or NUL. */
int srv_percent_decode(char *s, int plus);

#endif
