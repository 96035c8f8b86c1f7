/* gemini_backend.c - the Gemini API as backend_gemini_ops: opening it (credentials, HTTP,
 * the google.rpc error reader), and the mapping of its TunedModel and Operation to the
 * neutral tuned_model. The calls themselves are gemini.c's and gemini_create.c's. */
#include "api/backend_impl.h"
#include "api/creds.h"
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "api/google_rpc.h"
#include "api/http.h"
#include "base/loopback.h"
#include "base/rfc3339.h"
#include "base/xalloc.h"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEMINI_DEFAULT_ENDPOINT "https://generativelanguage.googleapis.com"

struct gemini_backend {
	struct creds *creds;
	struct http_client *http;
	struct gemini_client *gc;
	char *identity;
};

/* The Files API's resumable upload answers in these. */
static const char *const gemini_kept_headers[] = {"x-goog-upload-url", "x-goog-upload-status",
						  NULL};

static int gb_open(const struct backend_options *o, void **impl, struct backend_error *err)
{
	const char *ep = o->endpoint ? o->endpoint : GEMINI_DEFAULT_ENDPOINT;
	struct creds_options co = {
	    .api_key_file = o->api_key_file,
	    .token_command = o->token_command,
	    .project = o->project,
	    .token_uri = o->token_uri,
	    .allow_none = loopback_url(ep),
	    .key_header = "x-goog-api-key",
	};
	long budget = o->timeout_ms > 0 ? o->timeout_ms : 600000;
	struct http_options ho = {
	    .endpoint = ep,
	    .generate_timeout_ms = o->generate_timeout_ms > 0 ? o->generate_timeout_ms : budget,
	    /* retries end before a reader waiting on the call gives up, so it reads their
	     * last failure rather than a timeout */
	    .max_retry_ms = budget / 2 < 120000 ? budget / 2 : 120000,
	    .read_error = google_rpc_read_error,
	    .client_header = "x-goog-api-client: tunedfs/" TUNEDFS_VERSION,
	    .keep_headers = gemini_kept_headers,
	};
	struct gemini_backend *g = xcalloc(1, sizeof(*g));
	int rc = 0;

	if (o->bucket || o->location) {
		http_error_set(err, 0, "", "-o %s: the gemini backend has no %s (it is vertex's)",
			       o->bucket ? "bucket" : "location",
			       o->bucket ? "bucket" : "location");
		rc = -EINVAL;
	}
	/* The private server takes no credentials: sending the user's would leak an API key
	 * to it, or make an ADC refresh reach out to the network for nothing. */
	if (rc == 0 && !o->no_credentials)
		rc = creds_new(&co, &g->creds, err);
	if (rc == 0)
		rc = http_client_new(&ho, creds_auth(g->creds), &g->http, err);
	if (rc == 0)
		rc = gemini_client_new(g->http, &g->gc);
	if (rc == 0)
		g->gc->batch_inline_max = o->batch_inline_max;
	if (rc < 0) {
		http_client_free(g->http);
		creds_free(g->creds);
		free(g);
		return rc;
	}
	g->identity = xstrdup(ep); /* as before backends existed: the same directories */
	*impl = g;
	return 0;
}

static void gb_close(void *impl)
{
	struct gemini_backend *g = impl;

	gemini_client_free(g->gc);
	http_client_free(g->http);
	creds_free(g->creds);
	free(g->identity);
	free(g);
}

static const char *gb_credentials_kind(void *impl)
{
	return creds_kind(((struct gemini_backend *)impl)->creds);
}

static const char *gb_identity(void *impl)
{
	return ((struct gemini_backend *)impl)->identity;
}

static int gb_check_id(const char *id, char *why, size_t len)
{
	if (gemini_valid_model_id(id))
		return 1;
	snprintf(why, len,
		 "not a valid tunedModelId (1-40 of a-z 0-9 -, starting with a letter, not "
		 "ending with -)");
	return 0;
}

