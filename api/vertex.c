/* vertex.c - Vertex AI supervised tuning as backend_vertex_ops: opening it (OAuth only,
 * project and location, the two hosts), the calls on tuning jobs, Cloud Storage for the
 * training data (gcs.c) and generation on the tuned endpoint. The JSON is vertex_json.c's. */
#include "api/backend_impl.h"
#include "api/creds.h"
#include "api/gcs.h"
#include "api/gemini.h"
#include "api/google_rpc.h"
#include "api/http.h"
#include "api/vertex_internal.h"
#include "base/strset.h"
#include "base/xalloc.h"
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERTEX_API	 "/v1"
#define VERTEX_PAGE_SIZE 100
#define VERTEX_MAX_PAGES 10000

struct vertex_backend {
	struct creds *creds;
	struct http_client *api, *gcs;
	char *project, *location, *bucket, *identity;
	pthread_mutex_t lock;  /* guards the three sets below */
	struct strset removed; /* jobs seen removed (here, or by rm before this mount) */
	struct strset kept;    /* finished jobs of ours seen not removed: not asked again */
	struct strset tried;   /* ids whose create ended without a known outcome */
};

enum vx_set_op { VX_HAS, VX_ADD, VX_DROP };

/* A project or location goes into URL paths: letters, digits, '-' only. */
static int vx_word_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* Whether key was in the set, which op then adds it to or drops it from. */
static int vx_set(struct vertex_backend *v, struct strset *set, const char *key, enum vx_set_op op)
{
	int had;

	pthread_mutex_lock(&v->lock);
	had = strset_has(set, key);
	if (op == VX_ADD && !had)
		strset_add(set, key);
	else if (op == VX_DROP && had)
		strset_drop(set, key);
	pthread_mutex_unlock(&v->lock);
	return had;
}

static int vx_clients(struct vertex_backend *v, const struct backend_options *o,
		      struct backend_error *err)
{
	long budget = o->timeout_ms > 0 ? o->timeout_ms : 600000;
	struct http_options ho = {
	    .generate_timeout_ms = o->generate_timeout_ms > 0 ? o->generate_timeout_ms : budget,
	    /* retries end before a reader waiting on the call gives up, so it reads their
	     * last failure rather than a timeout */
	    .max_retry_ms = budget / 2 < 120000 ? budget / 2 : 120000,
	    .read_error = google_rpc_read_error,
	    .client_header = "x-goog-api-client: tunedfs/" TUNEDFS_VERSION,
	};
	char *api = o->endpoint ? xstrdup(o->endpoint)
				: xasprintf("https://%s-aiplatform.googleapis.com", v->location);
	int rc;

	ho.endpoint = api;
	rc = http_client_new(&ho, creds_auth(v->creds), &v->api, err);
	ho.endpoint = "https://storage.googleapis.com";
	/* -o endpoint: both on one base, so one client and its connections serve both */
	if (rc == 0 && o->endpoint)
		v->gcs = v->api;
	else if (rc == 0)
		rc = http_client_new(&ho, creds_auth(v->creds), &v->gcs, err);
	if (rc == 0)
		v->identity = xasprintf("vertex %s %s %s", api, v->project, v->location);
	free(api);
	return rc;
}

