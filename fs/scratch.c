/* scratch.c - the local-only regular files a model directory takes besides its virtual
 * files (editor swap files, rsync's and sed's temporaries): kept in memory, one list
 * under one lock, reference counted so an unlinked open file still reads and writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

static pthread_mutex_t scratch_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tfs_scratch_file **files;
static size_t n_files;

static struct tfs_scratch_file *find(const char *dir, const char *name, size_t *pos)
{
	for (size_t i = 0; i < n_files; i++) {
		if (strcmp(files[i]->dir, dir) == 0 && strcmp(files[i]->name, name) == 0) {
			if (pos)
				*pos = i;
			return files[i];
		}
	}
	return NULL;
}

static void unref(struct tfs_scratch_file *f)
{
	if (--f->refs > 0)
		return;
	free(f->dir);
	free(f->name);
	free(f->data);
	free(f);
}

/* Takes f out of the list (the list's reference is dropped). */
static void detach(size_t pos)
{
	struct tfs_scratch_file *f = files[pos];
	files[pos] = files[--n_files];
	f->unlinked = 1;
	unref(f);
}

static struct tfs_scratch_file *add(const char *dir, const char *name, mode_t mode)
{
	struct tfs_scratch_file *f = xmalloc(sizeof *f);
	memset(f, 0, sizeof *f);
	f->dir = xstrdup(dir);
	f->name = xstrdup(name);
	f->mode = mode & 07777;
	clock_gettime(CLOCK_REALTIME, &f->mtime);
	f->refs = 1;
	files = xrealloc(files, (n_files + 1) * sizeof *files);
	files[n_files++] = f;
	return f;
}

int tfs_scratch_open(const char *dir, const char *name, int create, mode_t mode,
		     struct tfs_scratch_file **out)
{
	struct tfs_scratch_file *f;

	pthread_mutex_lock(&scratch_mu);
	f = find(dir, name, NULL);
	if (!f && create)
		f = add(dir, name, mode);
	if (f)
		f->refs++;
	pthread_mutex_unlock(&scratch_mu);
	*out = f;
	return f ? 0 : -ENOENT;
}

void tfs_scratch_put(struct tfs_scratch_file *f)
{
	pthread_mutex_lock(&scratch_mu);
	unref(f);
	pthread_mutex_unlock(&scratch_mu);
}

int tfs_scratch_stat(const char *dir, const char *name, size_t *size, mode_t *mode,
		     struct timespec *mtime)
{
	struct tfs_scratch_file *f;

	pthread_mutex_lock(&scratch_mu);
	f = find(dir, name, NULL);
	if (f) {
		*size = f->len;
		*mode = f->mode;
		*mtime = f->mtime;
	}
	pthread_mutex_unlock(&scratch_mu);
	return f ? 0 : -ENOENT;
}

int tfs_scratch_unlink(const char *dir, const char *name)
{
	size_t pos;
	int rc = -ENOENT;

	pthread_mutex_lock(&scratch_mu);
	if (find(dir, name, &pos)) {
		detach(pos);
		rc = 0;
	}
	pthread_mutex_unlock(&scratch_mu);
	return rc;
}

int tfs_scratch_rename(const char *dir, const char *from, const char *to, int noreplace)
{
	struct tfs_scratch_file *f;
	size_t pos;
	int rc = 0;

	pthread_mutex_lock(&scratch_mu);
	f = find(dir, from, NULL);
	if (!f) {
		rc = -ENOENT;
	} else if (strcmp(from, to) != 0) {
		if (find(dir, to, &pos)) {
			if (noreplace)
				rc = -EEXIST;
			else
				detach(pos);
		}
		if (rc == 0) {
			free(f->name);
			f->name = xstrdup(to);
		}
	}
	pthread_mutex_unlock(&scratch_mu);
	return rc;
}

