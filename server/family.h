/* family.h - what a protocol family of tunedfs-server is: its routes (method, path
 * pattern, name, handler), its error envelope and its credential check. Each family
 * (gemini/, google/, vertex/, gcs/, openai/) defines one; router.c runs them. Types only. */
#ifndef TUNEDFS_SERVER_FAMILY_H
#define TUNEDFS_SERVER_FAMILY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "server/reply.h"

struct srv;

#define SRV_MAX_PARAMS 6

/* The {name} parts of a matched pattern, in pattern order. */
struct srv_params {
	size_t n;
	const char *name[SRV_MAX_PARAMS]; /* into the pattern, not NUL-terminated */
	size_t name_len[SRV_MAX_PARAMS];
	char value[SRV_MAX_PARAMS][1024];
};

/* The value of param name, or "" when the pattern has none. */
const char *srv_param(const struct srv_params *p, const char *name);

enum srv_route_flags {
	SRV_ROUTE_OPEN = 1 << 0,     /* no credential asked */
	SRV_ROUTE_NO_FAULT = 1 << 1, /* never delayed, dropped or failed by the fault options */
};

typedef void (*srv_handler)(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep);

struct srv_route {
	const char *method;
	/* Literal text with {name} (one path segment, up to '/' or ':') and {name*} (the
	 * rest of the path). {v} is the API version: it must be one of versions. */
	const char *pattern;
	const char *versions; /* space-separated, for {v}; NULL = any */
	const char *name;     /* counters, --fault-routes */
	srv_handler handle;
	unsigned flags;
};

struct srv_family {
	const char *name;
	/* Path prefixes whose unmatched requests get this family's 404 (NULL-terminated). */
	const char *const *prefixes;
	const struct srv_route *routes;
	size_t n_routes;
	/* Fills rep with an error in this family's envelope. */
	void (*error)(struct srv_reply *rep, int http_status, const char *status, const char *msg);
	/* 0 when req may use this family's routes, else fills rep (401/403) and -EACCES. */
	int (*auth)(struct srv *s, const struct srv_request *req, struct srv_reply *rep);
	/* Adds its part to /debug/stats; may be NULL. */
	void (*stats)(struct srv *s, cJSON *out);
};

#endif