static void vx_close(void *impl)
{
	struct vertex_backend *v = impl;

	if (v->gcs != v->api)
		http_client_free(v->gcs);
	http_client_free(v->api);
	creds_free(v->creds);
	strset_free(&v->removed);
	strset_free(&v->kept);
	strset_free(&v->tried);
	free(v->project);
	free(v->location);
	free(v->bucket);
	free(v->identity);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static int vx_open(const struct backend_options *o, void **impl, struct backend_error *err)
{
	const char *project = o->project ? o->project : getenv("GOOGLE_CLOUD_PROJECT");
	const char *location = o->location ? o->location : "us-central1";
	struct creds_options co = {
	    .token_command = o->token_command,
	    .token_uri = o->token_uri,
	    .api_key_file = o->api_key_file,
	    .oauth_only = 1,
	    .key_refused = "Vertex AI takes OAuth credentials only: an API key reaches only its "
			   "express mode, which cannot tune. Use `gcloud auth "
			   "application-default login`, a service account or -o token_command",
	};
	struct vertex_backend *v;
	int rc = 0;

	if (!project || !*project) {
		http_error_set(err, 0, "",
			       "-o project=P: Vertex AI needs the Google Cloud project (or "
			       "GOOGLE_CLOUD_PROJECT)");
		return -EINVAL;
	}
	if (!vx_word_ok(project) || !vx_word_ok(location)) {
		http_error_set(err, 0, "", "-o %s=%.60s: only a-z, 0-9 and - may be used",
			       vx_word_ok(project) ? "location" : "project",
			       vx_word_ok(project) ? location : project);
		return -EINVAL;
	}
	v = xcalloc(1, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->project = xstrdup(project);
	v->location = xstrdup(location);
	v->bucket = o->bucket && *o->bucket ? xstrdup(o->bucket) : NULL;
	if (o->no_credentials && !o->api_key_file) {
		/* the private server wants a bearer token, any one: none of the user's */
		co.key_header = "Authorization";
		co.fixed_value = "Bearer tunedfs-local";
		co.token_command = NULL;
	}
	rc = creds_new(&co, &v->creds, err); /* an API key is refused, even locally */
	if (rc == 0)
		rc = vx_clients(v, o, err);
	if (rc < 0) {
		vx_close(v);
		return rc;
	}
	*impl = v;
	return 0;
}

static const char *vx_credentials_kind(void *impl)
{
	return creds_kind(((struct vertex_backend *)impl)->creds);
}

static const char *vx_identity(void *impl)
{
	return ((struct vertex_backend *)impl)->identity;
}

static int vx_check_id(const char *id, char *why, size_t len)
{
	if (vertex_name_ok(id))
		return 1;
	snprintf(why, len, "not a usable name (1-128 bytes, no '/' or control characters)");
	return 0;
}

static int vx_check_request(const struct tuning_request *r, char *why, size_t len)
{
	const char *key = NULL, *what = "";

	if (r->settings.batch_size) {
		key = "batch_size";
		what = "has no batch size";
	} else if (r->settings.learning_rate > 0) {
		key = "learning_rate";
		what = "takes no absolute learning rate (use learning_rate_multiplier)";
	} else if (r->source_model) {
		key = "source_model";
		what = "cannot tune a tuned model further here";
	} else if (r->settings.adapter_size && !vertex_adapter_size(r->settings.adapter_size)) {
		key = "adapter_size";
		what = "takes an adapter size of 1, 2, 4, 8, 16 or 32 (or ADAPTER_SIZE_FOUR, ...)";
	} else if (r->generation.has_temperature || r->generation.has_top_p ||
		   r->generation.has_top_k) {
		key = r->generation.has_temperature ? "temperature"
		      : r->generation.has_top_p	    ? "top_p"
						    : "top_k";
		what = "keeps no generation settings with a model (put them in `generation`)";
	} else if (!r->base_model) {
		snprintf(why, len, "config: base_model is needed (e.g. gemini-2.5-flash)");
		return -EINVAL;
	}
	if (!key)
		return 0;
	snprintf(why, len, "config: %s: Vertex AI supervised tuning %s; remove the key", key, what);
	return -EINVAL;
}

/* "/v1/projects/P/locations/L/tuningJobs" with an optional tail. Heap. */
static char *vx_jobs_path(struct vertex_backend *v, const char *tail)
{
	return xasprintf(VERTEX_API "/projects/%s/locations/%s/tuningJobs%s", v->project,
			 v->location, tail ? tail : "");
}

static int vx_malformed(const struct http_response *resp, const char *what,
			struct backend_error *err)
{
	http_error_set(err, resp->status, "",
		       "malformed answer from Vertex AI: %s is not the expected JSON", what);
	return -EIO;
}

/* A resource path under /v1 as the service names it ("projects/..."). */
static int vx_resource_ok(const char *name)
{
	return name && strncmp(name, "projects/", 9) == 0 && !strstr(name, "..") &&
	       !strpbrk(name, "?#%");
}

/* Whether the finished job m is one rm removed: 1 if so, 0 if not or not known now. */
static int vx_look(struct vertex_backend *v, const struct tuned_model *m, struct backend_cancel *c)
{
	struct http_call_options o = {.once = 1};
	struct backend_error e = {0};
	char *bucket, *object, *path;
	int rc = 0;

	if (!vertex_job_ours(m->raw_json, &bucket, &object))
		rc = 0; /* not made by tunedfs: nothing of ours marks it */
	else if (m->state == BACKEND_ACTIVE && vx_resource_ok(m->endpoint)) {
		path = xasprintf(VERTEX_API "/%s", m->endpoint);
		rc = http_call(v->api, HTTP_GET, path, NULL, &o, c, NULL, &e);
		free(path);
	} else if (m->state != BACKEND_ACTIVE && object)
		rc = gcs_stat(v->gcs, bucket, object, c, &e);
	free(bucket);
	free(object);
	return rc;
}

/* Whether a listed job was removed. Vertex AI has no delete for tuning jobs and lists them
 * for good, so rm leaves its mark on what the job made: the endpoint of a succeeded job,
 * the training data tunedfs uploaded for any other. A finished job labelled by tunedfs
 * is looked at once per mount (only rm changes the answer, and rm records it); one look
 * that fails for want of an answer leaves the job shown, and the rest of the page unasked
 * (*later), to the next listing. */
static int vx_gone(struct vertex_backend *v, const struct tuned_model *m, int *later,
		   struct backend_cancel *c)
{
	int rc;

	if (vx_set(v, &v->removed, m->job, VX_HAS))
		return 1;
	if (m->state == BACKEND_CREATING || m->state == BACKEND_STATE_UNKNOWN || *later ||
	    vx_set(v, &v->kept, m->job, VX_HAS))
		return 0;
	rc = vx_look(v, m, c);
	if (rc == -ENOENT) {
		vx_set(v, &v->removed, m->job, VX_ADD);
		return 1;
	}
	/* there, or an answer that will not change by asking again (403, 400) */
	if (rc == 0 || rc == -EACCES || rc == -EPERM || rc == -EINVAL || rc == -ENOSYS)
		vx_set(v, &v->kept, m->job, VX_ADD);
	else
		*later = 1;
	return 0;
}

static int vx_list(void *impl, const char *token, struct model_page *out, struct backend_cancel *c,
		   struct backend_error *err)
{
	struct vertex_backend *v = impl;
	struct http_response resp = {0};
	char *esc = token ? gcs_escape(token) : NULL, *tail, *path;
	int rc, later = 0;

	memset(out, 0, sizeof(*out));
	tail = esc ? xasprintf("?pageSize=%d&pageToken=%s", VERTEX_PAGE_SIZE, esc)
		   : xasprintf("?pageSize=%d", VERTEX_PAGE_SIZE);
	path = vx_jobs_path(v, tail);
	rc = http_request(v->api, HTTP_GET, path, NULL, 0, c, &resp, err);
	if (rc == 0 && vertex_parse_page(resp.body, resp.len, out) < 0)
		rc = vx_malformed(&resp, "the list of tuning jobs", err);
	http_response_clear(&resp);
	free(path);
	free(tail);
	free(esc);
	/* removed, still listed: not shown again */
	for (size_t i = 0; rc == 0 && i < out->n;) {
		if (out->v[i].job && vx_gone(v, &out->v[i], &later, c)) {
			tuned_model_clear(&out->v[i]);
			out->v[i] = out->v[--out->n];
			continue;
		}
		i++;
	}
	return rc;
}

/* Walks every page for the newest job named id (match NULL) or made by this request
 * (match: its dataset URI). 0 and out, -ENOENT, or the listing's error. */
static int vx_find(struct vertex_backend *v, const char *id, const char *match,
		   struct tuned_model *out, struct backend_cancel *c, struct backend_error *err)
{
	char *token = NULL;
	int rc = 0, found = 0;

	for (int page = 0; page < VERTEX_MAX_PAGES && rc == 0; page++) {
		struct model_page p;
		rc = vx_list(v, token, &p, c, err);
		for (size_t i = 0; rc == 0 && i < p.n; i++) {
			struct tuned_model *m = &p.v[i];
			int hit =
			    match ? vertex_job_is(m->raw_json, id, match) : strcmp(m->id, id) == 0;
			if (!hit || (found && m->created < out->created))
				continue;
			if (found)
				tuned_model_clear(out);
			*out = *m;
			memset(m, 0, sizeof(*m));
			found = 1;
		}
		free(token);
		token = rc == 0 && p.next && *p.next ? xstrdup(p.next) : NULL;
		model_page_clear(&p);
		if (!token)
			break;
	}
	free(token);
	if (rc < 0 && found) /* a later page failed: the caller gets the error, not the job */
		tuned_model_clear(out);
	if (rc == 0 && !found) {
		http_error_set(err, 404, "NOT_FOUND", "no tuning job named %.200s", id);
		rc = -ENOENT;
	}
	return rc;
}

static int vx_get(void *impl, const char *id, struct tuned_model *out, struct backend_cancel *c,
		  struct backend_error *err)
{
	return vx_find(impl, id, NULL, out, c, err);
}

/* One request whose 2xx body is a TuningJob. */
static int vx_job_call(struct vertex_backend *v, enum http_method method, const char *path,
		       const char *body, int *maybe_done, struct tuned_model *out,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct http_call_options o = {.maybe_done = maybe_done};
	struct http_response resp = {0};
	int rc = http_call(v->api, method, path, body, &o, c, &resp, err);

	if (rc == 0 && vertex_parse_job(resp.body, resp.len, out) < 0)
		rc = vx_malformed(&resp, "the TuningJob", err);
	http_response_clear(&resp);
	return rc;
}

/* tuningJobs.create is not idempotent (the service picks the job's id), so the transport
 * never resends it: when an answer is lost, the job it may have made is looked for by its
 * label and data first, and only a create that surely made nothing is sent again. */
static int vx_submit(struct vertex_backend *v, const struct tuning_request *r, const char *uri,
		     const char *validation_uri, struct tuned_model *out, struct backend_cancel *c,
		     struct backend_error *err)
{
	char *body = vertex_create_body(r, uri, validation_uri), *path = vx_jobs_path(v, NULL);
	int rc = -EIO;

	for (int attempt = 0; attempt < 3; attempt++) {
		struct http_call_options o = {.once = 1, .fresh = 1};
		struct http_response resp = {0};
		struct backend_error scratch = {0};
		int maybe_done = 0;

		o.maybe_done = &maybe_done;
		rc = http_call(v->api, HTTP_POST, path, body, &o, c, &resp, err);
		if (rc == 0 && vertex_parse_job(resp.body, resp.len, out) < 0)
			rc = vx_malformed(&resp, "the TuningJob", err);
		http_response_clear(&resp);
		if (rc == 0 || rc == -EINTR || (!maybe_done && rc != -EIO))
			break;
		if (maybe_done && vx_find(v, r->id, uri, out, c, &scratch) == 0) {
			rc = 0;
			break;
		}
	}
	free(body);
	free(path);
	return rc;
}

static int vx_create(void *impl, const struct tuning_request *r, struct tuned_model *out,
		     struct backend_cancel *c, struct backend_error *err)
{
	struct vertex_backend *v = impl;
	char why[300] = "", *data = NULL, *object = NULL, *uri = NULL, *vuri = NULL;
	size_t len = 0;
	int rc;

	if (!v->bucket) {
		http_error_set(err, 0, "",
			       "-o bucket=B is needed to tune on Vertex AI: the training data "
			       "goes to gs://B/tunedfs/%s/",
			       r->id);
		return -EINVAL;
	}
	rc = vx_check_request(r, why, sizeof(why));
	if (rc == 0)
		rc = vertex_example_lines(r, r->examples, r->n_examples, "examples.jsonl", &data,
					  &len, why, sizeof(why));
	if (rc < 0) {
		http_error_set(err, 0, "", "%s", why);
		return rc;
	}
	object = vertex_object_name(r->id, "train", data, len);
	uri = xasprintf("gs://%s/%s", v->bucket, object);
	/* a retry of a create whose answer never came: its job, if it was made */
	if (vx_set(v, &v->tried, r->id, VX_HAS) && vx_find(v, r->id, uri, out, c, err) == 0)
		goto done;
	rc = gcs_upload(v->gcs, v->bucket, object, data, len, c, err);
	if (rc == 0 && r->n_validation)
		rc = vertex_upload_validation(v->gcs, v->bucket, r, &vuri, c, err);
	if (rc == 0)
		rc = vx_submit(v, r, uri, vuri, out, c, err);
done:
	if (rc < 0 && rc != -EINVAL && rc != -EACCES)
		vx_set(v, &v->tried, r->id, VX_ADD);
	else
		vx_set(v, &v->tried, r->id, VX_DROP);
	free(data);
	free(object);
	free(uri);
	free(vuri);
	return rc;
}

/* The job again: state, progress, the endpoint once it exists. */
static int vx_progress(void *impl, struct tuned_model *m, struct backend_cancel *c,
		       struct backend_error *err)
{
	struct vertex_backend *v = impl;
	struct tuned_model fresh;
	char *path;
	int rc;

	if (!m->job || !*m->job)
		rc = vx_find(v, m->id, NULL, &fresh, c, err);
	else if (strncmp(m->job, "projects/", 9) != 0 || strstr(m->job, ".."))
		rc = -EINVAL;
	else {
		path = xasprintf(VERTEX_API "/%s", m->job);
		rc = vx_job_call(v, HTTP_GET, path, NULL, NULL, &fresh, c, err);
		free(path);
	}
	if (rc == -EINVAL)
		http_error_set(err, 0, "", "'%.100s' is no tuning job name", m->job);
	if (rc < 0)
		return rc;
	free(fresh.id); /* the name the mount knows it by stays */
	fresh.id = m->id;
	m->id = NULL;
	tuned_model_clear(m);
	*m = fresh;
	return 0;
}

static int vx_cancel(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err)
{
	struct vertex_backend *v = impl;
	char *path;
	int rc;

	if (!m->job || strncmp(m->job, "projects/", 9) != 0 || strstr(m->job, "..")) {
		http_error_set(err, 0, "", "%s has no tuning job to cancel", m->id);
		return -EINVAL;
	}
	path = xasprintf(VERTEX_API "/%s:cancel", m->job);
	rc = http_request(v->api, HTTP_POST, path, "{}", 0, c, NULL, err);
	free(path);
	return rc;
}

/* DELETE of one resource the job made; a refusal is added to what the log will say. */
static void vx_delete_part(struct vertex_backend *v, const char *what, const char *name,
			   struct backend_cancel *c, char *said, size_t len)
{
	struct backend_error e = {0};
	char *path;
	int rc;

	if (!name || strncmp(name, "projects/", 9) != 0 || strstr(name, ".."))
		return;
	path = xasprintf(VERTEX_API "/%s", name);
	rc = http_call(v->api, HTTP_DELETE, path, NULL, NULL, c, NULL, &e);
	free(path);
	if (rc < 0 && rc != -ENOENT)
		snprintf(said + strlen(said), len - strlen(said),
			 "%sthe %s was not deleted (%.200s)", said[0] ? "; " : "", what,
			 e.message[0] ? e.message : strerror(-rc));
}

/* The training data tunedfs uploaded for the job: without it a job that did not succeed
 * is known as removed at the next mount (the job itself cannot be deleted). */
static void vx_delete_data(struct vertex_backend *v, const struct tuned_model *m,
			   struct backend_cancel *c, char *said, size_t len)
{
	struct backend_error e = {0};
	char *bucket, *object;
	int rc = 0;

	vertex_job_ours(m->raw_json, &bucket, &object);
	if (object)
		rc = gcs_delete(v->gcs, bucket, object, c, &e);
	if (rc < 0)
		snprintf(said + strlen(said), len - strlen(said),
			 "%sthe training data gs://%s/%s was not deleted (%.200s)",
			 said[0] ? "; " : "", bucket, object,
			 e.message[0] ? e.message : strerror(-rc));
	free(bucket);
	free(object);
	vertex_job_validation(m->raw_json, &bucket, &object);
	if (object) /* the validation set too, as far as it goes */
		gcs_delete(v->gcs, bucket, object, c, &e);
	free(bucket);
	free(object);
}

/* A tuned model stays deployed on its endpoint; neither goes while it is: undeploy. */
static void vx_undeploy(struct vertex_backend *v, const char *endpoint, struct backend_cancel *c,
			char *said, size_t len)
{
	struct http_response resp = {0};
	struct backend_error e = {0};
	char *path, *id = NULL, *body;
	int rc;

	if (!endpoint || strncmp(endpoint, "projects/", 9) != 0 || strstr(endpoint, ".."))
		return;
	path = xasprintf(VERTEX_API "/%s", endpoint);
	rc = http_request(v->api, HTTP_GET, path, NULL, 0, c, &resp, &e);
	if (rc == 0)
		id = vertex_deployed_model(resp.body, resp.len);
	http_response_clear(&resp);
	free(path);
	if (!id || strpbrk(id, "\"\\")) {
		free(id);
		return;
	}
	path = xasprintf(VERTEX_API "/%s:undeployModel", endpoint);
	body = xasprintf("{\"deployedModelId\": \"%s\"}", id);
	rc = http_request(v->api, HTTP_POST, path, body, 0, c, NULL, &e);
	if (rc < 0)
		snprintf(said + strlen(said), len - strlen(said),
			 "%sthe model was not undeployed (%.200s)", said[0] ? "; " : "",
			 e.message[0] ? e.message : strerror(-rc));
	free(body);
	free(path);
	free(id);
}

static int vx_remove(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err)
{
	struct vertex_backend *v = impl;
	struct tuned_model job = {0}, now = {0};
	struct backend_error scratch = {0};
	char said[sizeof(err->message)] = "";
	char *model, *path;
	int rc = 0;

	if (!m->job || !*m->job) {
		rc = vx_find(v, m->id, NULL, &job, c, err);
		if (rc < 0)
			return rc;
		m = &job;
	}
	/* running, or not known to have ended: stop it first, then read it again: the mount
	 * may know it only by name (made here, not listed yet), and it may have succeeded
	 * meanwhile, so what it made (endpoint, model, data) is read from the job itself */
	if (m->state != BACKEND_ACTIVE && m->state != BACKEND_FAILED) {
		if (vx_cancel(v, m, c, err) < 0 && err)
			snprintf(said, sizeof(said), "the job was not cancelled (%.400s)",
				 err->message);
		path = vx_resource_ok(m->job) ? xasprintf(VERTEX_API "/%s", m->job) : NULL;
		if (path && vx_job_call(v, HTTP_GET, path, NULL, NULL, &now, c, &scratch) == 0)
			m = &now;
		free(path);
	}
	model = vertex_job_model(m->raw_json);
	vx_undeploy(v, m->endpoint, c, said, sizeof(said));
	vx_delete_part(v, "endpoint", m->endpoint, c, said, sizeof(said));
	vx_delete_part(v, "model", model, c, said, sizeof(said));
	vx_delete_data(v, m, c, said, sizeof(said));
	free(model);
	vx_set(v, &v->removed, m->job, VX_ADD);
	if (err) {
		memset(err, 0, sizeof(*err));
		if (said[0])
			snprintf(err->message, sizeof(err->message), "rm: %s", said);
	}
	tuned_model_clear(&job);
	tuned_model_clear(&now);
	return 0;
}

static int vx_generate(void *impl, const struct tuned_model *m, const char *prompt,
		       const struct generation_settings *gs, struct generation_answer *out,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct vertex_backend *v = impl;
	struct http_call_options o = {.long_timeout = 1};
	struct http_response resp = {0};
	char *body, *path, why[400];
	int rc;

	if (!m->endpoint || strncmp(m->endpoint, "projects/", 9) != 0 ||
	    strstr(m->endpoint, "..")) {
		http_error_set(err, 0, "", "%s has no endpoint to answer from yet", m->id);
		return -EINVAL;
	}
	body = gemini_generate_request_json(prompt, gs);
	path = xasprintf(VERTEX_API "/%s:generateContent", m->endpoint);
	rc = http_call(v->api, HTTP_POST, path, body, &o, c, &resp, err);
	if (rc == 0 && gemini_check_answer(resp.body, resp.len, GEMINI_ANSWER_GENERATION, why,
					   sizeof(why)) < 0) {
		http_error_set(err, resp.status, "", "unusable answer from the service: %s", why);
		rc = -EIO;
	}
	if (rc == 0 && gemini_parse_generation(resp.body, resp.len, out) < 0)
		rc = vx_malformed(&resp, "the GenerateContentResponse", err);
	http_response_clear(&resp);
	free(body);
	free(path);
	return rc;
}

static int vx_generate_stream(void *impl, const struct tuned_model *m, const char *prompt,
			      const struct generation_settings *gs, backend_text_fn on_text,
			      void *arg, struct generation_answer *out, struct backend_cancel *c,
			      struct backend_error *err)
{
	struct vertex_backend *v = impl;
	char *body, *path;
	int rc;

	if (!m->endpoint || strncmp(m->endpoint, "projects/", 9) != 0 ||
	    strstr(m->endpoint, "..")) {
		http_error_set(err, 0, "", "%s has no endpoint to answer from yet", m->id);
		return -EINVAL;
	}
	body = gemini_generate_request_json(prompt, gs);
	path = xasprintf(VERTEX_API "/%s:streamGenerateContent?alt=sse", m->endpoint);
	rc = gemini_stream_call(v->api, path, body, on_text, arg, c, out, err);
	free(body);
	free(path);
	return rc;
}

/* countTokens on the tuned model's endpoint, or, for a model not tuned yet (no id: the
 * estimate before tuning), on its base model as the publisher's model. */
static char *vx_count_path(const struct vertex_backend *v, const struct tuned_model *m,
			   struct backend_error *err)
{
	const char *base = m->base_model;

	if (!m->id && base) {
		base = strncmp(base, "models/", 7) == 0 ? base + 7 : base;
		for (const char *p = base; p && *p; p++)
			if (!(*p == '-' || *p == '.' || *p == '_' || (*p >= '0' && *p <= '9') ||
			      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				base = NULL;
		if (base && *base && strlen(base) < 128)
			return xasprintf(VERTEX_API
					 "/projects/%s/locations/%s/publishers/google/models/%s",
					 v->project, v->location, base);
	}
	if (!m->endpoint || strncmp(m->endpoint, "projects/", 9) != 0 ||
	    strstr(m->endpoint, "..")) {
		http_error_set(err, 0, "", "%s has no endpoint to count tokens on yet",
			       m->id ? m->id : "the model");
		return NULL;
	}
	return xasprintf(VERTEX_API "/%s", m->endpoint);
}

static int vx_count_tokens(void *impl, const struct tuned_model *m, const char *const *texts,
			   size_t n_texts, long *n, struct backend_cancel *c,
			   struct backend_error *err)
{
	struct vertex_backend *v = impl;
	struct http_call_options o = {0};
	struct http_response resp = {0};
	char *body, *path, *res = vx_count_path(v, m, err);
	int rc;

	if (!res)
		return -EINVAL;
	body = gemini_count_request_json(texts, n_texts);
	path = xasprintf("%s:countTokens", res);
	rc = http_call(v->api, HTTP_POST, path, body, &o, c, &resp, err);
	if (rc == 0 && gemini_parse_token_count(resp.body, resp.len, n) < 0)
		rc = vx_malformed(&resp, "the CountTokensResponse", err);
	http_response_clear(&resp);
	free(body);
	free(path);
	free(res);
	return rc;
}

/* Vertex AI supervised tuning: at least 16 examples, 131,072 tokens of input and output
 * per example (Gemini 2.x; no limit in characters); an unset epochCount is picked by the service
 * from the dataset, so the estimate assumes 5, what tunedfs-server picks. */
static void vx_dataset_rules(size_t n_examples, struct backend_dataset_rules *out)
{
	(void)n_examples;
	out->min_examples = 16;
	out->max_example_tokens = 131072;
	out->default_epochs = 5;
	out->epochs_assumed = 1;
	out->limits = "Vertex AI supervised tuning documentation";
}

static int vx_read_answer(const char *raw, size_t len, struct generation_answer *out)
{
	return gemini_parse_generation(raw, len, out);
}

static void vx_stats(void *impl, struct backend_stats *out)
{
	struct vertex_backend *v = impl;
	struct http_stats a, g;

	memset(&g, 0, sizeof(g));
	http_client_stats(v->api, &a);
	if (v->gcs != v->api)
		http_client_stats(v->gcs, &g);
	out->requests = a.requests + g.requests;
	out->retries = a.retries + g.retries;
	out->failures = a.failures + g.failures;
	creds_stats(v->creds, &out->token_refreshes, &out->token_failures);
}

void vertex_backend_parts(void *impl, struct vertex_parts *out)
{
	struct vertex_backend *v = impl;

	*out = (struct vertex_parts){v->api, v->gcs, v->project, v->location, v->bucket};
}

const struct backend_ops backend_vertex_ops = {
    .name = "vertex",
    .caps = BACKEND_CAN_CANCEL | BACKEND_CAN_COUNT_TOKENS | BACKEND_CAN_STREAM |
	    BACKEND_HAS_LR_MULTIPLIER | BACKEND_HAS_ADAPTER_SIZE | BACKEND_HAS_VALIDATION,
    .open = vx_open,
    .close = vx_close,
    .credentials_kind = vx_credentials_kind,
    .identity = vx_identity,
    .check_id = vx_check_id,
    .check_request = vx_check_request,
    .list = vx_list,
    .get = vx_get,
    .create = vx_create,
    .progress = vx_progress,
    .cancel = vx_cancel,
    .remove = vx_remove,
    .generate = vx_generate,
    .generate_stream = vx_generate_stream,
    .count_tokens = vx_count_tokens,
    .read_answer = vx_read_answer,
    .stats = vx_stats,
    .dataset_rules = vx_dataset_rules,
    .batch = &vertex_batch_ops,
};
