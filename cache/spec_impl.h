/* spec_impl.h - what the draft parsers (spec.c, spec_examples.c) share from spec_text.c:
 * the message writer and the text helpers. Private to cache/spec*.c; the contract is
 * spec.h. */
#ifndef TUNEDFS_SPEC_IMPL_H
#define TUNEDFS_SPEC_IMPL_H

#include <stddef.h>

/* Where a parse's message goes and which file it names. */
struct spec_msg {
	const char *file;
	char *msg;
	size_t msg_len;
};

/* Writes "FILE: line N: PROBLEM" (without the line when line is 0); returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int spec_fail(struct spec_msg *m, int line, const char *fmt,
						    ...);

size_t spec_utf8_chars(const char *s);
/* A short printable quoted excerpt of s[0..n) for a message, in out; returns out. */
const char *spec_quote(char *out, size_t out_len, const char *s, size_t n);
int spec_is_space(char c);
void spec_trim(const char **s, const char **e);
/* A plain decimal number (no hex, inf, nan), whatever the locale: 0 or -1. */
int spec_number(const char *s, size_t n, int whole, double *out);
/* The shortest text of d that spec_number reads back exactly. */
void spec_format_double(char *buf, size_t len, double d);
void spec_append(char **s, size_t *len, const char *add);

#endif
