/* vertex.h - the Vertex AI family of tunedfs-server (v1 and v1beta1): tuningJobs
 * (vertex_jobs.c), the endpoints and models a job makes (vertex_endpoints.c), their JSON
 * (vertex_json.c), the route table (vertex_routes.c). Private to server/vertex/. */
#ifndef TUNEDFS_SERVER_VERTEX_H
#define TUNEDFS_SERVER_VERTEX_H

#include <cjson/cJSON.h>

#include "server/batch.h"
#include "server/family.h"
#include "server/srv.h"

extern const struct srv_family srv_family_vertex;

#define SRV_VERTEX_DEFAULT_EPOCHS 5

/* "projects/P/locations/L" of the request into buf. */
void srv_vertex_parent(const struct srv_params *p, char *buf, size_t len);
/* The Vertex job id under the request's parent, with a reference; NULL (and rep filled
 * with 404 naming what) when there is none. */
struct srv_model *srv_vertex_find(struct srv *s, const struct srv_params *p, const char *id,
				  const char *what, struct srv_reply *rep);

/* TuningJob of m; caller holds the store lock. */
cJSON *srv_vertex_job_json(const struct srv_model *m);
/* Reads a create body into m (settings, names, labels, dataset URI): 0, or -EINVAL and a
 * message naming the field. */
int srv_vertex_create_request(const cJSON *body, struct srv_model *m, char *why, size_t why_len);
/* Reads the training file (JSONL of {"contents": [...]}) into examples: 0, or -EINVAL and
 * a message naming the line. */
int srv_vertex_dataset(const char *text, size_t len, struct srv_example **ex, size_t *n, char *why,
		       size_t why_len);
/* The job's state name (JOB_STATE_...); caller holds the store lock. */
const char *srv_vertex_state(const struct srv_model *m);

void srv_vertex_create(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep);
void srv_vertex_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep);
void srv_vertex_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep);
void srv_vertex_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep);
void srv_vertex_generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep);
void srv_vertex_stream(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		       struct srv_reply *rep);
void srv_vertex_count_tokens(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_vertex_endpoint_get(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_vertex_undeploy(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep);
void srv_vertex_endpoint_delete(struct srv *s, const struct srv_request *req,
				const struct srv_params *p, struct srv_reply *rep);
void srv_vertex_model_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep);
void srv_vertex_model_delete(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_vertex_operation_get(struct srv *s, const struct srv_request *req,
			      const struct srv_params *p, struct srv_reply *rep);

/* Batch prediction jobs over Cloud Storage objects (vertex_batch.c). */
void srv_vertex_batch_create(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_vertex_batch_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep);
void srv_vertex_batch_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep);
void srv_vertex_batch_cancel(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_vertex_batch_delete(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
extern const struct srv_batch_kind srv_vertex_batch_kind;

#endif
