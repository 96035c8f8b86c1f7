/* answer_log.c - the per-model answer logs: JSON lines appended (O_APPEND, one write each)
 * under one lock, rotated to log.jsonl.1 past the size limit, read at offsets for the
 * mount's log.jsonl. Which answers get a line is the model table's business. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rfc3339.h"
#include "base/xalloc.h"
#include "cache/answer_log.h"

struct answer_log {
	char *dir;
	size_t max_size;
	int hash_prompts;
	pthread_mutex_t mu; /* appends and rotations */
};

int answer_log_open(const char *dir, size_t max_size, int hash_prompts, struct answer_log **out)
{
	struct answer_log *l;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	l = xcalloc(1, sizeof *l);
	l->dir = xstrdup(dir);
	l->max_size = max_size ? max_size : ANSWER_LOG_DEFAULT_SIZE;
	l->hash_prompts = hash_prompts;
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return 0;
}

void answer_log_close(struct answer_log *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->dir);
	free(l);
}

static void put_tokens(cJSON *o, const char *name, long n)
{
	if (n >= 0)
		cJSON_AddNumberToObject(o, name, (double)n);
	else
		cJSON_AddNullToObject(o, name);
}

static void sha256_hex(const char *s, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(s, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = 0;
}

char *answer_log_line(const struct answer_log_record *r, int hash_prompts, size_t *len)
{
	cJSON *o = cJSON_CreateObject(), *u;
	char at[64], *text, *line;

	rfc3339_format(r->at.tv_sec, r->at.tv_nsec / 1000, at, sizeof at);
	cJSON_AddStringToObject(o, "time", at);
	if (hash_prompts) {
		char hex[65];
		sha256_hex(r->prompt, r->prompt_len, hex);
		cJSON_AddStringToObject(o, "prompt_sha256", hex);
	} else {
		char *p = xstrndup(r->prompt, r->prompt_len);
		cJSON_AddStringToObject(o, "prompt", p);
		free(p);
	}
	cJSON_AddNumberToObject(o, "answer_length", (double)r->answer_len);
	if (r->finish_reason)
		cJSON_AddStringToObject(o, "finish_reason", r->finish_reason);
	else
		cJSON_AddNullToObject(o, "finish_reason");
	u = cJSON_AddObjectToObject(o, "usage");
	put_tokens(u, "prompt_tokens", r->prompt_tokens);
	put_tokens(u, "output_tokens", r->output_tokens);
	put_tokens(u, "total_tokens", r->total_tokens);
	cJSON_AddNumberToObject(o, "latency_ms", (double)r->latency_ms);
	cJSON_AddBoolToObject(o, "cached", r->cached != 0);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		xalloc_die(0);
	line = xasprintf("%s\n", text);
	cJSON_free(text);
	*len = strlen(line);
	return line;
}

/* The path of ID's log (suffix: "" or ".1"); NULL for a name that is no file name. */
static char *log_path(struct answer_log *l, const char *id, const char *suffix)
{
	if (!id[0] || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return NULL;
	return xasprintf("%s/%s/log.jsonl%s", l->dir, id, suffix);
}

/* Opens path for appending; DIR/ID is made only when it is missing (the first answer). */
static int log_open_append(struct answer_log *l, const char *id, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 && errno == ENOENT) {
		char *d = xasprintf("%s/%s", l->dir, id);
		int rc = mkdir(d, 0700);
		free(d);
		if (rc < 0 && errno != EEXIST)
			return -errno;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	}
	return fd < 0 ? -errno : fd;
}

int answer_log_add(struct answer_log *l, const char *id, const struct answer_log_record *r)
{
	size_t len;
	char *line = answer_log_line(r, l->hash_prompts, &len), *path, *old;
	struct stat st;
	int fd, rc = 0;

	pthread_mutex_lock(&l->mu);
	path = log_path(l, id, "");
	old = log_path(l, id, ".1");
	if (!path || !old) {
		rc = -EINVAL;
		goto out;
	}
	if ((fd = log_open_append(l, id, path)) < 0) {
		rc = fd;
		goto out;
	}
	/* past the limit: this one becomes the old generation, a new one starts */
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (size_t)st.st_size + len > l->max_size) {
		close(fd);
		if (rename(path, old) < 0) {
			rc = -errno;
			goto out;
		}
		if ((fd = log_open_append(l, id, path)) < 0) {
			rc = fd;
			goto out;
		}
	}
	if (write(fd, line, len) != (ssize_t)len)
		rc = -EIO;
	close(fd);
out:
	pthread_mutex_unlock(&l->mu);
	free(path);
	free(old);
	free(line);
	return rc;
}

int answer_log_answer(struct answer_log *l, const char *id, const char *prompt, size_t len,
		      const struct generation_answer *a, long latency_ms, int cached)
{
	struct answer_log_record r = {0};

	clock_gettime(CLOCK_REALTIME, &r.at);
	r.prompt = prompt;
	r.prompt_len = len;
	r.answer_len = a->text ? strlen(a->text) : 0;
	r.finish_reason = a->finish_reason;
	r.prompt_tokens = a->in_tokens;
	r.output_tokens = a->out_tokens;
	r.total_tokens = a->total_tokens;
	r.latency_ms = latency_ms;
	r.cached = cached;
	return answer_log_add(l, id, &r);
}

int answer_log_size(struct answer_log *l, const char *id, size_t *size)
{
	char *path = log_path(l, id, "");
	struct stat st;

	*size = 0;
	if (!path)
		return -EINVAL;
	if (stat(path, &st) == 0)
		*size = (size_t)st.st_size;
	free(path);
	return 0;
}

ssize_t answer_log_read(struct answer_log *l, const char *id, char *buf, size_t size, off_t off)
{
	char *path = log_path(l, id, "");
	ssize_t n;
	int fd;

	if (!path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = pread(fd, buf, size, off);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

void answer_log_remove(struct answer_log *l, const char *id)
{
	char *path = log_path(l, id, ""), *old = log_path(l, id, ".1");

	pthread_mutex_lock(&l->mu);
	if (path && old) {
		char *d = xasprintf("%s/%s", l->dir, id);
		unlink(path);
		unlink(old);
		rmdir(d);
		free(d);
	}
	pthread_mutex_unlock(&l->mu);
	free(path);
	free(old);
}
