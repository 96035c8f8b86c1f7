/* gemini_files.c - the Gemini API's Files API in tunedfs-server: the resumable upload
 * (start, upload, "upload, finalize" with X-Goog-Upload-* headers), get, list, delete and
 * download, over the stored objects of one bucket. Batch jobs are gemini_batch.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/xalloc.h"
#include "server/gemini/gemini.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/objects.h"

#define MAX_FILE    ((size_t)1 << 31)
#define FILE_KEEP_S (48 * 3600)

/* The note kept with a file: {"displayName", "mimeType", "state", "sha256Hash"}. */
static char *note_text(const char *display, const char *mime, const char *state, const char *sha)
{
	cJSON *n = cJSON_CreateObject();
	if (display && *display)
		cJSON_AddStringToObject(n, "displayName", display);
	cJSON_AddStringToObject(n, "mimeType", mime && *mime ? mime : "application/octet-stream");
	cJSON_AddStringToObject(n, "state", state);
	if (sha)
		cJSON_AddStringToObject(n, "sha256Hash", sha);
	char *t = srv_json_print(n);
	cJSON_Delete(n);
	return t;
}

static const char *note_str(const cJSON *note, const char *k, const char *def)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(note, k);
	return cJSON_IsString(it) ? it->valuestring : def;
}

static cJSON *file_json(const struct srv_request *req, const struct srv_object *o)
{
	cJSON *note = cJSON_Parse(o->note), *j = cJSON_CreateObject();
	char t[64], size[32], *uri;
	const char *host = srv_request_header(req, "Host");
	uri = xasprintf("files/%s", o->name);
	cJSON_AddStringToObject(j, "name", uri);
	free(uri);
	if (note_str(note, "displayName", NULL))
		cJSON_AddStringToObject(j, "displayName", note_str(note, "displayName", ""));
	cJSON_AddStringToObject(j, "mimeType", note_str(note, "mimeType", o->content_type));
	snprintf(size, sizeof(size), "%zu", o->size);
	cJSON_AddStringToObject(j, "sizeBytes", size);
	srv_json_time(o->created_ns, t, sizeof(t));
	cJSON_AddStringToObject(j, "createTime", t);
	srv_json_time(o->updated_ns, t, sizeof(t));
	cJSON_AddStringToObject(j, "updateTime", t);
	srv_json_time(o->created_ns + (int64_t)FILE_KEEP_S * 1000000000, t, sizeof(t));
	cJSON_AddStringToObject(j, "expirationTime", t);
	if (note_str(note, "sha256Hash", NULL))
		cJSON_AddStringToObject(j, "sha256Hash", note_str(note, "sha256Hash", ""));
	uri = xasprintf("http://%s/v1beta/files/%s", host ? host : "localhost", o->name);
	cJSON_AddStringToObject(j, "uri", uri);
	free(uri);
	uri = xasprintf("http://%s/download/v1beta/files/%s:download?alt=media",
			host ? host : "localhost", o->name);
	cJSON_AddStringToObject(j, "downloadUri", uri);
	free(uri);
	cJSON_AddStringToObject(j, "state", note_str(note, "state", "ACTIVE"));
	cJSON_AddStringToObject(j, "source", "UPLOADED");
	cJSON_Delete(note);
	return j;
}

/* sha256 of data, base64 (as the File resource's sha256Hash). */
static void sha256_b64(const void *data, size_t len, char *out, size_t out_len)
{
	unsigned char d[32];
	unsigned n = 0;
	unsigned char b64[64];
	EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, d, (int)n);
	snprintf(out, out_len, "%s", (char *)b64);
}

int srv_gemini_file_put(struct srv *s, const char *display, const char *mime, const void *data,
			size_t len, char *name, size_t name_len)
{
	char id[16], sha[64];
	srv_id_random(id, 12);
	sha256_b64(data, len, sha, sizeof(sha));
	char *note = note_text(display, mime, "ACTIVE", sha);
	int rc =
	    srv_object_put_note(s->opt.data_dir, SRV_GEMINI_FILES, id, mime, note, data, len, NULL);
	free(note);
	snprintf(name, name_len, "files/%s", id);
	return rc;
}

