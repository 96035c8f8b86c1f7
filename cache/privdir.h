/* privdir.h - the private directories tunedfs keeps its data in, and the temporaries its
 * stores write into them: every directory created on the way gets mode 0700 whatever the
 * umask (existing ones are left as they are); temporaries are 0600 and made exclusively. */
#ifndef TUNEDFS_PRIVDIR_H
#define TUNEDFS_PRIVDIR_H

#include <stddef.h>

/* mkdir -p: 0 or a negative errno. */
int privdir_make(const char *path);

/* privdir_make, then opens the directory: an O_DIRECTORY fd or a negative errno. */
int privdir_open(const char *path);

/* Opens DIR/.NAME.tmp.XXXXXX below dirfd (random suffix, O_EXCL, 0600, no symlink
 * followed) and puts that path in tmp: the fd, or a negative errno. */
int privdir_open_temp(int dirfd, const char *dir, const char *name, char *tmp, size_t tmp_len);

/* Writes all of data to fd, retrying interrupted and short writes: 0 or a negative errno. */
int privdir_write_all(int fd, const char *data, size_t len);

#endif
