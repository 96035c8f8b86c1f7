/* gemini_create.c - tunedModels.create, and knowing a retried create's own earlier success:
 * the id is always sent, so a 409 after a lost answer is checked against the model found.
 * The body itself is built in gemini_body.c. */
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "api/http.h"
#include "api/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEMINI_RECENT_S (15 * 60) /* a create this much older is someone else's */

/* RFC 3339 UTC "2024-03-14T15:11:23.766Z" -> seconds; -1 when unreadable. */
static time_t gemini_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *rest;

	if (!s)
		return -1;
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	return timegm(&tm);
}

static int gemini_is_own_model(const struct tuned_model *m, const struct tuning_request *req)
{
	time_t created = gemini_rfc3339(m->create_time), now = time(NULL);

	if (m->state != TUNED_MODEL_CREATING && m->state != TUNED_MODEL_ACTIVE)
		return 0;
	if (created >= 0 && created > now - GEMINI_RECENT_S && created < now + GEMINI_RECENT_S)
		return 1;
	return req->display_name && m->display_name &&
	       strcmp(req->display_name, m->display_name) == 0;
}

/* After 409 on a retried create: the model is ours if it is fresh; then its operation is
 * our result. Returns 0 with out filled, or the original -EEXIST. */
static int gemini_create_recover(struct gemini_client *gc, const struct tuning_request *req,
				 const char *res, struct gemini_cancel *cancel,
				 struct tuning_operation *out, struct gemini_error *err)
{
	struct gemini_error scratch;
	struct tuned_model m;
	int own;

	if (gemini_get_tuned_model(gc, res, cancel, &m, &scratch) < 0)
		return -EEXIST;
	own = gemini_is_own_model(&m, req);
	if (!own) {
		tuned_model_clear(&m);
		return -EEXIST;
	}
	if (gemini_find_operation(gc, res, cancel, out, &scratch) < 0) {
		/* No operation to be found: describe the model's state instead. */
		memset(out, 0, sizeof(*out));
		out->tuned_model = gemini_xstrdup(res);
		out->done = m.state == TUNED_MODEL_ACTIVE;
	}
	tuned_model_clear(&m);
	if (err)
		memset(err, 0, sizeof(*err));
	return 0;
}

static int gemini_check_request(const struct tuning_request *req, struct gemini_error *err)
{
	if (!req->id || !gemini_valid_model_id(req->id)) {
		http_error_set(err, 0, "INVALID_ARGUMENT",
			       "'%.80s' is no valid tunedModelId: 1-40 lowercase letters, digits "
			       "or '-', starting with a letter and not ending with '-'",
			       req->id ? req->id : "");
		return -EINVAL;
	}
	if (!req->base_model == !req->source_model) {
		http_error_set(err, 0, "INVALID_ARGUMENT",
			       "exactly one of base_model and source_model must be set");
		return -EINVAL;
	}
	return 0;
}

int gemini_create_tuned_model(struct gemini_client *gc, const struct tuning_request *req,
			      struct gemini_cancel *cancel, struct tuning_operation *out,
			      struct gemini_error *err)
{
	struct http_response resp = {0};
	char res[64], path[128];
	char *body;
	int rc, maybe_done = 0;

	memset(out, 0, sizeof(*out));
	rc = gemini_check_request(req, err);
	if (rc < 0)
		return rc;
	snprintf(res, sizeof(res), "tunedModels/%s", req->id);
	snprintf(path, sizeof(path), "/v1beta/tunedModels?tunedModelId=%s", req->id);
	body = gemini_tuning_request_json(req);
	rc = http_request_ex(gc->http, HTTP_POST, path, body, 0, cancel, &resp, err, &maybe_done);
	free(body);
	if (rc == 0 && gemini_parse_operation(resp.body, resp.len, out) < 0)
		rc = gemini_malformed(&resp, "the create Operation", err);
	http_response_clear(&resp);
	if (rc == -EEXIST && maybe_done)
		rc = gemini_create_recover(gc, req, res, cancel, out, err);
	if (rc == 0 && !out->tuned_model)
		out->tuned_model = gemini_xstrdup(res);
	return rc;
}
