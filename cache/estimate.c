/* estimate.c - the figures of a draft's `estimate` file (examples, characters, tokens per
 * example and in all, epochs, billable tokens, cost) and its warnings (too few examples,
 * duplicates, examples over the token limit, outputs that prefix others, one input with
 * different outputs). Pure: the counts come in, text goes out. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "cache/estimate.h"
#include "cache/spec_impl.h"

#define ESTIMATE_SHOWN 10 /* lines named per kind of warning; the rest are counted */

/* The text of a native line's turns ("text" parts, "content" strings), joined. */
static void native_texts(const cJSON *j, struct dynbuf *b)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, j)
	{
		if (cJSON_IsString(c) && c->string &&
		    (!strcmp(c->string, "text") || !strcmp(c->string, "content")))
			dynbuf_puts(b, c->valuestring);
		else if (cJSON_IsArray(c) || cJSON_IsObject(c))
			native_texts(c, b);
	}
}

static void item_fill(struct estimate_item *it, const struct tuning_example *ex, int line)
{
	it->line = line;
	if (ex->native) {
		struct dynbuf b = DYNBUF_INIT;
		cJSON *j = cJSON_Parse(ex->native);

		dynbuf_puts(&b, "");
		native_texts(j, &b);
		cJSON_Delete(j);
		it->texts = dynbuf_take(&b, &it->bytes);
		it->chars = spec_utf8_chars(it->texts);
		return;
	}
	it->input = ex->input;
	it->output = ex->output;
	it->bytes = strlen(ex->input) + strlen(ex->output);
	it->chars = spec_utf8_chars(ex->input) + spec_utf8_chars(ex->output);
}

int estimate_items(const char *text, size_t len, const struct tuning_request *req,
		   struct estimate_item **out, size_t *n)
{
	const char *p = text, *end = text + len;
	size_t k = 0;
	int line = 0;

	*out = xcalloc(req->n_examples ? req->n_examples : 1, sizeof(**out));
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	/* the lines spec_parse_examples read an example from: the ones not blank */
	while (p < end && k < req->n_examples) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *s = p;

		line++;
		p = nl ? nl + 1 : end;
		spec_trim(&s, &le);
		if (s != le) {
			item_fill(&(*out)[k], &req->examples[k], line);
			k++;
		}
	}
	*n = k;
	return 0;
}

void estimate_items_free(struct estimate_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].texts);
	free(v);
}

size_t estimate_texts(const struct estimate_item *it, const char *out[2])
{
	if (it->texts) {
		out[0] = it->texts;
		return 1;
	}
	out[0] = it->input;
	out[1] = it->output;
	return 2;
}

void estimate_local_tokens(struct estimate_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i].tokens = (long)((v[i].bytes + 3) / 4);
}

