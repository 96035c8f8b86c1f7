/* gcs_routes.c - the Cloud Storage family of tunedfs-server: the JSON API's object
 * routes a tuning client needs (upload by media or resumable session, metadata, download,
 * list by prefix, delete) over the server's stored objects (objects.c). Bearer token as Vertex. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/dynbuf.h"
#include "base/xalloc.h"
#include "server/gcs/gcs.h"
#include "server/google/google_rpc.h"
#include "server/json_util.h"
#include "server/objects.h"
#include "server/srv.h"

/* The JSON API's envelope: google.rpc's fields plus its errors[] with a reason word. */
static void gcs_error(struct srv_reply *rep, int http_status, const char *status, const char *msg)
{
	static const char *const reasons[][2] = {
	    {"NOT_FOUND", "notFound"},
	    {"INVALID_ARGUMENT", "invalid"},
	    {"UNAUTHENTICATED", "required"},
	    {"PERMISSION_DENIED", "forbidden"},
	    {"FAILED_PRECONDITION", "conditionNotMet"},
	    {"RESOURCE_EXHAUSTED", "rateLimitExceeded"},
	};
	const char *reason = "backendError";
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (!strcmp(status, reasons[i][0]))
			reason = reasons[i][1];
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddNumberToObject(e, "code", http_status);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "status", status);
	cJSON *one = cJSON_CreateObject();
	cJSON_AddStringToObject(one, "message", msg);
	cJSON_AddStringToObject(one, "domain", "global");
	cJSON_AddStringToObject(one, "reason", reason);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "errors"), one);
	srv_reply_json(rep, http_status, o);
}

static void empty(struct srv_reply *rep, int status)
{
	srv_reply_raw(rep, status, "text/plain; charset=UTF-8", xstrdup(""), 0);
}

/* "http://HOST" of the request, for the links an object carries. */
static void base_url(const struct srv_request *req, char *buf, size_t len)
{
	const char *host = srv_request_header(req, "Host");
	snprintf(buf, len, "http://%s", host && *host ? host : "127.0.0.1");
}

/* Object names go into URLs percent-encoded ('/' too, as the JSON API wants). */
static void url_encode(struct dynbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			dynbuf_append(b, s, 1);
		else
			dynbuf_printf(b, "%%%02X", c);
	}
}

static cJSON *object_json(const struct srv_request *req, const struct srv_object *o)
{
	char base[300], t[48], gen[32], md5[32];
	struct dynbuf enc = DYNBUF_INIT, link = DYNBUF_INIT;
	base_url(req, base, sizeof(base));
	url_encode(&enc, o->name);
	snprintf(gen, sizeof(gen), "%lld", (long long)o->generation);
	EVP_EncodeBlock((unsigned char *)md5, o->md5, 16);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "kind", "storage#object");
	dynbuf_printf(&link, "%s/%s/%s", o->bucket, o->name, gen);
	cJSON_AddStringToObject(j, "id", link.data);
	dynbuf_free(&link);
	dynbuf_printf(&link, "%s/storage/v1/b/%s/o/%s", base, o->bucket, enc.data);
	cJSON_AddStringToObject(j, "selfLink", link.data);
	dynbuf_free(&link);
	dynbuf_printf(&link, "%s/download/storage/v1/b/%s/o/%s?generation=%s&alt=media", base,
		      o->bucket, enc.data, gen);
	cJSON_AddStringToObject(j, "mediaLink", link.data);
	dynbuf_free(&link);
	dynbuf_free(&enc);
	cJSON_AddStringToObject(j, "name", o->name);
	cJSON_AddStringToObject(j, "bucket", o->bucket);
	cJSON_AddStringToObject(j, "generation", gen);
	cJSON_AddStringToObject(j, "metageneration", "1");
	cJSON_AddStringToObject(j, "contentType", o->content_type);
	cJSON_AddStringToObject(j, "storageClass", "STANDARD");
	snprintf(t, sizeof(t), "%zu", o->size);
	cJSON_AddStringToObject(j, "size", t);
	cJSON_AddStringToObject(j, "md5Hash", md5);
	cJSON_AddStringToObject(j, "etag", md5);
	srv_json_time(o->created_ns, t, sizeof(t));
	cJSON_AddStringToObject(j, "timeCreated", t);
	srv_json_time(o->updated_ns, t, sizeof(t));
	cJSON_AddStringToObject(j, "updated", t);
	return j;
}

