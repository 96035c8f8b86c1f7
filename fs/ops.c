/* ops.c - the FUSE operations on names: stat, listings, mkdir/rmdir of models,
 * scratch files' unlink and rename (a rename onto a virtual file is an atomic write of
 * it), attribute changes, and the mount's init/destroy. Open files: io.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <syslog.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

/* A path that must name a directory (the root or a model): -ENOTDIR for a file. */
static int parse_dir(const char *path, struct tfs_path *p)
{
	int rc = tfs_path_parse(path, p);

	if (rc < 0)
		return rc;
	return p->file && !(p->spool && !p->name) ? -ENOTDIR : 0;
}

static void stat_common(struct stat *st, time_t mtime, time_t ctime)
{
	st->st_uid = tfs_ctx.uid;
	st->st_gid = tfs_ctx.gid;
	st->st_mtime = mtime;
	st->st_ctime = ctime > mtime ? ctime : mtime;
	st->st_atime = st->st_mtime;
}

static void dir_stat(struct stat *st, const struct model_table_attr *a)
{
	memset(st, 0, sizeof *st);
	stat_common(st, a->mtime, a->ctime);
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
}

static int getattr_file(const struct tfs_path *p, const struct model_table_attr *a, struct stat *st)
{
	enum tfs_kind k = tfs_kind_of(p->file);
	struct timespec mt;
	size_t size;
	mode_t mode;

	if (k == TFS_SCRATCH) {
		if (tfs_scratch_stat(p->id, p->file, &size, &mode, &mt) < 0)
			return -ENOENT;
		stat_common(st, mt.tv_sec, mt.tv_sec);
		st->st_mtim = mt;
		st->st_mode = S_IFREG | mode;
		st->st_nlink = 1;
		st->st_size = (off_t)size;
		return 0;
	}
	if (!tfs_kind_visible(k, a) || !tfs_estimate_ready(p->id, k))
		return -ENOENT;
	if (tfs_gone(p->id, k))
		return -ENOENT; /* tar unlinks before it creates: let its create through */
	stat_common(st, a->mtime, a->ctime);
	st->st_mode = S_IFREG | (tfs_kind_writable(k, a) ? 0644 : 0444);
	st->st_nlink = 1;
	st->st_size = (off_t)tfs_size_guess(k, p->id);
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

static int tfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct tfs_path p;
	struct model_table_attr a;
	int rc = tfs_path_parse(path, &p);

	if (rc < 0)
		return rc;
	memset(st, 0, sizeof *st);
	if (p.root) {
		stat_common(st, tfs_ctx.mounted, tfs_ctx.mounted);
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (!fi && p.file && (!p.spool || !p.name) &&
	    tfs_restore_hides(p.id, p.spool ? p.spool : tfs_kind_of(p.file)))
		return -ENOENT; /* a restore's exclusive create of it gets through */
	if (p.spool)
		return tfs_spool_getattr(&p, fi ? (const struct tfs_fh *)(uintptr_t)fi->fh : NULL,
					 st);
	/* a directory lookup may fetch an unknown name; its files never go remote */
	rc = p.file ? model_table_attr(tfs_ctx.mt, p.id, &a)
		    : model_table_lookup(tfs_ctx.mt, p.id, &a);
	if (rc < 0)
		return rc;
	if (p.file) {
		size_t pending;
		rc = getattr_file(&p, &a, st);
		/* a file being written has the size of what was written (vim fchmods
		 * before it closes; the kernel keeps the size of that answer) */
		if (rc == 0 && tfs_pending_size(p.id, tfs_kind_of(p.file), &pending))
			st->st_size = (off_t)pending;
		return rc;
	}
	dir_stat(st, &a);
	return 0;
}

static int readdir_model(const struct tfs_path *p, void *buf, fuse_fill_dir_t filler)
{
	struct model_table_attr a;
	char **names;
	size_t n;
	int rc = model_table_attr(tfs_ctx.mt, p->id, &a);

	if (rc < 0)
		return rc;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	for (int k = 0; k < TFS_NKINDS; k++)
		if (tfs_kind_listed((enum tfs_kind)k, &a))
			filler(buf, tfs_kind_name((enum tfs_kind)k), NULL, 0, 0);
	filler(buf, "prompts", NULL, 0, 0);
	filler(buf, "responses", NULL, 0, 0);
	filler(buf, "eval", NULL, 0, 0);
	tfs_scratch_list(p->id, &names, &n);
	for (size_t i = 0; i < n; i++) {
		filler(buf, names[i], NULL, 0, 0);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* The root listing of one opendir, taken at offset 0 and served by offset: libfuse passes
 * readdirplus attributes on only for entries filled with an offset, so this is what lets
 * `ls -l` of 10,000 models go without a lookup per model. Offsets: "." 1, ".." 2,
 * names[i] 3 + i. */
struct tfs_dir {
	struct tfs_open open; /* first: its place in handles.c's list */
	char **names;
	struct model_table_attr *attrs;
	size_t n;
};

static void dir_drop(struct tfs_dir *d)
{
	if (d->names)
		model_table_names_free(d->names, d->n);
	free(d->attrs);
	d->names = NULL;
	d->attrs = NULL;
	d->n = 0;
}

static void dir_free(struct tfs_dir *d)
{
	tfs_open_remove(&d->open);
	dir_drop(d);
	free(d);
}

/* A listing whose release the kernel dropped at the unmount. */
static void dir_release_left(struct tfs_open *o)
{
	dir_free((struct tfs_dir *)o);
}

static int tfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct tfs_path p;
	int rc = parse_dir(path, &p);

	if (rc < 0)
		return rc;
	fi->fh = 0;
	if (p.root) {
		struct tfs_dir *d = xmalloc(sizeof *d);
		memset(d, 0, sizeof *d);
		tfs_open_add(&d->open, dir_release_left);
		fi->fh = (uintptr_t)d;
	}
	return 0;
}

static int tfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct tfs_dir *d = (struct tfs_dir *)(uintptr_t)fi->fh;

	if (d)
		dir_free(d);
	return 0;
}

static int readdir_root(void *buf, fuse_fill_dir_t filler, off_t off, struct tfs_dir *d, int plus)
{
	if (off == 0 || !d->names) {
		dir_drop(d);
		if (model_table_names(tfs_ctx.mt, &d->names, &d->attrs, &d->n) < 0 && off == 0)
			return -EIO; /* the service unreachable, nothing known: not "empty" */
	}
	for (size_t i = (size_t)off; i < d->n + 2; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->names[i - 2];
		struct stat st;
		int with = plus && i >= 2;

		if (with)
			dir_stat(&st, &d->attrs[i - 2]);
		if (filler(buf, name, with ? &st : NULL, (off_t)i + 1,
			   with ? FUSE_FILL_DIR_PLUS : 0))
			break;
	}
	return 0;
}

static int tfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct tfs_path p;
	int rc = parse_dir(path, &p);

	if (rc < 0)
		return rc;
	if (p.spool)
		return tfs_spool_readdir(&p, buf, filler);
	if (!p.root)
		return readdir_model(&p, buf, filler);
	if (!fi || !fi->fh)
		return -EBADF;
	return readdir_root(buf, filler, off, (struct tfs_dir *)(uintptr_t)fi->fh,
			    (flags & FUSE_READDIR_PLUS) != 0);
}

