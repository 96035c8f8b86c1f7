/* examples.c - training examples read from JSONL text, one a line, each line read by the
 * family's own reader (its wire shape and its messages stay in the family). No files, no
 * store: the caller gives the text and keeps the examples. */
#include <errno.h>
#include <stdlib.h>

#include "base/xalloc.h"
#include "server/json_util.h"
#include "server/store.h"

struct examples {
	struct srv_example *v;
	size_t n, cap;
	srv_example_line_fn one;
};

static int add_line(void *ctx, const cJSON *j, char *why, size_t why_len)
{
	struct examples *e = ctx;
	if (e->n == e->cap)
		e->v = xrealloc(e->v, (e->cap = e->cap ? e->cap * 2 : 64) * sizeof(*e->v));
	int rc = e->one(j, &e->v[e->n], why, why_len);
	if (rc == 0)
		e->n++;
	return rc;
}

int srv_examples_jsonl(const char *text, size_t len, size_t max, srv_example_line_fn one,
		       struct srv_example **out, size_t *n_out, char *why, size_t why_len)
{
	struct examples e = {.one = one};
	if (srv_jsonl_each(text, len, max, add_line, &e, why, why_len)) {
		srv_examples_free(e.v, e.n);
		return -EINVAL;
	}
	if (!e.n) {
		free(e.v);
		e.v = NULL;
	}
	*out = e.v;
	*n_out = e.n;
	return 0;
}