void estimate_share(struct estimate_item *v, size_t n, long total)
{
	double bytes = 0, given = 0;

	for (size_t i = 0; i < n; i++)
		bytes += (double)v[i].bytes;
	for (size_t i = 0; i < n; i++) {
		v[i].tokens = bytes > 0 ? (long)((double)v[i].bytes * (double)total / bytes) : 0;
		given += (double)v[i].tokens;
	}
	/* what rounding down left over goes one token each to the first items */
	for (size_t i = 0; i < n && given < (double)total; i++, given++)
		v[i].tokens++;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

/* The comparisons sort by: an item's input (a native line: its texts) then its output. */
static const struct estimate_item *sort_base;
static int sort_by_output;

static const char *key_of(const struct estimate_item *it, int output)
{
	if (it->texts)
		return output ? "" : it->texts;
	return output ? it->output : it->input;
}

static int cmp_items(const void *a, const void *b)
{
	const struct estimate_item *x = &sort_base[*(const size_t *)a];
	const struct estimate_item *y = &sort_base[*(const size_t *)b];
	int c = strcmp(key_of(x, sort_by_output), key_of(y, sort_by_output));

	if (c == 0)
		c = strcmp(key_of(x, !sort_by_output), key_of(y, !sort_by_output));
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* The items' indexes sorted by input (by_output 0) or output. Not thread-safe alone:
 * callers hold sort_mu. */
static size_t *sorted(const struct estimate_item *v, size_t n, int by_output)
{
	size_t *ix = xcalloc(n ? n : 1, sizeof(*ix));

	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	sort_base = v;
	sort_by_output = by_output;
	qsort(ix, n, sizeof(*ix), cmp_items);
	return ix;
}

struct warnings {
	struct dynbuf b;
	size_t n;
};

static void warn(struct warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct warnings *w, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	dynbuf_printf(&w->b, "- %s\n", line);
	w->n++;
}

static int same(const struct estimate_item *a, const struct estimate_item *b, int output)
{
	return strcmp(key_of(a, output), key_of(b, output)) == 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* One input with different outputs: the lines that have it, in order (20 at most). */
static void warn_lines(struct warnings *w, const struct estimate_item *v, const size_t *ix,
		       size_t n)
{
	struct dynbuf lines = DYNBUF_INIT;
	int at[20];
	size_t k;

	for (k = 0; k < n && k < 20; k++)
		at[k] = v[ix[k]].line;
	qsort(at, k, sizeof(*at), cmp_int);
	for (size_t i = 0; i < k; i++)
		dynbuf_printf(&lines, "%s%d", i ? ", " : "", at[i]);
	warn(w, "same input, different outputs: lines %s%s", lines.data, n > k ? ", ..." : "");
	dynbuf_free(&lines);
}

/* Runs of equal inputs: the same example twice, or one input with different outputs. */
static void warn_groups(struct warnings *w, const struct estimate_item *v, const size_t *ix,
			size_t n)
{
	size_t dup = 0, conflict = 0;

	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		int differ = 0;
		while (j < n && same(&v[ix[i]], &v[ix[j]], 0)) {
			if (same(&v[ix[j - 1]], &v[ix[j]], 1)) {
				if (++dup <= ESTIMATE_SHOWN)
					warn(w, "duplicate: line %d repeats line %d", v[ix[j]].line,
					     v[ix[j - 1]].line);
			} else {
				differ = 1;
			}
			j++;
		}
		if (differ && ++conflict <= ESTIMATE_SHOWN)
			warn_lines(w, v, ix + i, j - i);
		i = j;
	}
	if (dup > ESTIMATE_SHOWN)
		warn(w, "duplicate: %zu more", dup - ESTIMATE_SHOWN);
	if (conflict > ESTIMATE_SHOWN)
		warn(w, "same input, different outputs: %zu more inputs",
		     conflict - ESTIMATE_SHOWN);
}

/* Sorted by output, an output's extensions follow it. */
static void warn_prefixes(struct warnings *w, const struct estimate_item *v, const size_t *ix,
			  size_t n)
{
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		const char *a = key_of(&v[ix[i]], 1);
		size_t la = strlen(a);
		if (!la)
			continue;
		for (size_t j = i + 1; j < n && strncmp(a, key_of(&v[ix[j]], 1), la) == 0; j++) {
			if (strlen(key_of(&v[ix[j]], 1)) == la)
				continue;
			if (++found <= ESTIMATE_SHOWN)
				warn(w, "output of line %d is a prefix of the output of line %d",
				     v[ix[i]].line, v[ix[j]].line);
		}
	}
	if (found > ESTIMATE_SHOWN)
		warn(w, "output prefixes: %zu more", found - ESTIMATE_SHOWN);
}

static void warn_limits(struct warnings *w, const struct estimate_item *v, size_t n,
			const struct estimate_facts *f)
{
	size_t over = 0;

	if (f->rules.min_examples > 0 && n < (size_t)f->rules.min_examples)
		warn(w, "only %zu examples: the %s backend needs at least %d (%s)", n, f->backend,
		     f->rules.min_examples, f->rules.limits);
	for (size_t i = 0; f->rules.max_example_tokens > 0 && i < n; i++)
		if (v[i].tokens > f->rules.max_example_tokens && ++over <= ESTIMATE_SHOWN)
			warn(w, "line %d: %ld tokens, over the limit of %ld per example (%s)",
			     v[i].line, v[i].tokens, f->rules.max_example_tokens, f->rules.limits);
	if (over > ESTIMATE_SHOWN)
		warn(w, "over the token limit: %zu more examples", over - ESTIMATE_SHOWN);
}

static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

static void warnings_of(struct warnings *w, const struct estimate_item *v, size_t n,
			const struct estimate_facts *f)
{
	size_t *by_in, *by_out;

	warn_limits(w, v, n, f);
	pthread_mutex_lock(&sort_mu);
	by_in = sorted(v, n, 0);
	by_out = sorted(v, n, 1);
	pthread_mutex_unlock(&sort_mu);
	warn_groups(w, v, by_in, n);
	warn_prefixes(w, v, by_out, n);
	free(by_in);
	free(by_out);
}

static void render_tokens(struct dynbuf *b, const struct estimate_item *v, size_t n,
			  const struct estimate_facts *f, long total)
{
	long *t = xcalloc(n ? n : 1, sizeof(*t));

	for (size_t i = 0; i < n; i++)
		t[i] = v[i].tokens;
	qsort(t, n, sizeof(*t), cmp_long);
	dynbuf_printf(b, "tokens: %ld\n", total);
	if (f->counted_on)
		dynbuf_printf(b, "tokens_counted_by: service (countTokens on %s)\n", f->counted_on);
	else
		dynbuf_printf(b,
			      "tokens_counted_by: local estimate (bytes/4 rounded up, per "
			      "example; %s)\n",
			      f->why_local ? f->why_local : "no count from the service");
	dynbuf_printf(b, "tokens_per_example_min: %ld\n", n ? t[0] : 0);
	dynbuf_printf(b, "tokens_per_example_median: %ld\n",
		      n ? (n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2) : 0);
	dynbuf_printf(b, "tokens_per_example_max: %ld\n", n ? t[n - 1] : 0);
	free(t);
}

char *estimate_render(const struct estimate_item *v, size_t n, const struct estimate_facts *f,
		      size_t *len)
{
	struct dynbuf b = DYNBUF_INIT;
	struct warnings w = {DYNBUF_INIT, 0};
	size_t chars = 0;
	long total = 0;

	for (size_t i = 0; i < n; i++) {
		chars += v[i].chars;
		total += v[i].tokens;
	}
	dynbuf_printf(&b, "backend: %s\n", f->backend);
	dynbuf_printf(&b, "examples: %zu\n", n);
	dynbuf_printf(&b, "characters: %zu\n", chars);
	render_tokens(&b, v, n, f, total);
	dynbuf_printf(&b, "epochs: %d\n", f->epochs);
	dynbuf_printf(&b, "epochs_from: %s\n", f->epochs_from);
	dynbuf_printf(&b, "billable_tokens: %ld\n", total * f->epochs);
	if (f->price_per_mtok >= 0) {
		dynbuf_printf(&b, "price_per_mtok: %g\n", f->price_per_mtok);
		dynbuf_printf(&b, "cost: %.6f\n",
			      (double)total * f->epochs * f->price_per_mtok / 1e6);
	}
	dynbuf_puts(&w.b, "");
	warnings_of(&w, v, n, f);
	dynbuf_printf(&b, "warnings: %zu\n", w.n);
	dynbuf_append(&b, w.b.data, w.b.len);
	dynbuf_free(&w.b);
	return dynbuf_take(&b, len);
}
