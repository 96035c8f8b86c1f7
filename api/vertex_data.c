/* vertex_data.c - the data a Vertex AI tuning job reads from Cloud Storage: the names of
 * the objects tunedfs uploads (by content, so that a retry reuses its object) and the
 * upload of a validation set, and which one a job names. The training data's upload and
 * the job itself: vertex.c. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gcs.h"
#include "api/http.h"
#include "api/vertex_internal.h"
#include "base/xalloc.h"

char *vertex_object_name(const char *id, const char *kind, const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hex[17];

	EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return xasprintf(VERTEX_DATA_DIR "%s/%s-%s.jsonl", id, kind, hex);
}

int vertex_upload_validation(struct http_client *gcs, const char *bucket,
			     const struct tuning_request *r, char **uri, struct backend_cancel *c,
			     struct backend_error *err)
{
	char why[400] = "", *data = NULL, *object;
	size_t len = 0;
	int rc;

	rc = vertex_example_lines(r, r->validation, r->n_validation,
				  r->validation_file ? r->validation_file : "validation_examples",
				  &data, &len, why, sizeof(why));
	if (rc < 0) {
		http_error_set(err, 0, "", "%s", why);
		return rc;
	}
	object = vertex_object_name(r->id, "validation", data, len);
	rc = gcs_upload(gcs, bucket, object, data, len, c, err);
	if (rc == 0)
		*uri = xasprintf("gs://%s/%s", bucket, object);
	free(object);
	free(data);
	return rc;
}

/* Whether object is tunedfs/LABEL/validation-<16 hex>.jsonl. */
static int own_validation(const char *object, const char *label)
{
	size_t n = strlen(VERTEX_DATA_DIR), l = strlen(label);
	const char *p = object + n + l;

	if (strncmp(object, VERTEX_DATA_DIR, n) != 0 || strncmp(object + n, label, l) != 0 ||
	    strncmp(p, "/validation-", 12) != 0)
		return 0;
	p += 12;
	for (int i = 0; i < 16; i++, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return strcmp(p, ".jsonl") == 0;
}

void vertex_job_validation(const char *raw_json, char **bucket, char **object)
{
	cJSON *root = raw_json ? cJSON_Parse(raw_json) : NULL;
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "supervisedTuningSpec");
	const cJSON *label = cJSON_GetObjectItemCaseSensitive(labels, VERTEX_LABEL);
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(spec, "validationDatasetUri");
	const char *u = cJSON_IsString(uri) ? uri->valuestring : "";
	const char *slash = strncmp(u, "gs://", 5) == 0 ? strchr(u + 5, '/') : NULL;

	*bucket = *object = NULL;
	if (cJSON_IsString(label) && slash && slash > u + 5 &&
	    own_validation(slash + 1, label->valuestring)) {
		*bucket = xstrndup(u + 5, (size_t)(slash - u - 5));
		*object = xstrdup(slash + 1);
	}
	cJSON_Delete(root);
}
