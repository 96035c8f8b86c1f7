/* handlers.h - the route handlers of tunedfs-server, called by srv_handle (routes.c)
 * once the route is known and the caller authenticated. tunedModels and operations are
 * routes_tuned.c, generation and base models routes_gen.c. */
#ifndef TUNEDFS_SERVER_HANDLERS_H
#define TUNEDFS_SERVER_HANDLERS_H

#include "server/routes.h"
#include "server/srv.h"

void srv_tuned_list(struct srv *s, const struct srv_request *req, struct srv_reply *rep);
void srv_tuned_create(struct srv *s, const struct srv_request *req, struct srv_reply *rep);
void srv_tuned_get(struct srv *s, const char *id, struct srv_reply *rep);
void srv_tuned_patch(struct srv *s, const char *id, const struct srv_request *req,
		     struct srv_reply *rep);
void srv_tuned_delete(struct srv *s, const char *id, struct srv_reply *rep);
void srv_op_get(struct srv *s, const char *id, const char *op, struct srv_reply *rep);
/* operations.cancel (v1): asks the job to stop; the model ends FAILED, code CANCELLED. */
void srv_op_cancel(struct srv *s, const char *id, const char *op, struct srv_reply *rep);
void srv_op_list(struct srv *s, const char *id, const struct srv_request *req,
		 struct srv_reply *rep);

/* stream: 0 = generateContent, 1 = streamGenerateContent (alt=sse or a JSON array). */
void srv_generate(struct srv *s, const char *id, int stream, const struct srv_request *req,
		  struct srv_reply *rep);
void srv_models_list(struct srv *s, const struct srv_request *req, struct srv_reply *rep);
void srv_models_get(struct srv *s, const char *name, struct srv_reply *rep);
/* 1 when name ("models/...") is a base model a create may name. */
int srv_base_model_known(const char *name);

/* Parses the body as JSON into *out, or fills rep with 400 and returns -EINVAL. An
 * absent or blank body gives an empty object when empty_ok. */
int srv_body_json(const struct srv_request *req, int empty_ok, cJSON **out, struct srv_reply *rep);
/* Reads pageSize (default def, clamped to max) and pageToken (a position); fills rep
 * with 400 and returns -EINVAL when either is malformed. */
int srv_page_params(const struct srv_request *req, int def, int max, int *size,
		    unsigned long long *pos, struct srv_reply *rep);
/* The opaque token for position pos into buf. */
void srv_page_token(unsigned long long pos, char *buf, size_t len);

#endif
