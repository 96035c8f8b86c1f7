/* keep.c - completed answers of the spool (responses/X, responses/X.json) read again from
 * the kernel's page cache: the content at open, a note of which content the kernel may
 * hold for each file, and the size stat reports. Not `response`, whose content depends on
 * the reader, nor answers still under way (read straight, as they stream). */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/xalloc.h"
#include "fs/tunedfs.h"

/* For each file (by a hash of its path), the hash of the content the kernel may hold in
 * its page cache; a slot shared by two files only costs an invalidation. */
#define KEEP_SLOTS 1024
static struct {
	uint64_t key, sum;
} slots[KEEP_SLOTS];
static pthread_mutex_t keep_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t key_of(const struct tfs_fh *fh)
{
	uint64_t h = bytes_fnv1a64(fh->id, strlen(fh->id) + 1);

	h = bytes_fnv1a64_more(h, fh->name, strlen(fh->name) + 1);
	return bytes_fnv1a64_more(h, &fh->kind, sizeof fh->kind);
}

void tfs_keep_text(enum tfs_kind k, const struct model_table_answer *a, char **data, size_t *len)
{
	const char *src = k == TFS_SPOOL_JSON ? a->json : a->text;
	size_t n = k == TFS_SPOOL_JSON ? a->len : strlen(a->text);

	*data = xmalloc(n + 2);
	memcpy(*data, src, n);
	(*data)[n] = '\n';
	(*data)[n + 1] = 0;
	*len = n + 1;
}

int tfs_keep_size(const char *id, const char *name, enum tfs_kind k, size_t *len)
{
	struct model_table_answer a;
	int rc = model_table_spool_if_done(tfs_ctx.mt, id, name, &a);

	if (rc == 0)
		*len = (k == TFS_SPOOL_JSON ? a.len : strlen(a.text)) + 1;
	model_table_answer_clear(&a);
	return rc;
}

/* Drops what the kernel holds of the file: its attributes (the size) and its pages. */
static void forget(const struct tfs_fh *fh)
{
	struct fuse *f = __atomic_load_n(&tfs_ctx.fuse, __ATOMIC_ACQUIRE);
	char *path;

	if (!f)
		return;
	path = xasprintf("/%s/responses/%s%s", fh->id, fh->name,
			 fh->kind == TFS_SPOOL_JSON ? ".json" : "");
	fuse_invalidate_path(f, path);
	free(path);
}

void tfs_keep_open(struct tfs_fh *fh, struct fuse_file_info *fi)
{
	struct model_table_answer a;
	uint64_t key, sum;
	size_t slot;
	int same;

	if (fh->batch || fh->discard ||
	    (fh->kind != TFS_SPOOL_RESPONSE && fh->kind != TFS_SPOOL_JSON) ||
	    (fh->flags & O_ACCMODE) != O_RDONLY || !fh->name)
		return;
	if (model_table_spool_if_done(tfs_ctx.mt, fh->id, fh->name, &a) < 0) {
		model_table_answer_clear(&a);
		return; /* under way (or failing): read straight, waiting as it streams */
	}
	free(fh->buf);
	tfs_keep_text(fh->kind, &a, &fh->buf, &fh->len);
	model_table_answer_clear(&a);
	fh->cap = fh->len + 2;
	fh->loaded = 1;
	key = key_of(fh);
	sum = bytes_fnv1a64(fh->buf, fh->len) | 1;
	slot = key % KEEP_SLOTS;
	pthread_mutex_lock(&keep_mu);
	same = slots[slot].key == key && slots[slot].sum == sum;
	pthread_mutex_unlock(&keep_mu);
	if (!same) {
		/* a new content: the size and pages the kernel has are another answer's; the
		 * note is made once they are gone */
		forget(fh);
		pthread_mutex_lock(&keep_mu);
		slots[slot].key = key;
		slots[slot].sum = sum;
		pthread_mutex_unlock(&keep_mu);
	}
	fh->kept = sum;
	fi->direct_io = 0;
	fi->keep_cache = (unsigned)same;
}

void tfs_keep_read(const struct tfs_fh *fh)
{
	uint64_t key = key_of(fh);
	size_t slot = key % KEEP_SLOTS;

	/* a handle opened before the prompt changed fills pages with the old answer: the next
	 * open drops them */
	pthread_mutex_lock(&keep_mu);
	if (slots[slot].key == key && slots[slot].sum != fh->kept)
		slots[slot].sum = 0;
	pthread_mutex_unlock(&keep_mu);
}
