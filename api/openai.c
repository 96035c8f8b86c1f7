/* openai.c - OpenAI fine-tuning as backend_openai_ops: opening it (API key, base URL,
 * organization and project headers), the calls on fine-tuning jobs, the training file's
 * upload and chat completions. JSON and the error envelope are the other openai_*.c's. */
#include "api/backend_impl.h"
#include "api/creds.h"
#include "api/http.h"
#include "api/openai_internal.h"
#include "base/strset.h"
#include "base/xalloc.h"
#include "config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENAI_DEFAULT_ENDPOINT "https://api.openai.com/v1"
#define OPENAI_PAGE_SIZE	100
#define OPENAI_MAX_PAGES	10000
#define OPENAI_MAX_EPOCHS	50

struct openai_backend {
	struct creds *creds;
	struct http_client *http;
	char *prefix; /* "/v1" when the endpoint names no path, else "" */
	char *identity;
	char *org_header, *project_header;
	pthread_mutex_t lock;	  /* guards removed and checked */
	struct strset removed;	  /* jobs removed: the service keeps listing them */
	struct strset checked;	  /* finished jobs of ours whose model or file was seen to exist */
	struct openai_seen *seen; /* the events read so far of jobs in training */
};

/* A job id, file id or model name as one path segment. */
static int oa_segment_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 256)
		return 0;
	for (; *s; s++)
		if (*s == '/' || *s == '?' || *s == '#' || *s == '%' || (unsigned char)*s <= ' ' ||
		    *s == 0x7f)
			return 0;
	return 1;
}

/* Whether job was in the set, adding it when add. */
static int oa_set_has(struct openai_backend *a, struct strset *set, const char *job, int add)
{
	int had;

	pthread_mutex_lock(&a->lock);
	had = add ? !strset_add(set, job) : strset_has(set, job);
	pthread_mutex_unlock(&a->lock);
	return had;
}

static int oa_removed(struct openai_backend *a, const char *job, int add)
{
	return oa_set_has(a, &a->removed, job, add);
}

static int oa_checked(struct openai_backend *a, const char *job, int add)
{
	return oa_set_has(a, &a->checked, job, add);
}

/* A header value given by the user: printable, no spaces (it would split the request). */
static char *oa_header(const char *name, const char *value, const char *opt,
		       struct backend_error *err, int *rc)
{
	if (!value || *rc < 0)
		return NULL;
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			http_error_set(err, 0, "", "-o %s=%.60s: no spaces or control characters",
				       opt, value);
			*rc = -EINVAL;
			return NULL;
		}
	if (!*value || strlen(value) > 200) {
		http_error_set(err, 0, "", "-o %s: 1 to 200 characters", opt);
		*rc = -EINVAL;
		return NULL;
	}
	return xasprintf("%s: %s", name, value);
}

/* The endpoint for the transport and the path prefix its calls go under: a URL with a
 * path is the base URL as OpenAI's SDKs take it; one without (or a unix socket) gets /v1. */
static void oa_split_endpoint(struct openai_backend *a, const char *ep, char **base)
{
	const char *host = strstr(ep, "://");
	const char *path = host ? strchr(host + 3, '/') : NULL;

	if (strncmp(ep, "unix:", 5) == 0 || !path || !strcmp(path, "/")) {
		*base = path ? xstrndup(ep, (size_t)(path - ep)) : xstrdup(ep);
		a->prefix = xstrdup("/v1");
	} else {
		*base = xstrdup(ep);
		a->prefix = xstrdup("");
	}
}

