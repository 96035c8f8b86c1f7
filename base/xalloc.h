/* xalloc.h - allocation that never returns NULL: on exhaustion the program says how much
 * it asked for on stderr and aborts. Holds nothing else; every program of the tree may use it. */
#ifndef TUNEDFS_BASE_XALLOC_H
#define TUNEDFS_BASE_XALLOC_H

#include <stddef.h>

/* Sizes of 0 are allocated as 1, so the result is always a distinct pointer. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The abort itself, for allocators outside this file (cJSON hooks, libcurl). */
_Noreturn void xalloc_die(size_t n);

#endif
