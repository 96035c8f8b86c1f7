/* spec_text.c - the text helpers the draft parsers share: strict UTF-8 checks, quoted
 * excerpts for messages, locale-proof number reading and printing, and the message
 * writer. No knowledge of any key or file format (spec.c, spec_examples.c). */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "cache/spec.h"
#include "cache/spec_impl.h"

/* Writes "FILE: line N: PROBLEM" (or without the line when line is 0); returns -EINVAL. */
int spec_fail(struct spec_msg *m, int line, const char *fmt, ...)
{
	char problem[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	if (!m->msg || m->msg_len == 0)
		return -EINVAL;
	if (line > 0)
		snprintf(m->msg, m->msg_len, "%s: line %d: %s", m->file, line, problem);
	else
		snprintf(m->msg, m->msg_len, "%s: %s", m->file, problem);
	return -EINVAL;
}

/* Length of the valid strict UTF-8 prefix of s (n when all of it is valid). */
size_t spec_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return i;
		if (n - i <= need)
			return i;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return n;
}

size_t spec_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* A short, printable, quoted excerpt of user text for a message; cut at a character
 * boundary so the message stays valid UTF-8. */
const char *spec_quote(char *out, size_t out_len, const char *s, size_t n)
{
	size_t o = 0, limit = out_len > 16 ? out_len - 8 : 0;

	out[o++] = '"';
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o >= limit && (c & 0xc0) != 0x80) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			if (o + 4 >= out_len - 4)
				break;
			o += (size_t)snprintf(out + o, out_len - o,
					      c == '"'	  ? "\\\""
					      : c == '\\' ? "\\\\"
							  : "\\x%02x",
					      c);
			continue;
		}
		out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

int spec_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void spec_trim(const char **s, const char **e)
{
	while (*s < *e && spec_is_space(**s))
		(*s)++;
	while (*e > *s && spec_is_space((*e)[-1]))
		(*e)--;
}

/* Parses a plain decimal number (no hex, inf or nan), independent of the locale. */
int spec_number(const char *s, size_t n, int whole, double *out)
{
	char buf[80], *end;
	size_t i = 0, digits = 0;
	const char *dp = localeconv()->decimal_point;

	if (n == 0 || n >= sizeof(buf) - 8)
		return -1;
	if (s[i] == '+' || s[i] == '-')
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (!whole && i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (!digits)
		return -1;
	if (!whole && i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp = 0;

		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			exp++;
		if (!exp)
			return -1;
	}
	if (i != n)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
		char *dot = strchr(buf, '.');

		if (dot)
			*dot = dp[0];
	}
	*out = strtod(buf, &end);
	if (*end != '\0' || !isfinite(*out))
		return -1;
	return 0;
}

/* Shortest "%g" text that reads back as exactly d, with '.' whatever the locale. */
void spec_format_double(char *buf, size_t len, double d)
{
	const char *dp = localeconv()->decimal_point;
	double back;

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
			char *c = strchr(buf, dp[0]);

			if (c)
				*c = '.';
		}
		if (spec_number(buf, strlen(buf), 0, &back) == 0 && back == d)
			return;
	}
}

/* Appends to a growing heap string. */
void spec_append(char **s, size_t *len, const char *add)
{
	size_t n = strlen(add);
	char *p = realloc(*s, *len + n + 1);

	if (!p)
		xalloc_die(0);
	memcpy(p + *len, add, n + 1);
	*s = p;
	*len += n;
}
