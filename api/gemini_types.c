/* gemini_types.c - life of the gemini.h wire types (clear, copy, free), the state names
 * and the tunedModelId rule. The neutral types of backend.h are backend_types.c's.
 * No JSON and no I/O here. */
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *gt_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void gemini_tuned_model_clear(struct gemini_tuned_model *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->display_name);
	free(m->description);
	free(m->base_model);
	free(m->source_model);
	free(m->create_time);
	free(m->update_time);
	free(m->snapshots);
	free(m->json);
	memset(m, 0, sizeof(*m));
}

void gemini_tuned_model_copy(struct gemini_tuned_model *dst, const struct gemini_tuned_model *src)
{
	*dst = *src;
	dst->name = gt_dup(src->name);
	dst->display_name = gt_dup(src->display_name);
	dst->description = gt_dup(src->description);
	dst->base_model = gt_dup(src->base_model);
	dst->source_model = gt_dup(src->source_model);
	dst->create_time = gt_dup(src->create_time);
	dst->update_time = gt_dup(src->update_time);
	dst->json = gt_dup(src->json);
	dst->snapshots = NULL;
	if (src->n_snapshots && src->snapshots) {
		size_t n = src->n_snapshots * sizeof(*src->snapshots);
		dst->snapshots = memcpy(xmalloc(n), src->snapshots, n);
	} else {
		dst->n_snapshots = 0;
	}
}

void gemini_operation_clear(struct gemini_operation *op)
{
	if (!op)
		return;
	free(op->name);
	free(op->tuned_model);
	free(op->snapshots);
	free(op->error_message);
	memset(op, 0, sizeof(*op));
}

void base_models_free(struct base_model *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].display_name);
	}
	free(v);
}

void gemini_tuned_models_free(struct gemini_tuned_model *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		gemini_tuned_model_clear(&v[i]);
	free(v);
}

const char *gemini_model_state_name(enum gemini_model_state s)
{
	switch (s) {
	case GEMINI_MODEL_CREATING:
		return "CREATING";
	case GEMINI_MODEL_ACTIVE:
		return "ACTIVE";
	case GEMINI_MODEL_FAILED:
		return "FAILED";
	case GEMINI_MODEL_STATE_UNSPECIFIED:
		break;
	}
	return "STATE_UNSPECIFIED";
}

int gemini_valid_model_id(const char *id)
{
	size_t n;

	if (!id || !(id[0] >= 'a' && id[0] <= 'z'))
		return 0;
	n = strlen(id);
	if (n > 40)
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return id[n - 1] != '-';
}
