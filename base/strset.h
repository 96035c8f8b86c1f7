/* strset.h - a set of strings (hashed, each kept as a copy): has, add, drop in constant
 * time. No locking: whoever owns a set guards it. No order, no iteration. */
#ifndef TUNEDFS_BASE_STRSET_H
#define TUNEDFS_BASE_STRSET_H

#include <stddef.h>

struct strset {
	char **slot;	     /* NULL until the first add; empty slots NULL, dropped ones a marker */
	size_t cap, n, used; /* used: taken or dropped slots, what probing walks over */
};

#define STRSET_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

int strset_has(const struct strset *s, const char *key);
/* 1 when key was added, 0 when it was there already. */
int strset_add(struct strset *s, const char *key);
/* 1 when key was there (and is no more), 0 when it was not. */
int strset_drop(struct strset *s, const char *key);
void strset_free(struct strset *s);

#endif
