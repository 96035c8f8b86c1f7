/* gemini.c - one function per remote method of the tuning service: paths, query strings,
 * paging, and the recovery of a retried create. HTTP and retries are http.c's; JSON
 * reading and building are gemini_json.c's and gemini_body.c's; create is gemini_create.c's. */
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "api/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEMINI_MAX_PAGES 10000 /* a service that never stops paging is a broken one */
#define GEMINI_PATH_MAX	 2048

int gemini_client_new(struct http_client *http, struct gemini_client **out)
{
	struct gemini_client *gc;

	*out = NULL;
	if (!http)
		return -EINVAL;
	gc = xcalloc(1, sizeof(*gc));
	gc->http = http;
	pthread_mutex_init(&gc->lock, NULL);
	*out = gc;
	return 0;
}

void gemini_client_free(struct gemini_client *gc)
{
	if (!gc)
		return;
	for (size_t i = 0; i < gc->n_tried; i++)
		free(gc->tried[i]);
	free(gc->tried);
	pthread_mutex_destroy(&gc->lock);
	free(gc);
}

static int gemini_name_char(char c, int upper_ok)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       (upper_ok && ((c >= 'A' && c <= 'Z') || c == '_' || c == '.'));
}

/* "tunedModels/ID" (or a bare ID) -> the resource name; -EINVAL with a message else.
 * Names go into URL paths verbatim, so only the id alphabet may pass. */
int gemini_model_name(const char *name, char *buf, size_t cap, struct backend_error *err)
{
	const char *id = name;

	if (name && strncmp(name, "tunedModels/", 12) == 0)
		id = name + 12;
	if (!gemini_valid_model_id(id)) {
		http_error_set(err, 0, "",
			       "'%.80s' is no valid tuned model name: a tunedModelId is 1-40 "
			       "lowercase letters, digits or '-', starting with a letter",
			       name ? name : "");
		return -EINVAL;
	}
	snprintf(buf, cap, "tunedModels/%s", id);
	return 0;
}

/* Tuned model names, or "models/NAME" of a base model, for generateContent. */
static int gemini_any_model_name(const char *name, char *buf, size_t cap, struct backend_error *err)
{
	if (name && strncmp(name, "models/", 7) == 0) {
		const char *p = name + 7;
		size_t n = strlen(p);
		int ok = n > 0 && n < 128 && *p != '.';
		for (; ok && *p; p++)
			ok = gemini_name_char(*p, 1);
		if (ok) {
			snprintf(buf, cap, "%s", name);
			return 0;
		}
		http_error_set(err, 0, "", "'%.80s' is no valid model name", name);
		return -EINVAL;
	}
	return gemini_model_name(name, buf, cap, err);
}

static int gemini_operation_name(const char *op, char *buf, size_t cap, struct backend_error *err)
{
	char model[64];
	const char *slash, *id;
	size_t n;

	if (op && strncmp(op, "tunedModels/", 12) == 0 && (slash = strchr(op + 12, '/')) &&
	    (size_t)(slash - op) < sizeof(model) && strncmp(slash, "/operations/", 12) == 0) {
		memcpy(model, op, (size_t)(slash - op));
		model[slash - op] = '\0';
		id = slash + 12;
		n = strlen(id);
		int ok = gemini_valid_model_id(model + 12) && n > 0 && n < 128;
		for (const char *p = id; ok && *p; p++)
			ok = gemini_name_char(*p, 1) && *p != '.';
		if (ok) {
			snprintf(buf, cap, "%s", op);
			return 0;
		}
	}
	http_error_set(err, 0, "",
		       "'%.80s' is no valid operation name (tunedModels/ID/operations/OP)",
		       op ? op : "");
	return -EINVAL;
}

/* Percent-encodes a query value; all but RFC 3986 unreserved characters. */
static char *gemini_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* A 2xx body checked for its kind: 0, or -EIO with err saying why. */
static int gemini_checked(const struct http_response *resp, enum gemini_answer kind,
			  struct backend_error *err)
{
	char why[400];

	if (gemini_check_answer(resp->body, resp->len, kind, why, sizeof(why)) == 0)
		return 0;
	http_error_set(err, resp->status, "", "unusable answer from the service: %s", why);
	return -EIO;
}

int gemini_malformed(const struct http_response *resp, const char *what, struct backend_error *err)
{
	http_error_set(err, resp->status, "",
		       "malformed answer from the service: %s is not the expected JSON", what);
	return -EIO;
}