/* The tutorial's lines only: native lines and a system instruction are other services'. */
static int gb_check_request(const struct tuning_request *r, char *why, size_t len)
{
	char where[120];

	for (size_t i = 0; i < r->n_examples; i++)
		if (r->examples[i].native) {
			tuning_example_where(&r->examples[i], i, "examples.jsonl", where,
					     sizeof where);
			snprintf(why, len,
				 "%s: the Gemini API tunes from {\"text_input\", \"output\"} "
				 "lines only",
				 where);
			return -EINVAL;
		}
	if (r->settings.adapter_size) {
		snprintf(why, len,
			 "config: adapter_size: Gemini API tuning has no adapter size; remove "
			 "the key");
		return -EINVAL;
	}
	if (r->system_instruction) {
		snprintf(why, len,
			 "config: system_instruction: Gemini API tuning has no system "
			 "instruction; remove the key");
		return -EINVAL;
	}
	return 0;
}

static const char *gb_bare_id(const char *name)
{
	return name && strncmp(name, "tunedModels/", 12) == 0 ? name + 12 : name;
}

static void gb_snapshots(struct tuning_snapshot **out, size_t *n_out,
			 const struct gemini_snapshot *s, size_t n)
{
	free(*out);
	*out = NULL;
	*n_out = n;
	if (!n)
		return;
	*out = xcalloc(n, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		(*out)[i].step = s[i].step;
		(*out)[i].epoch = s[i].epoch;
		(*out)[i].mean_loss = s[i].mean_loss;
		(*out)[i].at = rfc3339_parse(s[i].compute_time);
	}
}

static enum backend_state gb_state(enum gemini_model_state s)
{
	switch (s) {
	case GEMINI_MODEL_ACTIVE:
		return BACKEND_ACTIVE;
	case GEMINI_MODEL_FAILED:
		return BACKEND_FAILED;
	case GEMINI_MODEL_CREATING:
		return BACKEND_CREATING;
	default:
		return BACKEND_STATE_UNKNOWN;
	}
}

/* Takes g's strings into out (g is left cleared); the job is not the model's to say. */
static void gb_model(struct gemini_tuned_model *g, struct tuned_model *out)
{
	memset(out, 0, sizeof(*out));
	out->id = xstrdup(gb_bare_id(g->name) ? gb_bare_id(g->name) : "");
	out->version = g->update_time;
	out->display_name = g->display_name;
	out->description = g->description;
	out->base_model = g->base_model;
	out->source_model = g->source_model ? xstrdup(gb_bare_id(g->source_model)) : NULL;
	out->state = gb_state(g->state);
	out->created = rfc3339_parse(g->create_time);
	out->updated = rfc3339_parse(g->update_time);
	out->settings.epochs = g->epoch_count;
	out->settings.batch_size = g->batch_size;
	out->settings.learning_rate = g->learning_rate;
	out->settings.learning_rate_multiplier = g->learning_rate_multiplier;
	out->generation.has_temperature = g->has_temperature;
	out->generation.has_top_p = g->has_top_p;
	out->generation.has_top_k = g->has_top_k;
	out->generation.temperature = g->temperature;
	out->generation.top_p = g->top_p;
	out->generation.top_k = g->top_k;
	out->percent = -1;
	gb_snapshots(&out->snapshots, &out->n_snapshots, g->snapshots, g->n_snapshots);
	out->raw_json = g->json;
	free(g->source_model);
	free(g->name);
	free(g->create_time);
	free(g->snapshots);
	memset(g, 0, sizeof(*g));
}

/* Takes the page's models v (n of them) into out. */
static void gb_page(struct gemini_tuned_model *v, size_t n, struct model_page *out)
{
	out->v = xcalloc(n ? n : 1, sizeof(*out->v));
	for (size_t i = 0; i < n; i++)
		gb_model(&v[i], &out->v[i]);
	out->n = n;
	free(v);
}

static int gb_list(void *impl, const char *token, struct model_page *out, struct backend_cancel *c,
		   struct backend_error *err)
{
	struct gemini_backend *g = impl;
	struct gemini_tuned_model *v = NULL;
	size_t n = 0;
	int rc = gemini_list_page(g->gc, token, c, &v, &n, &out->next, err);

	if (rc < 0)
		return rc;
	gb_page(v, n, out);
	return 0;
}

static int gb_list_fetch(void *impl, const char *token, void **raw, char **ahead,
			 struct backend_cancel *c, struct backend_error *err)
{
	struct gemini_backend *g = impl;
	struct http_response *resp = xcalloc(1, sizeof(*resp));
	int rc = gemini_list_request(g->gc, token, c, resp, err);

