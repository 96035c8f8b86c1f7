/* oauth.c - where OAuth access tokens come from: ADC files, the token endpoint (refresh
 * and JWT-bearer grants, one form POST through the shared transport), an access-token command run
 * with fork/exec, and the cache that lets one caller refresh while the others wait. JWT signing and
 * encodings are in jwt.c, running the command in oauth_cmd.c; choosing the source and building
 * headers is creds.c's. No secret is ever printed, logged or put in argv. */
#include "api/oauth.h"
#include "api/backend.h"
#include "api/http.h"
#include "base/loopback.h"
#include "base/xalloc.h"
#include "base/num.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define OAUTH_FILE_MAX (1 << 20)

static char *oauth_xstrdup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Secrets are wiped before their memory goes back to the allocator. */
static void oauth_wipe_free(char *s)
{
	if (!s)
		return;
	memset(s, 0, strlen(s));
	free(s);
}

static void oauth_error(struct backend_error *err, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void oauth_error(struct backend_error *err, int http_status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	/* no code: the 401 is ours, the token endpoint's own word (if any) is in the message */
	err->kind = http_status ? http_error_kind(http_status) : BACKEND_ERROR_CREDENTIALS;
	err->http_status = http_status;
	err->code[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* A value that goes into an HTTP header must be one printable token. */
static int oauth_header_safe(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

/* ---- ADC files -------------------------------------------------------------------- */

static char *oauth_json_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) && v->valuestring[0] ? oauth_xstrdup(v->valuestring) : NULL;
}

void oauth_adc_clear(struct oauth_adc *a)
{
	oauth_wipe_free(a->client_id);
	oauth_wipe_free(a->client_secret);
	oauth_wipe_free(a->refresh_token);
	oauth_wipe_free(a->client_email);
	oauth_wipe_free(a->private_key);
	oauth_wipe_free(a->private_key_id);
	free(a->project_id);
	free(a->quota_project_id);
	free(a->token_uri);
	memset(a, 0, sizeof(*a));
}

static int oauth_adc_require(const struct oauth_adc *a, const char *path, struct backend_error *err)
{
	const char *missing = NULL;

	if (a->type == OAUTH_ADC_AUTHORIZED_USER) {
		if (!a->refresh_token)
			missing = "refresh_token";
		else if (!a->client_secret)
			missing = "client_secret";
		else if (!a->client_id)
			missing = "client_id";
	} else {
		if (!a->private_key)
			missing = "private_key";
		else if (!a->client_email)
			missing = "client_email";
	}
	if (!missing)
		return 0;
	oauth_error(err, 0, "credentials file %s (%s) has no \"%s\" field; create it again", path,
		    a->type == OAUTH_ADC_AUTHORIZED_USER ? "authorized_user" : "service_account",
		    missing);
	return -EINVAL;
}

int oauth_adc_parse(const char *json, const char *path, struct oauth_adc *out,
		    struct backend_error *err)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *type;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		oauth_error(err, 0, "credentials file %s is not a JSON object", path);
		return -EINVAL;
	}
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type)) {
		cJSON_Delete(root);
		oauth_error(err, 0, "credentials file %s has no \"type\" field", path);
		return -EINVAL;
	}
	if (!strcmp(type->valuestring, "authorized_user")) {
		out->type = OAUTH_ADC_AUTHORIZED_USER;
	} else if (!strcmp(type->valuestring, "service_account")) {
		out->type = OAUTH_ADC_SERVICE_ACCOUNT;
	} else {
		oauth_error(err, 0,
			    "credentials file %s is of type \"%.60s\", which tunedfs does not "
			    "support: use an authorized_user or service_account file, or "
			    "-o token_command",
			    path, type->valuestring);
		cJSON_Delete(root);
		return -EINVAL;
	}
	out->client_id = oauth_json_str(root, "client_id");
	out->client_secret = oauth_json_str(root, "client_secret");
	out->refresh_token = oauth_json_str(root, "refresh_token");
	out->client_email = oauth_json_str(root, "client_email");
	out->private_key = oauth_json_str(root, "private_key");
	out->private_key_id = oauth_json_str(root, "private_key_id");
	out->project_id = oauth_json_str(root, "project_id");
	out->quota_project_id = oauth_json_str(root, "quota_project_id");
	out->token_uri = oauth_json_str(root, "token_uri");
	cJSON_Delete(root);
	rc = oauth_adc_require(out, path, err);
	if (rc < 0)
		oauth_adc_clear(out);
	return rc;
}