int srv_gemini_file_read(struct srv *s, const char *name, char **data, size_t *len)
{
	struct srv_object o;
	if (strncmp(name, "files/", 6))
		return -ENOENT;
	int rc = srv_object_stat(s->opt.data_dir, SRV_GEMINI_FILES, name + 6, &o);
	if (rc)
		return rc;
	if (!strstr(o.note, "\"ACTIVE\""))
		return -ENOENT;
	return srv_object_read(s->opt.data_dir, SRV_GEMINI_FILES, name + 6, MAX_FILE, data, len);
}

static const char *hdr(const struct srv_request *req, const char *name)
{
	const char *v = srv_request_header(req, name);
	return v ? v : "";
}

/* Step 1: the session, answered with x-goog-upload-url. */
static void upload_start(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	cJSON *body = NULL;
	char id[16], session[32], *note, *url;
	if (srv_body_json(req, 1, &body, rep))
		return;
	const cJSON *file = srv_json_field(body, "file");
	const cJSON *dn = srv_json_field(file, "displayName");
	const cJSON *mt = srv_json_field(file, "mimeType");
	const char *mime =
	    cJSON_IsString(mt) ? mt->valuestring : hdr(req, "X-Goog-Upload-Header-Content-Type");
	srv_id_random(id, 12);
	note = note_text(cJSON_IsString(dn) ? dn->valuestring : NULL, mime, "PROCESSING", NULL);
	/* A placeholder holds the note until the bytes replace it at finalize. */
	int rc =
	    srv_object_put_note(s->opt.data_dir, SRV_GEMINI_FILES, id, mime, note, "", 0, NULL);
	free(note);
	if (!rc)
		rc = srv_upload_start(s->opt.data_dir, SRV_GEMINI_FILES, id, mime, session,
				      sizeof(session));
	cJSON_Delete(body); /* mime may point into it */
	if (rc) {
		srv_reply_error(rep, 500, "INTERNAL", "Cannot start the upload: %s.",
				strerror(-rc));
		return;
	}
	url = xasprintf("http://%s/upload/v1beta/files?upload_id=%s&upload_protocol=resumable",
			*hdr(req, "Host") ? hdr(req, "Host") : "localhost", session);
	srv_reply_header(rep, "X-Goog-Upload-URL", url);
	srv_reply_header(rep, "X-Goog-Upload-Status", "active");
	free(url);
	srv_reply_text(rep, 200, "{}");
}

/* Step 2: a chunk at X-Goog-Upload-Offset; with finalize, the file. */
static void upload_chunk(struct srv *s, const struct srv_request *req, const char *session,
			 struct srv_reply *rep)
{
	const char *cmd = hdr(req, "X-Goog-Upload-Command");
	char *end;
	size_t have = 0, off = strtoull(hdr(req, "X-Goog-Upload-Offset"), &end, 10);
	int rc = srv_upload_append(s->opt.data_dir, session, off, req->body ? req->body : "",
				   req->body_len, &have);
	if (rc) {
		srv_reply_error(rep, rc == -ENOENT ? 404 : 400,
				rc == -ENOENT ? "NOT_FOUND" : "INVALID_ARGUMENT",
				rc == -ENOENT ? "No such upload session."
					      : "The offset is not the bytes received so far.");
		return;
	}
	if (!strstr(cmd, "finalize")) {
		srv_reply_header(rep, "X-Goog-Upload-Status", "active");
		srv_reply_text(rep, 200, "{}");
		return;
	}
	struct srv_object o, placeholder;
	char *data = NULL, sha[64];
	size_t len = 0;
	if (srv_upload_stat_name(s->opt.data_dir, session, o.name, sizeof(o.name)) ||
	    srv_object_stat(s->opt.data_dir, SRV_GEMINI_FILES, o.name, &placeholder))
		placeholder.note[0] = '\0';
	rc = srv_upload_finish(s->opt.data_dir, session, &o);
	if (!rc)
		rc = srv_object_read(s->opt.data_dir, SRV_GEMINI_FILES, o.name, MAX_FILE, &data,
				     &len);
	if (rc) {
		srv_reply_error(rep, 500, "INTERNAL", "Cannot store the file: %s.", strerror(-rc));
		return;
	}
	sha256_b64(data, len, sha, sizeof(sha));
	free(data);
	/* The placeholder's note came before the bytes: kept, now ACTIVE with its hash. */
	cJSON *old = cJSON_Parse(placeholder.note);
	char *note = note_text(note_str(old, "displayName", NULL),
			       note_str(old, "mimeType", o.content_type), "ACTIVE", sha);
	cJSON_Delete(old);
	srv_object_set_note(s->opt.data_dir, SRV_GEMINI_FILES, o.name, note);
	free(note);
	srv_object_stat(s->opt.data_dir, SRV_GEMINI_FILES, o.name, &o);
	cJSON *out = cJSON_CreateObject();
	cJSON_AddItemToObject(out, "file", file_json(req, &o));
	srv_reply_header(rep, "X-Goog-Upload-Status", "final");
	srv_reply_json(rep, 200, out);
}

