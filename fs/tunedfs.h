/* tunedfs.h - what the files of the FUSE driver share: the mount's context, the kinds of
 * file in a model directory, open file handles, scratch files, logging and the private
 * local server. Only fs/ includes this; the model table's contract is cache/model_table.h. */
#ifndef TUNEDFS_FS_H
#define TUNEDFS_FS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif

#include <fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache/model_table.h"

struct tfs_local;
struct answer_log;

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
	double submit_delay;		/* seconds a draft stays unwritten before it is submitted */
	double lookup_timeout;		/* seconds a lookup of an unknown name may take */
	unsigned int max_requests;	/* answers generated at once */
	unsigned int batch_min;		/* spool prompts that go as one batch job; 0: none */
	unsigned long batch_inline_max; /* gemini: bigger batches go as a file; 0: 20 MB */
	unsigned int cache_size;	/* MiB */
	unsigned int max_threads;
	unsigned int max_inflight_mib; /* answers being received at once */
	char *log_size;		       /* -o log_size: a log.jsonl past it starts again */
	char *log_prompts;	       /* -o log_prompts=hash|text */
	double price_per_mtok;	       /* the estimate's cost line; -1: none */
	int allow_other;
};

/* The mount. One per process. */
struct tfs {
	struct tfs_options opt;
	int foreground;
	uid_t uid;
	gid_t gid;
	time_t mounted; /* the root directory's times */
	struct model_table *mt;
	struct tfs_local *local;
	struct answer_log *answer_log; /* log.jsonl of each model */
	struct fuse *fuse;	       /* set in init, cleared when the mount goes */
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
	TFS_PROGRESS_SVG, /* only with snapshots */
	TFS_LOG,	  /* log.jsonl, read from the data directory at offsets */
	TFS_ESTIMATE,
	TFS_NKINDS,
	TFS_SCRATCH = TFS_NKINDS,
	TFS_SPOOL_PROMPT,   /* prompts/X (and, for rm -r's marks, prompts/ itself) */
	TFS_SPOOL_RESPONSE, /* responses/X (and responses/ itself) */
	TFS_SPOOL_JSON,	    /* responses/X.json */
	TFS_SPOOL_EVAL,	    /* eval/NAME.jsonl (and eval/ itself) */
	TFS_EVAL_RESULT,    /* eval/NAME.result */
	TFS_EVAL_LINES,	    /* eval/NAME.out.jsonl */
};

struct tfs_scratch_file;

/* shared.c: the content of a writable file that its open handles share */
struct tfs_shared {
	struct tfs_shared *next;
	char *id;
	enum tfs_kind kind;
	int refs;	    /* handles open on it */
	pthread_mutex_t mu; /* the content below */
	char *buf;
	size_t len, cap;
	int dirty;   /* changed since the last commit (O_TRUNC counts) */
	int written; /* write()/ftruncate since the last commit */
	int busy;    /* handles opened or written since their last flush */
};
/* +1 on the content of k in id when handles share one, else NULL. */
struct tfs_shared *tfs_shared_ref(const char *id, enum tfs_kind k);
/* The content of k in id with one reference: data (heap, taken) unless one exists. */
struct tfs_shared *tfs_shared_make(const char *id, enum tfs_kind k, char *data, size_t len);
void tfs_shared_put(struct tfs_shared *s);
/* A handle that has opened or written a shared content and not flushed since is busy: a
 * commit waits for the last busy one, as the others may be mid-way through their writes. A
 * flushed handle is not waited for, though its release may come later (FUSE sends it
 * after close returns): the next `: > f` is still refused at its own close. All three
 * under the content's mu; fh->sh is set. */
struct tfs_fh;
void tfs_shared_busy(struct tfs_fh *fh);
void tfs_shared_idle(struct tfs_fh *fh);
/* Whether no handle but fh is busy on the content. */
int tfs_shared_last_busy(const struct tfs_fh *fh);

/* handles.c: every handle given out, until its release. An unmount drops the releases the
 * kernel still has queued: tfs_open_release_all() releases those handles at the end, when
 * no request can run any more, and returns how many there were. */