static void store_failed(struct srv_reply *rep, int rc, const char *bucket, const char *name)
{
	if (rc == -EINVAL)
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid bucket or object name: %.64s/%.200s.", bucket, name);
	else
		srv_reply_error(rep, 500, "INTERNAL", "Cannot store %.64s/%.200s: %s.", bucket,
				name, strerror(-rc));
}

static void start_resumable(struct srv *s, const struct srv_request *req, const char *bucket,
			    const char *name, struct srv_reply *rep)
{
	char id[32], base[300];
	const char *type = srv_request_header(req, "X-Upload-Content-Type");
	int rc = srv_upload_start(s->opt.data_dir, bucket, name, type, id, sizeof(id));
	if (rc) {
		store_failed(rep, rc, bucket, name);
		return;
	}
	struct dynbuf loc = DYNBUF_INIT;
	base_url(req, base, sizeof(base));
	dynbuf_printf(&loc, "%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=", base, bucket);
	url_encode(&loc, name);
	dynbuf_printf(&loc, "&upload_id=%s", id);
	srv_reply_header(rep, "Location", loc.data);
	srv_reply_header(rep, "X-GUploader-UploadID", id);
	dynbuf_free(&loc);
	empty(rep, 200);
}

/* The object's name: ?name=, else the "name" of a JSON metadata body (resumable). */
static int upload_name(const struct srv_request *req, int meta_ok, char *name, size_t len)
{
	int rc = srv_query_get(req->query, "name", name, len);
	if (rc == 1 && *name)
		return 0;
	cJSON *meta = NULL;
	char why[128];
	if (!meta_ok || !req->body_len ||
	    srv_json_parse(req->body, req->body_len, &meta, why, sizeof(why)))
		return -EINVAL;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(meta, "name");
	rc = cJSON_IsString(n) && strlen(n->valuestring) < len ? 0 : -EINVAL;
	if (!rc)
		snprintf(name, len, "%s", n->valuestring);
	cJSON_Delete(meta);
	return rc;
}

static void insert(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		   struct srv_reply *rep)
{
	char type[32] = "", name[SRV_OBJECT_NAME_MAX + 1], match[32];
	const char *bucket = srv_param(p, "bucket");
	srv_query_get(req->query, "uploadType", type, sizeof(type));
	int resumable = !strcmp(type, "resumable");
	if (!resumable && strcmp(type, "media")) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"uploadType must be media or resumable here, not '%.20s'.", type);
		return;
	}
	if (upload_name(req, resumable, name, sizeof(name))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Required parameter: name (the object's name).");
		return;
	}
	struct srv_object o;
	if (srv_query_get(req->query, "ifGenerationMatch", match, sizeof(match)) == 1 &&
	    !strcmp(match, "0") && srv_object_stat(s->opt.data_dir, bucket, name, &o) == 0) {
		srv_reply_error(rep, 412, "FAILED_PRECONDITION",
				"At least one of the pre-conditions you specified did not hold.");
		return;
	}
	if (resumable) {
		start_resumable(s, req, bucket, name, rep);
		return;
	}
	int rc =
	    srv_object_put(s->opt.data_dir, bucket, name, srv_request_header(req, "Content-Type"),
			   req->body ? req->body : "", req->body_len, &o);
	if (rc)
		store_failed(rep, rc, bucket, name);
	else
		srv_reply_json(rep, 200, object_json(req, &o));
}

/* "bytes A-B/T", "bytes * /T" (no space) or absent; T may be "*". -1 for unknown parts. */
static int content_range(const char *h, long long *first, long long *last, long long *total)
{
	*first = *last = *total = -1;
	if (!h)
		return 0;
	if (strncmp(h, "bytes ", 6))
		return -EINVAL;
	h += 6;
	char *end;
	if (*h == '*') {
		h++;
	} else {
		*first = strtoll(h, &end, 10);
		if (*end != '-')
			return -EINVAL;
		*last = strtoll(end + 1, &end, 10);
		h = end;
		if (*first < 0 || *last < *first)
			return -EINVAL;
	}
	if (*h++ != '/')
		return -EINVAL;
	if (*h != '*') {
		*total = strtoll(h, &end, 10);
		if (*end || *total < 0)
			return -EINVAL;
	}
	return 0;
}

static void incomplete(struct srv_reply *rep, size_t have)
{
	char range[64];
	if (have > 0) {
		snprintf(range, sizeof(range), "bytes=0-%zu", have - 1);
		srv_reply_header(rep, "Range", range);
	}
	empty(rep, 308);
}