int oauth_adc_load(const char *path, struct oauth_adc *out, struct backend_error *err)
{
	struct stat st;
	char *text;
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		oauth_error(err, 0, "cannot read credentials file %s: %s", path, strerror(e));
		return -EACCES;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > OAUTH_FILE_MAX) {
		close(fd);
		oauth_error(err, 0, "credentials file %s is not a regular file under 1 MiB", path);
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		fprintf(stderr,
			"tunedfs: warning: credentials file %s is readable by group or others; "
			"run chmod 600 %s\n",
			path, path);
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size && (n = read(fd, text + got, (size_t)st.st_size - got))) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	rc = oauth_adc_parse(text, path, out, err);
	memset(text, 0, got);
	free(text);
	return rc;
}

/* ---- the token endpoint ------------------------------------------------------------ */

void oauth_token_clear(struct oauth_token *t)
{
	oauth_wipe_free(t->access_token);
	oauth_wipe_free(t->refresh_token);
	memset(t, 0, sizeof(*t));
}

int oauth_uri_allowed(const char *uri)
{
	if (!uri)
		return 0;
	if (!strncasecmp(uri, "https://", 8))
		return uri[8] != '\0';
	return !strncasecmp(uri, "http://", 7) && loopback_url(uri);
}

static long oauth_expires_in(const cJSON *v)
{
	long n;

	if (cJSON_IsNumber(v))
		return num_whole(v->valuedouble, &n) ? n : 0;
	if (cJSON_IsString(v))
		return strtol(v->valuestring, NULL, 10);
	return 0;
}

/* Reads the endpoint's JSON: a token on 200, else its error and error_description. */
static int oauth_reply_parse(const char *uri, long status, const char *body,
			     struct oauth_token *out, struct backend_error *err)
{
	cJSON *root = body ? cJSON_Parse(body) : NULL;
	const cJSON *e, *d;
	int rc = -EACCES;

	if (status == 200 && cJSON_IsObject(root)) {
		out->access_token = oauth_json_str(root, "access_token");
		out->refresh_token = oauth_json_str(root, "refresh_token");
		out->expires_in = oauth_expires_in(cJSON_GetObjectItem(root, "expires_in"));
		if (oauth_header_safe(out->access_token)) {
			rc = 0;
		} else {
			oauth_token_clear(out);
			oauth_error(err, 200,
				    "token endpoint %s answered without a usable access_token",
				    uri);
		}
	} else if (cJSON_IsObject(root) && cJSON_IsString(e = cJSON_GetObjectItem(root, "error"))) {
		/* 401 whatever the endpoint's code: to the caller this is a request that
		 * cannot be authenticated, as the API itself would say */
		d = cJSON_GetObjectItem(root, "error_description");
		oauth_error(err, 401, "token endpoint %s refused the credentials: %.200s (%.60s)",
			    uri, cJSON_IsString(d) ? d->valuestring : "no reason given",
			    e->valuestring);
	} else {
		oauth_error(err, 401, "token endpoint %s answered HTTP %ld without a token", uri,
			    status);
	}
	cJSON_Delete(root);
	return rc;
}

int oauth_token_post(const char *token_uri, const char *form, long timeout_ms,
		     struct oauth_token *out, struct backend_error *err)
{
	struct http_response resp = {0};
	struct backend_error terr = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (!oauth_uri_allowed(token_uri)) {
		oauth_error(err, 0,
			    "token endpoint %s refused: https is required (plain http only to a "
			    "loopback address)",
			    token_uri ? token_uri : "(none)");
		return -EACCES;
	}
	rc = http_post_form(token_uri, form, timeout_ms > 0 ? timeout_ms : 30000, &resp, &terr);
	if (rc < 0 && resp.status == 0) {
		oauth_error(err, 0, "cannot reach token endpoint %s: %s", token_uri, terr.message);
		rc = -EACCES;
	} else {
		rc = oauth_reply_parse(token_uri, resp.status, resp.body, out, err);
	}
	if (resp.body)
		explicit_bzero(resp.body, resp.len);
	http_response_clear(&resp);
	return rc;
}

