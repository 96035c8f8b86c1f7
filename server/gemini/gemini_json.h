/* gemini_json.h - the Gemini family's wire JSON: TunedModel and its Operation out
 * (gemini_json.c), the create and PATCH bodies in, in camelCase or snake_case
 * (gemini_request.c). The server's own file format is job_json.c. No HTTP, no I/O. */
#ifndef TUNEDFS_SERVER_GEMINI_JSON_H
#define TUNEDFS_SERVER_GEMINI_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "server/store.h"

#define SRV_TYPE_PREFIX "type.googleapis.com/google.ai.generativelanguage.v1beta."

/* Limits on what a create may carry (the real service's, where it documents them). */
#define SRV_MAX_INPUT_BYTES  40000
#define SRV_MAX_OUTPUT_BYTES 5000
#define SRV_MAX_EXAMPLES     100000
#define SRV_MAX_DISPLAY_NAME 40
#define SRV_MAX_DESCRIPTION  16384
#define SRV_MAX_EPOCHS	     10000
#define SRV_MAX_BATCH	     1024
#define SRV_DEFAULT_EPOCHS   5

/* TunedModel of m; caller holds the store lock. */
cJSON *srv_json_model(const struct srv_model *m);
/* The compact wire TunedModel of m as text, from m's cache when still current; caller
 * holds the store lock and may use the text until it releases it. */
const char *srv_json_model_text(struct srv_model *m, size_t *len);
/* Operation of m's create; caller holds the store lock. */
cJSON *srv_json_operation(const struct srv_model *m);

/* Fills a new model and its examples from a create body. Hyperparameter defaults are
 * applied and total_steps set. -EINVAL with a message naming the field otherwise. */
int srv_json_create_request(const cJSON *body, struct srv_model *m, struct srv_example **ex,
			    size_t *n_ex, char *why, size_t why_len);

/* Applies a PATCH body to m for the fields of mask (comma-separated, camelCase or
 * snake_case; NULL = every mutable field present in body). Caller holds the store lock.
 * Validates everything before changing anything; -EINVAL naming the field otherwise. */
int srv_json_patch(const cJSON *body, const char *mask, struct srv_model *m, char *why,
		   size_t why_len);

#endif
