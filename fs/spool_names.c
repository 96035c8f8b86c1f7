/* spool_names.c - the names under a model's prompts/, responses/ and eval/ that are not
 * spool entries, and those that are only for a while: a tool's dot-named temporaries (kept
 * locally as scratch files), responses/batch (the spool's batch job), and answers a restore
 * holds open. spool.c and eval.c ask here; neither is called from here. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tunedfs.h"

/* Handles a restore holds open on answers it copies into a draft: each such answer exists
 * until its handle is released (cp -a sets its times through its path meanwhile). */
static pthread_mutex_t restoring_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tfs_fh *restoring[64];
static size_t n_restoring;

void tfs_spool_restoring(struct tfs_fh *fh)
{
	pthread_mutex_lock(&restoring_mu);
	if (n_restoring < sizeof restoring / sizeof *restoring)
		restoring[n_restoring++] = fh;
	pthread_mutex_unlock(&restoring_mu);
}

void tfs_spool_release(struct tfs_fh *fh)
{
	pthread_mutex_lock(&restoring_mu);
	for (size_t i = 0; i < n_restoring; i++) {
		if (restoring[i] == fh) {
			restoring[i] = restoring[--n_restoring];
			break;
		}
	}
	pthread_mutex_unlock(&restoring_mu);
}

int tfs_spool_being_restored(const char *id, const char *name)
{
	int found = 0;

	pthread_mutex_lock(&restoring_mu);
	for (size_t i = 0; i < n_restoring && !found; i++)
		found = strcmp(restoring[i]->id, id) == 0 && strcmp(restoring[i]->name, name) == 0;
	pthread_mutex_unlock(&restoring_mu);
	return found;
}

int tfs_spool_prompt_exists(const char *id, const char *name, size_t *len)
{
	char *data = NULL;
	int rc = model_table_spool_read(tfs_ctx.mt, id, name, &data, len);

	free(data);
	return rc;
}

/* responses/batch, the status of the spool's latest batch job, unless a prompt is named
 * batch (its answer has that name then); responses/.batch always, as no prompt can take a
 * name starting with a dot. 1 when p names it and a batch ran since the mount. */
int tfs_spool_is_batch(const struct tfs_path *p)
{
	char *text = NULL;
	size_t len = 0;

	if (p->spool != TFS_SPOOL_RESPONSE || !p->name ||
	    (strcmp(p->name, ".batch") != 0 && strcmp(p->name, "batch") != 0))
		return 0;
	if (p->name[0] == 'b' && tfs_spool_prompt_exists(p->id, "batch", &len) == 0)
		return 0;
	if (model_table_batch_text(tfs_ctx.mt, p->id, &text, &len) < 0)
		return 0;
	free(text);
	return 1;
}

int tfs_spool_scratch(const struct tfs_path *p, struct tfs_path *q)
{
	const char *sub = p->spool == TFS_SPOOL_PROMPT ? "/prompts"
			  : p->spool == TFS_SPOOL_EVAL ? "/eval"
						       : "/responses";
	size_t n = strlen(p->id);

	if (!p->name || p->name[0] != '.' || n + strlen(sub) >= sizeof q->id ||
	    tfs_spool_is_batch(p))
		return 0;
	*q = *p;
	memcpy(q->id + n, sub, strlen(sub) + 1);
	q->file = p->name;
	q->spool = 0;
	q->name = NULL;
	return 1;
}
