/* gemini.c - one function per remote method (skeleton; filled in next). */
#include "api/gemini.h"
#include "api/http.h"

#include <errno.h>
#include <stdlib.h>

int gemini_client_new(struct http_client *http, struct gemini_client **out)
{
	*out = NULL;
	return -ENOSYS;
}

void gemini_client_free(struct gemini_client *gc)
{
}

int gemini_list_tuned_models(struct gemini_client *gc, struct gemini_cancel *cancel,
			     struct tuned_model **out, size_t *n_out, struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_get_tuned_model(struct gemini_client *gc, const char *name, struct gemini_cancel *cancel,
			   struct tuned_model *out, struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_create_tuned_model(struct gemini_client *gc, const struct tuning_request *req,
			      struct gemini_cancel *cancel, struct tuning_operation *out,
			      struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_patch_tuned_model(struct gemini_client *gc, const char *name,
			     const struct tuned_model *fields, const char *update_mask,
			     struct gemini_cancel *cancel, struct tuned_model *out,
			     struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_delete_tuned_model(struct gemini_client *gc, const char *name,
			      struct gemini_cancel *cancel, struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_get_operation(struct gemini_client *gc, const char *op_name,
			 struct gemini_cancel *cancel, struct tuning_operation *out,
			 struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_find_operation(struct gemini_client *gc, const char *model_name,
			  struct gemini_cancel *cancel, struct tuning_operation *out,
			  struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_generate(struct gemini_client *gc, const char *model_name, const char *prompt,
		    const struct generation_settings *gs, struct gemini_cancel *cancel,
		    struct generation_result *out, struct gemini_error *err)
{
	return -ENOSYS;
}

int gemini_list_base_models(struct gemini_client *gc, struct gemini_cancel *cancel,
			    struct base_model **out, size_t *n_out, struct gemini_error *err)
{
	return -ENOSYS;
}
