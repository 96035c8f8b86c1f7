/* negcache.h - the model table's remembered misses: names the service said it does not
 * have, kept for -o negative_ttl so a burst of lookups of one wrong name costs one
 * request. Its own lock, taken last; no entries, no network. */
#ifndef TUNEDFS_NEGCACHE_H
#define TUNEDFS_NEGCACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct negcache {
	pthread_mutex_t mu;
	int64_t ttl_ms;
	struct negcache_miss *v;
	size_t n;
};

void negcache_init(struct negcache *nc, double ttl_seconds);
void negcache_destroy(struct negcache *nc);
/* Whether id is a miss remembered and not yet expired (expired ones go on the way). */
int negcache_has(struct negcache *nc, const char *id);
/* Remembers id as a miss for the ttl (at most 4096 at once). */
void negcache_add(struct negcache *nc, const char *id);
/* id exists now: no longer a miss. */
void negcache_forget(struct negcache *nc, const char *id);

#endif
