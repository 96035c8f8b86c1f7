/* model_table_results.c - the latest finished answers and failures, kept in memory beside the
 * response cache in a ring: what a reader that comes just after a job ended reads. The jobs
 * themselves are model_table_gen.c's. */
#include <stdlib.h>
#include <string.h>

#include "cache/model_table_gen.h"
#include "cache/model_table_impl.h"

/* Finished answers and failures kept in memory beside the response cache. */
#define MODEL_TABLE_RESULTS 64

/* Keeps a finished answer or failure among the latest. Under t->mu. */
void model_table_result_keep(struct model_table *t, const char *key, int rc, const char *json,
			     size_t len)
{
	struct model_table_result *r;

	if (!t->results)
		t->results = xcalloc(MODEL_TABLE_RESULTS, sizeof *t->results);
	r = &t->results[t->next_result];
	t->next_result = (t->next_result + 1) % MODEL_TABLE_RESULTS;
	if (t->n_results < MODEL_TABLE_RESULTS)
		t->n_results++;
	free(r->json);
	memcpy(r->key, key, RCACHE_KEY_HEX);
	r->rc = rc;
	r->json = json ? xstrndup(json, len) : NULL;
	r->len = len;
}

struct model_table_result *model_table_result_find(struct model_table *t, const char *key)
{
	for (size_t i = 0; i < t->n_results; i++)
		if (strcmp(t->results[i].key, key) == 0)
			return &t->results[i];
	return NULL;
}

void model_table_result_forget(struct model_table *t, const char *key)
{
	struct model_table_result *r = model_table_result_find(t, key);
	if (r)
		r->key[0] = 0;
}
