/* eval.c - MODEL/eval/: NAME.jsonl files of held-out examples (written like prompts/X:
 * stored and checked at close, which starts their answers), and for each NAME.result (the
 * scores) and NAME.out.jsonl (one line per example), read-only, listed once scored and
 * waited for when opened by name. The store and the scoring are cache/'s
 * (model_table_eval_*); spool.c hands eval/ paths here, io.c holds the handles. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

enum eval_name { EVAL_BAD = -1, EVAL_INPUT, EVAL_RESULT, EVAL_LINES };

/* What name is, and the example file it belongs to in file. */
static enum eval_name classify(const char *name, char *file, size_t size)
{
	static const char *const ends[] = {".result", ".out.jsonl"};
	size_t n = strlen(name);

	for (int i = 0; i < 2; i++) {
		size_t e = strlen(ends[i]);
		if (n > e && strcmp(name + n - e, ends[i]) == 0 && n - e + 7 <= size) {
			memcpy(file, name, n - e);
			memcpy(file + n - e, ".jsonl", 7);
			return name[0] != '.' ? (enum eval_name)(EVAL_RESULT + i) : EVAL_BAD;
		}
	}
	if (n >= size || name[0] == '.' || n <= 6 || strcmp(name + n - 6, ".jsonl") != 0)
		return EVAL_BAD;
	memcpy(file, name, n + 1);
	return EVAL_INPUT;
}

/* Whether scores written into id are a restore's copy (cp -a, tar, rsync of a backup into
 * a new draft), taken and dropped like the answers in responses/. */
static int restoring(const char *id)
{
	struct model_table_attr a;

	return model_table_attr(tfs_ctx.mt, id, &a) == 0 && tfs_restorable(TFS_SPOOL_RESPONSE, &a);
}

static int file_exists(const char *id, const char *file, size_t *len)
{
	char *data = NULL;
	int rc = model_table_eval_read(tfs_ctx.mt, id, file, &data, len);

	free(data);
	return rc == -EINVAL ? -ENOENT : rc;
}

/* Example files removed a moment ago: their scores' names still stat for a short while,
 * so rm of eval/ with a glob, and rm -r, which name them after the file went, remove
 * them too. */
#define EVAL_GONE_MAX	  16
#define EVAL_GONE_SECONDS 2
static pthread_mutex_t gone_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char id[256], file[256];
	time_t until;
} gone[EVAL_GONE_MAX];
static unsigned next_gone;

static void gone_add(const char *id, const char *file)
{
	pthread_mutex_lock(&gone_mu);
	snprintf(gone[next_gone].id, sizeof gone[0].id, "%s", id);
	snprintf(gone[next_gone].file, sizeof gone[0].file, "%s", file);
	gone[next_gone].until = time(NULL) + EVAL_GONE_SECONDS;
	next_gone = (next_gone + 1) % EVAL_GONE_MAX;
	pthread_mutex_unlock(&gone_mu);
}

static int gone_lately(const char *id, const char *file)
{
	time_t now = time(NULL);
	int found = 0;

	pthread_mutex_lock(&gone_mu);
	for (unsigned i = 0; i < EVAL_GONE_MAX && !found; i++)
		found = gone[i].until >= now && strcmp(gone[i].id, id) == 0 &&
			strcmp(gone[i].file, file) == 0;
	pthread_mutex_unlock(&gone_mu);
	return found;
}

static int regular(struct stat *st, mode_t mode, size_t size)
{
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	return 0;
}

static int being_restored(const char *id, const char *name)
{
	char *n = xasprintf("eval/%s", name);
	int r = tfs_spool_being_restored(id, n);

	free(n);
	return r;
}

int tfs_eval_getattr(const struct tfs_path *p, const struct tfs_fh *fh, time_t mtime,
		     struct stat *st)
{
	char file[256];
	enum eval_name what;
	size_t len = 0;
	int rc;

