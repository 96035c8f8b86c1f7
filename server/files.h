/* files.h - whole-file reads and atomic private writes for tunedfs-server's stores. */
#ifndef TUNEDFS_SERVER_FILES_H
#define TUNEDFS_SERVER_FILES_H

#include <stddef.h>

/* Writes data to path through path.tmp.XXXXXX, fsync and rename, then fsyncs the
 * directory. */
int srv_write_atomic(const char *path, const void *data, size_t len);
/* fsyncs the directory holding path. */
int srv_fsync_dir_of(const char *path);
/* The whole file (NUL-terminated, heap) and its length; -EFBIG past max bytes. */
int srv_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
