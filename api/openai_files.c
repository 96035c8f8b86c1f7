/* openai_files.c - the little of OpenAI's Files API the openai backend needs: uploading a
 * training or batch input file (one multipart/form-data POST with its purpose), reading
 * one back and deleting it.
 * Over the shared transport; the key is the client's. */
#include "api/backend.h"
#include "api/http.h"
#include "api/openai_internal.h"
#include "base/dynbuf.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A boundary that the data cannot hold: a digest of the data itself. */
static void of_boundary(const char *data, size_t len, char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t o;

	EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
	o = (size_t)snprintf(out, cap, "tunedfs-");
	for (unsigned i = 0; i < 16 && o + 3 <= cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", md[i]);
}

int openai_file_upload(struct http_client *hc, const char *prefix, const char *purpose,
		       const char *filename, const char *data, size_t len, char **file_id,
		       struct backend_cancel *c, struct backend_error *err)
{
	struct http_response resp = {0};
	struct dynbuf b = DYNBUF_INIT;
	char boundary[64], *type, *body, *path;
	size_t body_len;
	cJSON *root = NULL;
	const cJSON *id;
	int rc;

	*file_id = NULL;
	of_boundary(data, len, boundary, sizeof(boundary));
	dynbuf_printf(&b,
		      "--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
		      "%s\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
		      "filename=\"%s\"\r\nContent-Type: application/jsonl\r\n\r\n",
		      boundary, purpose, boundary, filename);
	dynbuf_append(&b, data, len);
	dynbuf_printf(&b, "\r\n--%s--\r\n", boundary);
	body = dynbuf_take(&b, &body_len);
	type = xasprintf("multipart/form-data; boundary=%s", boundary);
	path = xasprintf("%s/files", prefix);
	{
		struct http_call_options o = {.content_type = type, .body_len = body_len};
		rc = http_call(hc, HTTP_POST, path, body, &o, c, &resp, err);
	}
	if (rc == 0) {
		root = cJSON_ParseWithLength(resp.body, resp.len);
		id = cJSON_GetObjectItemCaseSensitive(root, "id");
		if (cJSON_IsString(id) && *id->valuestring && !strchr(id->valuestring, '/')) {
			*file_id = xstrdup(id->valuestring);
		} else {
			http_error_set(err, resp.status, "",
				       "malformed answer from OpenAI: the uploaded file has no id");
			rc = -EIO;
		}
	}
	cJSON_Delete(root);
	http_response_clear(&resp);
	free(path);
	free(type);
	free(body);
	return rc;
}

int openai_file_delete(struct http_client *hc, const char *prefix, const char *file_id,
		       struct backend_cancel *c, struct backend_error *err)
{
	char *path;
	int rc;

	if (!file_id || !*file_id || strchr(file_id, '/') || strchr(file_id, '?'))
		return 0;
	path = xasprintf("%s/files/%s", prefix, file_id);
	rc = http_call(hc, HTTP_DELETE, path, NULL, NULL, c, NULL, err);
	free(path);
	return rc == -ENOENT ? 0 : rc;
}

int openai_file_content(struct http_client *hc, const char *prefix, const char *file_id,
			struct http_response *resp, struct backend_cancel *c,
			struct backend_error *err)
{
	struct http_call_options o = {.long_timeout = 1};
	char *path;
	int rc;

	if (!file_id || !*file_id || strchr(file_id, '/') || strchr(file_id, '?')) {
		http_error_set(err, 0, "", "'%.80s' is no file id", file_id ? file_id : "");
		return -EIO;
	}
	path = xasprintf("%s/files/%s/content", prefix, file_id);
	rc = http_call(hc, HTTP_GET, path, NULL, &o, c, resp, err);
	free(path);
	return rc;
}