static void oa_close(void *impl)
{
	struct openai_backend *a = impl;

	http_client_free(a->http);
	creds_free(a->creds);
	openai_seen_free(a->seen);
	strset_free(&a->removed);
	strset_free(&a->checked);
	free(a->prefix);
	free(a->identity);
	free(a->org_header);
	free(a->project_header);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static int oa_open(const struct backend_options *o, void **impl, struct backend_error *err)
{
	const char *ep = o->endpoint ? o->endpoint : OPENAI_DEFAULT_ENDPOINT;
	struct creds_options co = {
	    .api_key_file = o->api_key_file,
	    .key_only = 1,
	    .key_env = "OPENAI_API_KEY",
	    .key_header = "Authorization",
	    .key_prefix = "Bearer ",
	};
	long budget = o->timeout_ms > 0 ? o->timeout_ms : 600000;
	struct http_options ho = {
	    .generate_timeout_ms = o->generate_timeout_ms > 0 ? o->generate_timeout_ms : budget,
	    .max_retry_ms = budget < 120000 ? budget : 120000,
	    .read_error = openai_read_error,
	    .keep_headers = openai_kept_headers,
	    .client_header = "User-Agent: tunedfs/" TUNEDFS_VERSION,
	};
	struct openai_backend *a;
	char *base = NULL;
	int rc = 0;

	if (o->bucket || o->location || o->token_command) {
		const char *opt = o->bucket ? "bucket" : o->location ? "location" : "token_command";
		http_error_set(err, 0, "",
			       "-o %s: the openai backend has none (it takes an API key)", opt);
		return -EINVAL;
	}
	a = xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	a->seen = openai_seen_new();
	a->org_header = oa_header("OpenAI-Organization", o->organization, "organization", err, &rc);
	a->project_header = oa_header("OpenAI-Project", o->project, "project", err, &rc);
	if (o->no_credentials && !o->api_key_file) {
		/* the private server wants a bearer key, any one: none of the user's */
		co.fixed_value = "Bearer tunedfs-local";
		co.key_only = 0;
	}
	if (rc == 0)
		rc = creds_new(&co, &a->creds, err);
	oa_split_endpoint(a, ep, &base);
	ho.endpoint = base;
	ho.client_headers[0] = a->org_header;
	ho.client_headers[1] = a->project_header;
	if (rc == 0)
		rc = http_client_new(&ho, creds_auth(a->creds), &a->http, err);
	if (rc == 0)
		a->identity = xasprintf("openai %s%s %s %s", base, a->prefix,
					o->organization ? o->organization : "-",
					o->project ? o->project : "-");
	free(base);
	if (rc < 0) {
		oa_close(a);
		return rc;
	}
	*impl = a;
	return 0;
}

static const char *oa_credentials_kind(void *impl)
{
	return creds_kind(((struct openai_backend *)impl)->creds);
}

static const char *oa_identity(void *impl)
{
	return ((struct openai_backend *)impl)->identity;
}

static int oa_check_id(const char *id, char *why, size_t len)
{
	if (openai_name_ok(id))
		return 1;
	snprintf(why, len,
		 "not a usable fine-tuning suffix (1-64 of A-Z a-z 0-9 . _ -, not starting "
		 "with .)");
	return 0;
}

static int oa_check_request(const struct tuning_request *r, char *why, size_t len)
{
	const char *key = NULL, *what = "";

	if (r->settings.learning_rate > 0) {
		key = "learning_rate";
		what = "takes no absolute learning rate; use learning_rate_multiplier (a "
		       "multiple of the service's own rate) instead";
	} else if (r->settings.epochs > OPENAI_MAX_EPOCHS) {
		key = "epoch_count";
		what = "takes 1 to 50 epochs";
	} else if (r->source_model) {
		key = "source_model";
		what = "cannot tune a tuned model further here";
	} else if (r->settings.adapter_size) {
		key = "adapter_size";
		what = "has no adapter size";
	} else if (r->generation.has_temperature || r->generation.has_top_p ||
		   r->generation.has_top_k) {
		key = r->generation.has_temperature ? "temperature"
		      : r->generation.has_top_p	    ? "top_p"
						    : "top_k";
		what = "keeps no generation settings with a model (put them in `generation`)";
	} else if (!r->base_model) {
		snprintf(why, len, "config: base_model is needed (e.g. gpt-4.1-mini-2025-04-14)");
		return -EINVAL;
	}
	if (!key)
		return 0;
	snprintf(why, len, "config: %s: OpenAI fine-tuning %s", key, what);
	return -EINVAL;
}

static int oa_malformed(const struct http_response *resp, const char *what,
			struct backend_error *err)
{
	http_error_set(err, resp->status, "",
		       "malformed answer from OpenAI: %s is not the expected JSON", what);
	return -EIO;
}

/* Whether a path under the prefix answers 404 (1), anything else 2xx (0), or fails (-1). */
static int oa_missing(struct openai_backend *a, const char *kind, const char *id,
		      struct backend_cancel *c)
{
	char *path;
	int rc;

	if (!oa_segment_ok(id))
		return -1;
	path = xasprintf("%s/%s/%s", a->prefix, kind, id);
	rc = http_call(a->http, HTTP_GET, path, NULL, NULL, c, NULL, NULL);
	free(path);
	return rc == -ENOENT ? 1 : rc == 0 ? 0 : -1;
}

/* Whether a listed job was removed. OpenAI keeps listing jobs for good, so rm leaves its
 * mark on the service itself: the fine-tuned model of a succeeded job is deleted, the
 * training file of any other. A finished job made here is checked for that once (the
 * answer cannot change but by rm, which records it), others never. */
static int oa_gone(struct openai_backend *a, const struct tuned_model *m, struct backend_cancel *c)
{
	char *ours, *what;
	int missing;

	if (oa_removed(a, m->job, 0))
		return 1;
	if (m->state == BACKEND_CREATING || m->state == BACKEND_STATE_UNKNOWN ||
	    oa_checked(a, m->job, 0))
		return 0;
	ours = openai_job_string(m->raw_json, OPENAI_NAME_KEY, 1);
	if (!ours)
		return 0;
	free(ours);
	what = m->state == BACKEND_ACTIVE ? xstrdup(m->endpoint ? m->endpoint : "")
					  : openai_job_string(m->raw_json, "training_file", 0);
	missing = oa_missing(a, m->state == BACKEND_ACTIVE ? "models" : "files", what, c);
	free(what);
	if (missing == 1)
		oa_removed(a, m->job, 1);
	else if (missing == 0)
		oa_checked(a, m->job, 1);
	return missing == 1;
}

/* One page of jobs after token; filter: a metadata name to ask for (escaped). */
static int oa_page(struct openai_backend *a, const char *token, const char *name,
		   struct model_page *out, struct backend_cancel *c, struct backend_error *err)
{
	struct http_response resp = {0};
	char *path;
	int rc;

	memset(out, 0, sizeof(*out));
	if (token && !oa_segment_ok(token)) {
		http_error_set(err, 0, "", "'%.60s' is no job id to page after", token);
		return -EINVAL;
	}
	path = xasprintf("%s/fine_tuning/jobs?limit=%d%s%s%s%s", a->prefix, OPENAI_PAGE_SIZE,
			 token ? "&after=" : "", token ? token : "",
			 name ? "&metadata%5B" OPENAI_NAME_KEY "%5D=" : "", name ? name : "");
	rc = http_request(a->http, HTTP_GET, path, NULL, 0, c, &resp, err);
	if (rc == 0 && openai_parse_page(resp.body, resp.len, out) < 0)
		rc = oa_malformed(&resp, "the list of fine-tuning jobs", err);
	http_response_clear(&resp);
	free(path);
	/* removed, still listed: not shown again */
	for (size_t i = 0; rc == 0 && i < out->n;) {
		if (out->v[i].job && oa_gone(a, &out->v[i], c)) {
			tuned_model_clear(&out->v[i]);
			out->v[i] = out->v[--out->n];
			continue;
		}
		i++;
	}
	return rc;
}

static int oa_list(void *impl, const char *token, struct model_page *out, struct backend_cancel *c,
		   struct backend_error *err)
{
	return oa_page(impl, token, NULL, out, c, err);
}

/* Whether m is the job named id (and, with digest, made from that data). */
static int oa_is(const struct tuned_model *m, const char *id, const char *digest)
{
	char *d;
	int same;

	if (strcmp(m->id, id) != 0)
		return 0;
	if (!digest)
		return 1;
	d = openai_job_string(m->raw_json, OPENAI_DATA_KEY, 1);
	same = d && strcmp(d, digest) == 0;
	free(d);
	return same;
}

/* Walks the pages (of jobs with our metadata name when by_meta) for the newest job named
 * id. 0 and out, -ENOENT, or the listing's error. */
static int oa_walk(struct openai_backend *a, const char *id, const char *digest, int by_meta,
		   struct tuned_model *out, struct backend_cancel *c, struct backend_error *err)
{
	char *token = NULL;
	int rc = 0, found = 0;

	memset(out, 0, sizeof(*out));
	if (by_meta && !openai_name_ok(id)) {
		http_error_set(err, 404, "not_found", "no fine-tuning job named %.200s", id);
		return -ENOENT;
	}
	for (int page = 0; page < OPENAI_MAX_PAGES && rc == 0 && !found; page++) {
		struct model_page p;
		rc = oa_page(a, token, by_meta ? id : NULL, &p, c, err);
		/* newest first: the first hit is the newest */
		for (size_t i = 0; rc == 0 && i < p.n && !found; i++) {
			if (!oa_is(&p.v[i], id, digest))
				continue;
			*out = p.v[i];
			memset(&p.v[i], 0, sizeof(p.v[i]));
			found = 1;
		}
		free(token);
		token = rc == 0 && p.next ? xstrdup(p.next) : NULL;
		model_page_clear(&p);
		if (!token)
			break;
	}
	free(token);
	if (rc == 0 && !found) {
		http_error_set(err, 404, "not_found", "no fine-tuning job named %.200s", id);
		rc = -ENOENT;
	}
	return rc;
}

/* One request whose 2xx body is a fine_tuning.job. */
static int oa_job_call(struct openai_backend *a, enum http_method method, const char *job,
		       const char *tail, const struct http_call_options *o, struct tuned_model *out,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct http_response resp = {0};
	char *path;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!oa_segment_ok(job)) {
		http_error_set(err, 0, "", "'%.100s' is no fine-tuning job id", job ? job : "");
		return -EINVAL;
	}
	path = xasprintf("%s/fine_tuning/jobs/%s%s", a->prefix, job, tail);
	rc = http_call(a->http, method, path, method == HTTP_POST ? "{}" : NULL, o, c, &resp, err);
	if (rc == 0 && openai_parse_job(resp.body, resp.len, out) < 0)
		rc = oa_malformed(&resp, "the fine-tuning job", err);
	http_response_clear(&resp);
	free(path);
	return rc;
}

