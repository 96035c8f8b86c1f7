/* gemini_create.c - tunedModels.create, idempotent per id: the id is always sent, so a 409
 * is checked against the model found, and a retried create's own earlier success is its
 * answer (the one rule of it in tunedfs).
 * The body itself is built in gemini_body.c. */
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "api/http.h"
#include "base/rfc3339.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEMINI_RECENT_S (15 * 60) /* a create this much older is someone else's */

/* A name without its collection prefix ("models/x" and "x" are the same base model). */
static const char *gemini_bare(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	return name && strncmp(name, prefix, n) == 0 ? name + n : name;
}

static int gemini_same(const char *a, const char *b)
{
	return !a || !b || strcmp(a, b) == 0; /* unset on one side: no evidence */
}

/* The one rule for "the model holding the id is the one this request made": an earlier
 * try whose answer was lost, in this call or a call before it. Its settings must be the
 * request's; and either they say so field by field, or it is fresh (or has our display
 * name) when this very call may have made it. */
static int gemini_is_own_model(const struct gemini_tuned_model *m, const struct tuning_request *req,
			       int maybe_done)
{
	time_t created = rfc3339_parse(m->create_time), now = time(NULL);
	const struct tuning_settings *ts = &req->settings;

	/* whatever became of it since (a failed training too): made by this request */
	if (gemini_same(gemini_bare(m->base_model, "models/"),
			gemini_bare(req->base_model, "models/")) &&
	    gemini_same(gemini_bare(m->source_model, "tunedModels/"),
			gemini_bare(req->source_model, "tunedModels/")) &&
	    gemini_same(m->display_name, req->display_name) &&
	    gemini_same(m->description, req->description) &&
	    (!ts->epochs || !m->epoch_count || m->epoch_count == ts->epochs) &&
	    (!ts->batch_size || !m->batch_size || m->batch_size == ts->batch_size))
		return 1;
	if (!maybe_done || (m->state != GEMINI_MODEL_CREATING && m->state != GEMINI_MODEL_ACTIVE))
		return 0;
	if (created > 0 && created > now - GEMINI_RECENT_S && created < now + GEMINI_RECENT_S)
		return 1;
	return req->display_name && m->display_name &&
	       strcmp(req->display_name, m->display_name) == 0;
}

/* After 409 on a retried create: the model is ours if it is fresh; then its operation is
 * our result. Returns 0 with out filled, or the original -EEXIST. */
static int gemini_create_recover(struct gemini_client *gc, const struct tuning_request *req,
				 const char *res, int maybe_done, struct backend_cancel *cancel,
				 struct gemini_operation *out, struct backend_error *err)
{
	struct backend_error scratch;
	struct gemini_tuned_model m;
	int own;

	if (gemini_get_tuned_model(gc, res, cancel, &m, &scratch) < 0)
		return -EEXIST;
	own = gemini_is_own_model(&m, req, maybe_done);
	if (!own) {
		gemini_tuned_model_clear(&m);
		return -EEXIST;
	}
	if (gemini_find_operation(gc, res, cancel, out, &scratch) < 0) {
		/* No operation to be found: describe the model's state instead. */
		memset(out, 0, sizeof(*out));
		out->tuned_model = xstrdup(res);
		out->done = m.state == GEMINI_MODEL_ACTIVE;
	}
	gemini_tuned_model_clear(&m);
	if (err)
		memset(err, 0, sizeof(*err));
	return 0;
}

static int gemini_check_request(const struct tuning_request *req, struct backend_error *err)
{
	if (!req->id || !gemini_valid_model_id(req->id)) {
		http_error_set(err, 0, "",
			       "'%.80s' is no valid tunedModelId: 1-40 lowercase letters, digits "
			       "or '-', starting with a letter and not ending with '-'",
			       req->id ? req->id : "");
		return -EINVAL;
	}
	if (!req->base_model == !req->source_model) {
		http_error_set(err, 0, "",
			       "exactly one of base_model and source_model must be set");
		return -EINVAL;
	}
	return 0;
}

/* Whether an earlier create of id ended without a known outcome; add/drop it. */
static int gemini_tried(struct gemini_client *gc, const char *id, int add, int drop)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&gc->lock);
	for (i = 0; i < gc->n_tried && !found; i++)
		found = strcmp(gc->tried[i], id) == 0;
	if (found && drop) {
		free(gc->tried[i - 1]);
		gc->tried[i - 1] = gc->tried[--gc->n_tried];
	} else if (!found && add) {
		gc->tried = xrealloc(gc->tried, (gc->n_tried + 1) * sizeof(*gc->tried));
		gc->tried[gc->n_tried++] = xstrdup(id);
	}
	pthread_mutex_unlock(&gc->lock);
	return found;
}

int gemini_create_tuned_model(struct gemini_client *gc, const struct tuning_request *req,
			      struct backend_cancel *cancel, struct gemini_operation *out,
			      struct backend_error *err)
{
	struct http_response resp = {0};
	char res[64], path[128];
	char *body;
	int rc, maybe_done = 0;
	/* a new connection each attempt: on a kept one that died, libcurl would send the
	 * request again by itself and hide that the first copy may have arrived */
	struct http_call_options o = {.maybe_done = &maybe_done, .fresh = 1};

	memset(out, 0, sizeof(*out));
	rc = gemini_check_request(req, err);
	if (rc < 0)
		return rc;
	snprintf(res, sizeof(res), "tunedModels/%s", req->id);
	snprintf(path, sizeof(path), "/v1beta/tunedModels?tunedModelId=%s", req->id);
	body = gemini_tuning_request_json(req);
	rc = http_call(gc->http, HTTP_POST, path, body, &o, cancel, &resp, err);
	free(body);
	if (rc == 0 && gemini_parse_operation(resp.body, resp.len, out) < 0)
		rc = gemini_malformed(&resp, "the create Operation", err);
	http_response_clear(&resp);
	if (rc == -EEXIST && (maybe_done || gemini_tried(gc, req->id, 0, 0)))
		rc = gemini_create_recover(gc, req, res, maybe_done, cancel, out, err);
	/* an answer lost for good may still have made the model: a later call sees it */
	if (rc < 0 && rc != -EEXIST && rc != -EINVAL && rc != -EACCES)
		gemini_tried(gc, req->id, 1, 0);
	else
		gemini_tried(gc, req->id, 0, 1);
	if (rc == 0 && !out->tuned_model)
		out->tuned_model = xstrdup(res);
	return rc;
}
