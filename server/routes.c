/* routes.c - tunedfs-server's front door without HTTP: path routing, credentials, fault
 * injection, counters, and the helpers every handler shares (error envelope, query
 * parameters, body parsing, page tokens). Handlers live in routes_tuned.c/routes_gen.c. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/oauth.h"

void srv_reply_free(struct srv_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
	rep->body_len = 0;
}

void srv_reply_json(struct srv_reply *rep, int http_status, cJSON *obj)
{
	free(rep->body);
	rep->status = http_status;
	char *compact = srv_json_print(obj);
	rep->body = srv_json_pretty(compact);
	free(compact);
	rep->body_len = strlen(rep->body);
	rep->content_type = "application/json; charset=UTF-8";
	cJSON_Delete(obj);
}

void srv_reply_text(struct srv_reply *rep, int http_status, const char *compact)
{
	free(rep->body);
	rep->status = http_status;
	rep->body = srv_json_pretty(compact);
	rep->body_len = strlen(rep->body);
	rep->content_type = "application/json; charset=UTF-8";
}

static cJSON *error_envelope(int http_status, const char *status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddNumberToObject(e, "code", http_status);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "status", status);
	return o;
}

void srv_reply_error(struct srv_reply *rep, int http_status, const char *status, const char *fmt,
		     ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_reply_json(rep, http_status, error_envelope(http_status, status, msg));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int srv_percent_decode(char *s, int plus)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '%') {
			int h = hexval((unsigned char)p[1]),
			    l = h < 0 ? -1 : hexval((unsigned char)p[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -EINVAL;
			*o++ = (char)(h * 16 + l);
			p += 2;
		} else if (*p == '+' && plus) {
			*o++ = ' ';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return 0;
}

int srv_query_get(const char *query, const char *name, char *buf, size_t len)
{
	char snake[64];
	srv_json_snake(name, snake, sizeof(snake));
	for (const char *p = query; p && *p;) {
		size_t plen = strcspn(p, "&");
		size_t klen = strcspn(p, "=&");
		int match = (klen == strlen(name) && !strncmp(p, name, klen)) ||
			    (klen == strlen(snake) && !strncmp(p, snake, klen));
		if (match) {
			const char *v = p + klen + (p[klen] == '=');
			size_t vlen = plen - (size_t)(v - p);
			if (p[klen] != '=')
				vlen = 0;
			if (vlen >= len)
				return -EINVAL;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return srv_percent_decode(buf, 1) ? -EINVAL : 1;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return 0;
}

int srv_body_json(const struct srv_request *req, int empty_ok, cJSON **out, struct srv_reply *rep)
{
	char why[256];
	size_t i = 0;
	while (req->body && i < req->body_len && isspace((unsigned char)req->body[i]))
		i++;
	if (!req->body || i == req->body_len) {
		if (empty_ok) {
			*out = cJSON_CreateObject();
			return 0;
		}
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid JSON payload received. The request body is empty.");
		return -EINVAL;
	}
	if (srv_json_parse(req->body, req->body_len, out, why, sizeof(why))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
		return -EINVAL;
	}
	return 0;
}

#define TOKEN_MASK 0x5deece66da3b9f2bULL

void srv_page_token(unsigned long long pos, char *buf, size_t len)
{
	unsigned long long x = pos ^ TOKEN_MASK;
	unsigned check = (unsigned)((pos * 0x9e3779b97f4a7c15ULL) >> 48);
	snprintf(buf, len, "%016llx%04x", x, check);
}

static int page_token_parse(const char *tok, unsigned long long *pos)
{
	if (strlen(tok) != 20)
		return -EINVAL;
	for (const char *p = tok; *p; p++)
		if (hexval((unsigned char)*p) < 0)
			return -EINVAL;
	char head[17];
	memcpy(head, tok, 16);
	head[16] = '\0';
	unsigned long long x = strtoull(head, NULL, 16) ^ TOKEN_MASK;
	char again[32];
	srv_page_token(x, again, sizeof(again));
	if (strcasecmp(again, tok) != 0)
		return -EINVAL;
	*pos = x;
	return 0;
}

int srv_page_params(const struct srv_request *req, int def, int max, int *size,
		    unsigned long long *pos, struct srv_reply *rep)
{
	char buf[128];
	int rc = srv_query_get(req->query, "pageSize", buf, sizeof(buf));
	*size = def;
	*pos = 0;
	if (rc < 0) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "Invalid value at 'page_size'.");
		return -EINVAL;
	}
	if (rc == 1 && *buf) {
		char *end;
		errno = 0;
		long v = strtol(buf, &end, 10);
		if (errno || *end || v < 0) {
			srv_reply_error(
			    rep, 400, "INVALID_ARGUMENT",
			    "Invalid value at 'page_size' (TYPE_INT32), \"%.32s\": must "
			    "be a non-negative integer.",
			    buf);
			return -EINVAL;
		}
		*size = v == 0 ? def : (v > max ? max : (int)v);
	}
	rc = srv_query_get(req->query, "pageToken", buf, sizeof(buf));
	if (rc < 0 || (rc == 1 && *buf && page_token_parse(buf, pos))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid value at 'page_token': not a token this server issued.");
		return -EINVAL;
	}
	return 0;
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

/* 0 when the caller may use the API, else fills rep with 401/403. */
static int check_auth(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	int want_key = s->api_key != NULL;
	int want_oauth = s->oauth != NULL;
	if (!want_key && !want_oauth)
		return 0;
	char qkey[512];
	int has_q = srv_query_get(req->query, "key", qkey, sizeof(qkey)) == 1;
	const char *bearer = NULL;
	if (req->authorization && !strncasecmp(req->authorization, "Bearer ", 7)) {
		bearer = req->authorization + 7;
		while (*bearer == ' ')
			bearer++;
	}
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

/* 1 when route is in the comma-separated list (a name, or a prefix ending in '.' such
 * as "tunedModels."). */
static int route_listed(const char *list, const char *route)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n && ((n == strlen(route) && !strncmp(p, route, n)) ||
			  (p[n - 1] == '.' && !strncmp(p, route, n))))
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Draws the fault of this request; 1 when rep now holds it. */
static int inject_fault(struct srv *s, struct srv_reply *rep, char *fault)
{
	const struct srv_options *o = &s->opt;
	if (o->fault_routes && !route_listed(o->fault_routes, rep->route))
		return 0;
	rep->delay_ms = o->latency_ms;
	if (o->drop_rate <= 0 && o->fail_rate <= 0 && o->throttle_rate <= 0)
		return 0;
	double u = srv_fault_draw(s);
	if (u < o->drop_rate) {
		rep->drop = 1;
		rep->status = 0;
		*fault = 'd';
		return 1;
	}
	u -= o->drop_rate;
	if (u < o->fail_rate) {
		srv_reply_error(rep, 503, "UNAVAILABLE",
				"The model is overloaded. Please try "
				"again later.");
		*fault = 'f';
		return 1;
	}
	u -= o->fail_rate;
	if (u < o->throttle_rate) {
		char delay[32];
		snprintf(delay, sizeof(delay), "%lds", o->retry_delay_s);
		cJSON *env = error_envelope(429, "RESOURCE_EXHAUSTED",
					    "Resource has been exhausted (e.g. check quota).");
		cJSON *det = cJSON_AddArrayToObject(cJSON_GetObjectItem(env, "error"), "details");
		cJSON *ri = cJSON_CreateObject();
		cJSON_AddStringToObject(ri, "@type", "type.googleapis.com/google.rpc.RetryInfo");
		cJSON_AddStringToObject(ri, "retryDelay", delay);
		cJSON_AddItemToArray(det, ri);
		srv_reply_json(rep, 429, env);
		rep->retry_after = o->retry_delay_s;
		*fault = 't';
		return 1;
	}
	return 0;
}