static int oa_get(void *impl, const char *id, struct tuned_model *out, struct backend_cancel *c,
		  struct backend_error *err)
{
	struct openai_backend *a = impl;
	int rc = oa_walk(a, id, NULL, 1, out, c, err);

	if (rc == -ENOENT && strncmp(id, "ftjob-", 6) == 0) {
		rc = oa_job_call(a, HTTP_GET, id, "", NULL, out, c, err);
		if (rc == 0 && strcmp(out->id, id) != 0) {
			tuned_model_clear(out); /* it has a name of its own */
			http_error_set(err, 404, "not_found", "no fine-tuning job named %.200s",
				       id);
			rc = -ENOENT;
		}
	} else if (rc == -ENOENT) {
		rc = oa_walk(a, id, NULL, 0, out, c, err); /* made elsewhere, named by suffix */
	}
	if (rc == 0 && out->job && oa_removed(a, out->job, 0)) {
		tuned_model_clear(out);
		http_error_set(err, 404, "not_found", "%.200s was removed", id);
		rc = -ENOENT;
	}
	return rc;
}

/* 16 hex digits of SHA-256 over what the job is asked to learn. */
static void oa_digest(const char *lines, size_t len, const char *vlines, size_t vlen,
		      const char *body, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx)
		xalloc_die(0);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, lines, len);
	if (vlines)
		EVP_DigestUpdate(ctx, vlines, vlen);
	EVP_DigestUpdate(ctx, body, strlen(body));
	EVP_DigestFinal_ex(ctx, md, &md_len);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* fine_tuning/jobs create is not idempotent (the service picks the id), so the transport
 * never resends it: when an answer is lost, the job it may have made is looked for by its
 * metadata first, and only a create that surely made nothing is sent again. */
