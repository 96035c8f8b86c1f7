/* restore.c - a draft being filled by the process that made it private (mkdir mode 0700,
 * as cp -a and cp -p make a directory they are about to copy into): to that process its
 * files are absent until it creates them, so its exclusive creates get through. Others
 * see the draft as usual. The creates themselves are io.c's and spool.c's. */
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

/* Restores remembered at once; past this the oldest is forgotten. */
#define RESTORES_MAX 64

struct restore {
	char *id;
	struct model_table_proc maker;
	unsigned made; /* 1 << tfs_kind: created by the maker since */
};

static pthread_mutex_t restores_mu = PTHREAD_MUTEX_INITIALIZER;
static struct restore restores[RESTORES_MAX];
static size_t n_restores;

static void drop(size_t i)
{
	free(restores[i].id);
	restores[i] = restores[--n_restores];
}

static struct restore *find(const char *id)
{
	for (size_t i = 0; i < n_restores; i++)
		if (strcmp(restores[i].id, id) == 0)
			return &restores[i];
	return NULL;
}

void tfs_restore_begin(const char *id, mode_t mode)
{
	struct model_table_proc me;

	if ((mode & 077) != 0 || model_table_proc_chain(fuse_get_context()->pid, &me, 1) != 1)
		return;
	pthread_mutex_lock(&restores_mu);
	if (find(id))
		drop((size_t)(find(id) - restores));
	if (n_restores == RESTORES_MAX)
		drop(0);
	restores[n_restores].id = xstrdup(id);
	restores[n_restores].maker = me;
	restores[n_restores].made = 0;
	n_restores++;
	pthread_mutex_unlock(&restores_mu);
}

/* The caller's restore of id, when the caller is its maker; a maker that is gone (its pid
 * taken by another process) ends it. Under restores_mu. */
static struct restore *mine(const char *id)
{
	struct restore *r = n_restores ? find(id) : NULL;
	struct model_table_proc me;

	if (!r || r->maker.pid != fuse_get_context()->pid)
		return NULL;
	if (model_table_proc_chain(r->maker.pid, &me, 1) != 1 || me.start != r->maker.start) {
		drop((size_t)(r - restores));
		return NULL;
	}
	return r;
}

int tfs_restore_hides(const char *id, enum tfs_kind k)
{
	struct restore *r;
	int hides = 0;

	if ((unsigned)k >= 32 || k == TFS_SCRATCH)
		return 0;
	pthread_mutex_lock(&restores_mu);
	r = mine(id);
	if (r)
		hides = !((r->made >> k) & 1u);
	pthread_mutex_unlock(&restores_mu);
	return hides;
}

void tfs_restore_made(const char *id, enum tfs_kind k)
{
	struct restore *r;

	if ((unsigned)k >= 32)
		return;
	pthread_mutex_lock(&restores_mu);
	r = mine(id);
	if (r)
		r->made |= 1u << k;
	pthread_mutex_unlock(&restores_mu);
}

void tfs_restore_end(const char *id, int any)
{
	struct restore *r;

	pthread_mutex_lock(&restores_mu);
	r = any ? (n_restores ? find(id) : NULL) : mine(id);
	if (r)
		drop((size_t)(r - restores));
	pthread_mutex_unlock(&restores_mu);
}
