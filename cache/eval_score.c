/* eval_score.c - the pure half of eval/: an eval file's examples read in the formats of
 * examples.jsonl, and the scores of the answers to them (exact and normalised matches,
 * character similarity) written as the `.result` text and the `.out.jsonl` lines. No I/O,
 * no model table; the store and the requests are eval.c's and model_table_eval.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "cache/eval.h"
#include "cache/spec.h"

#define EVAL_SIM_MAX 4096 /* code points compared per string */
#define EVAL_WORST   10

void eval_items_free(struct eval_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].input);
		free(v[i].expected);
		free(v[i].got);
	}
	free(v);
}

/* The text of a turn: a "content" string, or its "parts"[].text joined. */
static char *turn_text(const cJSON *turn)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(turn, "content");
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(turn, "parts"), *p;
	struct dynbuf b = {0};

	if (cJSON_IsString(c))
		return xstrdup(c->valuestring);
	cJSON_ArrayForEach(p, parts)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
		if (cJSON_IsString(t))
			dynbuf_puts(&b, t->valuestring);
	}
	return dynbuf_take(&b, NULL);
}

/* A native line's last user turn and last model turn. */
static int native_pair(const cJSON *turns, char **in, char **out)
{
	const cJSON *t, *user = NULL, *model = NULL;

	cJSON_ArrayForEach(t, turns)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(t, "role");
		if (!cJSON_IsString(role))
			continue;
		if (strcmp(role->valuestring, "user") == 0)
			user = t;
		else if (strcmp(role->valuestring, "model") == 0 ||
			 strcmp(role->valuestring, "assistant") == 0)
			model = t;
	}
	if (!user || !model)
		return -EINVAL;
	*in = turn_text(user);
	*out = turn_text(model);
	return 0;
}