static int oa_submit(struct openai_backend *a, const struct tuning_request *r, const char *body,
		     const char *digest, struct tuned_model *out, struct backend_cancel *c,
		     struct backend_error *err)
{
	char *path = xasprintf("%s/fine_tuning/jobs", a->prefix);
	int rc = -EIO;

	for (int attempt = 0; attempt < 3; attempt++) {
		struct http_call_options o = {.once = 1, .fresh = 1};
		struct http_response resp = {0};
		struct backend_error scratch = {0};
		int maybe_done = 0;

		o.maybe_done = &maybe_done;
		rc = http_call(a->http, HTTP_POST, path, body, &o, c, &resp, err);
		if (rc == 0 && openai_parse_job(resp.body, resp.len, out) < 0)
			rc = oa_malformed(&resp, "the fine-tuning job", err);
		http_response_clear(&resp);
		if (rc == 0 || rc == -EINTR || (!maybe_done && rc != -EIO))
			break;
		if (maybe_done && oa_walk(a, r->id, digest, 1, out, c, &scratch) == 0) {
			rc = 0;
			break;
		}
	}
	free(path);
	return rc;
}

/* The validation set uploaded as a second fine-tune file (*id), when r has one. */
static int oa_upload_validation(struct openai_backend *a, const struct tuning_request *r,
				const char *vdata, size_t vlen, const char *digest, char **id,
				struct backend_cancel *c, struct backend_error *err)
{
	char *name;
	int rc;