int tfs_scratch_read_all(const char *dir, const char *name, char **data, size_t *len)
{
	struct tfs_scratch_file *f;
	int rc = -ENOENT;

	pthread_mutex_lock(&scratch_mu);
	f = find(dir, name, NULL);
	if (f) {
		*data = xmalloc(f->len + 1);
		if (f->len)
			memcpy(*data, f->data, f->len);
		(*data)[f->len] = 0;
		*len = f->len;
		rc = 0;
	}
	pthread_mutex_unlock(&scratch_mu);
	return rc;
}

int tfs_scratch_create_with(const char *dir, const char *name, const char *data, size_t len)
{
	struct tfs_scratch_file *f;
	size_t pos;

	pthread_mutex_lock(&scratch_mu);
	if (find(dir, name, &pos))
		detach(pos);
	f = add(dir, name, 0644);
	f->data = xmalloc(len + 1);
	memcpy(f->data, data, len);
	f->len = f->cap = len;
	pthread_mutex_unlock(&scratch_mu);
	return 0;
}

int tfs_scratch_list(const char *dir, char ***names, size_t *n)
{
	char **v;
	size_t k = 0;

	pthread_mutex_lock(&scratch_mu);
	v = xmalloc((n_files + 1) * sizeof *v);
	for (size_t i = 0; i < n_files; i++)
		if (strcmp(files[i]->dir, dir) == 0)
			v[k++] = xstrdup(files[i]->name);
	pthread_mutex_unlock(&scratch_mu);
	*names = v;
	*n = k;
	return 0;
}

void tfs_scratch_drop_dir(const char *dir)
{
	pthread_mutex_lock(&scratch_mu);
	for (size_t i = 0; i < n_files;) {
		if (strcmp(files[i]->dir, dir) == 0)
			detach(i);
		else
			i++;
	}
	pthread_mutex_unlock(&scratch_mu);
}

int tfs_scratch_pread(struct tfs_scratch_file *f, char *buf, size_t size, off_t off)
{
	size_t n = 0;

	pthread_mutex_lock(&scratch_mu);
	if ((size_t)off < f->len) {
		n = f->len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, f->data + off, n);
	}
	pthread_mutex_unlock(&scratch_mu);
	return (int)n;
}

static void grow(struct tfs_scratch_file *f, size_t len)
{
	if (len <= f->cap)
		return;
	f->cap = len < 4096 ? 4096 : len + len / 2;
	f->data = xrealloc(f->data, f->cap);
}

int tfs_scratch_pwrite(struct tfs_scratch_file *f, const char *buf, size_t size, off_t off)
{
	size_t end = (size_t)off + size;

	if (off < 0 || end > (size_t)1 << 30)
		return -EFBIG;
	pthread_mutex_lock(&scratch_mu);
	grow(f, end);
	if ((size_t)off > f->len)
		memset(f->data + f->len, 0, (size_t)off - f->len);
	memcpy(f->data + off, buf, size);
	if (end > f->len)
		f->len = end;
	clock_gettime(CLOCK_REALTIME, &f->mtime);
	pthread_mutex_unlock(&scratch_mu);
	return (int)size;
}

int tfs_scratch_truncate(struct tfs_scratch_file *f, off_t size)
{
	if (size < 0 || (size_t)size > (size_t)1 << 30)
		return -EFBIG;
	pthread_mutex_lock(&scratch_mu);
	grow(f, (size_t)size);
	if ((size_t)size > f->len)
		memset(f->data + f->len, 0, (size_t)size - f->len);
	f->len = (size_t)size;
	clock_gettime(CLOCK_REALTIME, &f->mtime);
	pthread_mutex_unlock(&scratch_mu);
	return 0;
}

int tfs_scratch_set(const char *dir, const char *name, const mode_t *mode,
		    const struct timespec *mtime)
{
	struct tfs_scratch_file *f;

	pthread_mutex_lock(&scratch_mu);
	f = find(dir, name, NULL);
	if (f && mode)
		f->mode = *mode & 07777;
	if (f && mtime)
		f->mtime = *mtime;
	pthread_mutex_unlock(&scratch_mu);
	return f ? 0 : -ENOENT;
}
