/* negcache.c - remembered misses of the model table (negcache.h): a small unsorted array
 * under its own lock, expired entries dropped as they are met. Nothing of the table's
 * entries or of the service. */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "cache/negcache.h"

#define NEGCACHE_MAX 4096

struct negcache_miss {
	char *id;
	int64_t until;
};

void negcache_init(struct negcache *nc, double ttl_seconds)
{
	memset(nc, 0, sizeof *nc);
	pthread_mutex_init(&nc->mu, NULL);
	nc->ttl_ms = (int64_t)(ttl_seconds * 1000);
}

void negcache_destroy(struct negcache *nc)
{
	for (size_t i = 0; i < nc->n; i++)
		free(nc->v[i].id);
	free(nc->v);
	pthread_mutex_destroy(&nc->mu);
	memset(nc, 0, sizeof *nc);
}

static void drop_at(struct negcache *nc, size_t i)
{
	free(nc->v[i].id);
	nc->v[i] = nc->v[--nc->n];
}

/* Under nc->mu. */
static int has_locked(struct negcache *nc, const char *id)
{
	int64_t now = clock_now_ms();

	for (size_t i = 0; i < nc->n;) {
		if (nc->v[i].until <= now) {
			drop_at(nc, i);
			continue;
		}
		if (strcmp(nc->v[i].id, id) == 0)
			return 1;
		i++;
	}
	return 0;
}

int negcache_has(struct negcache *nc, const char *id)
{
	int rc;

	pthread_mutex_lock(&nc->mu);
	rc = has_locked(nc, id);
	pthread_mutex_unlock(&nc->mu);
	return rc;
}

void negcache_add(struct negcache *nc, const char *id)
{
	pthread_mutex_lock(&nc->mu);
	if (!has_locked(nc, id) && nc->n < NEGCACHE_MAX) {
		nc->v = xrealloc(nc->v, (nc->n + 1) * sizeof *nc->v);
		nc->v[nc->n].id = xstrdup(id);
		nc->v[nc->n].until = clock_now_ms() + nc->ttl_ms;
		nc->n++;
	}
	pthread_mutex_unlock(&nc->mu);
}

void negcache_forget(struct negcache *nc, const char *id)
{
	pthread_mutex_lock(&nc->mu);
	for (size_t i = 0; i < nc->n; i++) {
		if (strcmp(nc->v[i].id, id) == 0) {
			drop_at(nc, i);
			break;
		}
	}
	pthread_mutex_unlock(&nc->mu);
}
