/* weights.c - the trained weights of tunedfs-server's models: loaded lazily from
 * weights.bin on first use and shared, reference-counted, by generateContent calls.
 * Training itself is jobs.c; the maths nn.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/store.h"
#include "server/nn.h"

void srv_store_weights_path(const struct srv_store *st, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/jobs/%s/weights.bin", st->dir, id);
}

void srv_net_put(struct srv_store *st, struct srv_net *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&st->lock);
	int last = --n->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (!last)
		return;
	nn_model_free(n->nn);
	free(n);
}

void srv_store_attach_net_locked(struct srv_store *st, struct srv_model *m, struct srv_net *n,
				 struct srv_net **evicted)
{
	*evicted = m->net;
	if (!m->net)
		st->nets_loaded++;
	m->net = n;
	n->last_used = ++st->net_clock;
	if (*evicted || st->nets_loaded <= st->max_nets)
		return;
	struct srv_model *victim = NULL;
	for (size_t i = 0; i < st->n; i++) {
		struct srv_model *o = st->by_seq[i];
		/* refs == 1: only its model holds it, no generation is using it now */
		if (o != m && o->net && o->net->refs == 1 &&
		    (!victim || o->net->last_used < victim->net->last_used))
			victim = o;
	}
	if (victim) {
		*evicted = victim->net;
		victim->net = NULL;
		st->nets_loaded--;
	}
}

struct srv_net *srv_store_net(struct srv_store *st, struct srv_model *m, char *why, size_t why_len)
{
	pthread_mutex_lock(&st->lock);
	struct srv_net *n = m->net;
	if (n) {
		n->refs++;
		n->last_used = ++st->net_clock;
	}
	pthread_mutex_unlock(&st->lock);
	if (n)
		return n;
	char path[4200];
	struct nn_model *nn = NULL;
	srv_store_weights_path(st, m->id, path, sizeof(path));
	int rc = nn_model_load(path, &nn, why, why_len);
	if (rc)
		return NULL;
	n = xcalloc(1, sizeof(*n));
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
	struct srv_net *evicted;
	n->refs++; /* the model's; the first is the caller's */
	srv_store_attach_net_locked(st, m, n, &evicted);
	pthread_mutex_unlock(&st->lock);
	srv_net_put(st, evicted);
	return n;
}
