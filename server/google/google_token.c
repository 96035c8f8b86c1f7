/* google_token.c - the Google token endpoint of tunedfs-server (POST /token): the
 * refresh-token and JWT-bearer grants with Google's form fields, their answers and errors,
 * and the route family that serves it. Clients file: oauth_clients.c; issued tokens:
 * token_table.c; the assertion check: jwt_verify.c. Nothing secret is ever printed. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/xalloc.h"
#include "server/google/oauth_impl.h"
#include "server/family.h"
#include "server/google/google_rpc.h"
#include "server/reply.h"
#include "server/srv.h"

/* The form fields the endpoint reads; the secret ones are wiped when done. */
struct form {
	char *grant_type, *client_id, *client_secret, *refresh_token, *assertion, *scope;
	int malformed;
};

static void form_read(const char *text, size_t len, struct form *f)
{
	f->grant_type = srv_form_get(text, len, "grant_type", &f->malformed);
	f->client_id = srv_form_get(text, len, "client_id", &f->malformed);
	f->client_secret = srv_form_get(text, len, "client_secret", &f->malformed);
	f->refresh_token = srv_form_get(text, len, "refresh_token", &f->malformed);
	f->assertion = srv_form_get(text, len, "assertion", &f->malformed);
	f->scope = srv_form_get(text, len, "scope", &f->malformed);
}

static void form_clear(struct form *f)
{
	char *all[] = {f->grant_type,	 f->client_id, f->client_secret,
		       f->refresh_token, f->assertion, f->scope};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i])
			OPENSSL_cleanse(all[i], strlen(all[i]));
		free(all[i]);
	}
}

static char *srv_oauth_print(cJSON *obj)
{
	char *text = cJSON_Print(obj);
	cJSON_Delete(obj);
	if (!text)
		xalloc_die(0);
	return text;
}

static void srv_oauth_refuse(int status, const char *error, const char *desc, int *http_status,
			     char **json)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", error);
	cJSON_AddStringToObject(o, "error_description", desc);
	*http_status = status;
	*json = srv_oauth_print(o);
}

/* Under lock. */
static void srv_oauth_grant(struct srv_oauth *o, const char *scope, int *http_status, char **json)
{
	char tok[96];
	cJSON *r;

	if (srv_oauth_issue(o, tok, sizeof(tok)) < 0) {
		srv_oauth_refuse(500, "internal_failure", "No random bytes for a token.",
				 http_status, json);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "access_token", tok);
	cJSON_AddNumberToObject(r, "expires_in", (double)o->lifetime_s);
	cJSON_AddStringToObject(r, "scope", scope);
	cJSON_AddStringToObject(r, "token_type", "Bearer");
	OPENSSL_cleanse(tok, sizeof(tok));
	*http_status = 200;
	*json = srv_oauth_print(r);
}

static int srv_oauth_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static int srv_oauth_revoked(const struct srv_oauth_conf *c, const char *rt)
{
	for (size_t i = 0; i < c->n_revoked; i++)
		if (srv_oauth_eq(c->revoked[i], rt))
			return 1;
	return 0;
}

/* Under lock. The checks run in the order Google's endpoint reports them. */
static void srv_oauth_refresh(struct srv_oauth *o, const struct form *f, int *http_status,
			      char **json)
{
	const struct srv_oauth_conf *c = o->conf;
	const struct srv_oauth_client *hit = NULL;
	int known = 0, paired = 0;

	if (!f->client_id) {
		srv_oauth_refuse(400, "invalid_request",
				 "Could not determine client ID from request.", http_status, json);
		return;
	}
	for (size_t i = 0; i < c->n_clients; i++) {
		const struct srv_oauth_client *e = &c->clients[i];
		if (strcmp(e->client_id, f->client_id))
			continue;
		known = 1;
		if (!f->client_secret || !srv_oauth_eq(e->client_secret, f->client_secret))
			continue;
		paired = 1;
		if (f->refresh_token && srv_oauth_eq(e->refresh_token, f->refresh_token))
			hit = e;
	}
	if (!known)
		srv_oauth_refuse(401, "invalid_client", "The OAuth client was not found.",
				 http_status, json);
	else if (!f->client_secret)
		srv_oauth_refuse(400, "invalid_request", "client_secret is missing.", http_status,
				 json);
	else if (!paired)
		srv_oauth_refuse(401, "invalid_client", "Unauthorized", http_status, json);
	else if (!f->refresh_token)
		srv_oauth_refuse(400, "invalid_request",
				 "Missing required parameter: refresh_token", http_status, json);
	else if (!hit || srv_oauth_revoked(c, f->refresh_token))
		srv_oauth_refuse(400, "invalid_grant", "Token has been expired or revoked.",
				 http_status, json);
	else {
		srv_oauth_grant(o, f->scope ? f->scope : hit->scope, http_status, json);
		if (*http_status == 200)
			o->refresh_grants++;
	}
}

