/* draft.c - the draft store: one directory per draft under the store directory, its files
 * replaced atomically (temporary file, fsync, rename, fsync of the directory) so a crash
 * leaves the old or the new content; no symlink below the store directory is followed.
 * No parsing here (spec.c), no FUSE. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "cache/draft.h"
#include "cache/privdir.h"

struct draft_store {
	int dirfd;
	/* Serialises the namespace changes (create, remove, rename into place), so a
	 * remove never races a rename into a directory being emptied. */
	pthread_mutex_t lock;
};

static int draft_valid_file(const char *file)
{
	/* prompt and generation: the same format serves the prompt store (model_table_user.c) */
	return file && (!strcmp(file, "config") || !strcmp(file, "examples.jsonl") ||
			!strcmp(file, "prompt") || !strcmp(file, "generation"));
}

int draft_valid_name(const char *name)
{
	size_t n;

	if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
		return 0;
	n = strlen(name);
	if (n > 40 || name[n - 1] == '-')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return 0;
	return 1;
}

/* Leftovers of an interrupted write ("." + file + ".tmp." + suffix) or remove. */
static int draft_is_temp(const char *name)
{
	return name[0] == '.' && (strstr(name, ".tmp.") || strstr(name, ".rm."));
}

/* Empties and removes the directory name under parent (one level: drafts hold files). */
static int draft_rmtree(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return errno == ENOTDIR ? (unlinkat(parent, name, 0) < 0 ? -errno : 0) : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			rc = -errno;
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

/* Removes what interrupted writes and removes left behind. */
static void draft_clean(struct draft_store *ds)
{
	int fd = openat(ds->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (draft_is_temp(de->d_name)) {
			draft_rmtree(ds->dirfd, de->d_name);
			continue;
		}
		if (!draft_valid_name(de->d_name))
			continue;
		int sub =
		    openat(ds->dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sd = sub < 0 ? NULL : fdopendir(sub);
		struct dirent *se;

		if (!sd) {
			if (sub >= 0)
				close(sub);
			continue;
		}
		while ((se = readdir(sd)))
			if (draft_is_temp(se->d_name))
				unlinkat(dirfd(sd), se->d_name, 0);
		closedir(sd);
	}
	closedir(d);
}

int draft_store_open(const char *dir, struct draft_store **out)
{
	struct draft_store *ds;
	int fd;

	*out = NULL;
	if (!dir || !*dir)
		return -EINVAL;
	if ((fd = privdir_open(dir)) < 0)
		return fd;
	ds = xmalloc(sizeof(*ds));
	ds->dirfd = fd;
	pthread_mutex_init(&ds->lock, NULL);
	draft_clean(ds);
	*out = ds;
	return 0;
}

void draft_store_close(struct draft_store *ds)
{
	if (!ds)
		return;
	close(ds->dirfd);
	pthread_mutex_destroy(&ds->lock);
	free(ds);
}

static int draft_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int draft_list(struct draft_store *ds, char ***names, size_t *n)
{
	int fd = openat(ds->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	size_t cap = 8, count = 0;
	char **v;

	*names = NULL;
	*n = 0;
	if (!d) {
		int rc = -errno;

		if (fd >= 0)
			close(fd);
		return rc;
	}
	v = xmalloc(cap * sizeof(*v));
	while ((de = readdir(d))) {
		struct stat st;

		if (!draft_valid_name(de->d_name) ||
		    fstatat(ds->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (count == cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv)
				xalloc_die(0);
			v = nv;
		}
		v[count++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(v, count, sizeof(*v), draft_cmp);
	*names = v;
	*n = count;
	return 0;
}

int draft_create(struct draft_store *ds, const char *name)
{
	int rc = 0;

	if (!draft_valid_name(name))
		return -EINVAL;
	pthread_mutex_lock(&ds->lock);
	if (mkdirat(ds->dirfd, name, 0700) < 0)
		rc = -errno;
	else
		fchmodat(ds->dirfd, name, 0700, 0); /* whatever the umask */
	pthread_mutex_unlock(&ds->lock);
	if (rc == 0 && fsync(ds->dirfd) < 0)
		rc = -errno;
	return rc;
}

/* The draft vanishes from the namespace in one rename under the lock; emptying the
 * renamed directory happens after, and a crash in between is cleaned at the next open. */
int draft_remove(struct draft_store *ds, const char *name)
{
	char tmp[64];
	unsigned char rnd[6];
	int rc = 0;

	if (!draft_valid_name(name))
		return -EINVAL;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), ".%s.rm.%02x%02x%02x%02x%02x%02x", name, rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5]);
	pthread_mutex_lock(&ds->lock);
	if (renameat(ds->dirfd, name, ds->dirfd, tmp) < 0)
		rc = -errno;
	pthread_mutex_unlock(&ds->lock);
	if (rc < 0)
		return rc;
	fsync(ds->dirfd);
	/* A write that raced the rename may still drop its temporary in there. */
	for (int i = 0; i < 5 && draft_rmtree(ds->dirfd, tmp) == -ENOTEMPTY; i++)
		sched_yield();
	return 0;
}

int draft_exists(struct draft_store *ds, const char *name)
{
	struct stat st;

	if (!draft_valid_name(name))
		return 0;
	return fstatat(ds->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* The draft's directory, never through a symlink (one put there is as good as absent):
 * every file of a draft is reached from this fd. */
static int draft_dir_fd(struct draft_store *ds, const char *name)
{
	int fd = openat(ds->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ELOOP || errno == ENOTDIR ? -ENOENT : -errno;
	return fd;
}

/* Reads all of name/file; -ENOENT when either is missing. */
static int draft_read_file(struct draft_store *ds, const char *name, const char *file, char **data,
			   size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf;
	int fd, dfd = draft_dir_fd(ds, name);

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = realloc(buf, (cap *= 2) + 1);

			if (!nb)
				xalloc_die(0);
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;

			close(fd);
			free(buf);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int draft_read(struct draft_store *ds, const char *name, const char *file, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	if (!draft_valid_name(name) || !draft_valid_file(file))
		return -EINVAL;
	return draft_read_file(ds, name, file, data, len);
}

/* The atomic replacement of name/file with data: a temporary made, written and synced,
 * renamed over file, the directory synced, all from the draft directory's fd. */
static int draft_replace(struct draft_store *ds, const char *name, const char *file,
			 const char *data, size_t len)
{
	char tmp[160];
	int fd, rc, dfd = draft_dir_fd(ds, name);

	if (dfd < 0)
		return dfd;
	fd = privdir_open_temp(dfd, ".", file, tmp, sizeof(tmp));
	if (fd < 0) {
		close(dfd);
		return fd;
	}
	rc = privdir_write_all(fd, data, len);
	if (rc == 0 && fchmod(fd, 0600) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0) {
		pthread_mutex_lock(&ds->lock);
		if (renameat(dfd, tmp, dfd, file) < 0)
			rc = -errno;
		pthread_mutex_unlock(&ds->lock);
	}
	if (rc < 0)
		unlinkat(dfd, tmp, 0);
	else if (fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

int draft_write(struct draft_store *ds, const char *name, const char *file, const char *data,
		size_t len)
{
	if (!draft_valid_name(name) || !draft_valid_file(file) || (!data && len))
		return -EINVAL;
	return draft_replace(ds, name, file, data ? data : "", len);
}

int draft_has(struct draft_store *ds, const char *name, const char *file)
{
	struct stat st;
	int dfd, rc;

	if (!draft_valid_name(name) || !draft_valid_file(file))
		return 0;
	if ((dfd = draft_dir_fd(ds, name)) < 0)
		return 0;
	rc = fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	close(dfd);
	return rc;
}

int draft_unlink(struct draft_store *ds, const char *name, const char *file)
{
	int rc = 0, dfd;

	if (!draft_valid_name(name) || !draft_valid_file(file))
		return -EINVAL;
	if ((dfd = draft_dir_fd(ds, name)) < 0)
		return dfd;
	pthread_mutex_lock(&ds->lock);
	if (unlinkat(dfd, file, 0) < 0)
		rc = -errno;
	pthread_mutex_unlock(&ds->lock);
	if (rc == 0 && fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

int draft_mark_submitted(struct draft_store *ds, const char *name, const char *op_name)
{
	char *line;
	size_t n;
	int rc;

	if (!draft_valid_name(name) || !op_name || strchr(op_name, '\n'))
		return -EINVAL;
	n = strlen(op_name) + 1;
	line = xmalloc(n + 1);
	snprintf(line, n + 1, "%s\n", op_name);
	rc = draft_replace(ds, name, "submitted", line, n);
	free(line);
	return rc;
}

int draft_submitted(struct draft_store *ds, const char *name, char **op_name)
{
	char *data;
	size_t len;
	int rc;

	if (op_name)
		*op_name = NULL;
	if (!draft_valid_name(name))
		return 0;
	rc = draft_read_file(ds, name, "submitted", &data, &len);
	if (rc < 0)
		return 0;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (op_name)
		*op_name = data;
	else
		free(data);
	return 1;
}