/* One example from a line that spec_parse_examples accepted. */
static int line_pair(const char *s, size_t n, char **in, char **out)
{
	cJSON *o = cJSON_ParseWithLength(s, n);
	const cJSON *ti, *ou, *turns;
	int rc = -EINVAL;

	if (!o)
		return -EINVAL;
	ti = cJSON_GetObjectItemCaseSensitive(o, "text_input");
	if (!ti)
		ti = cJSON_GetObjectItemCaseSensitive(o, "textInput");
	ou = cJSON_GetObjectItemCaseSensitive(o, "output");
	turns = cJSON_GetObjectItemCaseSensitive(o, "contents");
	if (!turns)
		turns = cJSON_GetObjectItemCaseSensitive(o, "messages");
	if (cJSON_IsString(ti) && cJSON_IsString(ou)) {
		*in = xstrdup(ti->valuestring);
		*out = xstrdup(ou->valuestring);
		rc = 0;
	} else if (cJSON_IsArray(turns)) {
		rc = native_pair(turns, in, out);
	}
	cJSON_Delete(o);
	return rc;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int blank(const char *s, const char *e)
{
	while (s < e && is_space(*s))
		s++;
	return s == e;
}

/* "examples.jsonl: line 3: why" from the parser, named as the eval file. */
static void rename_msg(const char *file, char *msg, size_t msg_len)
{
	const char *rest = strncmp(msg, "examples.jsonl", 14) == 0 ? msg + 14 : "";
	char *m = xasprintf("eval/%s%s", file, rest);

	snprintf(msg, msg_len, "%s", m);
	free(m);
}

int eval_parse(const char *file, const char *data, size_t len, struct eval_item **out, size_t *n,
	       char *msg, size_t msg_len)
{
	struct tuning_request req = {0};
	const char *p = data, *end = data + len;
	struct eval_item *v;
	size_t k = 0;
	int line = 0, rc = 0;

	*out = NULL;
	*n = 0;
	if (blank(data, end) ||
	    (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 && blank(data + 3, end)))
		return 0;
	if (spec_parse_examples(data, len, NULL, &req, msg, msg_len) < 0) {
		rename_msg(file, msg, msg_len);
		return -EINVAL;
	}
	v = xcalloc(req.n_examples, sizeof *v);
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && k < req.n_examples && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		line++;
		if (!blank(p, le)) {
			v[k].line = line;
			rc = line_pair(p, (size_t)(le - p), &v[k].input, &v[k].expected);
			if (rc < 0)
				snprintf(msg, msg_len,
					 "eval/%s: line %d: no user turn and model turn to compare",
					 file, line);
			k++;
		}
		p = nl ? nl + 1 : end;
	}
	for (size_t i = 0; i < req.n_examples; i++) {
		free(req.examples[i].input);
		free(req.examples[i].output);
		free(req.examples[i].native);
	}
	free(req.examples);
	if (rc < 0) {
		eval_items_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Code points of s (a byte of invalid UTF-8 counts as one), at most max. */
static size_t code_points(const char *s, unsigned *out, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t left = strlen(s), n = 0;

	while (left && n < max) {
		size_t l = *u < 0x80 ? 1 : *u < 0xe0 ? 2 : *u < 0xf0 ? 3 : 4;
		unsigned c = 0;
		if (l > left || spec_utf8_valid(u, l) != l)
			l = 1;
		for (size_t i = 0; i < l; i++)
			c = (c << 8) | u[i];
		out[n++] = c;
		u += l;
		left -= l;
	}
	return n;
}

double eval_similarity(const char *a, const char *b)
{
	unsigned *x = xmalloc(EVAL_SIM_MAX * sizeof *x), *y = xmalloc(EVAL_SIM_MAX * sizeof *y);
	size_t n = code_points(a, x, EVAL_SIM_MAX), m = code_points(b, y, EVAL_SIM_MAX);
	size_t *row = xmalloc((m + 1) * sizeof *row), longest = n > m ? n : m;
	double sim;

	for (size_t j = 0; j <= m; j++)
		row[j] = j;
	for (size_t i = 1; i <= n; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t up = row[j], best = diag + (x[i - 1] != y[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	sim = longest ? 1.0 - (double)row[m] / (double)longest : 1.0;
	free(x);
	free(y);
	free(row);
	return sim;
}

int eval_normal_equal(const char *a, const char *b)
{
	const char *ae = a + strlen(a), *be = b + strlen(b);

	while (a < ae && is_space(*a))
		a++;
	while (ae > a && is_space(ae[-1]))
		ae--;
	while (b < be && is_space(*b))
		b++;
	while (be > b && is_space(be[-1]))
		be--;
	if (ae - a != be - b)
		return 0;
	for (; a < ae; a++, b++) {
		char p = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		char q = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
		if (p != q)
			return 0;
	}
	return 1;
}

static int cmp_worst(const void *pa, const void *pb)
{
	const struct eval_item *a = *(const struct eval_item *const *)pa;
	const struct eval_item *b = *(const struct eval_item *const *)pb;

	if (a->similarity != b->similarity)
		return a->similarity < b->similarity ? -1 : 1;
	return a->line - b->line;
}

/* A JSON string of s, for the result's text. */
static void put_quoted(struct dynbuf *b, const char *label, const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *q = cJSON_PrintUnformatted(j);

	dynbuf_printf(b, "  %s: %s\n", label, q ? q : "\"\"");
	free(q);
	cJSON_Delete(j);
}

static void put_line(struct dynbuf *b, const struct eval_item *it)
{
	cJSON *o = cJSON_CreateObject();
	char *s, sim[32];

	cJSON_AddNumberToObject(o, "line", it->line);
	cJSON_AddStringToObject(o, "input", it->input);
	cJSON_AddStringToObject(o, "expected", it->expected);
	cJSON_AddStringToObject(o, "got", it->got ? it->got : "");
	cJSON_AddBoolToObject(o, "match", it->match);
	cJSON_AddBoolToObject(o, "normalised_match", it->normalised);
	snprintf(sim, sizeof sim, "%.4f", it->similarity);
	cJSON_AddItemToObject(o, "similarity", cJSON_CreateRaw(sim));
	s = cJSON_PrintUnformatted(o);
	dynbuf_puts(b, s);
	dynbuf_puts(b, "\n");
	free(s);
	cJSON_Delete(o);
}

void eval_score(struct eval_item *v, size_t n, char **result, size_t *result_len, char **lines,
		size_t *lines_len)
{
	struct eval_item **worst = xcalloc(n ? n : 1, sizeof *worst);
	size_t exact = 0, normal = 0, nw = 0;
	struct dynbuf r = {0}, l = {0};
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		const char *got = v[i].got ? v[i].got : "";
		v[i].match = strcmp(got, v[i].expected) == 0;
		v[i].normalised = eval_normal_equal(got, v[i].expected);
		v[i].similarity = eval_similarity(v[i].expected, got);
		exact += (size_t)v[i].match;
		normal += (size_t)v[i].normalised;
		sum += v[i].similarity;
		if (!v[i].match)
			worst[nw++] = &v[i];
		put_line(&l, &v[i]);
	}
	dynbuf_printf(&r, "examples: %zu\n", n);
	dynbuf_printf(&r, "exact_match: %zu\nexact_match_rate: %.4f\n", exact,
		      n ? (double)exact / (double)n : 0.0);
	dynbuf_printf(&r, "normalised_match: %zu\nnormalised_match_rate: %.4f\n", normal,
		      n ? (double)normal / (double)n : 0.0);
	dynbuf_printf(&r, "mean_similarity: %.4f\n", n ? sum / (double)n : 0.0);
	if (nw > 1)
		qsort(worst, nw, sizeof *worst, cmp_worst);
	if (nw > EVAL_WORST)
		nw = EVAL_WORST;
	dynbuf_printf(&r, "worst: %zu\n", nw);
	for (size_t i = 0; i < nw; i++) {
		dynbuf_printf(&r, "line %d: similarity %.4f\n", worst[i]->line,
			      worst[i]->similarity);
		put_quoted(&r, "input", worst[i]->input);
		put_quoted(&r, "expected", worst[i]->expected);
		put_quoted(&r, "got", worst[i]->got ? worst[i]->got : "");
	}
	free(worst);
	*result = dynbuf_take(&r, result_len);
	*lines = dynbuf_take(&l, lines_len);
}
