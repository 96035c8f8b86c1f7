/* google_rpc.h - what the Google families of tunedfs-server (gemini, vertex, gcs) share
 * about errors and credentials: the google.rpc error envelope (with RetryInfo on a 429)
 * and the checks of an API key or an OAuth bearer token. */
#ifndef TUNEDFS_SERVER_GOOGLE_RPC_H
#define TUNEDFS_SERVER_GOOGLE_RPC_H

struct srv;
struct srv_reply;
struct srv_request;

/* {"error": {"code", "message", "status"[, "details": [RetryInfo]]}} */
void srv_google_error(struct srv_reply *rep, int http_status, const char *status, const char *msg);
/* An API key (x-goog-api-key, ?key=) or a Bearer token: the --api-key-file key, or a token
 * the token endpoint issued; anything when neither is configured. */
int srv_google_auth_key_or_bearer(struct srv *s, const struct srv_request *req,
				  struct srv_reply *rep);
/* A Bearer token only (OAuth APIs): any token unless --oauth-clients is given, then one the
 * token endpoint issued (or the --api-key-file key). */
int srv_google_auth_bearer(struct srv *s, const struct srv_request *req, struct srv_reply *rep);

#endif