enum route {
	R_UNKNOWN,
	R_MODELS_LIST,
	R_MODELS_GET,
	R_MODELS_GEN,
	R_TUNED_LIST,
	R_TUNED_CREATE,
	R_TUNED_GET,
	R_TUNED_PATCH,
	R_TUNED_DELETE,
	R_TUNED_GEN,
	R_TUNED_STREAM,
	R_OPS_LIST,
	R_OPS_GET,
	R_OPS_CANCEL,
};

static const char *const route_names[] = {
    "unknown",
    "models.list",
    "models.get",
    "models.generateContent",
    "tunedModels.list",
    "tunedModels.create",
    "tunedModels.get",
    "tunedModels.patch",
    "tunedModels.delete",
    "tunedModels.generateContent",
    "tunedModels.streamGenerateContent",
    "operations.list",
    "operations.get",
    "operations.cancel",
};
_Static_assert(sizeof(route_names) / sizeof(route_names[0]) == R_OPS_CANCEL + 1,
	       "one name a route");

struct route_match {
	enum route r;
	char id[64];
	char op[64];
};

/* Copies the next path segment (up to '/' or ':') into buf; 0 when it fits. */
static int segment(const char **p, char *buf, size_t len)
{
	size_t n = strcspn(*p, "/:");
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += n;
	return 0;
}

