/* dynbuf.h - a growable byte buffer, always NUL-terminated so its text can be used as a
 * string. Growth doubles; allocation failure aborts (xalloc). No I/O. */
#ifndef TUNEDFS_BASE_DYNBUF_H
#define TUNEDFS_BASE_DYNBUF_H

#include <stddef.h>

struct dynbuf {
	char *data; /* NULL until the first append; then NUL-terminated */
	size_t len, cap;
};

#define DYNBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void dynbuf_append(struct dynbuf *b, const void *p, size_t n);
void dynbuf_puts(struct dynbuf *b, const char *s);
void dynbuf_printf(struct dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes and returns where they go; dynbuf_commit(b, n) counts them. */
char *dynbuf_reserve(struct dynbuf *b, size_t n);
void dynbuf_commit(struct dynbuf *b, size_t n);
/* Hands the text to the caller (never NULL: "" when empty) and resets the buffer. */
char *dynbuf_take(struct dynbuf *b, size_t *len);
void dynbuf_free(struct dynbuf *b);

#endif