	if (rc < 0) {
		http_response_clear(resp);
		free(resp);
		return rc;
	}
	*raw = resp;
	*ahead = gemini_scan_next_token(resp->body, resp->len);
	return 0;
}

static int gb_list_parse(void *impl, void *raw, struct model_page *out, struct backend_error *err)
{
	struct http_response *resp = raw;
	struct gemini_tuned_model *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	(void)impl;
	/* the body is NUL-terminated (http.h): the page is read where it lies */
	if (out &&
	    gemini_parse_model_page_nul(resp->body, resp->len, &v, &n, &cap, &out->next) < 0) {
		rc = gemini_malformed(resp, "the list page", err);
		gemini_tuned_models_free(v, n);
		free(out->next);
		out->next = NULL;
	} else if (out) {
		gb_page(v, n, out);
	}
	http_response_clear(resp);
	free(resp);
	return rc;
}

static int gb_get(void *impl, const char *id, struct tuned_model *out, struct backend_cancel *c,
		  struct backend_error *err)
{
	struct gemini_backend *g = impl;
	struct gemini_tuned_model m;
	int rc = gemini_get_tuned_model(g->gc, id, c, &m, err);

	if (rc == 0)
		gb_model(&m, out);
	return rc;
}

/* An operation's progress into m: steps, percent, its snapshots, its job name. */
static void gb_operation(const struct gemini_operation *op, struct tuned_model *m)
{
	m->total_steps = op->total_steps ? op->total_steps : m->total_steps;
	m->completed_steps = op->completed_steps;
	m->percent = op->completed_percent;
	if (op->n_snapshots)
		gb_snapshots(&m->snapshots, &m->n_snapshots, op->snapshots, op->n_snapshots);
	if (op->name && (!m->job || strcmp(m->job, op->name) != 0)) {
		free(m->job);
		m->job = xstrdup(op->name);
	}
}

static int gb_create(void *impl, const struct tuning_request *r, struct tuned_model *out,
		     struct backend_cancel *c, struct backend_error *err)
{
	struct gemini_backend *g = impl;
	struct gemini_operation op;
	int rc = gemini_create_tuned_model(g->gc, r, c, &op, err);

	if (rc < 0)
		return rc;
	out->id = xstrdup(r->id);
	out->state = op.done ? BACKEND_ACTIVE : BACKEND_CREATING;
	out->percent = -1;
	gb_operation(&op, out);
	if (!out->job)
		out->job = xstrdup(""); /* no operation found: the model alone says */
	gemini_operation_clear(&op);
	return 0;
}

/* The model again after its operation ended, keeping what the operation said. */
static int gb_refetch(struct gemini_backend *g, struct tuned_model *m, struct backend_cancel *c,
		      struct backend_error *err)
{
	struct tuned_model fresh;
	struct gemini_tuned_model gm;
	int rc = gemini_get_tuned_model(g->gc, m->id, c, &gm, err);

	if (rc < 0)
		return rc;
	gb_model(&gm, &fresh);
	fresh.job = m->job;
	fresh.total_steps = m->total_steps;
	fresh.completed_steps = m->completed_steps;
	fresh.percent = m->percent;
	if (m->n_snapshots) {
		free(fresh.snapshots);
		fresh.snapshots = m->snapshots;
		fresh.n_snapshots = m->n_snapshots;
		m->snapshots = NULL;
	}
	m->job = NULL;
	tuned_model_clear(m);
	*m = fresh;
	return 0;
}

/* Through the model's operation (its job; found by the model's name when not known, and
 * "" once known to be absent); the model itself is fetched again when the operation ended
 * or there is none. A failed operation's message is m->failure. */
static int gb_progress(void *impl, struct tuned_model *m, struct backend_cancel *c,
		       struct backend_error *err)
{
	struct gemini_backend *g = impl;
	struct gemini_operation op = {0};
	int rc = -ENOENT, done;

