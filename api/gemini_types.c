/* gemini_types.c - life of the gemini.h value types (clear, copy, free), the state names
 * and the tunedModelId rule. Also the allocation helpers of the gemini_*.c files.
 * No JSON and no I/O here. */
#include "api/gemini.h"
#include "api/gemini_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void gt_oom(void)
{
	fprintf(stderr, "tunedfs: out of memory\n");
	abort();
}

void *gemini_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		gt_oom();
	return p;
}

void *gemini_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		gt_oom();
	return p;
}

void *gemini_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		gt_oom();
	return p;
}

char *gemini_xstrdup(const char *s)
{
	return gemini_xstrndup(s, strlen(s));
}

char *gemini_xstrndup(const char *s, size_t n)
{
	char *p = gemini_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *gt_dup(const char *s)
{
	return s ? gemini_xstrdup(s) : NULL;
}

void tuned_model_clear(struct tuned_model *m)
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

void tuned_model_copy(struct tuned_model *dst, const struct tuned_model *src)
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
		dst->snapshots = memcpy(gemini_xmalloc(n), src->snapshots, n);
	} else {
		dst->n_snapshots = 0;
	}
}

void tuning_operation_clear(struct tuning_operation *op)
{
	if (!op)
		return;
	free(op->name);
	free(op->tuned_model);
	free(op->snapshots);
	free(op->error_message);
	memset(op, 0, sizeof(*op));
}

void tuning_request_clear(struct tuning_request *req)
{
	if (!req)
		return;
	free(req->id);
	free(req->display_name);
	free(req->description);
	free(req->base_model);
	free(req->source_model);
	for (size_t i = 0; i < req->n_examples; i++) {
		free(req->examples[i].text_input);
		free(req->examples[i].output);
	}
	free(req->examples);
	memset(req, 0, sizeof(*req));
}

void generation_settings_clear(struct generation_settings *gs)
{
	if (!gs)
		return;
	for (size_t i = 0; i < gs->n_stop_sequences && i < GEMINI_MAX_STOP_SEQUENCES; i++)
		free(gs->stop_sequences[i]);
	memset(gs, 0, sizeof(*gs));
}

void generation_result_clear(struct generation_result *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->finish_reason);
	free(r->block_reason);
	free(r->json);
	memset(r, 0, sizeof(*r));
}

void base_models_free(struct base_model *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].display_name);
	}
	free(v);
}

void tuned_models_free(struct tuned_model *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		tuned_model_clear(&v[i]);
	free(v);
}

const char *tuned_model_state_name(enum tuned_model_state s)
{
	switch (s) {
	case TUNED_MODEL_CREATING:
		return "CREATING";
	case TUNED_MODEL_ACTIVE:
		return "ACTIVE";
	case TUNED_MODEL_FAILED:
		return "FAILED";
	case TUNED_MODEL_STATE_UNSPECIFIED:
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
