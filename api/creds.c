/* creds.c - resolving the service client's credentials and turning them into headers.
 * The order: API key (key file option, GEMINI_API_KEY, GOOGLE_API_KEY), token command,
 * Application Default Credentials. Tokens themselves (fetching, caching, refreshing) are
 * oauth.c's; this file does no HTTP of its own and never prints a secret. */
#include "api/creds.h"
#include "api/backend.h"
#include "api/http.h"
#include "api/oauth.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum creds_source {
	CREDS_NONE,
	CREDS_API_KEY,
	CREDS_TOKEN_COMMAND,
	CREDS_AUTHORIZED_USER,
	CREDS_SERVICE_ACCOUNT
};

struct creds {
	enum creds_source source;
	char *api_key;
	char *project;		/* x-goog-user-project, OAuth sources only */
	const char *key_header; /* the header an API key goes in */
	struct oauth_source *oauth;
	struct http_auth auth; /* creds_auth's answer */
	pthread_mutex_t lock;
};

#define CREDS_ADC_NAME "application_default_credentials.json"

#define CREDS_KEY_MAX 4096

static void creds_set_error(struct backend_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void creds_set_error(struct backend_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->kind = BACKEND_ERROR_CREDENTIALS;
	err->http_status = status;
	err->code[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Keys pasted into files often carry a trailing newline or spaces; a key never does. */
static char *creds_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* A header value must not carry control characters: they would split the request. */
static int creds_key_ok(const char *key)
{
	if (!*key)
		return 0;
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
			return 0;
	return 1;
}

static int creds_read_key_file(const char *path, char **out, struct backend_error *err)
{
	char buf[CREDS_KEY_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		creds_set_error(err, 0, "cannot read api_key_file %s: %s", path, strerror(e));
		return -EACCES;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		fprintf(stderr,
			"tunedfs: warning: api_key_file %s is readable by group or others; "
			"run chmod 600 %s\n",
			path, path);
	while (got < CREDS_KEY_MAX && (n = read(fd, buf + got, CREDS_KEY_MAX - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	char *key = creds_trim(buf);
	if (!creds_key_ok(key)) {
		memset(buf, 0, sizeof(buf));
		creds_set_error(err, 0, "api_key_file %s holds no usable key (one line expected)",
				path);
		return -EACCES;
	}
	*out = xstrdup(key);
	memset(buf, 0, sizeof(buf));
	return 0;
}

static int creds_from_env(const char *name, char **out)
{
	const char *v = getenv(name);
	char *copy, *key;

	if (!v || !*v)
		return 0;
	copy = xstrdup(v);
	key = creds_trim(copy);
	if (!creds_key_ok(key)) {
		free(copy);
		return 0;
	}
	*out = xstrdup(key);
	memset(copy, 0, strlen(copy));
	free(copy);
	return 1;
}

/* Puts prefix before the key held in *key, wiping the old copy. */
static void creds_prefix(char **key, const char *prefix)
{
	char *both = xasprintf("%s%s", prefix, *key);

	explicit_bzero(*key, strlen(*key));
	free(*key);
	*key = both;
}

static void creds_note_looked(char *looked, size_t looked_len, const char *path)
{
	size_t n = strlen(looked), p = strlen(path);

	if (n + 2 + p + 1 > looked_len)
		return;
	memcpy(looked + n, ", ", 2);
	memcpy(looked + n + 2, path, p + 1);
}

/* The ADC file to use, or NULL when none of the well-known places has one. A set
 * GOOGLE_APPLICATION_CREDENTIALS is used even when broken, so the user hears why. */
static char *creds_adc_path(char *looked, size_t looked_len)
{
	const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
	const char *dir = getenv("CLOUDSDK_CONFIG");
	const char *home = getenv("HOME");
	char path[4096];

	if (env && *env)
		return xstrdup(env);
	snprintf(looked, looked_len, "GOOGLE_APPLICATION_CREDENTIALS (unset)");
	if (dir && *dir) {
		snprintf(path, sizeof(path), "%s/%s", dir, CREDS_ADC_NAME);
		if (access(path, F_OK) == 0)
			return xstrdup(path);
		creds_note_looked(looked, looked_len, path);
	}
	if (home && *home) {
		snprintf(path, sizeof(path), "%s/.config/gcloud/%s", home, CREDS_ADC_NAME);
		if (access(path, F_OK) == 0)
			return xstrdup(path);
		creds_note_looked(looked, looked_len, path);
	}
	return NULL;
}

/* -o project wins over GOOGLE_CLOUD_QUOTA_PROJECT, which wins over the file's own. */
static int creds_set_project(struct creds *c, const struct creds_options *opt,
			     const char *from_file, struct backend_error *err)
{
	const char *env = getenv("GOOGLE_CLOUD_QUOTA_PROJECT");
	const char *p = opt->project && *opt->project ? opt->project
			: env && *env		      ? env
						      : from_file;

	if (!p)
		return 0;
	if (!creds_key_ok(p) || strlen(p) > 200) {
		creds_set_error(err, 0, "the quota project \"%.60s\" is not a project id", p);
		return -EINVAL;
	}
	c->project = xstrdup(p);
	return 0;
}

static int creds_oauth_new(struct creds *c, const struct creds_options *opt,
			   const struct oauth_adc *adc, struct backend_error *err)
{
	struct oauth_source_options so = {
	    .token_command = adc ? NULL : opt->token_command,
	    .adc = adc,
	    .token_uri = opt->token_uri && *opt->token_uri ? opt->token_uri : NULL,
	};
	int rc = oauth_source_new(&so, &c->oauth, err);

	if (rc < 0)
		return rc;
	return creds_set_project(c, opt, adc ? adc->quota_project_id : NULL, err);
}

/* After the API keys: the token command, then ADC. Returns 1 when one was found. */
static int creds_find_oauth(struct creds *c, const struct creds_options *opt,
			    struct backend_error *err, char *looked, size_t looked_len)
{
	struct oauth_adc adc;
	char *path;
	int rc;

	if (opt->token_command && *opt->token_command) {
		c->source = CREDS_TOKEN_COMMAND;
		rc = creds_oauth_new(c, opt, NULL, err);
		return rc < 0 ? rc : 1;
	}
	path = creds_adc_path(looked, looked_len);
	if (!path)
		return 0;
	rc = oauth_adc_load(path, &adc, err);
	free(path);
	if (rc < 0)
		return -EACCES;
	c->source =
	    adc.type == OAUTH_ADC_SERVICE_ACCOUNT ? CREDS_SERVICE_ACCOUNT : CREDS_AUTHORIZED_USER;
	rc = creds_oauth_new(c, opt, &adc, err);
	oauth_adc_clear(&adc);
	return rc < 0 ? -EACCES : 1;
}

static int creds_auth_headers(void *ctx, char **headers, size_t max, struct backend_error *err)
{
	return creds_headers(ctx, headers, max, err);
}

static void creds_auth_invalidate(void *ctx, const char *token_seen)
{
	creds_invalidate(ctx, token_seen);
}

int creds_new(const struct creds_options *opt, struct creds **out, struct backend_error *err)
{
	struct creds_options none = {0};
	struct creds *c;
	char *key = NULL, looked[1024] = "";
	int rc;

	if (!opt)
		opt = &none;
	*out = NULL;
	if (opt->oauth_only && opt->api_key_file) {
		creds_set_error(err, 0, "-o api_key_file: %s",
				opt->key_refused ? opt->key_refused : "API keys are not accepted");
		return -EINVAL;
	}
	if (opt->fixed_value) {
		key = xstrdup(opt->fixed_value); /* a private server's: nothing looked up */
	} else if (opt->oauth_only) {
		/* OAuth only: keys in the environment are another service's */
	} else if (opt->api_key_file) {
		rc = creds_read_key_file(opt->api_key_file, &key, err);
		if (rc < 0)
			return rc;
	} else if (opt->key_only) {
		if (opt->key_env)
			creds_from_env(opt->key_env, &key);
	} else if (!creds_from_env("GEMINI_API_KEY", &key)) {
		creds_from_env("GOOGLE_API_KEY", &key);
	}
	if (key && opt->key_prefix && !opt->fixed_value)
		creds_prefix(&key, opt->key_prefix);
	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->source = key ? CREDS_API_KEY : CREDS_NONE;
	c->api_key = key;
	c->key_header = opt->key_header ? opt->key_header : "x-goog-api-key";
	c->auth = (struct http_auth){creds_auth_headers, creds_auth_invalidate, c};
	rc = key || opt->key_only ? 0 : creds_find_oauth(c, opt, err, looked, sizeof(looked));
	if (rc == 0 && !key && !opt->allow_none && opt->key_only) {
		creds_set_error(err, 0,
				"no API key found: looked at -o api_key_file and %s; set one of "
				"them, or mount with -o local to use the built-in server",
				opt->key_env ? opt->key_env : "nothing else");
		rc = -EACCES;
	} else if (rc == 0 && !key && !opt->allow_none && opt->oauth_only) {
		creds_set_error(err, 0,
				"no credentials found: looked at -o token_command, %s; run `gcloud "
				"auth application-default login`, or mount with -o local to use "
				"the built-in server",
				looked);
		rc = -EACCES;
	} else if (rc == 0 && !key && !opt->allow_none) {
		creds_set_error(err, 0,
				"no credentials found: looked at -o api_key_file, GEMINI_API_KEY, "
				"GOOGLE_API_KEY, -o token_command, %s; set one of them, or mount "
				"with -o local to use the built-in server",
				looked);
		rc = -EACCES;
	}
	if (rc < 0) {
		creds_free(c);
		return rc;
	}
	/* A quota project only means something with OAuth tokens, not with keys. */
	*out = c;
	return 0;
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	if (c->api_key) {
		memset(c->api_key, 0, strlen(c->api_key));
		free(c->api_key);
	}
	oauth_source_free(c->oauth);
	free(c->project);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *creds_kind(const struct creds *c)
{
	if (!c)
		return "none";
	switch (c->source) {
	case CREDS_API_KEY:
		return "api-key";
	case CREDS_TOKEN_COMMAND:
		return "token-command";
	case CREDS_AUTHORIZED_USER:
		return "authorized_user";
	case CREDS_SERVICE_ACCOUNT:
		return "service_account";
	case CREDS_NONE:
		break;
	}
	return "none";
}

static char *creds_header_line(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *line = xcalloc(1, n);
	snprintf(line, n, "%s: %s", name, value);
	return line;
}

int creds_headers(struct creds *c, char **headers, size_t max, struct backend_error *err)
{
	char *token = NULL;
	size_t n = 0;
	int rc;

	if (!c)
		return 0;
	if (c->source == CREDS_API_KEY) {
		if (n < max)
			headers[n++] = creds_header_line(c->key_header, c->api_key);
		return (int)n;
	}
	if (!c->oauth)
		return 0;
	/* no creds lock here: the token cache has its own, and waiting for a refresh
	 * must not block anything else */
	rc = oauth_source_token(c->oauth, &token, err);
	if (rc < 0)
		return rc;
	if (n < max) {
		size_t len = strlen(token) + sizeof("Authorization: Bearer ");
		headers[n] = xcalloc(1, len);
		snprintf(headers[n++], len, "Authorization: Bearer %s", token);
	}
	memset(token, 0, strlen(token));
	free(token);
	if (c->project && n < max)
		headers[n++] = creds_header_line("x-goog-user-project", c->project);
	return (int)n;
}

void creds_invalidate(struct creds *c, const char *token_seen)
{
	/* An API key cannot be refreshed: a 401 with one is final. */
	if (c && c->oauth)
		oauth_source_invalidate(c->oauth, token_seen);
}

void creds_stats(struct creds *c, unsigned long *refreshes, unsigned long *failures)
{
	struct oauth_stats st = {0};

	if (c && c->oauth)
		oauth_source_stats(c->oauth, &st);
	if (refreshes)
		*refreshes = st.refreshes;
	if (failures)
		*failures = st.failures;
}

const struct http_auth *creds_auth(struct creds *c)
{
	return c ? &c->auth : NULL;
}
