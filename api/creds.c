/* creds.c - resolving the service client's credentials and turning them into headers.
 * This file holds the API-key sources (key file option, GEMINI_API_KEY, GOOGLE_API_KEY);
 * it does no HTTP of its own and never prints a secret. */
#include "api/creds.h"
#include "api/gemini.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum creds_source { CREDS_NONE, CREDS_API_KEY };

struct creds {
	enum creds_source source;
	char *api_key;
	char *project;
	pthread_mutex_t lock;
};

#define CREDS_KEY_MAX 4096

static void *creds_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		fprintf(stderr, "tunedfs: out of memory\n");
		abort();
	}
	return p;
}

static char *creds_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p) {
		fprintf(stderr, "tunedfs: out of memory\n");
		abort();
	}
	return p;
}

static void creds_set_error(struct gemini_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void creds_set_error(struct gemini_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->http_status = status;
	err->status[0] = '\0';
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

static int creds_read_key_file(const char *path, char **out, struct gemini_error *err)
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
	*out = creds_xstrdup(key);
	memset(buf, 0, sizeof(buf));
	return 0;
}

static int creds_from_env(const char *name, char **out)
{
	const char *v = getenv(name);
	char *copy, *key;

	if (!v || !*v)
		return 0;
	copy = creds_xstrdup(v);
	key = creds_trim(copy);
	if (!creds_key_ok(key)) {
		free(copy);
		return 0;
	}
	*out = creds_xstrdup(key);
	memset(copy, 0, strlen(copy));
	free(copy);
	return 1;
}

int creds_new(const struct creds_options *opt, struct creds **out, struct gemini_error *err)
{
	struct creds_options none = {0};
	struct creds *c;
	char *key = NULL;
	int rc;

	if (!opt)
		opt = &none;
	*out = NULL;
	if (opt->api_key_file) {
		rc = creds_read_key_file(opt->api_key_file, &key, err);
		if (rc < 0)
			return rc;
	} else if (!creds_from_env("GEMINI_API_KEY", &key)) {
		creds_from_env("GOOGLE_API_KEY", &key);
	}
	if (!key && !opt->allow_none) {
		creds_set_error(err, 0,
				"no credentials found: looked at -o api_key_file, "
				"GEMINI_API_KEY and GOOGLE_API_KEY");
		return -EACCES;
	}
	c = creds_xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->source = key ? CREDS_API_KEY : CREDS_NONE;
	c->api_key = key;
	if (opt->project && *opt->project)
		c->project = creds_xstrdup(opt->project);
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
	case CREDS_NONE:
		break;
	}
	return "none";
}

static char *creds_header_line(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *line = creds_xcalloc(1, n);
	snprintf(line, n, "%s: %s", name, value);
	return line;
}

int creds_headers(struct creds *c, char **headers, size_t max, struct gemini_error *err)
{
	size_t n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (c->source == CREDS_API_KEY && n < max)
		headers[n++] = creds_header_line("x-goog-api-key", c->api_key);
	/* A quota project only means something with user OAuth tokens, not with keys. */
	pthread_mutex_unlock(&c->lock);
	return (int)n;
}

void creds_invalidate(struct creds *c, const char *token_seen)
{
	/* An API key cannot be refreshed: a 401 with one is final. */
	(void)c;
	(void)token_seen;
}
