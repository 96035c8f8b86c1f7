/* oauth.h - OAuth access tokens for the service client: Application Default Credentials
 * files, the refresh-token and JWT-bearer grants at a token endpoint, an access-token
 * command, and a token cache refreshed by one caller at a time. Which source wins, and
 * the headers built from a token, are creds.h's business, not this module's. */
#ifndef TUNEDFS_OAUTH_H
#define TUNEDFS_OAUTH_H

#include <stddef.h>
#include <time.h>

struct backend_error;

#define OAUTH_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
/* What the tuning calls need, space-separated as the JWT scope claim wants it. */
#define OAUTH_TUNING_SCOPES                                                                        \
	"https://www.googleapis.com/auth/cloud-platform "                                          \
	"https://www.googleapis.com/auth/generative-language.tuning"
#define OAUTH_JWT_BEARER_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"

/* --- encodings (jwt.c) ------------------------------------------------------------- */

/* base64url without '=' padding; heap string. */
char *oauth_b64url(const void *data, size_t len);
/* Appends "name=value" (with a leading '&' unless *form is empty) to the heap string
 * *form, percent-encoding everything outside ALPHA / DIGIT / "-._~". */
void oauth_form_add(char **form, const char *name, const char *value);

/* --- service-account JWTs (jwt.c) ---------------------------------------------------- */

struct oauth_jwt_claims {
	const char *kid;   /* private_key_id, may be NULL */
	const char *iss;   /* client_email */
	const char *scope; /* space-separated */
	const char *aud;   /* the token endpoint */
	long iat, exp;
};

/* Signs header.claims with RS256 using a PEM private key (PKCS#8 or PKCS#1). Returns 0
 * and a heap JWT, or -EINVAL with why filled (never with key material). */
int oauth_jwt_sign(const struct oauth_jwt_claims *cl, const char *private_key_pem, char **jwt,
		   char *why, size_t why_len);

/* --- Application Default Credentials files (oauth.c) ------------------------------- */

enum oauth_adc_type { OAUTH_ADC_AUTHORIZED_USER = 1, OAUTH_ADC_SERVICE_ACCOUNT };

/* Heap strings, NULL when absent. */
struct oauth_adc {
	enum oauth_adc_type type;
	char *client_id, *client_secret, *refresh_token;   /* authorized_user */
	char *client_email, *private_key, *private_key_id; /* service_account */
	char *project_id, *quota_project_id, *token_uri;
};

/* Parses the JSON text of an ADC file; path only names it in messages. A missing
 * required field or an unsupported type gives -EINVAL and a message naming both. */
int oauth_adc_parse(const char *json, const char *path, struct oauth_adc *out,
		    struct backend_error *err);
/* Reads and parses path; warns once on stderr when the file is readable by others. */
int oauth_adc_load(const char *path, struct oauth_adc *out, struct backend_error *err);
void oauth_adc_clear(struct oauth_adc *a);

/* --- the token endpoint and the token command (oauth.c) ---------------------------- */

struct oauth_token {
	char *access_token;
	long expires_in;     /* seconds; 0 when the source does not say */
	char *refresh_token; /* set when the endpoint rotated it */
};
void oauth_token_clear(struct oauth_token *t);

/* https, or plain http to a loopback address only. */
int oauth_uri_allowed(const char *uri);
/* POSTs a form body to token_uri through the shared transport (http_post_form: one
 * attempt, no credentials; the cache above paces the retries).
 * A refusal gives -EACCES and the endpoint's error_description in err->message. */
int oauth_token_post(const char *token_uri, const char *form, long timeout_ms,
		     struct oauth_token *out, struct backend_error *err);
/* Runs cmd with /bin/sh -c, its stdout (trimmed) is the token. Killed after timeout_ms. */
int oauth_token_command(const char *cmd, long timeout_ms, struct oauth_token *out,
			struct backend_error *err);

/* --- the token cache (oauth.c) ------------------------------------------------------- */

struct oauth_source_options {
	const char *token_command;   /* either this ... */
	const struct oauth_adc *adc; /* ... or this (copied) */
	const char *token_uri;	     /* overrides adc->token_uri */
	long command_lifetime_s;     /* a command's token is taken to live this long; 3600 */
	long timeout_ms;	     /* token POST / command run; 30000 */
};

struct oauth_source;

int oauth_source_new(const struct oauth_source_options *opt, struct oauth_source **out,
		     struct backend_error *err);
void oauth_source_free(struct oauth_source *s);
/* A heap copy of a live access token. When the token is due, one caller fetches a new
 * one while the others wait for it (or keep using the old one while it still lives). A
 * failed fetch is returned to every waiter and retried after a short backoff. */
int oauth_source_token(struct oauth_source *s, char **token, struct backend_error *err);
/* After a 401: when token_seen is the current token (or NULL), the next call refreshes. */
void oauth_source_invalidate(struct oauth_source *s, const char *token_seen);

struct oauth_stats {
	unsigned long refreshes, failures;
};
void oauth_source_stats(struct oauth_source *s, struct oauth_stats *out);

#endif
