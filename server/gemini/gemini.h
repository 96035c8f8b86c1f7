/* gemini.h - the Gemini API family of tunedfs-server (REST v1beta, v1alpha and v1):
 * tunedModels and their operations (gemini_tuned.c), base models and generation
 * (gemini_models.c), the route table (gemini_routes.c). Private to server/gemini/. */
#ifndef TUNEDFS_SERVER_GEMINI_H
#define TUNEDFS_SERVER_GEMINI_H

#include "server/batch.h"
#include "server/family.h"
#include "server/srv.h"

extern const struct srv_family srv_family_gemini;

/* The model id of this family with a reference taken, or NULL. */
struct srv_model *srv_gemini_find(struct srv *s, const char *id);
/* Caller holds the store lock: the model of this family or NULL, no reference taken. */
struct srv_model *srv_gemini_lookup_locked(struct srv *s, const char *id);
/* 1 when name ("models/...") is a base model a create may name. */
int srv_base_model_known(const char *name);
/* Fills the cached wire text of m (the store's warm-up); caller holds the store lock. */
void srv_gemini_warm(struct srv_model *m);

void srv_tuned_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep);
void srv_tuned_create(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		      struct srv_reply *rep);
void srv_tuned_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		   struct srv_reply *rep);
void srv_tuned_patch(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep);
void srv_tuned_delete(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		      struct srv_reply *rep);
void srv_op_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		struct srv_reply *rep);
/* operations.cancel (v1): asks the job to stop; the model ends FAILED, code CANCELLED. */
void srv_op_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		   struct srv_reply *rep);
void srv_op_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		 struct srv_reply *rep);
void srv_tuned_generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			struct srv_reply *rep);
void srv_tuned_stream(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		      struct srv_reply *rep);
void srv_models_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep);
void srv_models_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep);
/* countTokens (the byte tokenizer, server/tokens.h) on a base or a tuned model */
void srv_models_count_tokens(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_tuned_count_tokens(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep);
void srv_models_generate(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep);

/* The stored objects' bucket of the Files API. */
#define SRV_GEMINI_FILES "gemini-files"

/* Stores data as a new ACTIVE file; its name ("files/ID") into name. -errno. */
int srv_gemini_file_put(struct srv *s, const char *display, const char *mime, const void *data,
			size_t len, char *name, size_t name_len);
/* The bytes (heap) of ACTIVE file name ("files/ID"); -ENOENT. */
int srv_gemini_file_read(struct srv *s, const char *name, char **data, size_t *len);

void srv_gemini_file_upload(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep);
void srv_gemini_file_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			 struct srv_reply *rep);
void srv_gemini_file_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep);
void srv_gemini_file_delete(struct srv *s, const struct srv_request *req,
			    const struct srv_params *p, struct srv_reply *rep);
void srv_gemini_file_download(struct srv *s, const struct srv_request *req,
			      const struct srv_params *p, struct srv_reply *rep);

/* batchGenerateContent on a tuned or a base model, and the batches (gemini_batch.c). */
void srv_gemini_batch_create(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_gemini_batch_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			  struct srv_reply *rep);
void srv_gemini_batch_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
			   struct srv_reply *rep);
void srv_gemini_batch_cancel(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
void srv_gemini_batch_delete(struct srv *s, const struct srv_request *req,
			     const struct srv_params *p, struct srv_reply *rep);
extern const struct srv_batch_kind srv_gemini_batch_kind;

#endif
