/* google_rpc.c - the google.rpc error envelope and Google's credential checks for
 * tunedfs-server's Google families (see google_rpc.h). Tokens themselves: token_table.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "server/google/google_rpc.h"
#include "server/google/oauth.h"
#include "server/reply.h"
#include "server/srv.h"

void srv_google_error(struct srv_reply *rep, int http_status, const char *status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddNumberToObject(e, "code", http_status);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "status", status);
	if (http_status == 429 && rep->retry_after > 0) {
		char delay[32];
		snprintf(delay, sizeof(delay), "%lds", rep->retry_after);
		cJSON *ri = cJSON_CreateObject();
		cJSON_AddStringToObject(ri, "@type", "type.googleapis.com/google.rpc.RetryInfo");
		cJSON_AddStringToObject(ri, "retryDelay", delay);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "details"), ri);
	}
	srv_reply_json(rep, http_status, o);
}

/* Compares without an early exit, so timing does not tell how much of a key matched. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

static const char *bearer_of(const struct srv_request *req)
{
	const char *b = req->authorization;
	if (!b || strncasecmp(b, "Bearer ", 7))
		return NULL;
	for (b += 7; *b == ' ';)
		b++;
	return b;
}

int srv_google_auth_key_or_bearer(struct srv *s, const struct srv_request *req,
				  struct srv_reply *rep)
{
	int want_key = s->api_key != NULL;
	int want_oauth = s->oauth != NULL;
	if (!want_key && !want_oauth)
		return 0;
	char qkey[512];
	int has_q = srv_query_get(req->query, "key", qkey, sizeof(qkey)) == 1;
	const char *bearer = bearer_of(req);
	const char *key = req->api_key_header ? req->api_key_header : has_q ? qkey : NULL;
	if (want_key &&
	    ((key && same_secret(key, s->api_key)) || (bearer && same_secret(bearer, s->api_key))))
		return 0;
	if (want_oauth && bearer && srv_oauth_check_bearer(s->oauth, bearer))
		return 0;
	if (!key && !bearer) {
		srv_reply_error(rep, 401, "UNAUTHENTICATED",
				"Request is missing required authentication credential. Expected "
				"an API key (x-goog-api-key or ?key=) or an OAuth 2 access token.");
		return -EACCES;
	}
	if (want_oauth && bearer && !key) {
		srv_reply_error(rep, 401, "UNAUTHENTICATED",
				"Request had invalid authentication credentials. Expected OAuth 2 "
				"access token, login cookie or other valid authentication "
				"credential.");
		return -EACCES;
	}
	srv_reply_error(rep, 403, "PERMISSION_DENIED",
			"API key not valid. Please pass a valid API key.");
	return -EACCES;
}

int srv_google_auth_bearer(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	const char *bearer = bearer_of(req);
	if (!bearer || !*bearer) {
		srv_reply_error(rep, 401, "UNAUTHENTICATED",
				"Request is missing required authentication credential. Expected "
				"OAuth 2 access token (Authorization: Bearer); API keys are not "
				"supported by this API.");
		return -EACCES;
	}
	if (!s->oauth || srv_oauth_check_bearer(s->oauth, bearer) ||
	    (s->api_key && same_secret(bearer, s->api_key)))
		return 0;
	srv_reply_error(rep, 401, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access "
			"token, login cookie or other valid authentication credential.");
	return -EACCES;
}