static int tfs_mkdir(const char *path, mode_t mode)
{
	struct tfs_path p;
	int rc = tfs_path_parse(path, &p);

	if (rc < 0)
		return rc;
	if (p.root)
		return -EEXIST;
	if (p.spool && !p.name) { /* always there: made, as far as cp -a and tar care */
		if (model_table_attr(tfs_ctx.mt, p.id, &(struct model_table_attr){0}) < 0)
			return -ENOENT;
		tfs_restore_made(p.id, p.spool);
		return 0;
	}
	if (p.file)
		return -EPERM; /* model directories hold files only */
	rc = model_table_create_draft(tfs_ctx.mt, p.id);
	if (rc == 0)
		tfs_restore_begin(p.id, mode);
	return rc;
}

static int tfs_rmdir(const char *path)
{
	struct tfs_path p;
	int rc = parse_dir(path, &p);

	if (rc < 0)
		return rc;
	if (p.root)
		return -EBUSY;
	if (p.spool)
		return tfs_spool_rmdir(&p);
	rc = tfs_remove_dir(p.id);
	if (rc == 0)
		tfs_restore_end(p.id, 1);
	return rc;
}

static int tfs_unlink(const char *path)
{
	struct tfs_path p;
	struct model_table_attr a;
	enum tfs_kind k;
	int rc = tfs_path_parse(path, &p);

	if (rc < 0)
		return rc;
	if (p.root || !p.file)
		return -EISDIR;
	if (p.spool)
		return tfs_spool_unlink(&p);
	k = tfs_kind_of(p.file);
	if (k == TFS_SCRATCH)
		return tfs_scratch_unlink(p.id, p.file);
	rc = model_table_attr(tfs_ctx.mt, p.id, &a);
	if (rc < 0)
		return rc;
	if (!tfs_kind_visible(k, &a))
		return -ENOENT;
	if ((k == TFS_CONFIG || k == TFS_EXAMPLES) && tfs_kind_writable(k, &a)) {
		/* a draft's own files may go (tar replaces a file by unlinking it first) */
		rc = model_table_draft_unlink(tfs_ctx.mt, p.id,
					      (enum model_table_file)tfs_table_file(k));
		if (rc == 0)
			tfs_forget_attrs(p.id);
		return rc == -EACCES ? -EPERM : rc;
	}
	/* the model's other files go only with the model: the unlink is noted, so that the
	 * rmdir of rm -r finds the directory emptied and deletes it */
	tfs_mark_unlinked(p.id, k);
	return 0;
}