static int is(const char *m, const char *want)
{
	return !strcmp(m, want);
}

static void match_tuned(const char *p, const char *method, int v1, struct route_match *rm)
{
	if (!*p) {
		if (!v1)
			rm->r = is(method, "GET")    ? R_TUNED_LIST
				: is(method, "POST") ? R_TUNED_CREATE
						     : R_UNKNOWN;
		return;
	}
	if (*p++ != '/' || segment(&p, rm->id, sizeof(rm->id)))
		return;
	if (!*p) {
		if (is(method, "GET"))
			rm->r = R_TUNED_GET;
		else if (is(method, "PATCH") && !v1)
			rm->r = R_TUNED_PATCH;
		else if (is(method, "DELETE") && !v1)
			rm->r = R_TUNED_DELETE;
	} else if (*p == ':') {
		if (is(method, "POST") && is(p, ":generateContent"))
			rm->r = R_TUNED_GEN;
		else if (is(method, "POST") && is(p, ":streamGenerateContent"))
			rm->r = R_TUNED_STREAM;
	} else if (!strcmp(p, "/operations") && is(method, "GET")) {
		rm->r = R_OPS_LIST;
	} else if (!strncmp(p, "/operations/", 12)) {
		p += 12;
		if (segment(&p, rm->op, sizeof(rm->op)))
			return;
		if (!*p && is(method, "GET"))
			rm->r = R_OPS_GET;
		else if (is(p, ":cancel") && is(method, "POST"))
			rm->r = R_OPS_CANCEL;
	}
}

static void match_api(const char *p, const char *method, struct route_match *rm)
{
	int v1 = 0;
	if (!strncmp(p, "/v1beta/", 8))
		p += 8;
	else if (!strncmp(p, "/v1alpha/", 9))
		p += 9;
	else if (!strncmp(p, "/v1/", 4))
		p += 4, v1 = 1;
	else
		return;
	if (!strncmp(p, "tunedModels", 11)) {
		match_tuned(p + 11, method, v1, rm);
	} else if (!strcmp(p, "models")) {
		if (is(method, "GET"))
			rm->r = R_MODELS_LIST;
	} else if (!strncmp(p, "models/", 7)) {
		p += 7;
		if (segment(&p, rm->id, sizeof(rm->id)))
			return;
		if (!*p && is(method, "GET"))
			rm->r = R_MODELS_GET;
		else if (is(method, "POST") &&
			 (is(p, ":generateContent") || is(p, ":streamGenerateContent")))
			rm->r = R_MODELS_GEN;
	}
}

static void debug_stats(struct srv *s, struct srv_reply *rep)
{
	cJSON *o = srv_stats_json(&s->stats);
	unsigned long q, r, d;
	srv_jobs_counts(s->jobs, &q, &r, &d);
	cJSON *j = cJSON_AddObjectToObject(o, "jobs");
	cJSON_AddNumberToObject(j, "queued", (double)q);
	cJSON_AddNumberToObject(j, "running", (double)r);
	cJSON_AddNumberToObject(j, "finished", (double)d);
	pthread_mutex_lock(&s->store->lock);
	cJSON_AddNumberToObject(o, "tunedModels", (double)s->store->n);
	cJSON_AddNumberToObject(o, "loadedModels", (double)s->store->nets_loaded);
	pthread_mutex_unlock(&s->store->lock);
	if (s->oauth) {
		unsigned long issued, rt, jwt;
		srv_oauth_stats(s->oauth, &issued, &rt, &jwt);
		cJSON *t = cJSON_AddObjectToObject(o, "oauth");
		cJSON_AddNumberToObject(t, "issued", (double)issued);
		cJSON_AddNumberToObject(t, "refreshGrants", (double)rt);
		cJSON_AddNumberToObject(t, "jwtGrants", (double)jwt);
	}
	srv_reply_json(rep, 200, o);
}

