/* rcache.c - the on-disk response cache. Placeholder until the full cache lands. */
#include <errno.h>
#include <string.h>

#include "cache/rcache.h"

int rcache_open(const char *dir, size_t max_bytes, struct rcache **out)
{
	*out = NULL;
	return -ENOSYS;
}

void rcache_close(struct rcache *rc)
{
}

void rcache_key(const char *model, const char *update_time, const char *generation,
		const char *prompt, char out[RCACHE_KEY_HEX])
{
	memset(out, '0', RCACHE_KEY_HEX - 1);
	out[RCACHE_KEY_HEX - 1] = '\0';
}

int rcache_get(struct rcache *rc, const char *key, char **json, size_t *len)
{
	return -ENOENT;
}

int rcache_put(struct rcache *rc, const char *key, const char *json, size_t len)
{
	return -ENOSYS;
}

void rcache_stats(struct rcache *rc, struct rcache_stats *out)
{
	memset(out, 0, sizeof(*out));
}
