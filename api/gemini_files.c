/* gemini_files.c - the Gemini Files API as the batch engine needs it: a resumable upload
 * (start, then upload chunks, the last one finalizing) and a delete. Not here: listing
 * files, or reading one (gemini_batch.c downloads the responses file). */
#include "api/backend_impl.h"
#include "api/gemini_internal.h"
#include "api/http.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* The chunk size the SDKs use. */
#define GEMINI_UPLOAD_CHUNK ((size_t)8 << 20)

/* The session's path: the service's host is ours, whatever spelling the URL gives it. */
static const char *gfl_session_path(const char *url)
{
	const char *p = strstr(url, "://");

	if (url[0] == '/')
		return url;
	return p ? strchr(p + 3, '/') : NULL;
}

static int gfl_start(struct gemini_client *gc, const char *display_name, size_t len, char **path,
		     struct backend_cancel *c, struct backend_error *err)
{
	struct http_response resp = {0};
	char lenh[80], url[2048];
	struct http_call_options o = {
	    .extra_headers = {"X-Goog-Upload-Protocol: resumable", "X-Goog-Upload-Command: start",
			      lenh, "X-Goog-Upload-Header-Content-Type: application/jsonl"},
	};
	cJSON *body = cJSON_CreateObject(), *file;
	const char *p = NULL;
	char *text;
	int rc;

	if (!body || !(file = cJSON_AddObjectToObject(body, "file")) ||
	    !cJSON_AddStringToObject(file, "displayName", display_name) ||
	    !cJSON_AddStringToObject(file, "mimeType", "application/jsonl"))
		xalloc_die(0);
	snprintf(lenh, sizeof(lenh), "X-Goog-Upload-Header-Content-Length: %zu", len);
	text = gemini_json_print(body);
	cJSON_Delete(body);
	rc = http_call(gc->http, HTTP_POST, "/upload/v1beta/files", text, &o, c, &resp, err);
	free(text);
	if (rc == 0 && http_response_header(&resp, "x-goog-upload-url", url, sizeof(url)) == 0)
		p = gfl_session_path(url);
	if (rc == 0 && !p) {
		http_error_set(err, resp.status, "",
			       "the Files API gave no usable session for an upload");
		rc = -EIO;
	}
	if (rc == 0)
		*path = xstrdup(p);
	http_response_clear(&resp);
	return rc;
}

/* The File of the final chunk's answer: its name. */
static int gfl_final(const struct http_response *resp, char **name, struct backend_error *err)
{
	cJSON *o = gemini_json_parse(resp->body, resp->len);
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "file");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(f ? f : o, "name");
	int rc = 0;

	if (cJSON_IsString(n) && strncmp(n->valuestring, "files/", 6) == 0 &&
	    strlen(n->valuestring) < 100 &&
	    strspn(n->valuestring + 6, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
		strlen(n->valuestring + 6))
		*name = xstrdup(n->valuestring);
	else
		rc = gemini_malformed(resp, "the uploaded file", err);
	cJSON_Delete(o);
	return rc;
}

int gemini_file_upload(struct gemini_client *gc, const char *display_name, const char *data,
		       size_t len, char **name, struct backend_cancel *c, struct backend_error *err)
{
	char *session = NULL, status[32] = "", offh[80];
	int rc = gfl_start(gc, display_name, len, &session, c, err);

	for (size_t off = 0; rc == 0 && (off < len || off == 0);) {
		size_t n = len - off < GEMINI_UPLOAD_CHUNK ? len - off : GEMINI_UPLOAD_CHUNK;
		int last = off + n == len;
		struct http_response resp = {0};
		struct http_call_options o = {
		    .content_type = "application/octet-stream",
		    .body_len = n,
		    .once = 1,
		    .extra_headers = {last ? "X-Goog-Upload-Command: upload, finalize"
					   : "X-Goog-Upload-Command: upload",
				      offh},
		};
		snprintf(offh, sizeof(offh), "X-Goog-Upload-Offset: %zu", off);
		rc = http_call(gc->http, HTTP_POST, session, data + off, &o, c, &resp, err);
		if (rc == 0)
			http_response_header(&resp, "x-goog-upload-status", status, sizeof(status));
		if (rc == 0 && strcmp(status, last ? "final" : "active") != 0) {
			http_error_set(err, resp.status, "",
				       "the Files API upload ended '%.20s' at byte %zu of %zu",
				       status, off, len);
			rc = -EIO;
		}
		if (rc == 0 && last)
			rc = gfl_final(&resp, name, err);
		http_response_clear(&resp);
		off += n;
		if (last)
			break;
	}
	free(session);
	return rc;
}

void gemini_file_delete(struct gemini_client *gc, const char *name, struct backend_cancel *c)
{
	struct backend_error err = {0};
	char path[200];
	int rc;

	snprintf(path, sizeof(path), "/v1beta/%.150s", name);
	rc = http_call(gc->http, HTTP_DELETE, path, NULL, NULL, c, NULL, &err);
	if (rc < 0)
		backend_logf(LOG_WARNING, "batch: the input file %.150s was not deleted: %.300s",
			     name, err.message);
}