static void token(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	int status = 500;
	char *json = NULL;
	if (srv_oauth_token(s->oauth, req->body ? req->body : "", req->body_len, &status, &json) ==
		0 &&
	    json) {
		free(rep->body);
		rep->status = status;
		rep->body = json;
		rep->body_len = strlen(json);
		rep->content_type = "application/json; charset=utf-8";
		return;
	}
	free(json);
	srv_reply_error(rep, 500, "INTERNAL", "The token endpoint failed.");
}

static void dispatch(struct srv *s, const struct srv_request *req, const struct route_match *rm,
		     struct srv_reply *rep)
{
	switch (rm->r) {
	case R_MODELS_LIST:
		srv_models_list(s, req, rep);
		break;
	case R_MODELS_GET:
		srv_models_get(s, rm->id, rep);
		break;
	case R_MODELS_GEN:
		srv_reply_error(rep, 400, "FAILED_PRECONDITION",
				"models/%s has not been tuned on anything: create a tuned model "
				"from it and prompt that.",
				rm->id);
		break;
	case R_TUNED_LIST:
		srv_tuned_list(s, req, rep);
		break;
	case R_TUNED_CREATE:
		srv_tuned_create(s, req, rep);
		break;
	case R_TUNED_GET:
		srv_tuned_get(s, rm->id, rep);
		break;
	case R_TUNED_PATCH:
		srv_tuned_patch(s, rm->id, req, rep);
		break;
	case R_TUNED_DELETE:
		srv_tuned_delete(s, rm->id, rep);
		break;
	case R_TUNED_GEN:
	case R_TUNED_STREAM:
		srv_generate(s, rm->id, rm->r == R_TUNED_STREAM, req, rep);
		break;
	case R_OPS_LIST:
		srv_op_list(s, rm->id, req, rep);
		break;
	case R_OPS_GET:
		srv_op_get(s, rm->id, rm->op, rep);
		break;
	case R_OPS_CANCEL:
		srv_op_cancel(s, rm->id, rm->op, rep);
		break;
	case R_UNKNOWN:
		break;
	}
}

int srv_handle(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	struct route_match rm = {R_UNKNOWN, "", ""};
	char fault = 0;
	memset(rep, 0, sizeof(*rep));
	const char *method = req->method ? req->method : "";
	const char *path = req->path ? req->path : "";
	if (!strcmp(path, "/debug/stats") && is(method, "GET")) {
		rep->route = "debug.stats";
		debug_stats(s, rep);
	} else if (!strcmp(path, "/token") && is(method, "POST") && s->oauth) {
		rep->route = "token";
		token(s, req, rep);
	} else {
		match_api(path, method, &rm);
		rep->route = route_names[rm.r];
		if (rm.r == R_UNKNOWN)
			srv_reply_error(rep, 404, "NOT_FOUND", "No route for %s %.200s.", method,
					path);
		else if (check_auth(s, req, rep) == 0 && !inject_fault(s, rep, &fault))
			dispatch(s, req, &rm, rep);
	}
	if (!rep->drop && !rep->body)
		srv_reply_error(rep, 500, "INTERNAL", "No answer was produced.");
	srv_stats_count(&s->stats, rep->route, method, path, rep->drop ? 0 : rep->status, fault);
	return 0;
}

double srv_fault_draw(struct srv *s)
{
	pthread_mutex_lock(&s->rng_lock);
	/* splitmix64: small, seedable, and good enough to draw fault rates from. */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
	pthread_mutex_unlock(&s->rng_lock);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}