/* Under lock. */
static void srv_oauth_jwt(struct srv_oauth *o, const char *jwt, int *http_status, char **json)
{
	const char *error, *scope = NULL;
	cJSON *claims;
	const char *problem = srv_oauth_jwt_check(o, jwt, &error, &scope, &claims);
	if (problem) {
		srv_oauth_refuse(400, error, problem, http_status, json);
	} else {
		srv_oauth_grant(o, scope, http_status, json);
		if (*http_status == 200)
			o->jwt_grants++;
	}
	cJSON_Delete(claims);
}

int srv_oauth_token(struct srv_oauth *o, const char *form, size_t len, int *http_status,
		    char **json)
{
	struct form f = {0};
	char desc[120];

	*json = NULL;
	form_read(form ? form : "", form ? len : 0, &f);
	pthread_mutex_lock(&o->lock);
	srv_oauth_maybe_reload(o);
	if (f.malformed) {
		srv_oauth_refuse(400, "invalid_request", "Malformed or repeated form parameter.",
				 http_status, json);
	} else if (!f.grant_type) {
		srv_oauth_refuse(400, "invalid_request", "Missing required parameter: grant_type",
				 http_status, json);
	} else if (!strcmp(f.grant_type, "refresh_token")) {
		srv_oauth_refresh(o, &f, http_status, json);
	} else if (!strcmp(f.grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer")) {
		if (f.assertion)
			srv_oauth_jwt(o, f.assertion, http_status, json);
		else
			srv_oauth_refuse(400, "invalid_request",
					 "Missing required parameter: assertion", http_status,
					 json);
	} else {
		snprintf(desc, sizeof(desc), "Invalid grant_type: %.60s", f.grant_type);
		srv_oauth_refuse(400, "unsupported_grant_type", desc, http_status, json);
	}
	pthread_mutex_unlock(&o->lock);
	form_clear(&f);
	return 0;
}

/* POST /token: open (it is where credentials come from) and never faulted. */
static void token_route(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep)
{
	int status = 500;
	char *json = NULL;
	if (!s->oauth) {
		srv_reply_error(rep, 404, "NOT_FOUND", "No route for POST /token.");
		return;
	}
	if (srv_oauth_token(s->oauth, req->body ? req->body : "", req->body_len, &status, &json) ==
		0 &&
	    json) {
		srv_reply_raw(rep, status, "application/json; charset=utf-8", json, strlen(json));
		return;
	}
	free(json);
	srv_reply_error(rep, 500, "INTERNAL", "The token endpoint failed.");
}

static void token_stats(struct srv *s, cJSON *o)
{
	if (!s->oauth)
		return;
	unsigned long issued, rt, jwt;
	srv_oauth_stats(s->oauth, &issued, &rt, &jwt);
	cJSON *t = cJSON_AddObjectToObject(o, "oauth");
	cJSON_AddNumberToObject(t, "issued", (double)issued);
	cJSON_AddNumberToObject(t, "refreshGrants", (double)rt);
	cJSON_AddNumberToObject(t, "jwtGrants", (double)jwt);
}

static const struct srv_route routes[] = {
    {"POST", "/token", NULL, "token", token_route, SRV_ROUTE_OPEN | SRV_ROUTE_NO_FAULT},
};

const struct srv_family srv_family_google_token = {
    .name = "google-token",
    .routes = routes,
    .n_routes = 1,
    .error = srv_google_error,
    .stats = token_stats,
};
