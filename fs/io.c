/* io.c - open files: a handle per open, content snapshotted at open (or at the first
 * read for wait and response, which may block; response grows while its answer streams
 * in), writes buffered in the handle (or in the
 * content its file's handles share, shared.c) and committed to the model table on
 * flush/release. Directory-level operations: ops.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "cache/answer_log.h"
#include "fs/tunedfs.h"

#define TFS_MAX_FILE ((size_t)256 << 20)

/* Handles of virtual files open for writing, for tfs_pending_size(). */
static pthread_mutex_t writers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tfs_fh *writers;

static void writers_add(struct tfs_fh *fh)
{
	pthread_mutex_lock(&writers_mu);
	fh->next_writer = writers;
	writers = fh;
	pthread_mutex_unlock(&writers_mu);
}

static void writers_remove(struct tfs_fh *fh)
{
	pthread_mutex_lock(&writers_mu);
	for (struct tfs_fh **p = &writers; *p; p = &(*p)->next_writer) {
		if (*p == fh) {
			*p = fh->next_writer;
			break;
		}
	}
	pthread_mutex_unlock(&writers_mu);
}

int tfs_pending_size(const char *id, enum tfs_kind k, size_t *len)
{
	int found = 0;

	pthread_mutex_lock(&writers_mu);
	for (struct tfs_fh *fh = writers; fh && !found; fh = fh->next_writer) {
		if (fh->kind != k || strcmp(fh->id, id) != 0)
			continue;
		if (fh->sh) {
			pthread_mutex_lock(&fh->sh->mu);
			if (fh->sh->dirty) {
				*len = fh->sh->len;
				found = 1;
			}
			pthread_mutex_unlock(&fh->sh->mu);
			continue;
		}
		pthread_mutex_lock(&fh->mu);
		if (fh->dirty) {
			*len = fh->len;
			found = 1;
		}
		pthread_mutex_unlock(&fh->mu);
	}
	pthread_mutex_unlock(&writers_mu);
	return found;
}

static struct tfs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct tfs_fh *)(uintptr_t)fi->fh;
}

static void fh_release_left(struct tfs_open *o);

static struct tfs_fh *fh_new(enum tfs_kind kind, const char *id, int flags)
{
	struct tfs_fh *fh = xmalloc(sizeof *fh);
	memset(fh, 0, sizeof *fh);
	tfs_open_add(&fh->open, fh_release_left);
	fh->kind = kind;
	fh->id = xstrdup(id);
	fh->flags = flags;
	fh->pid = fuse_get_context()->pid;
	pthread_mutex_init(&fh->mu, NULL);
	return fh;
}

static void fh_free(struct tfs_fh *fh)
{
	tfs_open_remove(&fh->open);
	if (fh->sf)
		tfs_scratch_put(fh->sf);
	if (fh->sh) {
		pthread_mutex_lock(&fh->sh->mu);
		tfs_shared_idle(fh);
		pthread_mutex_unlock(&fh->sh->mu);
		tfs_shared_put(fh->sh);
	}
	pthread_mutex_destroy(&fh->mu);
	free(fh->id);
	free(fh->name);
	free(fh->buf);
	free(fh);
}

