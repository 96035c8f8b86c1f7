/* router.h - tunedfs-server's request handling without HTTP, one path for every request
 * (redis's processCommand): match the route tables of the families, check the credential
 * through the family, draw faults, count, then call the handler. http.c feeds it; the
 * unit tests and a fuzzer can feed it directly. What a family is: family.h. */
#ifndef TUNEDFS_SERVER_ROUTER_H
#define TUNEDFS_SERVER_ROUTER_H

#include "server/family.h"

/* Answers req into rep (always filled, also on error). Returns 0. */
int srv_handle(struct srv *s, const struct srv_request *req, struct srv_reply *rep);

/* Runs one request as route method+path would answer it, without the credential check,
 * faults or counters (a batch's items): 0, or -ENOENT (rep holds a 404) without a route. */
int srv_route_run(struct srv *s, const char *method, const char *path, const char *body, size_t len,
		  struct srv_reply *rep);

/* Every family built in, in matching order, NULL-terminated (families.c); a server whose
 * families list is NULL serves these. */
extern const struct srv_family *const srv_all_families[];

#endif