void srv_gemini_file_upload(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep)
{
	char session[48];
	if (srv_query_get(req->query, "upload_id", session, sizeof(session)) == 1) {
		upload_chunk(s, req, session, rep);
		return;
	}
	if (strcasecmp(hdr(req, "X-Goog-Upload-Protocol"), "resumable") ||
	    !strstr(hdr(req, "X-Goog-Upload-Command"), "start")) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Only resumable uploads are served: send X-Goog-Upload-Protocol: "
				"resumable and X-Goog-Upload-Command: start.");
		return;
	}
	upload_start(s, req, rep);
}

/* The file named by {id}, ACTIVE; else rep holds 404 and -ENOENT. */
static int find_file(struct srv *s, const struct srv_params *p, struct srv_object *o,
		     struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	if (srv_object_stat(s->opt.data_dir, SRV_GEMINI_FILES, id, o) == 0 &&
	    strstr(o->note, "\"ACTIVE\""))
		return 0;
	srv_reply_error(rep, 404, "NOT_FOUND", "File files/%.64s does not exist.", id);
	return -ENOENT;
}

void srv_gemini_file_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep)
{
	struct srv_object o;
	if (!find_file(s, p, &o, rep))
		srv_reply_json(rep, 200, file_json(req, &o));
}

void srv_gemini_file_delete(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep)
{
	struct srv_object o;
	if (find_file(s, p, &o, rep))
		return;
	srv_object_delete(s->opt.data_dir, SRV_GEMINI_FILES, o.name);
	srv_reply_text(rep, 200, "{}");
}

void srv_gemini_file_download(struct srv *s, const struct srv_request *req,
			      const struct srv_params *p, struct srv_reply *rep)
{
	struct srv_object o;
	char *data, *name;
	size_t len;
	if (find_file(s, p, &o, rep))
		return;
	name = xasprintf("files/%s", o.name);
	int rc = srv_gemini_file_read(s, name, &data, &len);
	free(name);
	if (rc)
		srv_reply_error(rep, 500, "INTERNAL", "Cannot read the file: %s.", strerror(-rc));
	else {
		/* The type as a header: rep keeps the pointer, and o is gone on return. */
		srv_reply_raw(rep, 200, NULL, data, len);
		srv_reply_header(rep, "Content-Type", o.content_type);
	}
}

void srv_gemini_file_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	int size;
	unsigned long long pos, at = 0;
	struct srv_object *all = NULL;
	size_t n = 0;
	char tok[64];
	if (srv_page_params(req, 10, 100, &size, &pos, rep))
		return;
	srv_object_list(s->opt.data_dir, SRV_GEMINI_FILES, &all, &n);
	cJSON *out = cJSON_CreateObject(), *arr = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strstr(all[i].note, "\"ACTIVE\"") || at++ < pos)
			continue;
		if (!arr)
			arr = cJSON_AddArrayToObject(out, "files");
		if (cJSON_GetArraySize(arr) == size) {
			srv_page_token(at - 1, tok, sizeof(tok));
			cJSON_AddStringToObject(out, "nextPageToken", tok);
			break;
		}
		cJSON_AddItemToArray(arr, file_json(req, &all[i]));
	}
	free(all);
	srv_reply_json(rep, 200, out);
}