static int reserve(char **buf, size_t *cap, size_t len)
{
	if (len > TFS_MAX_FILE)
		return -EFBIG;
	if (len + 1 > *cap) {
		*cap = len + 1 < 4096 ? 4096 : (len + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	return 0;
}

static int fh_reserve(struct tfs_fh *fh, size_t len)
{
	return reserve(&fh->buf, &fh->cap, len);
}

/* Files whose open handles share one content, as a local file's do: the draft's two,
 * generation, and prompt when appended to (a prompt written whole is the writer's own). */
static int shares(enum tfs_kind k, int flags)
{
	return k == TFS_CONFIG || k == TFS_EXAMPLES || k == TFS_GENERATION ||
	       (k == TFS_PROMPT && (flags & O_APPEND));
}

/* The content a shared handle starts from: a prompt as written (with the newline it was
 * written with, not the one shown on read). */
static int load_raw(struct tfs_fh *fh, char **data, size_t *len)
{
	int rc;

	if (fh->kind != TFS_PROMPT)
		return tfs_render(fh->kind, fh->id, data, len);
	rc = model_table_prompt_of(tfs_ctx.mt, fh->pid, fh->id, 1, data, len);
	if (rc == -ENODATA) {
		*data = xstrdup("");
		*len = 0;
		rc = 0;
	}
	return rc;
}

/* Taken around every reference taken on or dropped from a shared content: a content is
 * loaded by one open at a time (two could each load the committed one and the second miss
 * what the first's handle wrote meanwhile), and the last handle's commit is done before
 * the next open loads it again. */
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

static int open_shared(struct tfs_fh *fh, int trunc)
{
	struct tfs_shared *sh;
	char *data = NULL;
	size_t len = 0;

	pthread_mutex_lock(&load_mu);
	sh = tfs_shared_ref(fh->id, fh->kind);
	if (!sh) {
		int rc = load_raw(fh, &data, &len);
		if (rc < 0) {
			pthread_mutex_unlock(&load_mu);
			return rc;
		}
		sh = tfs_shared_make(fh->id, fh->kind, data, len);
	}
	pthread_mutex_unlock(&load_mu);
	fh->sh = sh;
	fh->loaded = 1;
	pthread_mutex_lock(&sh->mu);
	tfs_shared_busy(fh);
	if (trunc) {
		/* truncating is a new content, committed at close; truncating an empty
		 * file changes nothing (`: > f` in a fresh draft is cp /dev/null's create) */
		if (sh->len > 0 || sh->dirty)
			sh->dirty = 1;
		sh->len = 0;
	}
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

/* A reader's copy: what open writers have so far, else the file as committed. */
static int snapshot(struct tfs_fh *fh)
{
	struct tfs_shared *sh = NULL;
	int rc = 0;

	pthread_mutex_lock(&load_mu);
	sh = shares(fh->kind, 0) ? tfs_shared_ref(fh->id, fh->kind) : NULL;
	if (sh) {
		pthread_mutex_lock(&sh->mu);
		fh->buf = xmalloc(sh->len + 1);
		memcpy(fh->buf, sh->buf, sh->len);
		fh->len = sh->len;
		pthread_mutex_unlock(&sh->mu);
		tfs_shared_put(sh);
	}
	pthread_mutex_unlock(&load_mu);
	if (!sh) {
		rc = tfs_render(fh->kind, fh->id, &fh->buf, &fh->len);
	}
	fh->cap = fh->len + 1;
	fh->loaded = rc == 0;
	return rc;
}

/* w: the process the content is from (a prompt is kept for it) */
static int commit_as(const struct model_table_writer *w, const char *id, enum tfs_kind k,
		     const char *data, size_t len, int quiet)
{
	int f = tfs_table_file(k);
	int rc;

	if (f < 0)
		return -EACCES;
	rc = model_table_commit_as(tfs_ctx.mt, w, id, (enum model_table_file)f, data ? data : "",
				   len, quiet);
	/* modes (submitted: read-only), state and error may differ now */
	tfs_forget_attrs(id);
	return rc;
}

int tfs_commit_file(const char *id, enum tfs_kind k, const char *data, size_t len, int quiet)
{
	struct model_table_writer w = {.n = 0};

	if (k == TFS_PROMPT)
		model_table_writer_of(fuse_get_context()->pid, &w);
	return commit_as(&w, id, k, data, len, quiet);
}

static int commit(struct tfs_fh *fh, int quiet)
{
	int rc = fh->kind == TFS_SPOOL_PROMPT || fh->kind == TFS_SPOOL_EVAL
		     ? tfs_spool_commit(fh, fh->buf, fh->len)
		     : commit_as(&fh->who, fh->id, fh->kind, fh->buf, fh->len, quiet);
	fh->dirty = 0;
	fh->written = 0;
	return rc;
}

/* The shared content committed, when dirty and by the last busy handle on it (the others
 * would commit a half-written whole); fh is then idle. Under sh->mu. */
static int commit_shared(struct tfs_fh *fh)
{
	struct tfs_shared *sh = fh->sh;
	int rc = 0;

	if (sh->dirty && tfs_shared_last_busy(fh)) {
		rc = commit_as(&fh->who, fh->id, fh->kind, sh->buf, sh->len, !sh->written);
		sh->dirty = 0;
		sh->written = 0;
	}
	tfs_shared_idle(fh);
	return rc;
}

/* Opens a virtual file; a is the model's attributes. */
static int open_virtual(const struct tfs_path *p, enum tfs_kind k, const struct model_table_attr *a,
			struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	struct tfs_fh *fh;
	int rc = 0;

	if (!tfs_kind_visible(k, a) || !tfs_estimate_ready(p->id, k))
		return -ENOENT;
	/* a file the service fills, written by a restore (into a draft, or in place of
	 * one it just unlinked): taken and dropped */
	if (acc != O_RDONLY && !tfs_kind_writable(k, a) && !tfs_restorable(k, a) &&
	    !tfs_gone(p->id, k))
		return -EACCES;
	fh = fh_new(k, p->id, fi->flags);
	if (acc != O_RDONLY)
		tfs_unmark(p->id, k); /* written again: there again */
	if (acc != O_RDONLY && k == TFS_PROMPT)
		model_table_writer_of(fh->pid, &fh->who); /* now: at its release it may be gone */
	if (acc != O_RDONLY && !tfs_kind_writable(k, a)) {
		fh->discard = 1; /* a backup copied back into a draft: taken and dropped */
		fh->loaded = 1;
	} else if (acc != O_RDONLY && shares(k, fi->flags)) {
		rc = open_shared(fh, (fi->flags & O_TRUNC) != 0);
	} else if (acc != O_RDONLY && (fi->flags & O_TRUNC)) {
		fh->dirty = 1; /* truncating is a new content, committed at close */
		rc = fh_reserve(fh, 0);
		fh->loaded = 1;
	} else if (k == TFS_LOG) {
		fh->loaded = 1; /* read from the data directory at each offset */
	} else if (k != TFS_WAIT && k != TFS_RESPONSE && k != TFS_RESPONSE_JSON &&
		   k != TFS_ESTIMATE) {
		rc = snapshot(fh);
	}
	if (rc < 0) {
		fh_free(fh);
		return rc;
	}
	if (acc != O_RDONLY)
		writers_add(fh);
	if (acc != O_RDONLY && (k == TFS_CONFIG || k == TFS_EXAMPLES)) {
		model_table_hold(tfs_ctx.mt, p->id, 1);
		fh->held = 1;
	}
	/* Every virtual file bypasses the page cache: the kernel's idea of a file's size
	 * lags behind a commit (a write, then a getattr made before it), and a cached size
	 * would cut reads short. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->fh = (uintptr_t)fh;
	return 0;
}

static int open_scratch(const struct tfs_path *p, int create, mode_t mode,
			struct fuse_file_info *fi)
{
	struct tfs_scratch_file *sf;
	struct tfs_fh *fh;
	int rc = tfs_scratch_open(p->id, p->file, create, mode, &sf);

	if (rc < 0)
		return rc;
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY)
		tfs_scratch_truncate(sf, 0);
	fh = fh_new(TFS_SCRATCH, p->id, fi->flags);
	fh->sf = sf;
	fi->fh = (uintptr_t)fh;
	return 0;
}

static int open_spool(const struct tfs_path *p, int create, struct fuse_file_info *fi)
{
	struct tfs_fh *fh = fh_new(TFS_SPOOL_PROMPT, p->id, fi->flags);
	int rc = tfs_spool_open(p, create, fh, fi->flags);

	if (rc < 0) {
		fh_free(fh);
		return rc;
	}
	fi->direct_io = 1;
	fi->keep_cache = 0;
	tfs_keep_open(fh, fi);
	fi->fh = (uintptr_t)fh;
	return 0;
}

int tfs_op_open(const char *path, struct fuse_file_info *fi)
{
	struct tfs_path p, q;
	struct model_table_attr a;
	enum tfs_kind k;
	int rc = tfs_path_parse(path, &p);

	if (rc < 0)
		return rc;
	if (p.root || !p.file || (p.spool && !p.name))
		return -EISDIR;
	rc = model_table_attr(tfs_ctx.mt, p.id, &a);
	if (rc < 0)
		return rc;
	if (tfs_spool_scratch(&p, &q))
		return open_scratch(&q, 0, 0, fi);
	if (p.spool)
		return open_spool(&p, 0, fi);
	k = tfs_kind_of(p.file);
	if (k == TFS_SCRATCH)
		return open_scratch(&p, 0, 0, fi);
	return open_virtual(&p, k, &a, fi);
}

int tfs_op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct tfs_path p, q;
	struct model_table_attr a;
	enum tfs_kind k;
	int rc = tfs_path_parse(path, &p);

	if (rc < 0)
		return rc;
	if (p.root || !p.file || (p.spool && !p.name))
		return -EPERM; /* the root holds model directories only */
	rc = model_table_attr(tfs_ctx.mt, p.id, &a);
	if (rc < 0)
		return rc;
	if (tfs_spool_scratch(&p, &q))
		return open_scratch(&q, 1, mode, fi);
	if (p.spool)
		return open_spool(&p, 1, fi);
	k = tfs_kind_of(p.file);
	if (k == TFS_SCRATCH)
		return open_scratch(&p, 1, mode, fi);
	if (tfs_kind_visible(k, &a) && (fi->flags & O_EXCL) && !tfs_replaceable(k, &a) &&
	    !tfs_gone(p.id, k) && !tfs_restore_hides(p.id, k))
		return -EEXIST; /* a draft's other files take a restore's exclusive creates */
	if ((k == TFS_CONFIG || k == TFS_EXAMPLES) && !tfs_kind_visible(k, &a)) {
		/* a draft's file that was never written: created now (cp, tar, O_EXCL) */
		rc = model_table_draft_touch(tfs_ctx.mt, p.id,
					     (enum model_table_file)tfs_table_file(k));
		if (rc == 0) {
			tfs_forget_attrs(p.id);
			rc = model_table_attr(tfs_ctx.mt, p.id, &a);
		}
		if (rc < 0)
			return rc;
	}
	if (!tfs_kind_visible(k, &a))
		return -EACCES;
	rc = open_virtual(&p, k, &a, fi);
	if (rc == 0)
		tfs_restore_made(p.id, k);
	return rc;
}

/* The handle's content becomes data (len bytes, malloc'd with room for a NUL). */
static void fh_take(struct tfs_fh *fh, char *data, size_t len)
{
	free(fh->buf);
	fh->buf = data;
	fh->len = len;
	fh->cap = len + 1;
}

static int load_blocking(struct tfs_fh *fh, const struct tfs_wait *w)
{
	char *data = NULL;
	size_t len = 0;
	int rc = fh->name ? tfs_spool_render(fh, w, &data, &len)
			  : tfs_render_blocking(fh->kind, fh->id, w, &data, &len);

	if (rc < 0)
		return rc;
	fh_take(fh, data, len);
	fh->loaded = 1;
	return 0;
}

/* response and responses/X: while the answer streams in, the handle holds its text so
 * far (loaded unset), and a read at the end of it waits for more. */
static int streams(const struct tfs_fh *fh)
{
	return fh->kind == TFS_RESPONSE || fh->kind == TFS_SPOOL_RESPONSE;
}

/* More of a streaming answer than off bytes, or the whole answer once it is done. */
static int load_stream(struct tfs_fh *fh, size_t off, const struct tfs_wait *w)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (fh->name)
		rc = model_table_spool_partial(tfs_ctx.mt, fh->id, fh->name, off, w->nonblock,
					       w->timeout, w->intr, &text, &len);
	else
		rc = model_table_response_partial(tfs_ctx.mt, w->pid, fh->id, off, w->nonblock,
						  w->timeout, w->intr, &text, &len);
	if (rc == 0)
		return load_blocking(fh, w); /* done (or never streamed): the whole answer */
	if (rc < 0)
		return rc;
	fh_take(fh, text, len);
	return 0;
}

/* Files that change under an open handle, so a read at the end takes a fresh content. */
static int grows(enum tfs_kind k)
{
	return k == TFS_PROGRESS || k == TFS_STATE || k == TFS_ERROR || k == TFS_MODEL_JSON;
}

static int reload(struct tfs_fh *fh)
{
	char *data = NULL;
	size_t len = 0;
	int rc = tfs_render(fh->kind, fh->id, &data, &len);

	if (rc < 0)
		return rc;
	fh_take(fh, data, len);
	return 0;
}

/* The files whose first read (or a read at the end of a streaming answer) waits. */
static int waits(enum tfs_kind k)
{
	return k == TFS_WAIT || k == TFS_RESPONSE || k == TFS_RESPONSE_JSON ||
	       k == TFS_SPOOL_RESPONSE || k == TFS_SPOOL_JSON || k == TFS_EVAL_RESULT ||
	       k == TFS_EVAL_LINES;
}

int tfs_read_may_wait(struct tfs_fh *fh)
{
	int may;

	if (fh->sf || fh->sh || !waits(fh->kind) || (fh->flags & O_NONBLOCK))
		return 0;
	pthread_mutex_lock(&fh->mu);
	may = !fh->loaded;
	pthread_mutex_unlock(&fh->mu);
	return may;
}

int tfs_op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct tfs_fh *fh = fh_of(fi);
	struct tfs_wait w = {
	    .pid = fuse_get_context()->pid,
	    .nonblock = (fh->flags & O_NONBLOCK) != 0,
	    .timeout = tfs_ctx.opt.timeout,
	    .intr = fuse_interrupted,
	};

	return tfs_read_with(fh, &w, buf, size, off);
}

int tfs_read_with(struct tfs_fh *fh, const struct tfs_wait *w, char *buf, size_t size, off_t off)
{
	size_t n = 0;
	int rc = 0;

	if (fh->sf)
		return tfs_scratch_pread(fh->sf, buf, size, off);
	if (fh->kind == TFS_LOG) /* appended to as answers come: tail -f reads on */
		return (int)answer_log_read(tfs_ctx.answer_log, fh->id, buf, size, off);
	if (fh->sh) {
		pthread_mutex_lock(&fh->sh->mu);
		if (off >= 0 && (size_t)off < fh->sh->len) {
			n = fh->sh->len - (size_t)off;
			n = n > size ? size : n;
			memcpy(buf, fh->sh->buf + off, n);
		}
		pthread_mutex_unlock(&fh->sh->mu);
		return (int)n;
	}
	if (fh->kept)
		tfs_keep_read(fh);
	pthread_mutex_lock(&fh->mu);
	if (!fh->loaded && streams(fh) && (off < 0 || (size_t)off >= fh->len))
		rc = load_stream(fh, off < 0 ? 0 : (size_t)off, w);
	else if (!fh->loaded && !streams(fh))
		rc = load_blocking(fh, w);
	else if (off > 0 && (size_t)off >= fh->len && grows(fh->kind))
		rc = reload(fh); /* tail -f: a read past the end sees what came since */
	if (rc == 0 && off >= 0 && (size_t)off < fh->len) {
		n = fh->len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, fh->buf + off, n);
	}
	pthread_mutex_unlock(&fh->mu);
	return rc < 0 ? rc : (int)n;
}

