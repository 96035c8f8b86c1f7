/* oauth_impl.h - the insides of tunedfs-server's token endpoint, shared by its files only:
 * the clients file (oauth_clients.c), the issued tokens (token_table.c), the JWT check
 * (jwt_verify.c) and the grants (google_token.c). The public contract is oauth.h. */
#ifndef TUNEDFS_SERVER_OAUTH_IMPL_H
#define TUNEDFS_SERVER_OAUTH_IMPL_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "server/google/oauth.h"

#define SRV_OAUTH_BUCKETS  1024
#define SRV_OAUTH_FILE_MAX (4 << 20)
#define SRV_OAUTH_JWT_MAX  3600 /* longest exp - iat Google accepts */
#define SRV_OAUTH_SKEW	   300	/* an iat this far in the future is still fine */
#define SRV_OAUTH_SCOPES                                                                           \
	"https://www.googleapis.com/auth/cloud-platform "                                          \
	"https://www.googleapis.com/auth/generative-language.tuning"

/* The base64url alphabet: JWT parts and the tokens it issues. */
extern const char srv_oauth_b64url_abc[];

struct srv_oauth_client {
	char *client_id, *client_secret, *refresh_token, *scope;
};

struct srv_oauth_sa {
	char *email;
	EVP_PKEY *key;
};

/* What the clients file says; replaced as a whole when the file changes. */
struct srv_oauth_conf {
	struct srv_oauth_client *clients;
	size_t n_clients;
	struct srv_oauth_sa *sas;
	size_t n_sas;
	char **revoked;
	size_t n_revoked;
};

struct srv_oauth_tok {
	struct srv_oauth_tok *next;
	int64_t expires_ms; /* CLOCK_MONOTONIC */
	char token[];
};

struct srv_oauth {
	pthread_mutex_t lock;
	char *path;
	struct stat seen; /* the file as last loaded: dev, ino, size, mtime */
	struct srv_oauth_conf *conf;
	long lifetime_s;
	struct srv_oauth_tok *buckets[SRV_OAUTH_BUCKETS];
	unsigned long inserts;
	unsigned long issued, refresh_grants, jwt_grants;
};

/* clients file (oauth_clients.c) */
/* A non-empty string member of obj, or NULL. */
const char *srv_oauth_str(const cJSON *obj, const char *name);
/* Under lock: re-reads the clients file when it changed (a broken rewrite keeps the old). */
void srv_oauth_maybe_reload(struct srv_oauth *o);

/* issued tokens (token_table.c) */
int64_t srv_oauth_now_ms(void);
/* Under lock: a new access token into out ("ya29." and 48 random characters). */
int srv_oauth_issue(struct srv_oauth *o, char *out, size_t out_len);
/* Frees every issued token. */
void srv_oauth_tokens_clear(struct srv_oauth *o);

/* the JWT-bearer assertion (jwt_verify.c) */
/* Under lock: NULL when jwt is signed by a known service account with good claims (then
 * *scope points into *claims, which the caller deletes), else the problem and the OAuth
 * error word in *error. */
const char *srv_oauth_jwt_check(struct srv_oauth *o, const char *jwt, const char **error,
				const char **scope, cJSON **claims);

#endif
