/* weights.c - the trained weights of tunedfs-server's models: loaded lazily from
 * weights.bin on first use and shared, reference-counted, by generateContent calls.
 * Training itself is jobs.c; the maths nn.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store.h"
#ifdef TUNEDFS_HAVE_TRAINER
#include "server/nn.h"
#endif

void srv_net_put(struct srv_store *st, struct srv_net *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&st->lock);
	int last = --n->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (!last)
		return;
#ifdef TUNEDFS_HAVE_TRAINER
	nn_model_free(n->nn);
#endif
	free(n);
}

struct srv_net *srv_store_net(struct srv_store *st, struct srv_model *m, char *why, size_t why_len)
{
	pthread_mutex_lock(&st->lock);
	struct srv_net *n = m->net;
	if (n)
		n->refs++;
	pthread_mutex_unlock(&st->lock);
	if (n)
		return n;
#ifdef TUNEDFS_HAVE_TRAINER
	char path[4200];
	struct nn_model *nn = NULL;
	srv_store_weights_path(st, m->id, path, sizeof(path));
	int rc = nn_model_load(path, &nn, why, why_len);
	if (rc)
		return NULL;
	n = srv_xcalloc(1, sizeof(*n));
	n->nn = nn;
	n->refs = 1;
	pthread_mutex_lock(&st->lock);
	if (m->net) { /* another caller loaded it meanwhile: use theirs */
		struct srv_net *theirs = m->net;
		theirs->refs++;
		pthread_mutex_unlock(&st->lock);
		srv_net_put(st, n);
		return theirs;
	}
	m->net = n;
	n->refs++;
	pthread_mutex_unlock(&st->lock);
	return n;
#else
	snprintf(why, why_len, "no trainer built into this tunedfs-server");
	return NULL;
#endif
}
