/* json_util.c - tolerant JSON parsing and small typed accessors for tunedfs-server.
 * The resource mapping (TunedModel, Operation) is in model_json.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/num.h"
#include "base/xalloc.h"
#include "server/json_util.h"

/* Copies text into a NUL-terminated buffer without the commas that directly precede a
 * closing bracket, and checks nesting depth, so cJSON never recurses deeply. */
static int strip_and_check(const char *text, size_t len, char **out, size_t *out_len, char *why,
			   size_t why_len)
{
	char *buf = xmalloc(len + 1);
	size_t o = 0;
	int in_str = 0, esc = 0, depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			buf[o++] = c;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > SRV_JSON_MAX_DEPTH) {
				snprintf(why, why_len,
					 "Invalid JSON payload received. Nesting deeper than %d at "
					 "offset %zu.",
					 SRV_JSON_MAX_DEPTH, i);
				free(buf);
				return -EINVAL;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ',') {
			size_t j = i + 1;
			while (j < len && isspace((unsigned char)text[j]))
				j++;
			if (j < len && (text[j] == '}' || text[j] == ']'))
				continue;
		}
		buf[o++] = c;
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
size_t srv_utf8_len(const unsigned char *p, size_t left)
{
	if (p[0] < 0x80)
		return 1;
	size_t n = (p[0] & 0xe0) == 0xc0   ? 2
		   : (p[0] & 0xf0) == 0xe0 ? 3
		   : (p[0] & 0xf8) == 0xf0 ? 4
					   : 0;
	if (n == 0 || n > left || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
		return 0;
	if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

int srv_json_parse(const char *text, size_t len, cJSON **out, char *why, size_t why_len)
{
	char *buf;
	size_t n;
	int rc = strip_and_check(text, len, &buf, &n, why, why_len);
	if (rc)
		return rc;
	for (size_t i = 0; i < n;) {
		size_t k = srv_utf8_len((const unsigned char *)buf + i, n - i);
		if (k == 0) {
			snprintf(why, why_len,
				 "Invalid JSON payload received. Invalid UTF-8 at offset %zu.", i);
			free(buf);
			return -EINVAL;
		}
		i += k;
	}
	if (memchr(buf, '\0', n)) {
		snprintf(why, why_len, "Invalid JSON payload received. NUL byte in the body.");
		free(buf);
		return -EINVAL;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
	if (!root) {
		/* end, not cJSON_GetErrorPtr(): that one is a global shared by all threads. */
		size_t off = (end && end >= buf && end <= buf + n) ? (size_t)(end - buf) : 0;
		snprintf(why, why_len,
			 "Invalid JSON payload received. Unexpected token at offset %zu.", off);
		free(buf);
		return -EINVAL;
	}
	while (end && end < buf + n && isspace((unsigned char)*end))
		end++;
	if (end && end < buf + n) {
		snprintf(why, why_len,
			 "Invalid JSON payload received. Unexpected text after the value at "
			 "offset %zu.",
			 (size_t)(end - buf));
		cJSON_Delete(root);
		free(buf);
		return -EINVAL;
	}
	free(buf);
	*out = root;
	return 0;
}

void srv_json_snake(const char *camel, char *buf, size_t len)
{
	size_t o = 0;
	for (const char *p = camel; *p && o + 2 < len; p++) {
		if (isupper((unsigned char)*p)) {
			buf[o++] = '_';
			buf[o++] = (char)tolower((unsigned char)*p);
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
}

int srv_json_known_fields(const cJSON *obj, const char *const *camel, const char *at, char *why,
			  size_t why_len)
{
	const cJSON *it;
	if (!cJSON_IsObject(obj))
		return 0;
	cJSON_ArrayForEach(it, obj)
	{
		int ok = 0;
		char snake[128];
		for (const char *const *c = camel; *c && !ok; c++) {
			srv_json_snake(*c, snake, sizeof(snake));
			ok = !strcmp(it->string, *c) || !strcmp(it->string, snake);
		}
		if (!ok) {
			snprintf(why, why_len,
				 "Invalid JSON payload received. Unknown name \"%.64s\"%s%s%s: "
				 "Cannot find field.",
				 it->string, *at ? " at '" : "", at, *at ? "'" : "");
			return -EINVAL;
		}
	}
	return 0;
}

cJSON *srv_json_field(const cJSON *obj, const char *camel)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, camel);
	if (it)
		return it;
	char snake[128];
	srv_json_snake(camel, snake, sizeof(snake));
	return cJSON_GetObjectItemCaseSensitive(obj, snake);
}

int srv_json_int(const cJSON *item, int64_t *out)
{
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
			return -EINVAL;
		*out = (int64_t)d;
		return 0;
	}
	if (cJSON_IsString(item) && item->valuestring && *item->valuestring) {
		char *end;
		errno = 0;
		long long v = strtoll(item->valuestring, &end, 10);
		if (errno || *end)
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

long srv_json_count(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	long n;

	return cJSON_IsNumber(it) && num_count(it->valuedouble, &n) ? n : 0;
}

int srv_json_double(const cJSON *item, double *out)
{
	if (cJSON_IsNumber(item)) {
		*out = item->valuedouble;
		return isfinite(*out) ? 0 : -EINVAL;
	}
	if (cJSON_IsString(item) && item->valuestring && *item->valuestring) {
		char *end;
		errno = 0;
		double v = strtod(item->valuestring, &end);
		if (errno || *end || !isfinite(v))
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

void srv_json_time(int64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, frac);
}

int srv_json_parse_time(const char *s, int64_t *ns)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s)
		return -EINVAL;
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	long frac = 0;
	int digits = 0;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p) && digits < 9; p++, digits++)
			frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -EINVAL;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	for (; digits < 9; digits++)
		frac *= 10;
	/* Nanoseconds in an int64 reach from 1677 to 2262: anything else is refused, not
	 * overflowed. */
	int64_t secs = (int64_t)timegm(&tm);
	if (secs < -9223372035LL || secs > 9223372035LL)
		return -EINVAL;
	*ns = secs * 1000000000 + frac;
	return 0;
}

char *srv_json_print(const cJSON *item)
{
	char *s = cJSON_PrintUnformatted(item);
	if (!s) {
		fprintf(stderr, "tunedfs-server: out of memory printing JSON\n");
		abort();
	}
	return s;
}

static void put_indent(char *out, size_t *o, int depth)
{
	out[(*o)++] = '\n';
	for (int i = 0; i < depth * 2; i++)
		out[(*o)++] = ' ';
}

char *srv_json_pretty(const char *in)
{
	size_t n = strlen(in), cap = n + 1, o = 0;
	int depth = 0, in_str = 0, esc = 0;
	/* Worst case each byte opens a line at the deepest level (limited by the parser). */
	for (size_t i = 0; i < n; i++)
		if (in[i] == ',' || in[i] == '{' || in[i] == '[' || in[i] == '}' || in[i] == ']' ||
		    in[i] == ':')
			cap += 2 + 2 * (SRV_JSON_MAX_DEPTH + 2);
	char *out = xmalloc(cap);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (in_str) {
			out[o++] = c;
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			out[o++] = c;
			break;
		case '{':
		case '[':
			out[o++] = c;
			if (in[i + 1] == (c == '{' ? '}' : ']')) {
				out[o++] = in[++i];
				break;
			}
			if (depth < SRV_JSON_MAX_DEPTH)
				depth++;
			put_indent(out, &o, depth);
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			put_indent(out, &o, depth);
			out[o++] = c;
			break;
		case ',':
			out[o++] = c;
			put_indent(out, &o, depth);
			break;
		case ':':
			out[o++] = ':';
			out[o++] = ' ';
			break;
		default:
			out[o++] = c;
		}
	}
	out[o++] = '\n';
	out[o] = '\0';
	return out;
}

int srv_jsonl_each(const char *text, size_t len, size_t max,
		   int (*line)(void *ctx, const cJSON *j, char *why, size_t why_len), void *ctx,
		   char *why, size_t why_len)
{
	char inner[200];
	size_t no = 0, seen = 0;
	for (const char *p = text, *end = text + len; p < end; no++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *q = p;
		p += l + 1;
		size_t blank = 0;
		while (blank < l && strchr(" \t\r", q[blank]))
			blank++;
		if (blank == l)
			continue;
		cJSON *j = NULL;
		int rc = srv_json_parse(q, l, &j, inner, sizeof(inner));
		if (rc == 0 && seen++ == max)
			rc = -1, snprintf(inner, sizeof(inner), "more than %zu lines", max);
		if (rc == 0)
			rc = line(ctx, j, inner, sizeof(inner));
		cJSON_Delete(j);
		if (rc) {
			snprintf(why, why_len, "line %zu: %s", no + 1, inner);
			return -EINVAL;
		}
	}
	return 0;
}
