/* creds.h - where the service client's credentials come from, and the headers they add.
 * Sources, first found wins: API key (file option, GEMINI_API_KEY, GOOGLE_API_KEY, or
 * the one variable of a key-only service), an access-token command, Application Default
 * Credentials. Secrets stay in memory:
 * never in argv, logs or anything the mount shows. */
#ifndef TUNEDFS_CREDS_H
#define TUNEDFS_CREDS_H

#include <stddef.h>

struct backend_error;
struct http_auth;

struct creds_options {
	const char *api_key_file;  /* -o api_key_file */
	const char *token_command; /* -o token_command */
	const char *project;	   /* -o project: quota project, x-goog-user-project */
	const char *token_uri;	   /* -o token_uri: override the token endpoint */
	int allow_none;		   /* no credentials is not an error (local server) */
	const char *key_header;	   /* the header an API key goes in; NULL: x-goog-api-key */
	/* The service takes OAuth tokens only: keys in the environment are not looked at,
	 * and an api_key_file is refused with key_refused as the reason. */
	int oauth_only;
	const char *key_refused;
	/* Sent as "key_header: fixed_value" and nothing else looked at (a private server
	 * that wants some bearer token: key_header "Authorization", "Bearer x"). */
	const char *fixed_value;
	/* A service of API keys only (OpenAI): the key comes from api_key_file or the
	 * environment variable key_env, nothing else is looked at, and key_prefix goes
	 * before the key in its header ("Bearer "). */
	int key_only;
	const char *key_env;
	const char *key_prefix;
};

struct creds;

/* Resolves the source. On failure returns -EACCES and err->message names every place
 * looked, for the mount to print before it starts. */
int creds_new(const struct creds_options *opt, struct creds **out, struct backend_error *err);
void creds_free(struct creds *c);

/* A short word for logs: "api-key", "token-command", "authorized_user", ... */
const char *creds_kind(const struct creds *c);

/* Fills up to max header lines ("x-goog-api-key: ..." / "Authorization: Bearer ...",
 * "x-goog-user-project: ..."), heap strings the caller frees. Refreshes a token when
 * due; many callers at once cause one refresh. Returns the count or a negative errno. */
int creds_headers(struct creds *c, char **headers, size_t max, struct backend_error *err);

/* Told after a 401: the next creds_headers() refreshes (once, however many report it). */
void creds_invalidate(struct creds *c, const char *token_seen);

/* The two calls above as the hooks http_client_new takes; NULL when c is NULL. The
 * struct lives as long as c. */
const struct http_auth *creds_auth(struct creds *c);

/* Token fetches so far (token command runs or token endpoint POSTs) and how many failed;
 * both 0 for an API key. For tests and benchmarks. */
void creds_stats(struct creds *c, unsigned long *refreshes, unsigned long *failures);

#endif