	memset(st, 0, sizeof *st);
	st->st_uid = tfs_ctx.uid;
	st->st_gid = tfs_ctx.gid;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
	if (!p->name) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	what = classify(p->name, file, sizeof file);
	if (what == EVAL_BAD)
		return -ENOENT;
	if (what != EVAL_INPUT && being_restored(p->id, p->name))
		return regular(st, 0444, 0);
	/* a restore into a new draft finds no scores in the way of its exclusive creates */
	if (what != EVAL_INPUT && !fh &&
	    (tfs_restore_hides(p->id, TFS_EVAL_RESULT) ||
	     (tfs_gone(p->id, TFS_EVAL_RESULT) && restoring(p->id))))
		return -ENOENT;
	rc = file_exists(p->id, file, &len);
	if (what == EVAL_INPUT && fh && fh->kind == TFS_SPOOL_EVAL) {
		struct tfs_fh *h = (struct tfs_fh *)fh;
		pthread_mutex_lock(&h->mu);
		len = h->len; /* what this handle holds, stored at its close */
		pthread_mutex_unlock(&h->mu);
		rc = 0;
	}
	if (rc == -ENOENT && what != EVAL_INPUT && gone_lately(p->id, file))
		rc = 0;
	if (rc < 0)
		return rc;
	/* scores: sized when read */
	return regular(st, what == EVAL_INPUT ? 0644 : 0444, what == EVAL_INPUT ? len : 0);
}

int tfs_eval_readdir(const struct tfs_path *p, void *buf, fuse_fill_dir_t filler)
{
	char **names, *other;
	size_t n;
	int rc = model_table_eval_names(tfs_ctx.mt, p->id, &names, &n);

	if (rc < 0)
		return rc;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	for (size_t i = 0; i < n; i++) {
		size_t base = strlen(names[i]) - 6;
		/* the scores are listed once kept: a tree walker never waits on them; and
		 * before their file, which rm -r then removes after them */
		if (model_table_eval_done(tfs_ctx.mt, p->id, names[i])) {
			other = xasprintf("%.*s.result", (int)base, names[i]);
			filler(buf, other, NULL, 0, 0);
			free(other);
			other = xasprintf("%.*s.out.jsonl", (int)base, names[i]);
			filler(buf, other, NULL, 0, 0);
			free(other);
		}
		filler(buf, names[i], NULL, 0, 0);
	}
	model_table_names_free(names, n);
	return 0;
}

int tfs_eval_open(const struct tfs_path *p, int create, struct tfs_fh *fh, int flags)
{
	enum eval_name what;
	char file[256];
	size_t len = 0;
	int rc;

	what = classify(p->name, file, sizeof file);
	if (what == EVAL_BAD)
		return create ? -EINVAL : -ENOENT;
	if (what != EVAL_INPUT) {
		if ((flags & O_ACCMODE) != O_RDONLY && !restoring(p->id))
			return -EACCES;
		if ((flags & O_ACCMODE) != O_RDONLY) { /* a restore's copy: dropped */
			fh->kind = what == EVAL_RESULT ? TFS_EVAL_RESULT : TFS_EVAL_LINES;
			fh->discard = 1;
			fh->loaded = 1;
			fh->name = xasprintf("eval/%s", p->name);
			tfs_spool_restoring(fh); /* there until released: cp -a sets its times */
			return 0;
		}
		rc = file_exists(p->id, file, &len);
		if (rc < 0)
			return rc;
		fh->kind = what == EVAL_RESULT ? TFS_EVAL_RESULT : TFS_EVAL_LINES;
		fh->name = xstrdup(file);
		return 0; /* scored at the first read, which may wait */
	}
	fh->kind = TFS_SPOOL_EVAL;
	fh->name = xstrdup(file);
	fh->loaded = 1;
	rc = model_table_eval_read(tfs_ctx.mt, p->id, file, &fh->buf, &fh->len);
	if (rc == -ENOENT && create) {
		rc = model_table_eval_touch(tfs_ctx.mt, p->id, file);
		fh->buf = xstrdup("");
		fh->len = 0;
		fh->dirty = 1;
	}
	if (rc < 0)
		return rc;
	fh->cap = fh->len + 1;
	if ((flags & O_ACCMODE) != O_RDONLY && (flags & O_TRUNC)) {
		fh->len = 0;
		fh->dirty = 1;
	}
	return 0;
}

