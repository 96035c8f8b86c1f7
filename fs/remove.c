/* remove.c - removing model directories as on any filesystem: rmdir deletes only an empty
 * directory (a draft with nothing written, or one whose every file was just unlinked), so
 * `rmdir *` deletes nothing of value while `rm -r` (unlink every file, then rmdir) does.
 * Unlinking a model's own file only marks it; the model itself is deleted by model_table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

/* Unlinks count toward an rmdir for this long after the last one in the directory. */
#define UNLINK_SECONDS 30.0
/* ... and an unlinked file reads as absent this long, so that a tool replacing it (tar:
 * unlink, then an exclusive create) gets through instead of meeting it again. */
#define GONE_SECONDS 1.0

struct hidden {
	char *id;
	unsigned mask; /* 1 << tfs_kind */
	double until;
	double gone[32]; /* per kind: absent until then */
};

static pthread_mutex_t hidden_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hidden *hidden;
static size_t n_hidden;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The entry of id, dropping expired ones. Under hidden_mu. */
static struct hidden *find(const char *id)
{
	double t = now();

	for (size_t i = 0; i < n_hidden;) {
		if (hidden[i].until <= t) {
			free(hidden[i].id);
			hidden[i] = hidden[--n_hidden];
			continue;
		}
		if (strcmp(hidden[i].id, id) == 0)
			return &hidden[i];
		i++;
	}
	return NULL;
}

int tfs_unlinked(const char *id, enum tfs_kind k)
{
	struct hidden *h;
	int r = 0;

	if ((unsigned)k >= 32)
		return 0;
	pthread_mutex_lock(&hidden_mu);
	h = n_hidden ? find(id) : NULL;
	if (h)
		r = (h->mask >> k) & 1u;
	pthread_mutex_unlock(&hidden_mu);
	return r;
}

void tfs_mark_unlinked(const char *id, enum tfs_kind k)
{
	struct hidden *h;

	pthread_mutex_lock(&hidden_mu);
	h = find(id);
	if (!h) {
		hidden = xrealloc(hidden, (n_hidden + 1) * sizeof *hidden);
		h = &hidden[n_hidden++];
		h->id = xstrdup(id);
		h->mask = 0;
		memset(h->gone, 0, sizeof h->gone);
	}
	h->mask |= 1u << k;
	h->until = now() + UNLINK_SECONDS;
	h->gone[k] = now() + GONE_SECONDS;
	pthread_mutex_unlock(&hidden_mu);
}

void tfs_unmark(const char *id, enum tfs_kind k)
{
	struct hidden *h;

	pthread_mutex_lock(&hidden_mu);
	h = n_hidden ? find(id) : NULL;
	if (h) {
		h->mask &= ~(1u << k);
		h->gone[k] = 0;
	}
	pthread_mutex_unlock(&hidden_mu);
}

int tfs_gone(const char *id, enum tfs_kind k)
{
	struct hidden *h;
	int r = 0;

	if ((unsigned)k >= 32)
		return 0;
	pthread_mutex_lock(&hidden_mu);
	h = n_hidden ? find(id) : NULL;
	if (h)
		r = h->gone[k] > now();
	pthread_mutex_unlock(&hidden_mu);
	return r;
}

static void unhide_all(const char *id)
{
	struct hidden *h;

	pthread_mutex_lock(&hidden_mu);
	h = find(id);
	if (h) {
		free(h->id);
		*h = hidden[--n_hidden];
	}
	pthread_mutex_unlock(&hidden_mu);
}

/* Whether the directory of id holds nothing of value: every listed file unlinked a moment
 * ago and no scratch file; or a draft in which nothing was ever written. */
static int dir_empty(const char *id, const struct model_table_attr *a)
{
	char **names;
	size_t n;
	int empty = 1;

	tfs_scratch_list(id, &names, &n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (n)
		return 0;
	model_table_spool_names(tfs_ctx.mt, id, &names, &n);
	model_table_names_free(names, n);
	if (n)
		return 0; /* prompts are the user's: rm -r removes them first */
	model_table_eval_names(tfs_ctx.mt, id, &names, &n);
	model_table_names_free(names, n);
	if (n)
		return 0; /* and so are eval files */
	if (a->is_draft && a->state == MODEL_TABLE_DRAFT && !a->draft_files && !a->locked)
		return 1;
	if (!tfs_unlinked(id, TFS_SPOOL_PROMPT) || !tfs_unlinked(id, TFS_SPOOL_RESPONSE) ||
	    !tfs_unlinked(id, TFS_SPOOL_EVAL))
		return 0;
	/* progress.svg comes with the first snapshot, which may arrive while rm -r runs: it
	 * does not hold the directory */
	for (int k = 0; k < TFS_NKINDS && empty; k++)
		if (k != TFS_PROGRESS_SVG && tfs_kind_listed((enum tfs_kind)k, a) &&
		    !tfs_unlinked(id, (enum tfs_kind)k))
			empty = 0;
	return empty;
}

int tfs_remove_dir(const char *id)
{
	struct model_table_attr a;
	int rc = model_table_attr(tfs_ctx.mt, id, &a);

	if (rc < 0)
		return rc;
	if (!dir_empty(id, &a))
		return -ENOTEMPTY;
	rc = model_table_remove(tfs_ctx.mt, id);
	if (rc == 0) {
		tfs_scratch_drop_dir(id);
		unhide_all(id);
	} else if (rc != -ENOENT) {
		tfs_log(LOG_WARNING, "rmdir %s: %s", id, strerror(-rc));
	}
	return rc;
}