struct tfs_open {
	struct tfs_open *prev, *next;
	void (*release)(struct tfs_open *);
};
void tfs_open_add(struct tfs_open *o, void (*release)(struct tfs_open *));
void tfs_open_remove(struct tfs_open *o);
size_t tfs_open_release_all(void);

/* An open file. */
struct tfs_fh {
	struct tfs_open open; /* first: a handle's place in handles.c's list */
	enum tfs_kind kind;
	char *id;
	int flags;
	int pid;		       /* the opener, as FUSE names it: whose prompt this is */
	struct model_table_writer who; /* a prompt writer and its parent, read at open */
	pthread_mutex_t mu;
	int loaded;		    /* buf holds the content (lazy for wait / response) */
	int dirty;		    /* changed since the last commit (O_TRUNC counts) */
	int written;		    /* write()/ftruncate since the last commit */
	int held;		    /* counted in model_table_hold() */
	struct tfs_fh *next_writer; /* in io.c's list of handles open for writing */
	char *buf;
	size_t len, cap;
	struct tfs_scratch_file *sf;
	struct tfs_shared *sh; /* set for files whose handles share their content */
	int busy;	       /* counted in sh->busy: opened or written, not flushed since */
	char *name;	       /* a spool file's name (prompts/NAME, responses/NAME) */
	int discard;	       /* writes taken and dropped (see tfs_restorable) */
	int batch;	       /* responses/batch: the spool's batch job */
	uint64_t kept;	       /* a completed answer the page cache may serve (keep.c) */
};

/* A path split: "/" (no id), "/ID" (no file), "/ID/FILE", and in the spool directories
 * "/ID/prompts/NAME", "/ID/responses/NAME", "/ID/eval/NAME". -ENOENT for other deeper ones. */
struct tfs_path {
	char id[256];
	const char *file; /* points into the path; NULL for a directory */
	int root;
	enum tfs_kind spool; /* TFS_SPOOL_PROMPT, _RESPONSE or _EVAL in prompts/, responses/,
				eval/, else 0 */
	const char *name;    /* the file in that directory; NULL for the directory itself */
};
int tfs_path_parse(const char *path, struct tfs_path *out);

/* render.c: the virtual files */
const char *tfs_kind_name(enum tfs_kind k);
/* The model table's name of a user-written file (enum model_table_file), -1 for the others. */
int tfs_table_file(enum tfs_kind k);
/* The kind of a file name, or TFS_SCRATCH when it is not a virtual name. */
enum tfs_kind tfs_kind_of(const char *name);
/* Whether the file shows in the directory of a model in this state. */
int tfs_kind_visible(enum tfs_kind k, const struct model_table_attr *a);
int tfs_kind_writable(enum tfs_kind k, const struct model_table_attr *a);
/* Whether writing k, which the service fills, is taken and dropped: in a draft, so that
 * a backup of a model (cp -a, rsync -a, tar) copies back in with exit 0. */
int tfs_restorable(enum tfs_kind k, const struct model_table_attr *a);
/* Whether k takes a restore's exclusive create (and, unlinked a moment ago, reads as
 * absent so that tar's unlink-and-create goes through): a draft's files but its own two. */
int tfs_replaceable(enum tfs_kind k, const struct model_table_attr *a);
/* Whether a listing of the directory names it: visible, and not wait (opened by name). */
int tfs_kind_listed(enum tfs_kind k, const struct model_table_attr *a);
int tfs_kind_dynamic(enum tfs_kind k);
/* 0 unless k is a draft's estimate whose examples.jsonl does not parse (local work). */
int tfs_estimate_ready(const char *id, enum tfs_kind k);
/* The content now, without blocking (not for TFS_WAIT / TFS_RESPONSE*). */
int tfs_render(enum tfs_kind k, const char *id, char **data, size_t *len);
/* How a read of a file that waits (wait, response, responses/X) waits: for whose prompt,
 * whether at all (nonblock: -EAGAIN instead), how long, and what ends it early. */
