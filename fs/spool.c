/* spool.c - the two spool directories of a model: prompts/ (any file written there is a
 * prompt; closing it stores it and starts its answer) and responses/ (responses/X is the
 * answer to prompts/X, X.json the whole response; listed once done). The store and the
 * queue are cache/'s (model_table_spool_*); the handles themselves are io.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

/* "X.json" -> 1 and X in out; else 0. */
static int json_name(const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	if (n <= 5 || strcmp(name + n - 5, ".json") != 0 || n - 5 >= size)
		return 0;
	memcpy(out, name, n - 5);
	out[n - 5] = 0;
	return 1;
}

int tfs_spool_getattr(const struct tfs_path *p, const struct tfs_fh *fh, struct stat *st)
{
	struct tfs_path q;
	struct model_table_attr a;
	struct timespec mt;
	char base[256];
	size_t len = 0;
	mode_t mode;
	int rc = model_table_attr(tfs_ctx.mt, p->id, &a);

	if (rc < 0)
		return rc;
	if (tfs_spool_is_batch(p)) {
		memset(st, 0, sizeof *st);
		st->st_uid = tfs_ctx.uid;
		st->st_gid = tfs_ctx.gid;
		st->st_mtime = st->st_ctime = st->st_atime = a.mtime;
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		return 0;
	}
	if (tfs_spool_scratch(p, &q)) { /* a tool's temporary: local, in memory */
		if (tfs_scratch_stat(q.id, q.file, &len, &mode, &mt) < 0)
			return -ENOENT;
		memset(st, 0, sizeof *st);
		st->st_uid = tfs_ctx.uid;
		st->st_gid = tfs_ctx.gid;
		st->st_mtim = mt;
		st->st_ctime = st->st_atime = mt.tv_sec;
		st->st_mode = S_IFREG | mode;
		st->st_nlink = 1;
		st->st_size = (off_t)len;
		return 0;
	}
	if (p->spool == TFS_SPOOL_EVAL)
		return tfs_eval_getattr(p, fh, a.mtime, st);
	memset(st, 0, sizeof *st);
	st->st_uid = tfs_ctx.uid;
	st->st_gid = tfs_ctx.gid;
	st->st_mtime = st->st_ctime = st->st_atime = a.mtime;
	if (!p->name) {
		st->st_mode = S_IFDIR | (p->spool == TFS_SPOOL_PROMPT ? 0755 : 0555);
		st->st_nlink = 2;
		return 0;
	}
	if (p->spool == TFS_SPOOL_PROMPT) {
		rc = tfs_spool_prompt_exists(p->id, p->name, &len);
		if (fh && fh->kind == TFS_SPOOL_PROMPT) {
			struct tfs_fh *h = (struct tfs_fh *)fh;
			pthread_mutex_lock(&h->mu);
			len = h->len; /* what this handle holds, stored at its close */
			pthread_mutex_unlock(&h->mu);
			rc = 0;
		}
		st->st_mode = S_IFREG | 0644;
	} else {
		const char *name = json_name(p->name, base, sizeof base) ? base : p->name;
		/* answers exist once the model can give them: a restore (tar, cp -a) into a
		 * draft finds none in its way */
		rc = a.state == MODEL_TABLE_ACTIVE ? tfs_spool_prompt_exists(p->id, name, &len)
						   : -ENOENT;
		if ((fh && fh->discard) || tfs_spool_being_restored(p->id, p->name))
			rc = 0; /* a restore writing it */
		len = 0;	/* an answer under way: its size is not known before it is read */
		if (fh && fh->kept)
			len = fh->len;
		else if (rc == 0 && !(fh && fh->discard))
			tfs_keep_size(p->id, name,
				      json_name(p->name, base, sizeof base) ? TFS_SPOOL_JSON
									    : TFS_SPOOL_RESPONSE,
				      &len);
		st->st_mode = S_IFREG | 0444;
	}
	if (rc < 0)
		return rc == -EINVAL ? -ENOENT : rc;
	st->st_nlink = 1;
	st->st_size = (off_t)len;
	return 0;
}

