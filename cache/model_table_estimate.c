/* model_table_estimate.c - a draft's `estimate`: its examples and config read from the draft
 * store, the tokens counted by the service on the base model (in as few requests as the
 * size allows) or estimated locally, the count kept per examples content so that reading
 * the file again asks nothing. The figures and warnings are estimate.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cache/estimate.h"
#include "cache/model_index.h"
#include "cache/model_table_impl.h"
#include "cache/spec.h"

#define EST_CACHED	  32	     /* counts kept, the oldest replaced first */
#define EST_REQUEST_BYTES (4u << 20) /* of text in one countTokens request */
#define EST_MAX_REQUESTS  64	     /* beyond, the local estimate */

struct est_count {
	unsigned char key[32]; /* SHA-256 of service, model and examples */
	long total;
	int used;
};

/* The counts, and one count at a time: a second reader of the same estimate waits for
 * the first one's count instead of asking again. */
static pthread_mutex_t est_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t est_count_mu = PTHREAD_MUTEX_INITIALIZER;
static struct est_count est_cache[EST_CACHED];
static size_t est_next;

static void est_key(struct backend *b, const char *model, const char *ex, size_t len,
		    unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		xalloc_die(0);
	EVP_DigestUpdate(ctx, backend_identity(b), strlen(backend_identity(b)) + 1);
	EVP_DigestUpdate(ctx, model, strlen(model) + 1);
	EVP_DigestUpdate(ctx, ex, len);
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

static int est_lookup(const unsigned char key[32], long *total)
{
	int found = 0;

	pthread_mutex_lock(&est_mu);
	for (size_t i = 0; i < EST_CACHED && !found; i++)
		if (est_cache[i].used && memcmp(est_cache[i].key, key, 32) == 0) {
			*total = est_cache[i].total;
			found = 1;
		}
	pthread_mutex_unlock(&est_mu);
	return found;
}

static void est_store(const unsigned char key[32], long total)
{
	pthread_mutex_lock(&est_mu);
	memcpy(est_cache[est_next].key, key, 32);
	est_cache[est_next].total = total;
	est_cache[est_next].used = 1;
	est_next = (est_next + 1) % EST_CACHED;
	pthread_mutex_unlock(&est_mu);
}

/* The service's count of every item's texts: requests of at most EST_REQUEST_BYTES of
 * text each (one for most datasets), summed. */
static int est_ask(struct model_table *t, const char *model, const struct estimate_item *v,
		   size_t n, long *total, char *why, size_t why_len)
{
	struct tuned_model m = {0};
	const char **texts = xcalloc(2 * n + 1, sizeof(*texts));
	size_t i = 0;
	int rc = 0, requests = 0;

	m.base_model = (char *)model;
	*total = 0;
	while (rc == 0 && i < n) {
		struct backend_error err = {0};
		size_t k = 0, bytes = 0;
		long part = 0;

		do {
			k += estimate_texts(&v[i], texts + k);
			bytes += v[i].bytes;
			i++;
		} while (i < n && bytes + v[i].bytes <= EST_REQUEST_BYTES);
		if (++requests > EST_MAX_REQUESTS) {
			snprintf(why, why_len, "more text than %d requests may count",
				 EST_MAX_REQUESTS);
			rc = -E2BIG;
			break;
		}
		rc = backend_count_tokens_many(t->o.backend, &m, texts, k, &part, &t->bg_cancel,
					       &err);
		if (rc < 0)
			snprintf(why, why_len, "countTokens failed: %s", err.message);
		*total += part;
	}
	free(texts);
	return rc;
}

/* Where the tokens come from: the service's count on the config's base model, else the
 * local rule with the reason in facts. */
static void est_tokens(struct model_table *t, const struct tuning_request *req, const char *ex,
		       size_t len, struct estimate_item *v, size_t n, struct estimate_facts *f,
		       char *why, size_t why_len)
{
	unsigned char key[32];
	long total = 0;
	int rc;

	f->counted_on = NULL;
	if (!t->o.backend || !(backend_caps(t->o.backend) & BACKEND_CAN_COUNT_TOKENS))
		snprintf(why, why_len, "the %s backend has no countTokens", f->backend);
	else if (!req->base_model)
		snprintf(why, why_len, "no base_model in a valid config yet");
	if (why[0]) {
		f->why_local = why;
		estimate_local_tokens(v, n);
		return;
	}
	est_key(t->o.backend, req->base_model, ex, len, key);
	pthread_mutex_lock(&est_count_mu);
	rc = est_lookup(key, &total) ? 0 : est_ask(t, req->base_model, v, n, &total, why, why_len);
	if (rc == 0)
		est_store(key, total);
	pthread_mutex_unlock(&est_count_mu);
	if (rc < 0) {
		f->why_local = why;
		estimate_local_tokens(v, n);
		return;
	}
	f->counted_on = req->base_model;
	estimate_share(v, n, total);
}

/* The examples and config of a draft, parsed: 0, or -ENOENT when examples.jsonl is not
 * there or does not parse. cfg/cfg_len get the config text (NULL when none). */
static int est_read(struct model_table *t, const char *id, struct tuning_request *req, char **ex,
		    size_t *len, char **cfg, size_t *cfg_len)
{
	char msg[600];

	*cfg = NULL;
	*cfg_len = 0;
	if (model_table_read_draft(t, id, MODEL_TABLE_EXAMPLES, ex, len) < 0)
		return -ENOENT;
	if (model_table_parse_examples(t, *ex, *len, req, msg, sizeof msg) < 0) {
		free(*ex);
		*ex = NULL;
		return -ENOENT;
	}
	if (model_table_read_draft(t, id, MODEL_TABLE_CONFIG, cfg, cfg_len) == 0)
		spec_parse_config(*cfg, *cfg_len, req, msg, sizeof msg);
	return 0;
}

int model_table_estimate_ready(struct model_table *t, const char *id)
{
	struct tuning_request req = {0};
	char *ex = NULL, *cfg = NULL;
	size_t len, cfg_len;
	int rc = est_read(t, id, &req, &ex, &len, &cfg, &cfg_len);

	tuning_request_clear(&req);
	free(ex);
	free(cfg);
	return rc;
}

static void est_epochs(struct model_table *t, const char *cfg, size_t cfg_len, size_t n,
		       struct estimate_facts *f, char *buf, size_t buf_len)
{
	double v;

	if (t->o.backend)
		backend_dataset_rules(t->o.backend, n, &f->rules);
	if (cfg && spec_config_number(cfg, cfg_len, "epoch_count", &v) == 0) {
		f->epochs = (int)v;
		f->epochs_from = "config";
		return;
	}
	f->epochs = f->rules.default_epochs > 0 ? f->rules.default_epochs : 1;
	snprintf(buf, buf_len, "%s of the %s backend (no epoch_count in config)%s",
		 f->rules.epochs_assumed ? "assumed default" : "default", f->backend,
		 f->rules.epochs_assumed ? "; the service picks its own" : "");
	f->epochs_from = buf;
}

int model_table_estimate(struct model_table *t, const char *id, double price_per_mtok, char **out,
			 size_t *len)
{
	struct tuning_request req = {0};
	struct estimate_facts f = {0};
	struct estimate_item *v = NULL;
	char *ex = NULL, *cfg = NULL, why[600] = "", epochs[200];
	size_t ex_len, cfg_len, n = 0;
	double price;
	int rc = est_read(t, id, &req, &ex, &ex_len, &cfg, &cfg_len);

	if (rc < 0)
		return rc;
	f.backend = t->o.backend ? backend_name(t->o.backend) : "none";
	f.price_per_mtok = price_per_mtok;
	if (cfg && spec_config_number(cfg, cfg_len, "price_per_mtok", &price) == 0)
		f.price_per_mtok = price; /* the draft's own price wins over the mount's */
	estimate_items(ex, ex_len, &req, &v, &n);
	est_epochs(t, cfg, cfg_len, n, &f, epochs, sizeof epochs);
	if (req.source_model)
		snprintf(why, sizeof why, "the config tunes from a tuned model (source_model)");
	est_tokens(t, &req, ex, ex_len, v, n, &f, why, sizeof why);
	*out = estimate_render(v, n, &f, len);
	estimate_items_free(v, n);
	tuning_request_clear(&req);
	free(ex);
	free(cfg);
	return 0;
}