struct tfs_wait {
	int pid;
	int nonblock;
	double timeout; /* seconds; 0 with nonblock unset: -ETIMEDOUT now if not ready */
	model_table_interrupted_fn intr;
};
/* Blocking content of wait / response / response.json. */
int tfs_render_blocking(enum tfs_kind k, const char *id, const struct tfs_wait *w, char **data,
			size_t *len);
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
/* A read of fh as w says (tfs_op_read is this with the caller's wait): bytes or -errno. */
int tfs_read_with(struct tfs_fh *fh, const struct tfs_wait *w, char *buf, size_t size, off_t off);
/* Whether a read of fh may wait for an answer or a state (a read another thread can finish:
 * park.c); 0 for O_NONBLOCK handles and for contents already whole. */
int tfs_read_may_wait(struct tfs_fh *fh);
/* 1 and the length of the newest uncommitted write to that file, 0 when none. */
int tfs_pending_size(const char *id, enum tfs_kind k, size_t *len);
/* Commits a whole content of a writable virtual file (rename onto it, truncate). */
int tfs_commit_file(const char *id, enum tfs_kind k, const char *data, size_t len, int quiet);

/* path.c: drops the kernel's cached attributes of a model's files (their sizes and
 * modes follow the model's state); the model table's change callback. */
void tfs_forget_attrs(const char *id);

/* remove.c: rmdir of an empty model directory, and the files rm -r unlinked on the way */
/* 1 when k of id was unlinked a moment ago (the file stays: it is the model's). */
int tfs_unlinked(const char *id, enum tfs_kind k);
void tfs_mark_unlinked(const char *id, enum tfs_kind k);
void tfs_unmark(const char *id, enum tfs_kind k);
/* 1 while k of id, just unlinked, reads as absent (1 s: tar's unlink, then create). */
int tfs_gone(const char *id, enum tfs_kind k);
/* rmdir: -ENOTEMPTY unless the directory shows nothing (see remove.c), else deletes. */
int tfs_remove_dir(const char *id);

/* restore.c: a draft made private by mkdir (mode 0700, as cp -a makes a directory it is
 * about to fill) is empty to the process that made it until that process creates its
 * files or sets the directory's mode; the mkdir's mode tells (nothing is kept otherwise) */
void tfs_restore_begin(const char *id, mode_t mode);
/* 1 when the caller made id for a restore and has not created k in it yet. */
int tfs_restore_hides(const char *id, enum tfs_kind k);
void tfs_restore_made(const char *id, enum tfs_kind k);
/* Its maker set the directory's mode (any: 0), or the draft is gone (any: 1). */
void tfs_restore_end(const char *id, int any);

/* lock.c: one mount per data directory, and the mount point's checks */
/* Takes DATA/mount.lock or says (on stderr) who holds it: 0 or -1. */
int tfs_lock_data_dir(const char *data_dir, const char *mountpoint);
void tfs_lock_note_pid(const char *mountpoint);
void tfs_lock_release(void);
/* -1 (said on stderr) over a live FUSE mount; warns of a non-empty directory. */
int tfs_check_mountpoint(const char *mountpoint);

/* spool.c: prompts/ and responses/ of a model */
/* fh: the handle stat was asked through, if any (a prompt being created is not stored
 * until its close). */
int tfs_spool_getattr(const struct tfs_path *p, const struct tfs_fh *fh, struct stat *st);
int tfs_spool_readdir(const struct tfs_path *p, void *buf, fuse_fill_dir_t filler);
/* Fills fh for prompts/X (create: made when missing) or responses/X[.json]. */
int tfs_spool_open(const struct tfs_path *p, int create, struct tfs_fh *fh, int flags);
int tfs_spool_unlink(const struct tfs_path *p);
/* At the release of a spool handle that a restore wrote through. */
void tfs_spool_release(struct tfs_fh *fh);
/* A restore's handle (fh->id, fh->name) whose file exists until its release, and whether
 * one is open on name in id (eval.c names its own "eval/NAME"). */