/* rename within a model directory; f and t are file names there */
static int rename_in_dir(const char *id, const char *f, const char *t, unsigned int flags)
{
	enum tfs_kind kf = tfs_kind_of(f), kt = tfs_kind_of(t);
	struct model_table_attr a;
	char *data = NULL;
	size_t len = 0;
	int rc = model_table_attr(tfs_ctx.mt, id, &a);

	if (rc < 0)
		return rc;
	if (kf == TFS_SCRATCH && kt == TFS_SCRATCH)
		return tfs_scratch_rename(id, f, t, (flags & RENAME_NOREPLACE) != 0);
	if (kt != TFS_SCRATCH) {
		/* onto a virtual file: an atomic write of it */
		if (kf != TFS_SCRATCH)
			return -EPERM;
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (tfs_restorable(kt, &a))
			return tfs_scratch_unlink(id, f); /* a restore's copy of it: dropped */
		if (!tfs_kind_writable(kt, &a))
			return -EACCES;
		rc = tfs_scratch_read_all(id, f, &data, &len);
		if (rc < 0)
			return rc;
		rc = tfs_commit_file(id, kt, data, len, 0);
		free(data);
		if (rc == 0 || kt == TFS_CONFIG || kt == TFS_EXAMPLES)
			tfs_scratch_unlink(id, f); /* the draft store holds it now */
		return rc;
	}
	/* a virtual file renamed away: a draft's own file moves (it is unwritten after);
	 * prompt and generation, which always exist, are copied (an editor's backup) */
	if (!tfs_kind_visible(kf, &a))
		return -ENOENT;
	if (!tfs_kind_writable(kf, &a))
		return -EPERM; /* the service's, or submitted: it goes only with the model */
	if (flags & RENAME_NOREPLACE) {
		size_t sz;
		mode_t m;
		struct timespec ts;
		if (tfs_scratch_stat(id, t, &sz, &m, &ts) == 0)
			return -EEXIST;
	}
	rc = tfs_render(kf, id, &data, &len);
	if (rc < 0)
		return rc;
	tfs_scratch_create_with(id, t, data, len);
	free(data);
	if (kf == TFS_CONFIG || kf == TFS_EXAMPLES) {
		rc = model_table_draft_unlink(tfs_ctx.mt, id,
					      (enum model_table_file)tfs_table_file(kf));
		if (rc < 0) {
			tfs_scratch_unlink(id, t);
			return rc == -EACCES ? -EPERM : rc;
		}
		tfs_forget_attrs(id);
	}
	return 0;
}

static int tfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct tfs_path pf, pt;
	int rc = tfs_path_parse(from, &pf);

	if (rc == 0)
		rc = tfs_path_parse(to, &pt);
	if (rc < 0)
		return rc;
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (pf.root || pt.root || !pf.file || !pt.file)
		return -EPERM; /* models are not renamed: their name is their id */
	if (pf.spool || pt.spool)
		return tfs_spool_rename(&pf, &pt, flags);
	if (strcmp(pf.id, pt.id) != 0)
		return -EXDEV;
	return rename_in_dir(pf.id, pf.file, pt.file, flags);
}