int tfs_spool_readdir(const struct tfs_path *p, void *buf, fuse_fill_dir_t filler)
{
	struct model_table_attr a;
	char **names;
	size_t n;
	int rc = model_table_attr(tfs_ctx.mt, p->id, &a);

	if (rc < 0)
		return rc;
	if (p->spool == TFS_SPOOL_EVAL)
		return tfs_eval_readdir(p, buf, filler);
	/* responses/ lists the answers that are done: reading one never waits */
	rc = p->spool == TFS_SPOOL_PROMPT ? model_table_spool_names(tfs_ctx.mt, p->id, &names, &n)
					  : model_table_spool_done(tfs_ctx.mt, p->id, &names, &n);
	if (rc < 0)
		return rc;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	for (size_t i = 0; i < n; i++)
		filler(buf, names[i], NULL, 0, 0);
	model_table_names_free(names, n);
	if (p->spool == TFS_SPOOL_RESPONSE) {
		struct tfs_path b = *p;
		b.name = "batch";
		if (tfs_spool_is_batch(&b))
			filler(buf, "batch", NULL, 0, 0);
	}
	return 0;
}

int tfs_spool_open(const struct tfs_path *p, int create, struct tfs_fh *fh, int flags)
{
	int acc = flags & O_ACCMODE;
	char base[256];
	size_t len = 0;
	int rc;

	if (p->spool == TFS_SPOOL_EVAL)
		return tfs_eval_open(p, create, fh, flags);
	if (p->spool == TFS_SPOOL_RESPONSE) {
		const char *name = p->name;
		struct model_table_attr a;
		if (acc != O_RDONLY && model_table_attr(tfs_ctx.mt, p->id, &a) == 0 &&
		    tfs_restorable(TFS_SPOOL_RESPONSE, &a)) {
			fh->kind = TFS_SPOOL_RESPONSE;
			fh->discard = 1; /* a restore's copy of an answer: dropped */
			fh->loaded = 1;
			fh->name = xstrdup(p->name);
			tfs_spool_restoring(fh);
			return 0;
		}
		if (acc != O_RDONLY)
			return -EACCES;
		if (tfs_spool_is_batch(p)) {
			fh->kind = TFS_SPOOL_JSON; /* read whole, never streamed */
			fh->name = xstrdup(p->name);
			fh->batch = 1;
			return 0;
		}
		fh->kind = TFS_SPOOL_RESPONSE;
		if (json_name(p->name, base, sizeof base)) {
			name = base;
			fh->kind = TFS_SPOOL_JSON;
		}
		rc = tfs_spool_prompt_exists(p->id, name, &len);
		if (rc < 0)
			return rc == -EINVAL ? -ENOENT : rc;
		fh->name = xstrdup(name);
		return 0; /* loaded at the first read, which may wait */
	}
	fh->kind = TFS_SPOOL_PROMPT;
	fh->name = xstrdup(p->name);
	fh->loaded = 1;
	rc = model_table_spool_read(tfs_ctx.mt, p->id, p->name, &fh->buf, &fh->len);
	if (rc == -ENOENT && create) {
		/* it exists from now on (stat through a path, futimens), sent at its close */
		rc = model_table_spool_touch(tfs_ctx.mt, p->id, p->name);
		fh->buf = xstrdup("");
		fh->len = 0;
		fh->dirty = 1;
	}
	if (rc < 0)
		return rc == -EINVAL ? -ENOENT : rc;
	fh->cap = fh->len + 1;
	if (acc != O_RDONLY && (flags & O_TRUNC)) {
		fh->len = 0;
		fh->dirty = 1;
	}
	return 0;
}

int tfs_spool_commit(struct tfs_fh *fh, const char *data, size_t len)
{
	int rc;

	if (fh->kind == TFS_SPOOL_EVAL)
		return tfs_eval_commit(fh, data, len);
	rc = model_table_spool_commit(tfs_ctx.mt, fh->id, fh->name, data ? data : "", len);
	tfs_forget_attrs(fh->id);
	return rc;
}

int tfs_spool_render(struct tfs_fh *fh, const struct tfs_wait *w, char **data, size_t *len)
{
	struct model_table_answer a;
	int rc;

	if (fh->batch)
		return model_table_batch_text(tfs_ctx.mt, fh->id, data, len);
	if (fh->kind == TFS_EVAL_RESULT || fh->kind == TFS_EVAL_LINES)
		return tfs_eval_render(fh, w, data, len);
	rc = model_table_spool_answer(tfs_ctx.mt, fh->id, fh->name, w->nonblock, w->timeout,
				      w->intr, &a);
	if (rc < 0)
		return rc;
	tfs_keep_text(fh->kind, &a, data, len);
	model_table_answer_clear(&a);
	return 0;
}

