/* openai.h - the OpenAI family of tunedfs-server (/v1): files (openai_files.c), fine-tuning
 * jobs with their events and checkpoints (openai_jobs.c), their JSON (openai_json.c), chat
 * completions (openai_chat.c), models, envelope and credentials (openai_routes.c). Private
 * to server/openai/. */
#ifndef TUNEDFS_SERVER_OPENAI_H
#define TUNEDFS_SERVER_OPENAI_H

#include <cjson/cJSON.h>

#include "server/batch.h"
#include "server/family.h"
#include "server/srv.h"

extern const struct srv_family srv_family_openai;

/* The stored objects' bucket that holds the uploaded files. */
#define SRV_OPENAI_BUCKET "openai-files"
#define SRV_OPENAI_OWNER  "org-tunedfs"

/* An error with OpenAI's {"error": {message, type, param, code}}; param may be NULL. */
void srv_openai_error(struct srv_reply *rep, int http_status, const char *type, const char *param,
		      const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The fine-tuned model name of job m (ft:BASE:ORG[:SUFFIX]:TAIL); caller holds the lock. */
void srv_openai_model_name(const struct srv_model *m, char *buf, size_t len);
/* The job a fine-tuned model name is, with a reference, when it can answer (succeeded, not
 * deleted); NULL otherwise. */
struct srv_model *srv_openai_find_model(struct srv *s, const char *name);
/* The job id, with a reference, or NULL and rep filled with 404. */
struct srv_model *srv_openai_find_job(struct srv *s, const char *id, struct srv_reply *rep);
/* 1 when name is a base model a job may name. */
int srv_openai_base_known(const char *name);

/* fine_tuning.job of m; caller holds the store lock. */
cJSON *srv_openai_job_json(const struct srv_model *m);
/* Reads a create body into m (model, file id, hyperparameters, suffix, seed, metadata):
 * 0, or -EINVAL with the message and the offending parameter (which may point into body). */
int srv_openai_create_request(const cJSON *body, struct srv_model *m, char *why, size_t why_len,
			      const char **param);
/* The validation_file m names, checked and read into m's validation examples (0), or
 * rep filled with a 400 naming validation_file (openai_validation.c). */
int srv_openai_read_validation(struct srv *s, struct srv_model *m, struct srv_reply *rep);
/* 1 and *loss when step is the last of an epoch whose validation loss m holds; caller holds
 * the store lock. */
int srv_openai_valid_loss(const struct srv_model *m, int step, double *loss);
/* Reads chat JSONL into examples: 0, or -EINVAL and a message naming the line. */
int srv_openai_dataset(const char *text, size_t len, struct srv_example **ex, size_t *n, char *why,
		       size_t why_len);

void srv_openai_file_create(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep);
void srv_openai_file_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep);
void srv_openai_file_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep);
void srv_openai_file_content(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_openai_file_delete(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep);
void srv_openai_job_create(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep);
void srv_openai_job_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep);
void srv_openai_job_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep);
void srv_openai_job_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep);
void srv_openai_job_events(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep);
void srv_openai_job_checkpoints(struct srv *s, const struct srv_request *req,
				const struct srv_params *p, struct srv_reply *rep);
void srv_openai_chat(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep);

/* Batch API over uploaded JSONL of chat completions (openai_batch.c). */
void srv_openai_batch_create(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_openai_batch_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep);
void srv_openai_batch_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep);
void srv_openai_batch_cancel(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
extern const struct srv_batch_kind srv_openai_batch_kind;

#endif
