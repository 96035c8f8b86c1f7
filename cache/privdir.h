/* privdir.h - making the private directories tunedfs keeps its data in: every directory
 * created on the way gets mode 0700 whatever the umask. Existing ones are left as they are. */
#ifndef TUNEDFS_PRIVDIR_H
#define TUNEDFS_PRIVDIR_H

/* mkdir -p: 0 or a negative errno. */
int privdir_make(const char *path);

/* privdir_make, then opens the directory: an O_DIRECTORY fd or a negative errno. */
int privdir_open(const char *path);

#endif