int tfs_spool_unlink(const struct tfs_path *p)
{
	struct tfs_path q;
	size_t len;
	int rc;

	if (!p->name)
		return -EISDIR;
	if (tfs_spool_is_batch(p))
		return 0; /* rm -r on its way: it goes with the model */
	if (tfs_spool_scratch(p, &q))
		return tfs_scratch_unlink(q.id, q.file);
	if (p->spool == TFS_SPOOL_EVAL)
		return tfs_eval_unlink(p);
	if (p->spool == TFS_SPOOL_RESPONSE) {
		/* an answer goes with its prompt; rm -r passes here on its way */
		char base[256];
		const char *name = json_name(p->name, base, sizeof base) ? base : p->name;
		rc = tfs_spool_prompt_exists(p->id, name, &len);
		return rc == -EINVAL ? -ENOENT : rc;
	}
	rc = model_table_spool_unlink(tfs_ctx.mt, p->id, p->name);
	return rc == -EINVAL ? -ENOENT : rc;
}

int tfs_spool_rmdir(const struct tfs_path *p)
{
	char **names;
	size_t n;
	int rc;

	if (p->spool == TFS_SPOOL_EVAL)
		return tfs_eval_rmdir(p);
	if (p->name)
		return -ENOTDIR;
	rc = model_table_spool_names(tfs_ctx.mt, p->id, &names, &n);
	if (rc < 0)
		return rc;
	model_table_names_free(names, n);
	if (n && p->spool == TFS_SPOOL_PROMPT)
		return -ENOTEMPTY;
	/* the directory itself goes with the model: noted for the rmdir of rm -r */
	tfs_mark_unlinked(p->id, p->spool);
	return 0;
}

int tfs_spool_rename(const struct tfs_path *from, const struct tfs_path *to, unsigned int flags)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	struct model_table_attr a;
	struct tfs_path q;

	if (from->spool == TFS_SPOOL_EVAL || to->spool == TFS_SPOOL_EVAL)
		return tfs_eval_rename(from, to, flags);
	if (tfs_spool_scratch(from, &q) && from->spool == to->spool && to->name &&
	    to->name[0] != '.' && strcmp(from->id, to->id) == 0) {
		/* a tool's temporary renamed into place: a write of the file */
		if (to->spool == TFS_SPOOL_RESPONSE) {
			if (model_table_attr(tfs_ctx.mt, to->id, &a) < 0 ||
			    !tfs_restorable(TFS_SPOOL_RESPONSE, &a))
				return -EACCES;
			return tfs_scratch_unlink(q.id, q.file); /* a restore's: dropped */
		}
		rc = tfs_scratch_read_all(q.id, q.file, &data, &len);
		if (rc == 0)
			rc = model_table_spool_commit(tfs_ctx.mt, to->id, to->name, data, len);
		free(data);
		if (rc == 0 || rc == -EINVAL)
			tfs_scratch_unlink(q.id, q.file);
		return rc;
	}
	if (from->spool == TFS_SPOOL_RESPONSE && to->spool == TFS_SPOOL_RESPONSE &&
	    model_table_attr(tfs_ctx.mt, to->id, &a) == 0 && tfs_restorable(TFS_SPOOL_RESPONSE, &a))
		return 0; /* a restore's temporary answer renamed: dropped with it */
	if (from->spool != TFS_SPOOL_PROMPT || to->spool != TFS_SPOOL_PROMPT || !from->name ||
	    !to->name || strcmp(from->id, to->id) != 0)
		return -EXDEV; /* tools copy instead */
	if (flags & RENAME_NOREPLACE) {
		rc = tfs_spool_prompt_exists(to->id, to->name, &len);
		if (rc == 0)
			return -EEXIST;
	}
	rc = model_table_spool_read(tfs_ctx.mt, from->id, from->name, &data, &len);
	if (rc == 0)
		rc = model_table_spool_commit(tfs_ctx.mt, to->id, to->name, data, len);
	free(data);
	if (rc == 0 || rc == -EINVAL)
		model_table_spool_unlink(tfs_ctx.mt, from->id, from->name);
	return rc == -EINVAL ? -ENOENT : rc;
}