/* GETs every page of a list; page() consumes one body and hands back the next token. */
typedef int (*gemini_page_fn)(const char *json, size_t len, void *acc, char **next);

static int gemini_walk_pages(struct gemini_client *gc, const char *base_path,
			     struct backend_cancel *cancel, gemini_page_fn page, void *acc,
			     struct backend_error *err)
{
	char path[GEMINI_PATH_MAX + 1024];
	char *token = NULL;
	int rc = 0;

	for (int i = 0; i < GEMINI_MAX_PAGES; i++) {
		struct http_response resp = {0};
		char *next = NULL;
		if (token) {
			char *esc = gemini_query_escape(token);
			if (strlen(esc) > 1000) {
				free(esc);
				free(token);
				return gemini_malformed(&resp, "a page token over 1000 bytes", err);
			}
			snprintf(path, sizeof(path), "%s&pageToken=%s", base_path, esc);
			free(esc);
		} else {
			snprintf(path, sizeof(path), "%s", base_path);
		}
		rc = http_request(gc->http, HTTP_GET, path, NULL, 0, cancel, &resp, err);
		if (rc == 0 && page(resp.body, resp.len, acc, &next) < 0)
			rc = gemini_malformed(&resp, "the list page", err);
		http_response_clear(&resp);
		/* The same token twice would loop for ever. */
		if (rc == 0 && next && token && strcmp(next, token) == 0) {
			free(next);
			next = NULL;
		}
		free(token);
		token = next;
		if (rc < 0 || !token)
			break;
	}
	free(token);
	return rc;
}

struct gemini_model_acc {
	struct gemini_tuned_model *v;
	size_t n, cap;
};

static int gemini_model_page(const char *json, size_t len, void *acc, char **next)
{
	struct gemini_model_acc *a = acc;
	return gemini_parse_model_page(json, len, &a->v, &a->n, &a->cap, next);
}

int gemini_list_tuned_models(struct gemini_client *gc, struct backend_cancel *cancel,
			     struct gemini_tuned_model **out, size_t *n_out,
			     struct backend_error *err)
{
	struct gemini_model_acc a = {0};
	int rc;

	*out = NULL;
	*n_out = 0;
	rc = gemini_walk_pages(gc, "/v1beta/tunedModels?pageSize=1000", cancel, gemini_model_page,
			       &a, err);
	if (rc < 0) {
		gemini_tuned_models_free(a.v, a.n);
		return rc;
	}
	*out = a.v;
	*n_out = a.n;
	return 0;
}

int gemini_list_request(struct gemini_client *gc, const char *token, struct backend_cancel *cancel,
			struct http_response *resp, struct backend_error *err)
{
	char path[1200];

	if (token) {
		char *esc = gemini_query_escape(token);
		if (strlen(esc) > 1000) {
			free(esc);
			return gemini_malformed(resp, "a page token over 1000 bytes", err);
		}
		snprintf(path, sizeof(path), "/v1beta/tunedModels?pageSize=1000&pageToken=%s", esc);
		free(esc);
	} else {
		snprintf(path, sizeof(path), "/v1beta/tunedModels?pageSize=1000");
	}
	return http_request(gc->http, HTTP_GET, path, NULL, 0, cancel, resp, err);
}

int gemini_list_page(struct gemini_client *gc, const char *token, struct backend_cancel *cancel,
		     struct gemini_tuned_model **out, size_t *n_out, char **next,
		     struct backend_error *err)
{
	struct http_response resp = {0};
	struct gemini_model_acc a = {0};
	int rc;

	*out = NULL;
	*n_out = 0;
	*next = NULL;
	rc = gemini_list_request(gc, token, cancel, &resp, err);
	if (rc == 0 && gemini_parse_model_page(resp.body, resp.len, &a.v, &a.n, &a.cap, next) < 0)
		rc = gemini_malformed(&resp, "the list page", err);
	http_response_clear(&resp);
	if (rc < 0) {
		gemini_tuned_models_free(a.v, a.n);
		free(*next);
		*next = NULL;
		return rc;
	}
	*out = a.v;
	*n_out = a.n;
	return 0;
}

struct gemini_base_acc {
	struct base_model *v;
	size_t n, cap;
};

static int gemini_base_page(const char *json, size_t len, void *acc, char **next)
{
	struct gemini_base_acc *a = acc;
	return gemini_parse_base_model_page(json, len, &a->v, &a->n, &a->cap, next);
}

