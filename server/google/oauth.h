/* oauth.h - the Google token endpoint of tunedfs-server: loads the OAuth clients file,
 * answers POST /token (refresh-token and JWT-bearer grants; the route family
 * srv_family_google_token) and checks the Bearer tokens it issued.
 *
 * Clients file (JSON, re-read when its mtime changes):
 *   {
 *     "authorized_user": [
 *       {"client_id": "ID", "client_secret": "SECRET", "refresh_token": "1//RT"}
 *     ],
 *     "service_accounts": [
 *       {"client_email": "sa@p.iam.gserviceaccount.com",
 *        "public_key": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n"}
 *     ],
 *     "revoked_refresh_tokens": ["1//RT", ...]
 *   }
 * Every key is optional; an empty object accepts no grant. */
#ifndef TUNEDFS_SERVER_OAUTH_H
#define TUNEDFS_SERVER_OAUTH_H

#include <stddef.h>

struct srv_oauth;
struct srv_family;

extern const struct srv_family srv_family_google_token;

/* Loads clients_file; token_lifetime_s <= 0 means 3600. On failure returns a negative
 * errno and a one-line reason in why. */
int srv_oauth_load(const char *clients_file, long token_lifetime_s, struct srv_oauth **out,
		   char *why, size_t why_len);
void srv_oauth_free(struct srv_oauth *o);
/* POST /token with an application/x-www-form-urlencoded body; fills HTTP status and a heap
 * JSON body (free() it). Returns 0, or a negative errno only when out of resources. */
int srv_oauth_token(struct srv_oauth *o, const char *form, size_t len, int *http_status,
		    char **json);
/* 1 when bearer is a live token it issued, 0 otherwise */
int srv_oauth_check_bearer(struct srv_oauth *o, const char *bearer);
/* Counters since load, for /debug/stats: access tokens issued, successful grants by type. */
void srv_oauth_stats(struct srv_oauth *o, unsigned long *issued, unsigned long *refresh_grants,
		     unsigned long *jwt_grants);

#endif
