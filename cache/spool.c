/* spool.c - the prompt spools: the files a user writes into MODEL/prompts/, kept as user
 * data like drafts (written atomically to a temporary, fsynced, renamed; 0700/0600,
 * never evicted). Layout: DIR/MODEL/p-HEX where HEX spells the file's name, so any name
 * a directory takes is stored safely; DIR/MODEL/n-TAG are notes kept beside the prompts
 * (a batch under way). Answers live in the response cache, not here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/privdir.h"
#include "cache/spool.h"

struct spool {
	char *dir;
	int dirfd;
	pthread_mutex_t lock;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "tunedfs: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

int spool_valid_name(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= SPOOL_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

static int valid_model(const char *model)
{
	return model[0] && model[0] != '.' && !strchr(model, '/') && strlen(model) < 64;
}

static void encode(const char *name, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	out[o++] = 'p';
	out[o++] = '-';
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		out[o++] = hex[*s >> 4];
		out[o++] = hex[*s & 15];
	}
	out[o] = 0;
}

static int decode(const char *file, char *out, size_t size)
{
	size_t n = strlen(file), o = 0;

	if (n < 4 || strncmp(file, "p-", 2) != 0 || n % 2 || (n - 2) / 2 >= size)
		return -1;
	for (size_t i = 2; i < n; i += 2) {
		unsigned v;
		if (sscanf(file + i, "%2x", &v) != 1 || v == 0)
			return -1;
		out[o++] = (char)v;
	}
	out[o] = 0;
	return 0;
}

int spool_open(const char *dir, struct spool **out)
{
	int fd = privdir_open(dir);
	struct spool *sp;

	if (fd < 0)
		return fd;
	sp = xmalloc(sizeof *sp);
	sp->dir = xstrdup(dir);
	sp->dirfd = fd;
	pthread_mutex_init(&sp->lock, NULL);
	*out = sp;
	return 0;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	close(sp->dirfd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->dir);
	free(sp);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in DIR/sub (sub NULL: the model directories), sorted. */
