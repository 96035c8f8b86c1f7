/* openai_files.c - the files routes of the OpenAI family: multipart upload (file and
 * purpose), retrieve, list (purpose, after, limit, order), content and delete, over the
 * server's stored objects in one bucket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"
#include "server/ids.h"
#include "server/objects.h"
#include "server/openai/openai.h"

#define MAX_FILE ((size_t)1 << 34)

struct part {
	const char *data;
	size_t len;
	char name[64], filename[256];
};

/* Finds needle in the len bytes at hay. */
static const char *find(const char *hay, size_t len, const char *needle, size_t n)
{
	return n <= len ? memmem(hay, len, needle, n) : NULL;
}

/* The value of attr="..." in a Content-Disposition header line. */
static void disposition(const char *h, size_t hl, const char *attr, char *buf, size_t len)
{
	char key[32];
	int kl = snprintf(key, sizeof(key), "; %s=\"", attr);
	const char *at = find(h, hl, key, (size_t)kl);
	buf[0] = '\0';
	if (!at)
		return;
	at += kl;
	const char *end = memchr(at, '"', hl - (size_t)(at - h));
	if (end)
		snprintf(buf, len, "%.*s", (int)(end - at), at);
}

/* Splits a multipart/form-data body into its parts (at most max); -EINVAL when
 * malformed. */
static int multipart(const struct srv_request *req, struct part *parts, size_t max, size_t *n)
{
	const char *ct = srv_request_header(req, "Content-Type");
	const char *b = ct ? strcasestr(ct, "boundary=") : NULL;
	char delim[256];
	if (!b || strncasecmp(ct, "multipart/form-data", 19) || !req->body)
		return -EINVAL;
	b += 9;
	size_t bl = strcspn(b, ";");
	if (*b == '"')
		b++, bl = strcspn(b, "\"");
	int dl = snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)bl, b);
	const char *p = req->body, *end = req->body + req->body_len;
	/* The first delimiter has no CRLF before it. */
	if ((size_t)(end - p) < (size_t)dl - 2 || memcmp(p, delim + 2, (size_t)dl - 2))
		return -EINVAL;
	p += dl - 2;
	*n = 0;
	while (end - p >= 2 && !(p[0] == '-' && p[1] == '-')) {
		const char *hs = p + 2; /* past the CRLF after the delimiter */
		const char *he = find(hs, (size_t)(end - hs), "\r\n\r\n", 4);
		if (!he || *n == max)
			return -EINVAL;
		const char *data = he + 4;
		const char *next = find(data, (size_t)(end - data), delim, (size_t)dl);
		if (!next)
			return -EINVAL;
		struct part *pt = &parts[(*n)++];
		disposition(hs, (size_t)(he - hs), "name", pt->name, sizeof(pt->name));
		disposition(hs, (size_t)(he - hs), "filename", pt->filename, sizeof(pt->filename));
		pt->data = data;
		pt->len = (size_t)(next - data);
		p = next + dl;
	}
	return 0;
}

static cJSON *file_json(const struct srv_object *o)
{
	cJSON *note = cJSON_Parse(o->note);
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(note, "filename");
	const cJSON *pu = cJSON_GetObjectItemCaseSensitive(note, "purpose");
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", o->name);
	cJSON_AddStringToObject(j, "object", "file");
	cJSON_AddNumberToObject(j, "bytes", (double)o->size);
	cJSON_AddNumberToObject(j, "created_at", (double)(o->created_ns / 1000000000));
	cJSON_AddStringToObject(j, "filename", cJSON_IsString(fn) ? fn->valuestring : "");
	cJSON_AddStringToObject(j, "purpose", cJSON_IsString(pu) ? pu->valuestring : "");
	cJSON_AddStringToObject(j, "status", "processed");
	cJSON_AddNullToObject(j, "expires_at");
	cJSON_AddNullToObject(j, "status_details");
	cJSON_Delete(note);
	return j;
}

static const char *const purposes[] = {
    "fine-tune", "batch", "evals", "vision", "user_data", "assistants", "fine-tune-results"};

static int purpose_known(const char *p)
{
	for (size_t i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++)
		if (!strcmp(p, purposes[i]))
			return 1;
	return 0;
}