static int set_attr(const char *path, const mode_t *mode, const struct timespec *mtime)
{
	struct tfs_path p, q;
	struct model_table_attr a;
	int rc = tfs_path_parse(path, &p);

	if (rc < 0)
		return rc;
	if (p.root)
		return 0;
	rc = model_table_attr(tfs_ctx.mt, p.id, &a);
	if (rc == 0 && !p.file && mode)
		tfs_restore_end(p.id, 0); /* cp -a sets the mode of a directory it filled */
	if (rc < 0 || !p.file)
		return rc;
	if (tfs_spool_scratch(&p, &q))
		return tfs_scratch_set(q.id, q.file, mode, mtime);
	if (p.spool) {
		/* modes are fixed; a prompt still open (cp -a's futimens) is stored at close */
		struct stat st;
		rc = tfs_spool_getattr(&p, NULL, &st);
		return rc == -ENOENT && p.name ? 0 : rc;
	}
	if (tfs_kind_of(p.file) == TFS_SCRATCH)
		return tfs_scratch_set(p.id, p.file, mode, mtime);
	/* virtual files keep the mode their state gives them; tools that copy modes
	 * and times (cp -p, rsync -a, vim) must not fail on them */
	return tfs_kind_visible(tfs_kind_of(p.file), &a) ? 0 : -ENOENT;
}

static int tfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return set_attr(path, &mode, NULL);
}

static int tfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return set_attr(path, NULL, NULL);
}

static int tfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct timespec now;

	if (tv && tv[1].tv_nsec == UTIME_OMIT)
		return set_attr(path, NULL, NULL);
	if (!tv || tv[1].tv_nsec == UTIME_NOW) {
		clock_gettime(CLOCK_REALTIME, &now);
		return set_attr(path, NULL, &now);
	}
	return set_attr(path, NULL, &tv[1]);
}

static int tfs_statfs(const char *path, struct statvfs *st)
{
	memset(st, 0, sizeof *st);
	st->f_bsize = 4096;
	st->f_frsize = 4096;
	st->f_namemax = 255;
	return 0;
}

static void *tfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* small, never 0: 0 makes the kernel look every entry up again after a listing */
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	/* names come into being from outside the kernel's sight (a draft's file kept by a
	 * failed rename, a model made elsewhere): a name found missing is asked again */
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->hard_remove = 1; /* scratch files handle unlink-while-open themselves */
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
#if FUSE_MAJOR_VERSION > 3 || FUSE_MINOR_VERSION >= 11
	/* a close of a read-only open commits nothing: no FLUSH round trip for it */
	cfg->no_rofd_flush = 1;
#endif
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* lookups of one directory run side by side, and ls does not wait behind them */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	tfs_session_want_parallel((conn->want & FUSE_CAP_PARALLEL_DIROPS) != 0);
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	__atomic_store_n(&tfs_ctx.fuse, fuse_get_context()->fuse, __ATOMIC_RELEASE);
	if (model_table_start(tfs_ctx.mt) < 0)
		tfs_log(LOG_ERR, "cannot start the background thread");
	return &tfs_ctx;
}

static void tfs_destroy(void *priv)
{
	__atomic_store_n(&tfs_ctx.fuse, NULL, __ATOMIC_RELEASE);
	if (tfs_ctx.mt)
		model_table_stop(tfs_ctx.mt);
	if (tfs_ctx.local) {
		tfs_local_stop(tfs_ctx.local);
		tfs_ctx.local = NULL;
	}
}

const struct fuse_operations tfs_ops = {
    .init = tfs_init,
    .destroy = tfs_destroy,
    .getattr = tfs_getattr,
    .opendir = tfs_opendir,
    .readdir = tfs_readdir,
    .releasedir = tfs_releasedir,
    .mkdir = tfs_mkdir,
    .rmdir = tfs_rmdir,
    .unlink = tfs_unlink,
    .rename = tfs_rename,
    .chmod = tfs_chmod,
    .chown = tfs_chown,
    .utimens = tfs_utimens,
    .statfs = tfs_statfs,
    .truncate = tfs_op_truncate,
    .open = tfs_op_open,
    .create = tfs_op_create,
    .read = tfs_op_read,
    .write = tfs_op_write,
    .flush = tfs_op_flush,
    .release = tfs_op_release,
    .fsync = tfs_op_fsync,
};