int tfs_eval_commit(struct tfs_fh *fh, const char *data, size_t len)
{
	int rc = model_table_eval_commit(tfs_ctx.mt, fh->id, fh->name, data ? data : "", len);

	tfs_forget_attrs(fh->id);
	return rc;
}

int tfs_eval_render(struct tfs_fh *fh, const struct tfs_wait *w, char **data, size_t *len)
{
	return model_table_eval_result(tfs_ctx.mt, fh->id, fh->name, fh->kind == TFS_EVAL_LINES,
				       w->nonblock, w->timeout, w->intr, data, len);
}

int tfs_eval_unlink(const struct tfs_path *p)
{
	enum eval_name what;
	char file[256];
	int rc;

	if (!p->name)
		return -EISDIR;
	what = classify(p->name, file, sizeof file);
	if (what == EVAL_BAD)
		return -ENOENT;
	/* scores go with their file, which rm -r may have removed a moment ago on its way;
	 * a restore's unlink before its create (tar) makes them absent for a moment */
	if (what != EVAL_INPUT) {
		if (restoring(p->id))
			tfs_mark_unlinked(p->id, TFS_EVAL_RESULT);
		return 0;
	}
	rc = model_table_eval_unlink(tfs_ctx.mt, p->id, file);
	if (rc == 0)
		gone_add(p->id, file);
	return rc;
}

int tfs_eval_rmdir(const struct tfs_path *p)
{
	char **names;
	size_t n;
	int rc;

	if (p->name)
		return -ENOTDIR;
	rc = model_table_eval_names(tfs_ctx.mt, p->id, &names, &n);
	if (rc < 0)
		return rc;
	model_table_names_free(names, n);
	if (n)
		return -ENOTEMPTY;
	tfs_mark_unlinked(p->id, TFS_SPOOL_EVAL); /* goes with the model (rm -r) */
	return 0;
}

/* An example file renamed onto another name in eval/ of the same model, or a tool's
 * temporary (a dot-name, kept as a scratch file) renamed into place. */
int tfs_eval_rename(const struct tfs_path *from, const struct tfs_path *to, unsigned int flags)
{
	char src[256], dst[256], *data = NULL;
	struct tfs_path q;
	size_t len = 0;
	int rc, scratch = tfs_spool_scratch(from, &q);

	if (from->spool != TFS_SPOOL_EVAL || to->spool != TFS_SPOOL_EVAL || !from->name ||
	    !to->name || strcmp(from->id, to->id) != 0)
		return -EXDEV;
	if (classify(to->name, dst, sizeof dst) != EVAL_INPUT) {
		if (!scratch || !restoring(to->id))
			return -EACCES;
		return tfs_scratch_unlink(q.id, q.file); /* a restore's scores: dropped */
	}
	if (!scratch && classify(from->name, src, sizeof src) != EVAL_INPUT)
		return -EACCES;
	if ((flags & RENAME_NOREPLACE) && file_exists(to->id, dst, &len) == 0)
		return -EEXIST;
	rc = scratch ? tfs_scratch_read_all(q.id, q.file, &data, &len)
		     : model_table_eval_read(tfs_ctx.mt, from->id, src, &data, &len);
	if (rc == 0)
		rc = model_table_eval_commit(tfs_ctx.mt, to->id, dst, data, len);
	free(data);
	if (rc == 0 || rc == -EINVAL) {
		if (scratch)
			tfs_scratch_unlink(q.id, q.file);
		else
			model_table_eval_unlink(tfs_ctx.mt, from->id, src);
	}
	tfs_forget_attrs(to->id);
	return rc;
}
