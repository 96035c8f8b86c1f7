/* lock.c - one mount per data directory: DATA/mount.lock, held with flock for the
 * mount's lifetime (the daemon inherits it across its fork), says which process and
 * mount point hold it, so a second mount can refuse with a message naming them.
 * Also the start-up checks of the mount point itself. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <dirent.h>

#include "fs/tunedfs.h"

#define FUSE_MAGIC 0x65735546

static int lock_fd = -1;

static void note(const char *mountpoint)
{
	char buf[PATH_MAX + 64];
	int n = snprintf(buf, sizeof buf, "pid %ld mount %s\n", (long)getpid(), mountpoint);

	if (lock_fd < 0 || n < 0 || ftruncate(lock_fd, 0) < 0)
		return;
	if (pwrite(lock_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, 0) < 0)
		return;
}

int tfs_lock_data_dir(const char *data_dir, const char *mountpoint)
{
	char path[PATH_MAX], holder[PATH_MAX + 64] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/mount.lock", data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "tunedfs: error: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(fd, holder, sizeof holder - 1, 0);
		holder[n > 0 ? n : 0] = 0;
		holder[strcspn(holder, "\n")] = 0;
		fprintf(stderr,
			"tunedfs: error: the data directory %s is in use by another tunedfs "
			"(%s); one mount per data directory: unmount it, or give this one "
			"-o data_dir=DIR\n",
			data_dir, holder[0] ? holder : "holder unknown");
		close(fd);
		return -1;
	}
	lock_fd = fd;
	note(mountpoint);
	return 0;
}

void tfs_lock_note_pid(const char *mountpoint)
{
	note(mountpoint); /* after daemonizing: the pid that holds it now */
}

void tfs_lock_release(void)
{
	if (lock_fd >= 0) {
		if (ftruncate(lock_fd, 0) < 0) {
			/* only the note goes; the lock itself goes with the descriptor */
		}
		close(lock_fd);
	}
	lock_fd = -1;
}

int tfs_check_mountpoint(const char *mountpoint)
{
	struct statfs sf;
	struct dirent *d;
	DIR *dir;
	int entries = 0;

	if (statfs(mountpoint, &sf) == 0 && (unsigned long)sf.f_type == FUSE_MAGIC) {
		struct stat st;
		/* a live FUSE mount answers stat; a dead one (its daemon killed) does not and
		 * is mounted over as before */
		if (stat(mountpoint, &st) == 0) {
			fprintf(stderr,
				"tunedfs: error: %s is already a live FUSE mount; unmount it first "
				"(fusermount3 -u %s)\n",
				mountpoint, mountpoint);
			return -1;
		}
	}
	dir = opendir(mountpoint);
	if (!dir)
		return 0; /* fuse_mount says what is wrong with it */
	while ((d = readdir(dir)))
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			entries++;
	closedir(dir);
	if (entries)
		fprintf(stderr,
			"tunedfs: warning: %s is not empty; its %d entr%s are hidden while "
			"mounted\n",
			mountpoint, entries, entries == 1 ? "y is" : "ies are");
	return 0;
}