static void session_put(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep)
{
	char id[64];
	long long first, last, total;
	size_t have = 0;
	struct srv_object o;
	if (srv_query_get(req->query, "upload_id", id, sizeof(id)) != 1 ||
	    content_range(srv_request_header(req, "Content-Range"), &first, &last, &total)) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Expected ?upload_id= and a Content-Range of bytes A-B/T.");
		return;
	}
	/* "bytes * /T" asks where the session is; no Content-Range is the whole object. */
	int query = first < 0 && total >= 0, whole = first < 0 && total < 0;
	size_t offset = first < 0 ? 0 : (size_t)first;
	int rc = srv_upload_append(s->opt.data_dir, id, offset, req->body,
				   query ? 0 : req->body_len, &have);
	if (rc == -ERANGE && !query) {
		incomplete(rep, have); /* not where the session is: say where it is */
		return;
	}
	if (rc && rc != -ERANGE) {
		srv_reply_error(rep, 404, "NOT_FOUND", "No such upload session.");
		return;
	}
	if (whole || (total >= 0 && (long long)have >= total)) {
		rc = srv_upload_finish(s->opt.data_dir, id, &o);
		if (rc)
			srv_reply_error(rep, 500, "INTERNAL", "Cannot store the upload: %s.",
					strerror(-rc));
		else
			srv_reply_json(rep, 200, object_json(req, &o));
		return;
	}
	incomplete(rep, have);
}

static void session_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep)
{
	char id[64];
	if (srv_query_get(req->query, "upload_id", id, sizeof(id)) != 1 ||
	    srv_upload_cancel(s->opt.data_dir, id)) {
		srv_reply_error(rep, 404, "NOT_FOUND", "No such upload session.");
		return;
	}
	empty(rep, 499);
}

static void not_found(struct srv_reply *rep, const char *bucket, const char *name)
{
	srv_reply_error(rep, 404, "NOT_FOUND", "No such object: %.64s/%.300s", bucket, name);
}

static void media(struct srv *s, const struct srv_request *req, const char *bucket,
		  const char *name, struct srv_reply *rep)
{
	struct srv_object o;
	char *data;
	size_t len;
	if (srv_object_stat(s->opt.data_dir, bucket, name, &o) ||
	    srv_object_read(s->opt.data_dir, bucket, name, (size_t)1 << 34, &data, &len)) {
		not_found(rep, bucket, name);
		return;
	}
	srv_reply_raw(rep, 200, NULL, data, len);
	srv_reply_header(rep, "Content-Type", o.content_type);
	rep->content_type = NULL;
}

static void get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		struct srv_reply *rep)
{
	char alt[16] = "";
	const char *bucket = srv_param(p, "bucket"), *name = srv_param(p, "object");
	struct srv_object o;
	if (srv_query_get(req->query, "alt", alt, sizeof(alt)) == 1 && !strcmp(alt, "media"))
		media(s, req, bucket, name, rep);
	else if (srv_object_stat(s->opt.data_dir, bucket, name, &o))
		not_found(rep, bucket, name);
	else
		srv_reply_json(rep, 200, object_json(req, &o));
}

static void download(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep)
{
	media(s, req, srv_param(p, "bucket"), srv_param(p, "object"), rep);
}

static void delete (struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep)
{
	const char *bucket = srv_param(p, "bucket"), *name = srv_param(p, "object");
	if (srv_object_delete(s->opt.data_dir, bucket, name))
		not_found(rep, bucket, name);
	else
		empty(rep, 204);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct srv_object *)a)->name, ((const struct srv_object *)b)->name);
}

/* Where a listing goes on: after the object named by the page token (its name in hex). */
static int list_after(const struct srv_request *req, char *after, size_t len)
{
	char tok[2 * SRV_OBJECT_NAME_MAX + 2] = "";
	size_t n;
	after[0] = '\0';
	if (srv_query_get(req->query, "pageToken", tok, sizeof(tok)) != 1 || !tok[0])
		return 0;
	n = strlen(tok);
	if (n % 2 || n / 2 >= len || strspn(tok, "0123456789abcdef") != n)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		unsigned v;
		sscanf(tok + i, "%2x", &v);
		after[i / 2] = (char)v;
	}
	after[n / 2] = '\0';
	return 0;
}

/* One object of a listing: an item, or (with a delimiter after the prefix) its prefix
 * once. 1 when it took a place on the page. */