void tfs_spool_restoring(struct tfs_fh *fh);
int tfs_spool_being_restored(const char *id, const char *name);
int tfs_spool_rmdir(const struct tfs_path *p);
int tfs_spool_rename(const struct tfs_path *from, const struct tfs_path *to, unsigned int flags);
/* 1 and q when p is a dot-name in a spool directory: a tool's temporary, kept as a
 * scratch file under "ID/prompts" or "ID/responses". */
int tfs_spool_scratch(const struct tfs_path *p, struct tfs_path *q);
/* 1 when p names the spool's batch status file (responses/batch or responses/.batch) and a
 * batch ran since the mount (spool_names.c). */
int tfs_spool_is_batch(const struct tfs_path *p);
/* 0 and its length when prompts/name of id is stored, else model_table_spool_read's error. */
int tfs_spool_prompt_exists(const char *id, const char *name, size_t *len);
int tfs_spool_commit(struct tfs_fh *fh, const char *data, size_t len);
int tfs_spool_render(struct tfs_fh *fh, const struct tfs_wait *w, char **data, size_t *len);

/* keep.c: completed answers of responses/ served from the kernel's page cache */
/* At an open for reading of responses/X[.json] whose answer is done: loads it into fh,
 * reads it through the page cache, kept from the last open when it is the same answer. */
void tfs_keep_open(struct tfs_fh *fh, struct fuse_file_info *fi);
/* At a read of a handle tfs_keep_open loaded. */
void tfs_keep_read(const struct tfs_fh *fh);
/* The size of a done answer (k: TFS_SPOOL_RESPONSE or _JSON); -EAGAIN while not done. */
int tfs_keep_size(const char *id, const char *name, enum tfs_kind k, size_t *len);
/* The text of responses/X (the answer's text) or X.json (the whole response), with a
 * newline. */
void tfs_keep_text(enum tfs_kind k, const struct model_table_answer *a, char **data, size_t *len);

/* eval.c: eval/ of a model, handed over by spool.c's functions (same contracts) */
int tfs_eval_getattr(const struct tfs_path *p, const struct tfs_fh *fh, time_t mtime,
		     struct stat *st);
int tfs_eval_readdir(const struct tfs_path *p, void *buf, fuse_fill_dir_t filler);
int tfs_eval_open(const struct tfs_path *p, int create, struct tfs_fh *fh, int flags);
int tfs_eval_commit(struct tfs_fh *fh, const char *data, size_t len);
int tfs_eval_render(struct tfs_fh *fh, const struct tfs_wait *w, char **data, size_t *len);
int tfs_eval_unlink(const struct tfs_path *p);
int tfs_eval_rmdir(const struct tfs_path *p);
int tfs_eval_rename(const struct tfs_path *from, const struct tfs_path *to, unsigned int flags);

/* session_io.c */
/* The session reads and writes /dev/fuse itself (after fuse_mount), so that the INIT reply
 * can carry FUSE_PARALLEL_DIROPS: 0, or -errno (then libfuse's own I/O stays). */
int tfs_session_io(struct fuse *fuse);
/* Whether the INIT reply asks for parallel directory operations; from the init callback. */
void tfs_session_want_parallel(int on);

/* park.c: reads that wait, answered from where the answer arrives */
/* For the session's read of /dev/fuse (fd): 1 when it took the request in buf (n bytes),
 * a READ that may wait or a FUSE_INTERRUPT of one, so libfuse must not see it; else 0. */
int tfs_park_take(int fd, const void *buf, size_t n);
/* Reads parked now. */
size_t tfs_park_count(void);
/* A change that concerns the parked reads of model id (of its spool answer name only,
 * unless NULL): they are tried now. Any thread, any lock of the table held. */
void tfs_park_note(const char *id, const char *name);
/* Ends the parking: every parked read gets -EINTR, later ones go to the workers. */
void tfs_park_stop(void);

/* log.c */
void tfs_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tfs_log_msg(int prio, const char *msg);

/* local.c: -o local */
/* Starts tunedfs-server on a unix socket in a private 0700 directory, its data in
 * server_data; *url gets "unix:...". The server dies with this process. */
int tfs_local_start(const char *server_data, struct tfs_local **out, char **url);
void tfs_local_stop(struct tfs_local *ls);

#endif