void srv_openai_file_create(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep)
{
	struct part parts[8];
	size_t n = 0;
	const struct part *file = NULL;
	char purpose[64] = "", id[40];
	if (multipart(req, parts, 8, &n)) {
		srv_openai_error(rep, 400, "invalid_request_error", NULL, NULL,
				 "Expected a multipart/form-data body with 'file' and 'purpose'.");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(parts[i].name, "file"))
			file = &parts[i];
		else if (!strcmp(parts[i].name, "purpose"))
			snprintf(purpose, sizeof(purpose), "%.*s", (int)parts[i].len,
				 parts[i].data);
	}
	if (!file) {
		srv_openai_error(rep, 400, "invalid_request_error", "file", NULL,
				 "Missing required parameter: 'file'.");
		return;
	}
	if (!purpose_known(purpose)) {
		srv_openai_error(rep, 400, "invalid_request_error", "purpose", NULL,
				 "'%.40s' is not one of ['fine-tune', 'batch', 'evals', 'vision', "
				 "'user_data', 'assistants'] - 'purpose'.",
				 purpose);
		return;
	}
	cJSON *note = cJSON_CreateObject();
	cJSON_AddStringToObject(note, "filename", file->filename);
	cJSON_AddStringToObject(note, "purpose", purpose);
	char *note_text = cJSON_PrintUnformatted(note);
	cJSON_Delete(note);
	memcpy(id, "file-", 5);
	srv_id_random(id + 5, 24);
	struct srv_object o;
	int rc =
	    srv_object_put_note(s->opt.data_dir, SRV_OPENAI_BUCKET, id, "application/octet-stream",
				note_text, file->data, file->len, &o);
	free(note_text);
	if (rc)
		srv_openai_error(rep, 500, "server_error", NULL, NULL, "Cannot store the file: %s.",
				 strerror(-rc));
	else
		srv_reply_json(rep, 200, file_json(&o));
}

static int find_file(struct srv *s, const char *id, struct srv_object *o, struct srv_reply *rep)
{
	if (strncmp(id, "file-", 5) == 0 &&
	    srv_object_stat(s->opt.data_dir, SRV_OPENAI_BUCKET, id, o) == 0)
		return 0;
	srv_openai_error(rep, 404, "invalid_request_error", "id", NULL,
			 "No such File object: %.64s", id);
	return -ENOENT;
}

void srv_openai_file_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep)
{
	struct srv_object o;
	if (!find_file(s, srv_param(p, "id"), &o, rep))
		srv_reply_json(rep, 200, file_json(&o));
}

void srv_openai_file_content(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep)
{
	struct srv_object o;
	char *data;
	size_t len;
	if (find_file(s, srv_param(p, "id"), &o, rep))
		return;
	if (srv_object_read(s->opt.data_dir, SRV_OPENAI_BUCKET, o.name, MAX_FILE, &data, &len))
		srv_openai_error(rep, 500, "server_error", NULL, NULL, "Cannot read the file.");
	else
		srv_reply_raw(rep, 200, "application/octet-stream", data, len);
}

void srv_openai_file_delete(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep)
{
	struct srv_object o;
	if (find_file(s, srv_param(p, "id"), &o, rep))
		return;
	srv_object_delete(s->opt.data_dir, SRV_OPENAI_BUCKET, o.name);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", o.name);
	cJSON_AddStringToObject(j, "object", "file");
	cJSON_AddBoolToObject(j, "deleted", 1);
	srv_reply_json(rep, 200, j);
}

void srv_openai_file_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep)
{
	char purpose[64] = "", after[64] = "", limit_s[16] = "", order[8] = "desc";
	srv_query_get(req->query, "purpose", purpose, sizeof(purpose));
	srv_query_get(req->query, "after", after, sizeof(after));
	srv_query_get(req->query, "limit", limit_s, sizeof(limit_s));
	srv_query_get(req->query, "order", order, sizeof(order));
	long limit = *limit_s ? strtol(limit_s, NULL, 10) : 10000;
	if (limit < 1 || limit > 10000 || (strcmp(order, "asc") && strcmp(order, "desc"))) {
		srv_openai_error(rep, 400, "invalid_request_error", "limit", NULL,
				 "limit must be in [1, 10000] and order asc or desc.");
		return;
	}
	struct srv_object *all;
	size_t n;
	srv_object_list(s->opt.data_dir, SRV_OPENAI_BUCKET, &all, &n);
	cJSON *out = cJSON_CreateObject(), *arr;
	cJSON_AddStringToObject(out, "object", "list");
	arr = cJSON_AddArrayToObject(out, "data");
	int started = !*after, count = 0, more = 0;
	for (size_t k = 0; k < n; k++) {
		const struct srv_object *o = &all[!strcmp(order, "asc") ? n - 1 - k : k];
		if (!started) {
			started = !strcmp(o->name, after);
			continue;
		}
		cJSON *j = file_json(o);
		const cJSON *pu = cJSON_GetObjectItemCaseSensitive(j, "purpose");
		if (*purpose && strcmp(pu->valuestring, purpose)) {
			cJSON_Delete(j);
			continue;
		}
		if (count == limit) {
			cJSON_Delete(j);
			more = 1;
			break;
		}
		cJSON_AddItemToArray(arr, j);
		count++;
	}
	free(all);
	cJSON_AddBoolToObject(out, "has_more", more);
	if (count) {
		cJSON_AddStringToObject(
		    out, "first_id",
		    cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "id")->valuestring);
		cJSON_AddStringToObject(
		    out, "last_id",
		    cJSON_GetObjectItem(cJSON_GetArrayItem(arr, count - 1), "id")->valuestring);
	}
	srv_reply_json(rep, 200, out);
}