int gemini_list_base_models(struct gemini_client *gc, struct backend_cancel *cancel,
			    struct base_model **out, size_t *n_out, struct backend_error *err)
{
	struct gemini_base_acc a = {0};
	int rc;

	*out = NULL;
	*n_out = 0;
	rc = gemini_walk_pages(gc, "/v1beta/models?pageSize=1000", cancel, gemini_base_page, &a,
			       err);
	if (rc < 0) {
		base_models_free(a.v, a.n);
		return rc;
	}
	*out = a.v;
	*n_out = a.n;
	return 0;
}

/* One request whose 2xx body is a TunedModel. */
static int gemini_model_call(struct gemini_client *gc, enum http_method method, const char *path,
			     const char *body, struct backend_cancel *cancel,
			     struct gemini_tuned_model *out, struct backend_error *err)
{
	struct http_response resp = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = http_request(gc->http, method, path, body, 0, cancel, &resp, err);
	if (rc == 0)
		rc = gemini_checked(&resp, GEMINI_ANSWER_MODEL, err);
	if (rc == 0 && gemini_parse_tuned_model(resp.body, resp.len, out) < 0)
		rc = gemini_malformed(&resp, "the TunedModel", err);
	http_response_clear(&resp);
	return rc;
}

int gemini_get_tuned_model(struct gemini_client *gc, const char *name,
			   struct backend_cancel *cancel, struct gemini_tuned_model *out,
			   struct backend_error *err)
{
	char res[64], path[128];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gemini_model_name(name, res, sizeof(res), err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s", res);
	return gemini_model_call(gc, HTTP_GET, path, NULL, cancel, out, err);
}

int gemini_patch_tuned_model(struct gemini_client *gc, const char *name,
			     const struct gemini_tuned_model *fields, const char *update_mask,
			     struct backend_cancel *cancel, struct gemini_tuned_model *out,
			     struct backend_error *err)
{
	char res[64], path[GEMINI_PATH_MAX];
	char *body = NULL, *mask;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gemini_model_name(name, res, sizeof(res), err);
	if (rc < 0)
		return rc;
	rc = gemini_patch_body(fields, update_mask, &body);
	if (rc < 0) {
		http_error_set(err, 0, "",
			       "update mask '%.200s' names a field that cannot be changed "
			       "(displayName, description, temperature, topP, topK)",
			       update_mask ? update_mask : "");
		return rc;
	}
	mask = gemini_query_escape(update_mask);
	if (strlen(mask) > 1024) {
		free(mask);
		free(body);
		http_error_set(err, 0, "", "update mask too long");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/v1beta/%s?updateMask=%s", res, mask);
	free(mask);
	rc = gemini_model_call(gc, HTTP_PATCH, path, body, cancel, out, err);
	free(body);
	return rc;
}

int gemini_delete_tuned_model(struct gemini_client *gc, const char *name,
			      struct backend_cancel *cancel, struct backend_error *err)
{
	struct http_response resp = {0};
	char res[64], path[128];
	int rc, maybe_done = 0;

