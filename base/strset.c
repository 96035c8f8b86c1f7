/* strset.c - the string set of strset.h: open addressing with linear probing, FNV-1a,
 * grown (and swept of dropped slots) when more than half the slots are used. */
#include "bytes.h"
#include "strset.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char strset_dropped_mark;
#define STRSET_DROPPED (&strset_dropped_mark)

static uint64_t strset_hash(const char *key)
{
	return bytes_fnv1a64_more(BYTES_FNV1A64_BASIS, key, strlen(key));
}

/* The slot holding key, or (when absent) SIZE_MAX. */
static size_t strset_find(const struct strset *s, const char *key)
{
	if (!s->cap)
		return SIZE_MAX;
	for (size_t i = strset_hash(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i])
			return SIZE_MAX;
		if (s->slot[i] != STRSET_DROPPED && strcmp(s->slot[i], key) == 0)
			return i;
	}
}

/* Places a key known to be absent; the table has a free slot. */
static void strset_place(struct strset *s, char *key)
{
	size_t i = strset_hash(key) & (s->cap - 1);

	while (s->slot[i])
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = key;
}

static void strset_grow(struct strset *s)
{
	char **old = s->slot;
	size_t old_cap = s->cap;

	/* room for twice the live keys; a table full of dropped slots is only swept */
	s->cap = s->cap ? s->cap : 16;
	while (s->cap < 4 * (s->n + 1))
		s->cap *= 2;
	s->slot = xcalloc(s->cap, sizeof(*s->slot));
	s->used = s->n;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i] && old[i] != STRSET_DROPPED)
			strset_place(s, old[i]);
	free(old);
}

int strset_has(const struct strset *s, const char *key)
{
	return strset_find(s, key) != SIZE_MAX;
}

int strset_add(struct strset *s, const char *key)
{
	if (strset_has(s, key))
		return 0;
	if (2 * (s->used + 1) > s->cap)
		strset_grow(s);
	strset_place(s, xstrdup(key));
	s->n++;
	s->used++;
	return 1;
}

int strset_drop(struct strset *s, const char *key)
{
	size_t i = strset_find(s, key);

	if (i == SIZE_MAX)
		return 0;
	free(s->slot[i]);
	s->slot[i] = STRSET_DROPPED;
	s->n--;
	return 1;
}

void strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i] != STRSET_DROPPED)
			free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}
