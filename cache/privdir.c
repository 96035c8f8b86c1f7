/* privdir.c - mkdir -p with 0700 for what it creates; used for the draft store, the
 * response cache and the mount's data directories. Nothing else. */
#include "cache/privdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