	if (!vdata)
		return 0;
	name = xasprintf("tunedfs-%s-%s-validation.jsonl", r->id, digest);
	rc = openai_file_upload(a->http, a->prefix, "fine-tune", name, vdata, vlen, id, c, err);
	free(name);
	return rc;
}

static int oa_create(void *impl, const struct tuning_request *r, struct tuned_model *out,
		     struct backend_cancel *c, struct backend_error *err)
{
	struct openai_backend *a = impl;
	char why[300] = "", digest[17], *data = NULL, *vdata = NULL, *body, *name;
	char *file_id = NULL, *vfile_id = NULL;
	struct backend_error scratch = {0};
	size_t len = 0, vlen = 0;
	int rc;

	rc = oa_check_request(r, why, sizeof(why));
	if (rc == 0)
		rc = openai_training_lines(r, &data, &len, why, sizeof(why));
	if (rc == 0 && r->n_validation)
		rc = openai_validation_lines(r, &vdata, &vlen, why, sizeof(why));
	if (rc < 0) {
		http_error_set(err, 0, "", "%s", why);
		goto done;
	}
	body = openai_create_body_val(r, "", vdata ? "" : NULL, "");
	oa_digest(data, len, vdata, vlen, body, digest);
	free(body);
	/* a retry of a create whose answer never came: its job, if it was made */
	if (oa_walk(a, r->id, digest, 1, out, c, &scratch) == 0 && out->job &&
	    !oa_removed(a, out->job, 0))
		goto done;
	tuned_model_clear(out);
	name = xasprintf("tunedfs-%s-%s.jsonl", r->id, digest);
	rc = openai_file_upload(a->http, a->prefix, "fine-tune", name, data, len, &file_id, c, err);
	free(name);
	if (rc == 0)
		rc = oa_upload_validation(a, r, vdata, vlen, digest, &vfile_id, c, err);
	if (rc == 0) {
		body = openai_create_body_val(r, file_id, vfile_id, digest);
		rc = oa_submit(a, r, body, digest, out, c, err);
		free(body);
	}
	/* a job refused outright (or never sent) keeps nothing of ours */
	if (rc < 0 && file_id && (rc == -EINVAL || rc == -EACCES || (vdata && !vfile_id))) {
		openai_file_delete(a->http, a->prefix, file_id, c, &scratch);
		openai_file_delete(a->http, a->prefix, vfile_id, c, &scratch);
	}
done:
	free(file_id);
	free(vfile_id);
	free(data);
	free(vdata);
	return rc;
}