	rc = gemini_model_name(name, res, sizeof(res), err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s", res);
	struct http_call_options o = {.maybe_done = &maybe_done};

	rc = http_call(gc->http, HTTP_DELETE, path, NULL, &o, cancel, &resp, err);
	http_response_clear(&resp);
	/* Our own first attempt may have deleted it before its answer was lost. */
	if (rc == -ENOENT && maybe_done) {
		if (err)
			memset(err, 0, sizeof(*err));
		rc = 0;
	}
	return rc;
}

/* One request whose 2xx body is an Operation. */
static int gemini_operation_call(struct gemini_client *gc, const char *path,
				 struct backend_cancel *cancel, struct gemini_operation *out,
				 struct backend_error *err)
{
	struct http_response resp = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = http_request(gc->http, HTTP_GET, path, NULL, 0, cancel, &resp, err);
	if (rc == 0 && gemini_parse_operation(resp.body, resp.len, out) < 0)
		rc = gemini_malformed(&resp, "the Operation", err);
	http_response_clear(&resp);
	return rc;
}

int gemini_get_operation(struct gemini_client *gc, const char *op_name,
			 struct backend_cancel *cancel, struct gemini_operation *out,
			 struct backend_error *err)
{
	char res[256], path[300];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gemini_operation_name(op_name, res, sizeof(res), err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s", res);
	rc = gemini_operation_call(gc, path, cancel, out, err);
	/* Older deployments bound operations.get on v1 only. */
	if (rc == -ENOENT) {
		snprintf(path, sizeof(path), "/v1/%s", res);
		rc = gemini_operation_call(gc, path, cancel, out, err);
	}
	return rc;
}

struct gemini_op_acc {
	struct gemini_operation best;
	int have;
};

static int gemini_op_page(const char *json, size_t len, void *acc, char **next)
{
	struct gemini_op_acc *a = acc;
	return gemini_parse_operation_page(json, len, &a->best, &a->have, next);
}

int gemini_find_operation(struct gemini_client *gc, const char *model_name,
			  struct backend_cancel *cancel, struct gemini_operation *out,
			  struct backend_error *err)
{
	struct gemini_op_acc a = {0};
	char res[64], path[160];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gemini_model_name(model_name, res, sizeof(res), err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s/operations?pageSize=100", res);
	rc = gemini_walk_pages(gc, path, cancel, gemini_op_page, &a, err);
	if (rc < 0) {
		if (a.have)
			gemini_operation_clear(&a.best);
		return rc;
	}
	if (!a.have) {
		http_error_set(err, 404, "NOT_FOUND", "%s has no tuning operation", res);
		return -ENOENT;
	}
	*out = a.best;
	return 0;
}

static int gemini_generate_call(struct gemini_client *gc, const char *path, const char *body,
				struct backend_cancel *cancel, struct generation_answer *out,
				struct backend_error *err)
{
	struct http_response resp = {0};
	int rc;

	rc = http_request(gc->http, HTTP_POST, path, body, 1, cancel, &resp, err);
	if (rc == 0)
		rc = gemini_checked(&resp, GEMINI_ANSWER_GENERATION, err);
	if (rc == 0 && gemini_parse_generation(resp.body, resp.len, out) < 0)
		rc = gemini_malformed(&resp, "the GenerateContentResponse", err);
	http_response_clear(&resp);
	return rc;
}

/* The model's path with the route's suffix, and the request body. */
static int gemini_generate_request(const char *model_name, const char *prompt,
				   const struct generation_settings *gs, const char *suffix,
				   char *path, size_t path_len, char **body,
				   struct backend_error *err)
{
	char res[160];
	int rc = gemini_any_model_name(model_name, res, sizeof(res), err);

	if (rc < 0)
		return rc;
	snprintf(path, path_len, "/v1beta/%s:%s", res, suffix);
	*body = gemini_generate_request_json(prompt, gs);
	return 0;
}

int gemini_generate(struct gemini_client *gc, const char *model_name, const char *prompt,
		    const struct generation_settings *gs, struct backend_cancel *cancel,
		    struct generation_answer *out, struct backend_error *err)
{
	char path[220];
	char *body;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gemini_generate_request(model_name, prompt, gs, "generateContent", path, sizeof(path),
				     &body, err);
	if (rc < 0)
		return rc;
	rc = gemini_generate_call(gc, path, body, cancel, out, err);
	free(body);
	return rc;
}

int gemini_count_tokens(struct gemini_client *gc, const char *model_name, const char *const *texts,
			size_t n_texts, struct backend_cancel *cancel, long *n,
			struct backend_error *err)
{
	struct http_response resp = {0};
	char res[160], path[200];
	char *body;
	int rc = gemini_any_model_name(model_name, res, sizeof(res), err);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/v1beta/%s:countTokens", res);
	body = gemini_count_request_json(texts, n_texts);
	rc = http_request(gc->http, HTTP_POST, path, body, 0, cancel, &resp, err);
	if (rc == 0 && gemini_parse_token_count(resp.body, resp.len, n) < 0)
		rc = gemini_malformed(&resp, "the CountTokensResponse", err);
	http_response_clear(&resp);
	free(body);
	return rc;
}

int gemini_generate_stream(struct gemini_client *gc, const char *model_name, const char *prompt,
			   const struct generation_settings *gs, backend_text_fn on_text, void *arg,
			   struct backend_cancel *cancel, struct generation_answer *out,
			   struct backend_error *err)
{
	char path[220];
	char *body;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gemini_generate_request(model_name, prompt, gs, "streamGenerateContent?alt=sse", path,
				     sizeof(path), &body, err);
	if (rc < 0)
		return rc;
	rc = gemini_stream_call(gc->http, path, body, on_text, arg, cancel, out, err);
	free(body);
	return rc;
}
