/* vertex_internal.h - what vertex.c and vertex_json.c share inside api/, not a public
 * contract: the TuningJob mapping, the request bodies and the training-data lines. */
#ifndef TUNEDFS_VERTEX_INTERNAL_H
#define TUNEDFS_VERTEX_INTERNAL_H

#include "api/backend.h"

#include <stddef.h>

#define VERTEX_LABEL "tunedfs-name"
/* Where in the bucket the training data goes: VERTEX_DATA_DIR "NAME/train-<hash>.jsonl". */
#define VERTEX_DATA_DIR "tunedfs/"

/* One TuningJob's text into the neutral model: 0, or -EINVAL when it is not a job. */
int vertex_parse_job(const char *json, size_t len, struct tuned_model *out);
/* One page of tuningJobs.list: the jobs, and the next page's token. -EINVAL if malformed. */
int vertex_parse_page(const char *json, size_t len, struct model_page *out);
/* The model resource a job made ("projects/.../models/ID", version dropped); heap, or
 * NULL when the job made none. */
char *vertex_job_model(const char *raw_json);
/* The tuningJobs.create body: base model, names, label, dataset (and validation set, when
 * validation_uri is not NULL), hyperparameters. */
char *vertex_create_body(const struct tuning_request *r, const char *dataset_uri,
			 const char *validation_uri);
/* n examples ex of r (its training set or its validation set, read from file) as Vertex's
 * JSONL: {"contents": [...]} lines, native lines passed through. 0, or -EINVAL with the
 * example's file and line in why. */
int vertex_example_lines(const struct tuning_request *r, const struct tuning_example *ex, size_t n,
			 const char *file, char **out, size_t *len, char *why, size_t why_len);
/* vertex_data.c: "tunedfs/ID/KIND-<16 hex of SHA-256>.jsonl": the same data, the same
 * object. Heap. */
char *vertex_object_name(const char *id, const char *kind, const char *data, size_t len);
/* r's validation set uploaded beside the training data (KIND "validation"): 0 and its
 * gs:// URI in *uri (heap), or -errno with err filled. */
struct http_client;
int vertex_upload_validation(struct http_client *gcs, const char *bucket,
			     const struct tuning_request *r, char **uri, struct backend_cancel *c,
			     struct backend_error *err);
/* The validation set tunedfs uploaded for a job (under VERTEX_DATA_DIR of its label): its
 * bucket and object (heap), else both NULL. */
void vertex_job_validation(const char *raw_json, char **bucket, char **object);
/* The id of the first model deployed on an Endpoint resource; heap, or NULL. */
char *vertex_deployed_model(const char *json, size_t len);
/* The job's supervisedTuningSpec.trainingDatasetUri is uri, and its label is id. */
int vertex_job_is(const char *raw_json, const char *id, const char *uri);
/* Whether a job carries tunedfs's label (1) or not (0); with the label, and training data
 * uploaded by tunedfs under VERTEX_DATA_DIR of the label, its bucket and object (heap),
 * else both NULL. */
int vertex_job_ours(const char *raw_json, char **bucket, char **object);
/* Whether a name can be a directory: 1-128 bytes, no '/', NUL or control byte, not "." or
 * "..". */
int vertex_name_ok(const char *s);
/* "ADAPTER_SIZE_FOUR" for "4" or "ADAPTER_SIZE_FOUR"; NULL for anything else. */
const char *vertex_adapter_size(const char *v);

/* What vertex_batch.c needs of an open vertex backend (vertex.c's impl). */
struct vertex_parts {
	struct http_client *api, *gcs;
	const char *project, *location, *bucket;
};
void vertex_backend_parts(void *impl, struct vertex_parts *out);
struct backend_batch_ops;
extern const struct backend_batch_ops vertex_batch_ops;

#endif
