/* gemini_json.c - JSON mapping of the service's resources (skeleton; filled in next). */
#include "api/gemini.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gemini_parse_tuned_model(const char *json, size_t len, struct tuned_model *out)
{
	return -EINVAL;
}

int gemini_parse_operation(const char *json, size_t len, struct tuning_operation *out)
{
	return -EINVAL;
}

int gemini_parse_generation(const char *json, size_t len, struct generation_result *out)
{
	return -EINVAL;
}

char *gemini_tuning_request_json(const struct tuning_request *req)
{
	return NULL;
}

char *gemini_generate_request_json(const char *prompt, const struct generation_settings *gs)
{
	return NULL;
}

void tuned_model_clear(struct tuned_model *m)
{
	memset(m, 0, sizeof(*m));
}

void tuned_model_copy(struct tuned_model *dst, const struct tuned_model *src)
{
	memset(dst, 0, sizeof(*dst));
}

void tuning_operation_clear(struct tuning_operation *op)
{
	memset(op, 0, sizeof(*op));
}

void tuning_request_clear(struct tuning_request *req)
{
	memset(req, 0, sizeof(*req));
}

void generation_settings_clear(struct generation_settings *gs)
{
	memset(gs, 0, sizeof(*gs));
}

void generation_result_clear(struct generation_result *r)
{
	memset(r, 0, sizeof(*r));
}

void base_models_free(struct base_model *v, size_t n)
{
	free(v);
}

void tuned_models_free(struct tuned_model *v, size_t n)
{
	free(v);
}

const char *tuned_model_state_name(enum tuned_model_state s)
{
	return "STATE_UNSPECIFIED";
}

int gemini_valid_model_id(const char *id)
{
	return 0;
}
