/* model_table_results.c - the latest finished answers and failures kept in memory beside
 * the response cache in a ring: what a reader that comes just after a job ended reads.
 * The jobs and their workers are model_table_gen.c's, the answers' lock
 * model_table_answers.c's. */
#include <stdlib.h>
#include <string.h>

#include "cache/model_table_gen.h"
#include "cache/model_table_impl.h"

/* Finished answers and failures kept in memory beside the response cache. */
#define MODEL_TABLE_RESULTS 64

/* The kept one of key, or NULL. Under a->mu. */
static struct model_table_result *result_find(struct model_table_answers *a, const char *key)
{
	for (size_t i = 0; i < a->n_results; i++)
		if (strcmp(a->results[i].key, key) == 0)
			return &a->results[i];
	return NULL;
}

void model_table_result_keep(struct model_table *t, const char *key, int rc, const char *json,
			     size_t len)
{
	struct model_table_answers *a = &t->ans;
	char *copy = json ? xstrndup(json, len) : NULL;
	struct model_table_result *r;

	pthread_mutex_lock(&a->mu);
	if (!a->results)
		a->results = xcalloc(MODEL_TABLE_RESULTS, sizeof *a->results);
	r = &a->results[a->next_result];
	a->next_result = (a->next_result + 1) % MODEL_TABLE_RESULTS;
	if (a->n_results < MODEL_TABLE_RESULTS)
		a->n_results++;
	free(r->json);
	memcpy(r->key, key, RCACHE_KEY_HEX);
	r->rc = rc;
	r->json = copy;
	r->len = len;
	pthread_mutex_unlock(&a->mu);
}

int model_table_result_get(struct model_table *t, const char *key, char **json, size_t *len)
{
	struct model_table_answers *a = &t->ans;
	struct model_table_result *r;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	r = result_find(a, key);
	if (r && r->rc < 0) {
		rc = r->rc;
	} else if (r) {
		rc = 1;
		if (json) {
			*json = xstrndup(r->json, r->len);
			*len = r->len;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void model_table_result_forget(struct model_table *t, const char *key)
{
	struct model_table_result *r;

	pthread_mutex_lock(&t->ans.mu);
	if ((r = result_find(&t->ans, key)))
		r->key[0] = 0;
	pthread_mutex_unlock(&t->ans.mu);
}
