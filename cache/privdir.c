/* privdir.c - mkdir -p with 0700 for what it creates, and the exclusive 0600 temporaries
 * and whole writes that the draft store, the response cache and the kept listing use. */
#include "cache/privdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int privdir_make(const char *path)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
		return -ENAMETOOLONG;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) == 0)
			chmod(p, 0700); /* whatever the umask */
		else if (errno != EEXIST)
			return -errno;
		*s = c;
		if (c == '\0')
			return 0;
	}
}

int privdir_open(const char *path)
{
	int rc = privdir_make(path);

	if (rc < 0)
		return rc;
	rc = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return rc < 0 ? -errno : rc;
}

int privdir_open_temp(int dirfd, const char *dir, const char *name, char *tmp, size_t tmp_len)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned char r[6];
		int fd;

		if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
			return -EIO;
		snprintf(tmp, tmp_len, "%s/.%s.tmp.%02x%02x%02x%02x%02x%02x", dir, name, r[0], r[1],
			 r[2], r[3], r[4], r[5]);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int privdir_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}
