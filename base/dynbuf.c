/* dynbuf.c - the growable buffer of dynbuf.h: doubling growth, a NUL always after the
 * data. Nothing here knows what the bytes are. */
#include "dynbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

char *dynbuf_reserve(struct dynbuf *b, size_t n)
{
	if (n + 1 > b->cap - b->len || !b->data) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap - b->len < n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

void dynbuf_commit(struct dynbuf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = 0;
}

void dynbuf_append(struct dynbuf *b, const void *p, size_t n)
{
	memcpy(dynbuf_reserve(b, n), p, n);
	dynbuf_commit(b, n);
}

void dynbuf_puts(struct dynbuf *b, const char *s)
{
	dynbuf_append(b, s, strlen(s));
}

void dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		xalloc_die(0);
	dynbuf_append(b, s, (size_t)n);
	free(s);
}

char *dynbuf_take(struct dynbuf *b, size_t *len)
{
	char *s = b->data ? b->data : xstrdup("");
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void dynbuf_free(struct dynbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