static int list_one(const struct srv_request *req, const struct srv_object *o, const char *prefix,
		    const char *delim, cJSON *items, cJSON *prefixes)
{
	const char *rest = o->name + strlen(prefix), *cut = *delim ? strstr(rest, delim) : NULL;
	if (!cut) {
		cJSON_AddItemToArray(items, object_json(req, o));
		return 1;
	}
	char *p = xstrndup(o->name, (size_t)(cut - o->name) + strlen(delim));
	cJSON *last = cJSON_GetArrayItem(prefixes, cJSON_GetArraySize(prefixes) - 1);
	int fresh = !last || strcmp(last->valuestring, p) != 0;
	if (fresh)
		cJSON_AddItemToArray(prefixes, cJSON_CreateString(p));
	free(p);
	return fresh;
}

/* objects.list: by name, from prefix, maxResults a page (1000 at most), the names past a
 * delimiter folded into prefixes[]. */
static void list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		 struct srv_reply *rep)
{
	char prefix[SRV_OBJECT_NAME_MAX + 1] = "", delim[64] = "", max[16] = "";
	char after[SRV_OBJECT_NAME_MAX + 1];
	struct srv_object *v = NULL;
	size_t n = 0, k = 0;
	long limit = 1000;
	srv_query_get(req->query, "prefix", prefix, sizeof(prefix));
	srv_query_get(req->query, "delimiter", delim, sizeof(delim));
	if (srv_query_get(req->query, "maxResults", max, sizeof(max)) == 1)
		limit = strtol(max, NULL, 10);
	if (limit < 1 || limit > 1000)
		limit = 1000;
	if (list_after(req, after, sizeof(after)) < 0) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "Invalid page token.");
		return;
	}
	srv_object_list(s->opt.data_dir, srv_param(p, "bucket"), &v, &n);
	if (n)
		qsort(v, n, sizeof(*v), by_name);
	cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray(), *pre = cJSON_CreateArray();
	cJSON_AddStringToObject(o, "kind", "storage#objects");
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i].name, prefix, strlen(prefix)) != 0 ||
		    strcmp(v[i].name, after) <= 0)
			continue;
		if ((long)k == limit) { /* more: the next page starts after the last one listed */
			struct dynbuf t = DYNBUF_INIT;
			for (const char *c = v[i - 1].name; *c; c++)
				dynbuf_printf(&t, "%02x", (unsigned char)*c);
			cJSON_AddStringToObject(o, "nextPageToken", t.data);
			dynbuf_free(&t);
			break;
		}
		k += (size_t)list_one(req, &v[i], prefix, delim, items, pre);
	}
	/* as the service does, an empty list has no items[] (and no prefixes[]) */
	if (cJSON_GetArraySize(pre))
		cJSON_AddItemToObject(o, "prefixes", pre);
	else
		cJSON_Delete(pre);
	if (cJSON_GetArraySize(items))
		cJSON_AddItemToObject(o, "items", items);
	else
		cJSON_Delete(items);
	free(v);
	srv_reply_json(rep, 200, o);
}

static const struct srv_route routes[] = {
    {"POST", "/upload/storage/v1/b/{bucket}/o", NULL, "objects.insert", insert, 0},
    /* The session URI is its own credential, as Cloud Storage's is. */
    {"PUT", "/upload/storage/v1/b/{bucket}/o", NULL, "objects.upload", session_put, SRV_ROUTE_OPEN},
    {"DELETE", "/upload/storage/v1/b/{bucket}/o", NULL, "objects.cancelUpload", session_cancel,
     SRV_ROUTE_OPEN},
    {"GET", "/storage/v1/b/{bucket}/o", NULL, "objects.list", list, 0},
    {"GET", "/storage/v1/b/{bucket}/o/{object*}", NULL, "objects.get", get, 0},
    {"GET", "/download/storage/v1/b/{bucket}/o/{object*}", NULL, "objects.get", download, 0},
    {"DELETE", "/storage/v1/b/{bucket}/o/{object*}", NULL, "objects.delete", delete, 0},
};

static const char *const prefixes[] = {"/storage/", "/upload/storage/", "/download/storage/", NULL};

const struct srv_family srv_family_gcs = {
    .name = "gcs",
    .prefixes = prefixes,
    .routes = routes,
    .n_routes = sizeof(routes) / sizeof(routes[0]),
    .error = gcs_error,
    .auth = srv_google_auth_bearer,
};