/* The job again: state, failure, progress from its events and checkpoints. */
static int oa_progress(void *impl, struct tuned_model *m, struct backend_cancel *c,
		       struct backend_error *err)
{
	struct openai_backend *a = impl;
	struct tuned_model fresh = {0};
	int rc;

	if (!m->job || !*m->job)
		rc = oa_get(a, m->id, &fresh, c, err);
	else
		rc = oa_job_call(a, HTTP_GET, m->job, "", NULL, &fresh, c, err);
	if (rc == 0 && oa_removed(a, fresh.job, 0)) {
		tuned_model_clear(&fresh);
		http_error_set(err, 404, "not_found", "%.200s was removed", m->id);
		rc = -ENOENT;
	}
	if (rc == 0)
		rc = openai_progress_of(a->http, a->prefix, a->seen, &fresh, c, err);
	if (rc < 0) {
		tuned_model_clear(&fresh);
		return rc;
	}
	free(fresh.id); /* the name the mount knows it by stays */
	fresh.id = m->id;
	m->id = NULL;
	tuned_model_clear(m);
	*m = fresh;
	return 0;
}

static int oa_cancel(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err)
{
	struct tuned_model out;
	int rc = oa_job_call(impl, HTTP_POST, m->job, "/cancel", NULL, &out, c, err);

	tuned_model_clear(&out);
	return rc;
}

/* A part the job made or used, deleted; a refusal is added to what the log will say. */
static void oa_delete_part(struct openai_backend *a, const char *what, const char *kind,
			   const char *id, struct backend_cancel *c, char *said, size_t len)
{
	struct backend_error e = {0};
	int rc = 0;

	if (!oa_segment_ok(id))
		return;
	if (!strcmp(kind, "files")) {
		rc = openai_file_delete(a->http, a->prefix, id, c, &e);
	} else {
		char *path = xasprintf("%s/%s/%s", a->prefix, kind, id);
		rc = http_call(a->http, HTTP_DELETE, path, NULL, NULL, c, NULL, &e);
		free(path);
	}
	if (rc < 0 && rc != -ENOENT)
		snprintf(said + strlen(said), len - strlen(said),
			 "%sthe %s was not deleted (%.200s)", said[0] ? "; " : "", what,
			 e.message[0] ? e.message : strerror(-rc));
}

static int oa_remove(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err)
{
	struct openai_backend *a = impl;
	struct tuned_model job = {0};
	char said[sizeof(err->message)] = "", *model, *file, *vfile;
	int rc;

	/* the job as it is now: one that just finished has a model to delete */
	rc = m->job && *m->job ? oa_job_call(a, HTTP_GET, m->job, "", NULL, &job, c, err)
			       : oa_get(a, m->id, &job, c, err);
	if (rc < 0)
		return rc;
	if (job.state == BACKEND_CREATING) {
		struct tuned_model after;
		if (oa_cancel(a, &job, c, err) < 0 && err)
			snprintf(said, sizeof(said), "the job was not cancelled (%.400s)",
				 err->message);
		if (oa_job_call(a, HTTP_GET, job.job, "", NULL, &after, c, NULL) == 0) {
			tuned_model_clear(&job);
			job = after;
		}
	}
	model = openai_job_string(job.raw_json, "fine_tuned_model", 0);
	file = openai_job_string(job.raw_json, "training_file", 0);
	vfile = openai_job_string(job.raw_json, "validation_file", 0);
	oa_delete_part(a, "fine-tuned model", "models", model, c, said, sizeof(said));
	oa_delete_part(a, "training file", "files", file, c, said, sizeof(said));
	oa_delete_part(a, "validation file", "files", vfile, c, said, sizeof(said));
	oa_removed(a, job.job, 1);
	if (err) {
		memset(err, 0, sizeof(*err));
		if (said[0])
			snprintf(err->message, sizeof(err->message), "rm: %s", said);
	}
	free(model);
	free(file);
	free(vfile);
	tuned_model_clear(&job);
	return 0;
}

