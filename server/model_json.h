/* model_json.h - the wire and file JSON of tunedfs-server's resources: TunedModel and
 * its Operation out (camelCase, defaults omitted, int64 as strings), the create body in
 * (camelCase or snake_case), and the stored form read back at start. No HTTP, no I/O. */
#ifndef TUNEDFS_SERVER_MODEL_JSON_H
#define TUNEDFS_SERVER_MODEL_JSON_H

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
#define SRV_DEFAULT_LR	     0.001

struct srv_example {
	char *input;
	size_t input_len;
	char *output;
	size_t output_len;
};

void srv_examples_free(struct srv_example *ex, size_t n);

enum srv_json_flags {
	SRV_JSON_WIRE = 0,
	SRV_JSON_STORED = 1, /* adds the server's own bookkeeping for reload */
};

/* TunedModel of m; caller holds the store lock. */
cJSON *srv_json_model(const struct srv_model *m, int flags);
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

/* Reads back what srv_json_model(SRV_JSON_STORED) and srv_json_operation wrote
 * (op may be NULL). -EINVAL when essential fields are missing. */
int srv_json_model_load(const cJSON *model, const cJSON *op, struct srv_model *m);

int srv_total_steps(long n_examples, int epochs, int batch);

#endif
