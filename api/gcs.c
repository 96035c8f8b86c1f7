/* gcs.c - Cloud Storage uploads, deletes and existence checks of gcs.h: uploadType=media
 * for small data, a resumable session (POST for the session URI, then one PUT of the bytes)
 * for large; deleting everything under a prefix (objects.list pages, then a delete each).
 * Only the listing's JSON is read: elsewhere a 2xx answer is the success. */
#include "api/gcs.h"
#include "api/backend.h"
#include "api/http.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GCS_TYPE "application/jsonl"

char *gcs_escape(const char *s)
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

/* The path part of a session URI on the client's own host (the transport takes paths). */
static const char *gcs_session_path(struct http_client *hc, const char *uri)
{
	const char *base = http_client_endpoint(hc), *p;
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (uri[0] == '/')
		return uri;
	if (strncmp(uri, base, n) == 0 && uri[n] == '/')
		return uri + n;
	/* the service's own host under another spelling: keep what follows it */
	p = strstr(uri, "://");
	return p && strncmp(base, "unix:", 5) == 0 ? strchr(p + 3, '/') : NULL;
}

static int gcs_resumable(struct http_client *hc, const char *bucket, const char *name,
			 const char *data, size_t len, struct backend_cancel *c,
			 struct backend_error *err)
{
	struct http_call_options start = {.want_location = 1, .content_type = "application/json"};
	struct http_call_options put = {.content_type = GCS_TYPE, .body_len = len};
	struct http_response resp = {0};
	char *path =
	    xasprintf("/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s", bucket, name);
	const char *session;
	int rc = http_call(hc, HTTP_POST, path, "{}", &start, c, &resp, err);

	free(path);
	if (rc == 0 && (!resp.location || !(session = gcs_session_path(hc, resp.location)))) {
		http_error_set(err, resp.status, "",
			       "Cloud Storage gave no usable session for a resumable upload");
		rc = -EIO;
	}
	if (rc == 0) {
		char *where = xstrdup(session);
		http_response_clear(&resp);
		rc = http_call(hc, HTTP_PUT, where, data, &put, c, &resp, err);
		free(where);
	}
	http_response_clear(&resp);
	return rc;
}

int gcs_upload(struct http_client *hc, const char *bucket, const char *object, const char *data,
	       size_t len, struct backend_cancel *c, struct backend_error *err)
{
	struct http_call_options o = {.content_type = GCS_TYPE, .body_len = len};
	char *name = gcs_escape(object), *b = gcs_escape(bucket), *path;
	int rc;

	if (len >= (size_t)GCS_RESUMABLE_FROM) {
		rc = gcs_resumable(hc, b, name, data, len, c, err);
	} else {
		path = xasprintf("/upload/storage/v1/b/%s/o?uploadType=media&name=%s", b, name);
		rc = http_call(hc, HTTP_POST, path, data, &o, c, NULL, err);
		free(path);
	}
	free(name);
	free(b);
	return rc;
}

int gcs_delete(struct http_client *hc, const char *bucket, const char *object,
	       struct backend_cancel *c, struct backend_error *err)
{
	char *name = gcs_escape(object), *b = gcs_escape(bucket);
	char *path = xasprintf("/storage/v1/b/%s/o/%s", b, name);
	int rc = http_call(hc, HTTP_DELETE, path, NULL, NULL, c, NULL, err);

	free(path);
	free(name);
	free(b);
	return rc == -ENOENT ? 0 : rc;
}

int gcs_stat(struct http_client *hc, const char *bucket, const char *object,
	     struct backend_cancel *c, struct backend_error *err)
{
	struct http_call_options o = {.once = 1};
	char *name = gcs_escape(object), *b = gcs_escape(bucket);
	char *path = xasprintf("/storage/v1/b/%s/o/%s", b, name);
	int rc = http_call(hc, HTTP_GET, path, NULL, &o, c, NULL, err);

	free(path);
	free(name);
	free(b);
	return rc;
}

int gcs_download(struct http_client *hc, const char *bucket, const char *object,
		 struct http_response *resp, struct backend_cancel *c, struct backend_error *err)
{
	struct http_call_options o = {.long_timeout = 1};
	char *name = gcs_escape(object), *b = gcs_escape(bucket);
	char *path = xasprintf("/download/storage/v1/b/%s/o/%s?alt=media", b, name);
	int rc = http_call(hc, HTTP_GET, path, NULL, &o, c, resp, err);

	free(path);
	free(name);
	free(b);
	return rc;
}

/* One page of the objects under prefix: their names appended to *names, the next page's
 * token in *next (heap; NULL on the last page). */
static int gcs_list_page(struct http_client *hc, const char *b, const char *prefix,
			 const char *token, char ***names, size_t *n, char **next,
			 struct backend_cancel *c, struct backend_error *err)
{
	struct http_response resp = {0};
	char *p = gcs_escape(prefix), *t = gcs_escape(token ? token : "");
	char *path =
	    xasprintf("/storage/v1/b/%s/o?prefix=%s%s%s", b, p, token ? "&pageToken=" : "", t);
	int rc = http_call(hc, HTTP_GET, path, NULL, NULL, c, &resp, err);
	cJSON *o = rc == 0 ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items"), *tok;

	*next = NULL;
	if (rc == 0 && !cJSON_IsObject(o)) {
		http_error_set(err, resp.status, "", "malformed listing from Cloud Storage");
		rc = -EIO;
	}
	for (const cJSON *it = cJSON_IsArray(items) ? items->child : NULL; it; it = it->next) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (cJSON_IsString(name) &&
		    strncmp(name->valuestring, prefix, strlen(prefix)) == 0) {
			*names = xrealloc(*names, (*n + 1) * sizeof(**names));
			(*names)[(*n)++] = xstrdup(name->valuestring);
		}
	}
	tok = cJSON_GetObjectItemCaseSensitive(o, "nextPageToken");
	if (rc == 0 && cJSON_IsString(tok) && *tok->valuestring)
		*next = xstrdup(tok->valuestring);
	cJSON_Delete(o);
	http_response_clear(&resp);
	free(path);
	free(p);
	free(t);
	return rc;
}

int gcs_delete_under(struct http_client *hc, const char *bucket, const char *prefix,
		     struct backend_cancel *c, struct backend_error *err)
{
	char *b = gcs_escape(bucket), *token = NULL, *next, **names = NULL;
	size_t n = 0;
	int rc = 0, pages = 0;

	/* listed whole first: deleting while paging would shift the pages */
	do {
		rc = gcs_list_page(hc, b, prefix, token, &names, &n, &next, c, err);
		free(token);
		token = next;
	} while (rc == 0 && token && ++pages < 1000);
	free(token);
	for (size_t i = 0, listed = rc == 0; i < n; i++) {
		struct backend_error e = {0};
		int one = listed ? gcs_delete(hc, bucket, names[i], c, &e) : 0;
		if (one < 0 && rc == 0) {
			*err = e;
			rc = one;
		}
		free(names[i]);
	}
	free(names);
	free(b);
	return rc;
}
