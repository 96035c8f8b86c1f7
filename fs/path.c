/* path.c - the names of the mount: a path split into model, file and spool entry, and the
 * kernel's cached attributes of a model's names dropped when the model changes. No
 * operation lives here; ops.c, io.c and spool.c all build on it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/tunedfs.h"

int tfs_path_parse(const char *path, struct tfs_path *out)
{
	const char *s = path, *slash;
	size_t n;

	memset(out, 0, sizeof *out);
	while (*s == '/')
		s++;
	if (!*s) {
		out->root = 1;
		return 0;
	}
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof out->id)
		return -ENAMETOOLONG;
	memcpy(out->id, s, n);
	out->id[n] = 0;
	if (!slash || !slash[1])
		return 0;
	out->file = slash + 1;
	slash = strchr(out->file, '/');
	if (strncmp(out->file, "prompts", 7) == 0 && (!out->file[7] || out->file[7] == '/'))
		out->spool = TFS_SPOOL_PROMPT;
	else if (strncmp(out->file, "responses", 9) == 0 && (!out->file[9] || out->file[9] == '/'))
		out->spool = TFS_SPOOL_RESPONSE;
	else if (strncmp(out->file, "eval", 4) == 0 && (!out->file[4] || out->file[4] == '/'))
		out->spool = TFS_SPOOL_EVAL;
	if (slash) {
		if (!out->spool || !slash[1] || strchr(slash + 1, '/'))
			return -ENOENT;
		out->name = slash + 1;
	}
	return 0;
}

void tfs_forget_attrs(const char *id)
{
	struct fuse *f = __atomic_load_n(&tfs_ctx.fuse, __ATOMIC_ACQUIRE);
	char path[128];

	if (!f)
		return;
	snprintf(path, sizeof path, "/%s", id);
	fuse_invalidate_path(f, path);
	for (int k = 0; k < TFS_NKINDS; k++) {
		snprintf(path, sizeof path, "/%s/%s", id, tfs_kind_name((enum tfs_kind)k));
		fuse_invalidate_path(f, path);
	}
}