	if (m->job && *m->job)
		rc = gemini_get_operation(g->gc, m->job, c, &op, err);
	if (rc == -ENOENT && !(m->job && !*m->job))
		rc = gemini_find_operation(g->gc, m->id, c, &op, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		gb_operation(&op, m);
	} else {
		free(m->job);
		m->job = xstrdup("");
	}
	done = rc == 0 ? op.done : 1;
	if (done) {
		rc = gb_refetch(g, m, c, err);
		if (rc == 0 && op.has_error) {
			if (m->state == BACKEND_CREATING)
				m->state = BACKEND_FAILED;
			free(m->failure);
			m->failure = op.error_message ? xstrdup(op.error_message) : NULL;
		}
	}
	gemini_operation_clear(&op);
	return rc;
}

static int gb_remove(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err)
{
	struct gemini_backend *g = impl;
	int rc = gemini_delete_tuned_model(g->gc, m->id, c, err);

	return rc == -ENOENT ? 0 : rc; /* gone already: what was wanted */
}

static int gb_generate(void *impl, const struct tuned_model *m, const char *prompt,
		       const struct generation_settings *gs, struct generation_answer *out,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct gemini_backend *g = impl;

	return gemini_generate(g->gc, m->id, prompt, gs, c, out, err);
}

/* On the model's base model when known (the service binds countTokens to models/ only, and
 * a tuned model counts as its base does), else on the tuned model itself. */
static int gb_count_tokens(void *impl, const struct tuned_model *m, const char *const *texts,
			   size_t n_texts, long *n, struct backend_cancel *c,
			   struct backend_error *err)
{
	struct gemini_backend *g = impl;
	const char *name = m->base_model ? m->base_model : m->id;

	if (!name) {
		http_error_set(err, 0, "", "no model to count tokens on");
		return -EINVAL;
	}
	return gemini_count_tokens(g->gc, name, texts, n_texts, c, n, err);
}

/* Gemini API tuning guide: "as few as 20" examples; epochCount defaults to 5; an
 * example's limits are characters (40,000 in, 5,000 out), which the examples parser checks
 * when examples.jsonl is written, so no token limit here. */
static void gb_dataset_rules(size_t n_examples, struct backend_dataset_rules *out)
{
	(void)n_examples;
	out->min_examples = 20;
	out->max_input_chars = 40000;
	out->max_output_chars = 5000;
	out->default_epochs = 5;
	out->limits = "Gemini API tuning guide";
}

static int gb_generate_stream(void *impl, const struct tuned_model *m, const char *prompt,
			      const struct generation_settings *gs, backend_text_fn on_text,
			      void *arg, struct generation_answer *out, struct backend_cancel *c,
			      struct backend_error *err)
{
	struct gemini_backend *g = impl;

	return gemini_generate_stream(g->gc, m->id, prompt, gs, on_text, arg, c, out, err);
}

static int gb_read_answer(const char *raw, size_t len, struct generation_answer *out)
{
	return gemini_parse_generation(raw, len, out);
}

struct gemini_client *gemini_backend_client(void *impl)
{
	return ((struct gemini_backend *)impl)->gc;
}

static void gb_stats(void *impl, struct backend_stats *out)
{
	struct gemini_backend *g = impl;
	struct http_stats hs;

	http_client_stats(g->http, &hs);
	out->requests = hs.requests;
	out->retries = hs.retries;
	out->failures = hs.failures;
	creds_stats(g->creds, &out->token_refreshes, &out->token_failures);
}

const struct backend_ops backend_gemini_ops = {
    .name = "gemini",
    .caps = BACKEND_CAN_COUNT_TOKENS | BACKEND_CAN_STREAM | BACKEND_HAS_SOURCE_MODEL |
	    BACKEND_HAS_LEARNING_RATE | BACKEND_HAS_LR_MULTIPLIER | BACKEND_HAS_MODEL_GENERATION,
    .open = gb_open,
    .close = gb_close,
    .credentials_kind = gb_credentials_kind,
    .identity = gb_identity,
    .check_id = gb_check_id,
    .check_request = gb_check_request,
    .list = gb_list,
    .list_fetch = gb_list_fetch,
    .list_parse = gb_list_parse,
    .get = gb_get,
    .create = gb_create,
    .progress = gb_progress,
    .remove = gb_remove,
    .generate = gb_generate,
    .count_tokens = gb_count_tokens,
    .generate_stream = gb_generate_stream,
    .read_answer = gb_read_answer,
    .stats = gb_stats,
    .dataset_rules = gb_dataset_rules,
    .batch = &gemini_batch_ops,
};