/* ---- the token cache ---------------------------------------------------------------- */

struct oauth_source {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char *command;
	struct oauth_adc adc;
	char *token_uri;
	long command_lifetime_s, timeout_ms;

	/* below: under lock */
	char *token;
	struct timespec refresh_at, expires_at; /* CLOCK_BOOTTIME: counts suspend too */
	int refreshing, invalid;
	unsigned long generation;
	int last_rc;
	struct backend_error last_err;
	struct timespec retry_at;
	long backoff_ms;
	struct oauth_stats stats;
};

static struct timespec oauth_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_BOOTTIME, &t);
	return t;
}

static struct timespec oauth_after(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += ms % 1000 * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static int oauth_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

int oauth_source_new(const struct oauth_source_options *opt, struct oauth_source **out,
		     struct backend_error *err)
{
	struct oauth_source *s;
	const struct oauth_adc *a = opt->adc;
	const char *uri = NULL;

	*out = NULL;
	if (!opt->token_command && !a) {
		oauth_error(err, 0, "no token source given");
		return -EINVAL;
	}
	if (a) {
		uri = opt->token_uri ? opt->token_uri
		      : a->token_uri ? a->token_uri
				     : OAUTH_DEFAULT_TOKEN_URI;
		if (!oauth_uri_allowed(uri)) {
			oauth_error(err, 0,
				    "token endpoint %s refused: https is required (plain http "
				    "only to a loopback address)",
				    uri);
			return -EACCES;
		}
	}
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	s->command = oauth_xstrdup(opt->token_command);
	if (a) {
		s->adc.type = a->type;
		s->adc.client_id = oauth_xstrdup(a->client_id);
		s->adc.client_secret = oauth_xstrdup(a->client_secret);
		s->adc.refresh_token = oauth_xstrdup(a->refresh_token);
		s->adc.client_email = oauth_xstrdup(a->client_email);
		s->adc.private_key = oauth_xstrdup(a->private_key);
		s->adc.private_key_id = oauth_xstrdup(a->private_key_id);
		s->token_uri = oauth_xstrdup(uri);
	}
	s->command_lifetime_s = opt->command_lifetime_s > 0 ? opt->command_lifetime_s : 3600;
	s->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 30000;
	*out = s;
	return 0;
}

void oauth_source_free(struct oauth_source *s)
{
	if (!s)
		return;
	oauth_wipe_free(s->command);
	oauth_adc_clear(&s->adc);
	free(s->token_uri);
	oauth_wipe_free(s->token);
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int oauth_fetch_jwt(struct oauth_source *s, struct oauth_token *t, struct backend_error *err)
{
	struct oauth_jwt_claims cl = {
	    .kid = s->adc.private_key_id,
	    .iss = s->adc.client_email,
	    .scope = OAUTH_TUNING_SCOPES,
	    .aud = s->token_uri,
	};
	char why[200], *jwt = NULL, *form = NULL;
	int rc;

	/* a little in the past, so a server whose clock is behind accepts it */
	cl.iat = (long)time(NULL) - 10;
	cl.exp = cl.iat + 3600;
	rc = oauth_jwt_sign(&cl, s->adc.private_key, &jwt, why, sizeof(why));
	if (rc < 0) {
		oauth_error(err, 0, "service account %s: %s", s->adc.client_email, why);
		return -EACCES;
	}
	oauth_form_add(&form, "grant_type", OAUTH_JWT_BEARER_GRANT);
	oauth_form_add(&form, "assertion", jwt);
	oauth_wipe_free(jwt);
	rc = oauth_token_post(s->token_uri, form, s->timeout_ms, t, err);
	oauth_wipe_free(form);
	return rc;
}

/* One fetch, run by the single refresher without the lock. */
static int oauth_fetch(struct oauth_source *s, struct oauth_token *t, struct backend_error *err)
{
	char *form = NULL;
	int rc;

	if (s->command) {
		rc = oauth_token_command(s->command, s->timeout_ms, t, err);
		t->expires_in = s->command_lifetime_s;
		return rc;
	}
	if (s->adc.type == OAUTH_ADC_SERVICE_ACCOUNT)
		return oauth_fetch_jwt(s, t, err);
	oauth_form_add(&form, "grant_type", "refresh_token");
	oauth_form_add(&form, "client_id", s->adc.client_id);
	oauth_form_add(&form, "client_secret", s->adc.client_secret);
	oauth_form_add(&form, "refresh_token", s->adc.refresh_token);
	rc = oauth_token_post(s->token_uri, form, s->timeout_ms, t, err);
	oauth_wipe_free(form);
	if (rc == 0 && t->refresh_token) {
		/* the endpoint rotated it; only the refresher ever touches it */
		oauth_wipe_free(s->adc.refresh_token);
		s->adc.refresh_token = t->refresh_token;
		t->refresh_token = NULL;
	}
	return rc;
}

/* Refresh ahead of expiry: a minute for an hour-long token, less for short ones, and a
 * command's token (lifetime unknown) after five sixths of the assumed lifetime. */
static void oauth_publish(struct oauth_source *s, struct oauth_token *t, struct timespec start)
{
	long life = t->expires_in > 0 ? t->expires_in : 3600;
	long margin = s->command ? life / 6 : (life / 4 < 60 ? life / 4 : 60);

	oauth_wipe_free(s->token);
	s->token = t->access_token;
	t->access_token = NULL;
	s->expires_at = oauth_after(start, life * 1000);
	s->refresh_at = oauth_after(start, (life - margin) * 1000);
	s->invalid = 0;
	s->last_rc = 0;
	s->backoff_ms = 0;
}

static void oauth_fail(struct oauth_source *s, int rc, const struct backend_error *e)
{
	s->last_rc = rc;
	s->last_err = *e;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
	if (s->backoff_ms > 30000)
		s->backoff_ms = 30000;
	s->retry_at = oauth_after(oauth_now(), s->backoff_ms);
	s->stats.failures++;
}

static int oauth_refresh(struct oauth_source *s, char **token, struct backend_error *err)
{
	struct oauth_token t = {0};
	struct backend_error e = {0};
	struct timespec start = oauth_now();
	int rc;

	s->refreshing = 1;
	s->stats.refreshes++;
	pthread_mutex_unlock(&s->lock);
	rc = oauth_fetch(s, &t, &e);
	pthread_mutex_lock(&s->lock);
	if (rc == 0)
		oauth_publish(s, &t, start);
	else
		oauth_fail(s, rc, &e);
	oauth_token_clear(&t);
	s->refreshing = 0;
	s->generation++;
	pthread_cond_broadcast(&s->changed);
	if (rc == 0)
		*token = oauth_xstrdup(s->token);
	else if (err)
		*err = e;
	return rc;
}

int oauth_source_token(struct oauth_source *s, char **token, struct backend_error *err)
{
	int rc;

	*token = NULL;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct timespec now = oauth_now();
		int alive = s->token && !s->invalid && oauth_before(now, s->expires_at);

		if (alive && (oauth_before(now, s->refresh_at) || s->refreshing ||
			      (s->last_rc < 0 && oauth_before(now, s->retry_at)))) {
			*token = oauth_xstrdup(s->token);
			rc = 0;
			break;
		}
		if (s->refreshing) {
			unsigned long gen = s->generation;
			while (s->refreshing && s->generation == gen)
				pthread_cond_wait(&s->changed, &s->lock);
			if (s->last_rc < 0) {
				rc = s->last_rc;
				if (err)
					*err = s->last_err;
				break;
			}
			continue;
		}
		if (s->last_rc < 0 && oauth_before(now, s->retry_at)) {
			rc = s->last_rc;
			if (err)
				*err = s->last_err;
			break;
		}
		rc = oauth_refresh(s, token, err);
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void oauth_source_invalidate(struct oauth_source *s, const char *token_seen)
{
	pthread_mutex_lock(&s->lock);
	if (s->token && (!token_seen || !strcmp(token_seen, s->token))) {
		s->invalid = 1;
		/* a 401 is news: the next caller should not sit out an old backoff */
		s->last_rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
}

void oauth_source_stats(struct oauth_source *s, struct oauth_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}
