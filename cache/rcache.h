/* rcache.h - the on-disk response cache: one file per answer under the cache directory,
 * keyed by SHA-256 of (model name, its updateTime, canonical generation settings,
 * prompt), written atomically, least recently used evicted past a byte budget.
 * Knows nothing of FUSE or HTTP. */
#ifndef TUNEDFS_RCACHE_H
#define TUNEDFS_RCACHE_H

#include <stddef.h>

struct rcache;

#define RCACHE_KEY_HEX 65

/* dir is created 0700 when missing; max_bytes is the eviction budget. Existing entries
 * are indexed at open. */
int rcache_open(const char *dir, size_t max_bytes, struct rcache **out);
void rcache_close(struct rcache *rc);
/* Makes the 256 subdirectories entries go in, so that no put makes one while a reader
 * waits for its answer; for a thread with time to spare. Safe beside puts. */
void rcache_prepare(struct rcache *rc);

/* 64 lowercase hex digits and a NUL. Fields are length-framed, so no two different
 * tuples share a key; NULL and "" are different fields. */
void rcache_key(const char *model, const char *update_time, const char *generation,
		const char *prompt, char out[RCACHE_KEY_HEX]);

/* The stored GenerateContentResponse JSON for key: 0 and a heap copy (NUL-terminated), or
 * -ENOENT (also for an entry found corrupt, which is then removed); -EINVAL for a key
 * that is not 64 lowercase hex digits. Safe from several threads. */
int rcache_get(struct rcache *rc, const char *key, char **json, size_t *len);
/* Stores (or replaces) the entry and evicts the least recently used past the budget.
 * -EFBIG when json alone exceeds the budget (nothing stored), -EINVAL for a bad key. */
int rcache_put(struct rcache *rc, const char *key, const char *json, size_t len);

struct rcache_stats {
	size_t entries, bytes, hits, misses, evictions;
};
void rcache_stats(struct rcache *rc, struct rcache_stats *out);

#endif