static int write_shared(struct tfs_fh *fh, const char *buf, size_t size, off_t off)
{
	struct tfs_shared *sh = fh->sh;
	size_t end;
	int rc;

	pthread_mutex_lock(&sh->mu);
	tfs_shared_busy(fh);
	if (fh->flags & O_APPEND)
		off = (off_t)sh->len; /* at the end as it is now: appenders never overlap */
	end = (size_t)off + size;
	rc = reserve(&sh->buf, &sh->cap, end);
	if (rc == 0) {
		if ((size_t)off > sh->len)
			memset(sh->buf + sh->len, 0, (size_t)off - sh->len);
		memcpy(sh->buf + off, buf, size);
		if (end > sh->len)
			sh->len = end;
		sh->dirty = 1;
		sh->written = 1;
	}
	pthread_mutex_unlock(&sh->mu);
	return rc < 0 ? rc : (int)size;
}

int tfs_op_write(const char *path, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct tfs_fh *fh = fh_of(fi);
	size_t end;
	int rc;

	if (fh->sf)
		return tfs_scratch_pwrite(fh->sf, buf, size, off);
	if ((fh->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (fh->discard)
		return (int)size;
	if (fh->sh)
		return write_shared(fh, buf, size, off);
	pthread_mutex_lock(&fh->mu);
	if (fh->flags & O_APPEND)
		off = (off_t)fh->len;
	end = (size_t)off + size;
	rc = fh_reserve(fh, end);
	if (rc == 0) {
		if ((size_t)off > fh->len)
			memset(fh->buf + fh->len, 0, (size_t)off - fh->len);
		memcpy(fh->buf + off, buf, size);
		if (end > fh->len)
			fh->len = end;
		fh->dirty = 1;
		fh->written = 1;
	}
	pthread_mutex_unlock(&fh->mu);
	return rc < 0 ? rc : (int)size;
}

int tfs_op_flush(const char *path, struct fuse_file_info *fi)
{
	struct tfs_fh *fh = fh_of(fi);
	int rc = 0;

	/* A bare O_TRUNC (`: > file`, `cp /dev/null file`) is an empty content, and close
	 * reports it. But a shell also opens, dup2()s and closes the first descriptor before
	 * anything is written: so that commit is quiet (no log line), and the writes that
	 * may follow on the same open file commit again at their close. */
	if (fh->sh) {
		pthread_mutex_lock(&fh->sh->mu);
		rc = commit_shared(fh);
		pthread_mutex_unlock(&fh->sh->mu);
		return rc;
	}
	pthread_mutex_lock(&fh->mu);
	if (fh->dirty)
		rc = commit(fh, !fh->written);
	pthread_mutex_unlock(&fh->mu);
	return rc;
}

/* Lets fh go, committing its content as at a close unless the mount is ending (left). */
static void fh_release(struct tfs_fh *fh, int left)
{
	if ((fh->flags & O_ACCMODE) != O_RDONLY && !fh->sf)
		writers_remove(fh); /* before its content goes: tfs_pending_size reads it */
	if (fh->sh) {
		pthread_mutex_lock(&load_mu);
		pthread_mutex_lock(&fh->sh->mu);
		if (fh->sh->dirty)
			fh->sh->written = 1; /* the last word: not quiet */
		if (!left)
			commit_shared(fh);
		pthread_mutex_unlock(&fh->sh->mu);
		tfs_shared_put(fh->sh);
		fh->sh = NULL;
		pthread_mutex_unlock(&load_mu);
	}
	if (fh->dirty && !left)
		commit(fh, 0);
	if (fh->held)
		model_table_hold(tfs_ctx.mt, fh->id, -1);
	if (fh->discard && (fh->kind == TFS_SPOOL_RESPONSE || fh->kind == TFS_EVAL_RESULT ||
			    fh->kind == TFS_EVAL_LINES))
		tfs_spool_release(fh);
	fh_free(fh);
}

int tfs_op_release(const char *path, struct fuse_file_info *fi)
{
	fh_release(fh_of(fi), 0);
	return 0;
}

/* A release the unmount dropped: its close's flush committed, nothing half-written is sent. */
static void fh_release_left(struct tfs_open *o)
{
	fh_release((struct tfs_fh *)o, 1); /* open is a handle's first member */
}

int tfs_op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	/* Drafts are made durable when the file is closed (that is where a bad content
	 * is reported); scratch files live in memory by design. */
	return 0;
}

static int truncate_path(const struct tfs_path *p, off_t size)
{
	struct tfs_scratch_file *sf;
	struct model_table_attr a;
	enum tfs_kind k = tfs_kind_of(p->file);
	char *data = NULL;
	size_t len = 0;
	int rc = model_table_attr(tfs_ctx.mt, p->id, &a);

	if (rc < 0)
		return rc;
	if (k == TFS_SCRATCH) {
		rc = tfs_scratch_open(p->id, p->file, 0, 0, &sf);
		if (rc == 0) {
			rc = tfs_scratch_truncate(sf, size);
			tfs_scratch_put(sf);
		}
		return rc;
	}
	if (!tfs_kind_visible(k, &a))
		return -ENOENT;
	if (!tfs_kind_writable(k, &a))
		return -EACCES;
	if ((size_t)size > TFS_MAX_FILE)
		return -EFBIG;
	rc = tfs_render(k, p->id, &data, &len);
	if (rc < 0)
		return rc;
	data = xrealloc(data, (size_t)size + 1);
	if ((size_t)size > len)
		memset(data + len, 0, (size_t)size - len);
	rc = tfs_commit_file(p->id, k, data, (size_t)size, 0);
	free(data);
	return rc;
}

static int truncate_spool(const struct tfs_path *p, off_t size)
{
	struct tfs_fh *fh;
	int rc;

	if (p->spool == TFS_SPOOL_RESPONSE)
		return -EACCES;
	if ((size_t)size > TFS_MAX_FILE)
		return -EFBIG;
	fh = fh_new(TFS_SPOOL_PROMPT, p->id, O_RDWR);
	rc = tfs_spool_open(p, 0, fh, O_RDWR);
	if (rc == 0)
		rc = fh_reserve(fh, (size_t)size);
	if (rc == 0) {
		if ((size_t)size > fh->len)
			memset(fh->buf + fh->len, 0, (size_t)size - fh->len);
		rc = tfs_spool_commit(fh, fh->buf, (size_t)size);
	}
	fh_free(fh);
	return rc;
}

int tfs_op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct tfs_path p, q;
	struct tfs_fh *fh;
	int rc = tfs_path_parse(path ? path : "/", &p);

	if (size < 0)
		return -EINVAL;
	if (!fi) {
		if (rc < 0)
			return rc;
		if (p.root || !p.file || (p.spool && !p.name))
			return -EISDIR;
		if (tfs_spool_scratch(&p, &q)) {
			struct tfs_scratch_file *sf;
			rc = tfs_scratch_open(q.id, q.file, 0, 0, &sf);
			if (rc == 0) {
				rc = tfs_scratch_truncate(sf, size);
				tfs_scratch_put(sf);
			}
			return rc;
		}
		if (p.spool)
			return truncate_spool(&p, size);
		return truncate_path(&p, size);
	}
	fh = fh_of(fi);
	if (fh->sf)
		return tfs_scratch_truncate(fh->sf, size);
	if (fh->discard)
		return 0;
	if ((fh->flags & O_ACCMODE) == O_RDONLY)
		return -EACCES;
	if (fh->sh) {
		struct tfs_shared *sh = fh->sh;
		pthread_mutex_lock(&sh->mu);
		tfs_shared_busy(fh);
		rc = reserve(&sh->buf, &sh->cap, (size_t)size);
		if (rc == 0) {
			if ((size_t)size > sh->len)
				memset(sh->buf + sh->len, 0, (size_t)size - sh->len);
			sh->len = (size_t)size;
			sh->dirty = 1;
			sh->written = 1;
		}
		pthread_mutex_unlock(&sh->mu);
		return rc;
	}
	pthread_mutex_lock(&fh->mu);
	rc = fh_reserve(fh, (size_t)size);
	if (rc == 0) {
		if ((size_t)size > fh->len)
			memset(fh->buf + fh->len, 0, (size_t)size - fh->len);
		fh->len = (size_t)size;
		fh->dirty = 1;
		fh->written = 1;
	}
	pthread_mutex_unlock(&fh->mu);
	return rc;
}
