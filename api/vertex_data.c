/* vertex_data.c - the data a Vertex AI tuning job reads from Cloud Storage: the names of
 * the objects tunedfs uploads (by content, so that a retry reuses its object) and the
 * upload of a validation set. The training data's upload and the job itself: vertex.c. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

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
	struct tuning_request set = *r;
	char why[300] = "", *data = NULL, *object;
	size_t len = 0;
	int rc;

	set.examples = r->validation;
	set.n_examples = r->n_validation;
	rc = vertex_training_lines(&set, &data, &len, why, sizeof(why));
	if (rc < 0) {
		http_error_set(err, 0, "INVALID_ARGUMENT", "validation_examples: %s", why);
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
