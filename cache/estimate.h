/* estimate.h - the figures and warnings of a draft's `estimate` file, from its parsed
 * examples and the token counts: pure functions, no I/O. Reading the drafts, counting
 * with the service and caching the counts is model_table_estimate.c's. */
#ifndef TUNEDFS_ESTIMATE_H
#define TUNEDFS_ESTIMATE_H

#include <stddef.h>

#include "api/backend.h"

/* One example as the estimate sees it. */
struct estimate_item {
	const char *input, *output; /* the tutorial's pair (not owned); NULL for a native line */
	char *texts;		    /* a native line: the text of its turns, joined (owned) */
	int line;		    /* in examples.jsonl, from 1 */
	size_t chars, bytes;	    /* of its text, input and output */
	long tokens;
};

/* What the figures were made from. */
struct estimate_facts {
	const char *backend;
	const char *counted_on; /* the model whose countTokens counted; NULL: a local estimate */
	const char *why_local;	/* when counted_on is NULL: why */
	int epochs;
	const char *epochs_from; /* "config", or how the default was found */
	struct backend_dataset_rules rules;
	double price_per_mtok; /* < 0: no cost line */
};

/* The items of req's examples with their line numbers in text (the examples.jsonl they
 * were parsed from): 0, or -ENOMEM-free abort on no memory. */
int estimate_items(const char *text, size_t len, const struct tuning_request *req,
		   struct estimate_item **out, size_t *n);
void estimate_items_free(struct estimate_item *v, size_t n);
/* The texts countTokens is asked about for item it (1 or 2 of them): how many. */
size_t estimate_texts(const struct estimate_item *it, const char *out[2]);
/* The local estimate: a token per 4 bytes, rounded up, per example. */
void estimate_local_tokens(struct estimate_item *v, size_t n);
/* Shares a service's total among the items by their bytes (exactly their bytes when the
 * total is their sum), so that the items add up to it. */
void estimate_share(struct estimate_item *v, size_t n, long total);
/* The file: "key: value" lines, then "warnings: N" and one "- ..." line per warning. */
char *estimate_render(const struct estimate_item *v, size_t n, const struct estimate_facts *f,
		      size_t *len);

#endif