/* The chat request of a prompt to m: 0 with *body and *path, or -EINVAL with the reason. */
static int oa_chat_request(struct openai_backend *a, const struct tuned_model *m,
			   const char *prompt, const struct generation_settings *gs, char **body,
			   char **path, struct backend_error *err)
{
	char why[300] = "";

	if (!m->endpoint || !*m->endpoint) {
		http_error_set(err, 0, "", "%s has no fine-tuned model to answer from yet", m->id);
		return -EINVAL;
	}
	*body = openai_chat_body(m->endpoint, prompt, gs, why, sizeof(why));
	if (!*body) {
		http_error_set(err, 0, "", "%s", why);
		return -EINVAL;
	}
	*path = xasprintf("%s/chat/completions", a->prefix);
	return 0;
}

static int oa_generate(void *impl, const struct tuned_model *m, const char *prompt,
		       const struct generation_settings *gs, struct generation_answer *out,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct openai_backend *a = impl;
	struct http_call_options o = {.long_timeout = 1};
	struct http_response resp = {0};
	char *body, *path;
	int rc = oa_chat_request(a, m, prompt, gs, &body, &path, err);

	if (rc < 0)
		return rc;
	rc = http_call(a->http, HTTP_POST, path, body, &o, c, &resp, err);
	if (rc == 0 && openai_parse_completion(resp.body, resp.len, out) < 0)
		rc = oa_malformed(&resp, "the chat completion", err);
	http_response_clear(&resp);
	free(body);
	free(path);
	return rc;
}

static int oa_generate_stream(void *impl, const struct tuned_model *m, const char *prompt,
			      const struct generation_settings *gs, backend_text_fn on_text,
			      void *arg, struct generation_answer *out, struct backend_cancel *c,
			      struct backend_error *err)
{
	struct openai_backend *a = impl;
	char *body, *path;
	int rc = oa_chat_request(a, m, prompt, gs, &body, &path, err);

	if (rc < 0)
		return rc;
	rc = openai_chat_stream(a->http, path, body, on_text, arg, c, out, err);
	free(body);
	free(path);
	return rc;
}

struct http_client *openai_backend_http(void *impl, const char **prefix)
{
	struct openai_backend *a = impl;

	*prefix = a->prefix;
	return a->http;
}

static void oa_stats(void *impl, struct backend_stats *out)
{
	struct openai_backend *a = impl;
	struct http_stats h;

	http_client_stats(a->http, &h);
	out->requests = h.requests;
	out->retries = h.retries;
	out->failures = h.failures;
}

/* OpenAI fine-tuning: at least 10 examples; 65,536 tokens per example (gpt-4o-mini's
 * training limit; none in characters); n_epochs "auto" is OpenAI's own rule: 3, raised so that
 * examples times epochs reaches 100 (at most 25), lowered so that it stays within 25,000 (at least
 * 1). */
static void oa_dataset_rules(size_t n, struct backend_dataset_rules *out)
{
	int epochs = 3;

	if (n > 0 && n * 3 < 100)
		epochs = (int)((100 + n - 1) / n) > 25 ? 25 : (int)((100 + n - 1) / n);
	else if (n * 3 > 25000)
		epochs = (int)(25000 / n) < 1 ? 1 : (int)(25000 / n);
	out->min_examples = 10;
	out->max_example_tokens = 65536;
	out->default_epochs = epochs;
	out->limits = "OpenAI fine-tuning guide";
}

const struct backend_ops backend_openai_ops = {
    .name = "openai",
    .caps = BACKEND_CAN_CANCEL | BACKEND_CAN_STREAM | BACKEND_HAS_LR_MULTIPLIER |
	    BACKEND_HAS_VALIDATION,
    .open = oa_open,
    .close = oa_close,
    .credentials_kind = oa_credentials_kind,
    .identity = oa_identity,
    .check_id = oa_check_id,
    .check_request = oa_check_request,
    .list = oa_list,
    .get = oa_get,
    .create = oa_create,
    .progress = oa_progress,
    .cancel = oa_cancel,
    .remove = oa_remove,
    .generate = oa_generate,
    .generate_stream = oa_generate_stream,
    .read_answer = openai_parse_completion,
    .stats = oa_stats,
    .dataset_rules = oa_dataset_rules,
    .batch = &openai_batch_ops,
};