static int list_dir(struct spool *sp, const char *sub, char ***names, size_t *n)
{
	char buf[SPOOL_NAME_MAX + 1];
	int fd = sub ? openat(sp->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
		     : dup(sp->dirfd);
	struct dirent *d;
	size_t cap = 0;
	DIR *dir;

	*names = NULL;
	*n = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	if (!sub)
		rewinddir(dir);
	while ((d = readdir(dir))) {
		const char *name = d->d_name;
		if (d->d_name[0] == '.')
			continue;
		if (sub) {
			if (decode(d->d_name, buf, sizeof buf) < 0)
				continue;
			name = buf;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = realloc(*names, cap * sizeof **names);
			if (!*names)
				abort();
		}
		(*names)[(*n)++] = xstrdup(name);
	}
	closedir(dir);
	if (*n > 1)
		qsort(*names, *n, sizeof **names, cmp_str);
	return 0;
}

int spool_models(struct spool *sp, char ***names, size_t *n)
{
	return list_dir(sp, NULL, names, n);
}

int spool_list(struct spool *sp, const char *model, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	return valid_model(model) ? list_dir(sp, model, names, n) : -EINVAL;
}

void spool_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int read_file(struct spool *sp, const char *model, const char *file, char **data,
		     size_t *len)
{
	char path[64 + 2 * SPOOL_NAME_MAX + 8];
	struct stat st;
	ssize_t got;
	int fd;

	snprintf(path, sizeof path, "%s/%s", model, file);
	fd = openat(sp->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > SPOOL_MAX) {
		close(fd);
		return -EFBIG;
	}
	*data = xmalloc((size_t)st.st_size + 1);
	got = pread(fd, *data, (size_t)st.st_size, 0);
	close(fd);
	if (got < 0) {
		free(*data);
		return -EIO;
	}
	(*data)[got] = 0;
	*len = (size_t)got;
	return 0;
}

/* Atomic, durable replacement of DIR/model/file. */
static int write_file(struct spool *sp, const char *model, const char *file, const char *data,
		      size_t len)
{
	char tmp[4096];
	int dfd, fd, rc = 0;

	pthread_mutex_lock(&sp->lock);
	if (mkdirat(sp->dirfd, model, 0700) < 0 && errno != EEXIST)
		rc = -errno;
	dfd = rc ? -1 : openat(sp->dirfd, model, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (!rc && dfd < 0)
		rc = -errno;
	pthread_mutex_unlock(&sp->lock);
	if (rc)
		return rc;
	fd = privdir_open_temp(sp->dirfd, model, "spool", tmp, sizeof tmp);
	if (fd < 0) {
		close(dfd);
		return fd;
	}
	rc = privdir_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(dfd, strrchr(tmp, '/') + 1, dfd, file) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dfd, strrchr(tmp, '/') + 1, 0);
	else if (fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

int spool_read(struct spool *sp, const char *model, const char *name, char **data, size_t *len)
{
	char file[2 * SPOOL_NAME_MAX + 3];

	if (!valid_model(model) || !spool_valid_name(name))
		return -EINVAL;
	encode(name, file);
	return read_file(sp, model, file, data, len);
}

int spool_write(struct spool *sp, const char *model, const char *name, const char *data, size_t len)
{
	char file[2 * SPOOL_NAME_MAX + 3];

	if (!valid_model(model) || !spool_valid_name(name) || len > SPOOL_MAX)
		return -EINVAL;
	encode(name, file);
	return write_file(sp, model, file, data, len);
}

int spool_unlink(struct spool *sp, const char *model, const char *name)
{
	char path[64 + 2 * SPOOL_NAME_MAX + 8], file[2 * SPOOL_NAME_MAX + 3];

	if (!valid_model(model) || !spool_valid_name(name))
		return -EINVAL;
	encode(name, file);
	snprintf(path, sizeof path, "%s/%s", model, file);
	return unlinkat(sp->dirfd, path, 0) < 0 ? -errno : 0;
}

static int valid_tag(const char *tag)
{
	size_t n = strlen(tag);
	return n > 0 && n <= 64 && strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int spool_note_write(struct spool *sp, const char *model, const char *tag, const char *data,
		     size_t len)
{
	char file[80];

	if (!valid_model(model) || !valid_tag(tag))
		return -EINVAL;
	snprintf(file, sizeof file, "n-%s", tag);
	return write_file(sp, model, file, data, len);
}

int spool_note_read(struct spool *sp, const char *model, const char *tag, char **data, size_t *len)
{
	char file[80];

	if (!valid_model(model) || !valid_tag(tag))
		return -EINVAL;
	snprintf(file, sizeof file, "n-%s", tag);
	return read_file(sp, model, file, data, len);
}

int spool_note_unlink(struct spool *sp, const char *model, const char *tag)
{
	char path[160];

	if (!valid_model(model) || !valid_tag(tag))
		return -EINVAL;
	snprintf(path, sizeof path, "%s/n-%s", model, tag);
	return unlinkat(sp->dirfd, path, 0) < 0 ? -errno : 0;
}

int spool_note_list(struct spool *sp, const char *model, char ***tags, size_t *n)
{
	int fd = valid_model(model)
		     ? openat(sp->dirfd, model, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
		     : -1;
	struct dirent *d;
	size_t cap = 0;
	DIR *dir;

	*tags = NULL;
	*n = 0;
	if (fd < 0)
		return errno == ENOENT || !valid_model(model) ? 0 : -errno;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, "n-", 2) != 0 || !valid_tag(d->d_name + 2))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*tags = realloc(*tags, cap * sizeof **tags);
			if (!*tags)
				abort();
		}
		(*tags)[(*n)++] = xstrdup(d->d_name + 2);
	}
	closedir(dir);
	return 0;
}

int spool_drop(struct spool *sp, const char *model)
{
	char **names;
	size_t n;
	int rc;

	if (!valid_model(model))
		return -EINVAL;
	rc = spool_list(sp, model, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		spool_unlink(sp, model, names[i]);
	spool_names_free(names, n);
	if (rc == 0)
		rc = spool_note_list(sp, model, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		spool_note_unlink(sp, model, names[i]);
	if (rc == 0)
		spool_names_free(names, n);
	if (rc == 0 && unlinkat(sp->dirfd, model, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}
