/* tunedfs.h - what the files of the FUSE driver share: the mount's context, the kinds of
 * file in a model directory, open file handles, scratch files, logging and the private
 * local server. Only fs/ includes this; the model table's contract is cache/mtab.h. */
#ifndef TUNEDFS_FS_H
#define TUNEDFS_FS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif

#include <fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "cache/mtab.h"

struct tfs_local;

struct tfs_options {
	char *backend; /* -o backend=NAME; NULL: gemini */
	char *location;
	char *bucket;
	char *endpoint;
	char *api_key_file;
	char *token_command;
	char *project;
	char *organization; /* openai: OpenAI-Organization */
	char *token_uri;
	char *cache_dir;
	char *data_dir;
	int local;
	double list_ttl;
	double poll_interval;
	double timeout;
	unsigned int cache_size; /* MiB */
	unsigned int max_threads;
	unsigned int max_inflight_mib; /* answers being received at once */
	int allow_other;
};

/* The mount. One per process. */
struct tfs {
	struct tfs_options opt;
	int foreground;
	uid_t uid;
	gid_t gid;
	time_t mounted; /* the root directory's times */
	struct mtab *mt;
	struct tfs_local *local;
	struct fuse *fuse; /* set in init, cleared when the mount goes */
};

extern struct tfs tfs_ctx;

enum tfs_kind {
	TFS_CONFIG,
	TFS_EXAMPLES,
	TFS_STATE,
	TFS_PROGRESS,
	TFS_WAIT,
	TFS_PROMPT,
	TFS_RESPONSE,
	TFS_RESPONSE_JSON,
	TFS_GENERATION,
	TFS_MODEL_JSON,
	TFS_ERROR,
	TFS_NKINDS,
	TFS_SCRATCH = TFS_NKINDS,
};

struct tfs_scratch_file;

/* An open file. */
struct tfs_fh {
	enum tfs_kind kind;
	char *id;
	int flags;
	pthread_mutex_t mu;
	int loaded;		    /* buf holds the content (lazy for wait / response) */
	int dirty;		    /* changed since the last commit (O_TRUNC counts) */
	int written;		    /* write()/ftruncate since the last commit */
	int held;		    /* counted in mtab_hold() */
	struct tfs_fh *next_writer; /* in io.c's list of handles open for writing */
	char *buf;
	size_t len, cap;
	struct tfs_scratch_file *sf;
};

/* A path split: "/" (no id), "/ID" (no file), "/ID/FILE". -ENOENT for deeper ones. */
struct tfs_path {
	char id[256];
	const char *file; /* points into the path; NULL for a directory */
	int root;
};
int tfs_path_parse(const char *path, struct tfs_path *out);

/* render.c: the virtual files */
const char *tfs_kind_name(enum tfs_kind k);
/* The model table's name of a user-written file (enum mtab_file), -1 for the others. */
int tfs_mtab_file(enum tfs_kind k);
/* The kind of a file name, or TFS_SCRATCH when it is not a virtual name. */
enum tfs_kind tfs_kind_of(const char *name);
/* Whether the file shows in the directory of a model in this state. */
int tfs_kind_visible(enum tfs_kind k, const struct mtab_attr *a);
int tfs_kind_writable(enum tfs_kind k, const struct mtab_attr *a);
int tfs_kind_dynamic(enum tfs_kind k);
/* The content now, without blocking (not for TFS_WAIT / TFS_RESPONSE*). */
int tfs_render(enum tfs_kind k, const char *id, char **data, size_t *len);
/* Blocking content of wait / response / response.json. */
int tfs_render_blocking(enum tfs_kind k, const char *id, int nonblock, char **data, size_t *len);
/* st_size for stat: exact for static files, a guess (or 0) for dynamic ones. */
size_t tfs_size_guess(enum tfs_kind k, const char *id);

/* scratch.c: local-only regular files in model directories */
struct tfs_scratch_file {
	char *dir, *name;
	char *data;
	size_t len, cap;
	mode_t mode;
	struct timespec mtime;
	int refs;
	int unlinked;
};
int tfs_scratch_open(const char *dir, const char *name, int create, mode_t mode,
		     struct tfs_scratch_file **out);
void tfs_scratch_put(struct tfs_scratch_file *f);
int tfs_scratch_stat(const char *dir, const char *name, size_t *size, mode_t *mode,
		     struct timespec *mtime);
int tfs_scratch_unlink(const char *dir, const char *name);
int tfs_scratch_rename(const char *dir, const char *from, const char *to, int noreplace);
/* A copy of the content. */
int tfs_scratch_read_all(const char *dir, const char *name, char **data, size_t *len);
int tfs_scratch_create_with(const char *dir, const char *name, const char *data, size_t len);
int tfs_scratch_list(const char *dir, char ***names, size_t *n);
void tfs_scratch_drop_dir(const char *dir);
int tfs_scratch_pread(struct tfs_scratch_file *f, char *buf, size_t size, off_t off);
int tfs_scratch_pwrite(struct tfs_scratch_file *f, const char *buf, size_t size, off_t off);
int tfs_scratch_truncate(struct tfs_scratch_file *f, off_t size);
int tfs_scratch_set(const char *dir, const char *name, const mode_t *mode,
		    const struct timespec *mtime);

/* ops.c / io.c */
extern const struct fuse_operations tfs_ops;
int tfs_op_open(const char *path, struct fuse_file_info *fi);
int tfs_op_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int tfs_op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int tfs_op_write(const char *path, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
int tfs_op_flush(const char *path, struct fuse_file_info *fi);
int tfs_op_release(const char *path, struct fuse_file_info *fi);
int tfs_op_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int tfs_op_truncate(const char *path, off_t size, struct fuse_file_info *fi);
/* 1 and the length of the newest uncommitted write to that file, 0 when none. */
int tfs_pending_size(const char *id, enum tfs_kind k, size_t *len);
/* Commits a whole content of a writable virtual file (rename onto it, truncate). */
int tfs_commit_file(const char *id, enum tfs_kind k, const char *data, size_t len, int quiet);

/* ops.c: drops the kernel's cached attributes of a model's files (their sizes and
 * modes follow the model's state); the model table's change callback. */
void tfs_forget_attrs(const char *id);

/* log.c */
void tfs_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tfs_log_msg(int prio, const char *msg);
void *tfs_xmalloc(size_t n);
void *tfs_xrealloc(void *p, size_t n);
char *tfs_xstrdup(const char *s);

/* local.c: -o local */
/* Starts tunedfs-server on a unix socket in a private 0700 directory, its data in
 * server_data; *url gets "unix:...". The server dies with this process. */
int tfs_local_start(const char *server_data, struct tfs_local **out, char **url);
void tfs_local_stop(struct tfs_local *ls);

#endif
