/* backend_types.c - life of backend.h's neutral value types: clear, copy, free, and the
 * state and error-kind names. No JSON and no I/O here. */
#include "api/backend.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *bt_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

const char *backend_state_name(enum backend_state s)
{
	switch (s) {
	case BACKEND_CREATING:
		return "CREATING";
	case BACKEND_ACTIVE:
		return "ACTIVE";
	case BACKEND_FAILED:
		return "FAILED";
	case BACKEND_STATE_UNKNOWN:
		break;
	}
	return "STATE_UNSPECIFIED";
}

void tuning_settings_clear(struct tuning_settings *s)
{
	if (!s)
		return;
	free(s->adapter_size);
	memset(s, 0, sizeof(*s));
}

void tuned_model_clear(struct tuned_model *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->version);
	free(m->display_name);
	free(m->description);
	free(m->base_model);
	free(m->source_model);
	tuning_settings_clear(&m->settings);
	free(m->snapshots);
	free(m->job);
	free(m->endpoint);
	free(m->failure);
	free(m->evaluation);
	free(m->raw_json);
	memset(m, 0, sizeof(*m));
}

void tuned_model_copy(struct tuned_model *dst, const struct tuned_model *src)
{
	*dst = *src;
	dst->id = bt_dup(src->id);
	dst->version = bt_dup(src->version);
	dst->display_name = bt_dup(src->display_name);
	dst->description = bt_dup(src->description);
	dst->base_model = bt_dup(src->base_model);
	dst->source_model = bt_dup(src->source_model);
	dst->settings.adapter_size = bt_dup(src->settings.adapter_size);
	dst->snapshots = NULL;
	if (src->n_snapshots) {
		dst->snapshots = xcalloc(src->n_snapshots, sizeof(*dst->snapshots));
		memcpy(dst->snapshots, src->snapshots, src->n_snapshots * sizeof(*dst->snapshots));
	}
	dst->job = bt_dup(src->job);
	dst->endpoint = bt_dup(src->endpoint);
	dst->failure = bt_dup(src->failure);
	dst->evaluation = bt_dup(src->evaluation);
	dst->raw_json = bt_dup(src->raw_json);
}

void tuned_models_free(struct tuned_model *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		tuned_model_clear(&v[i]);
	free(v);
}

void model_page_clear(struct model_page *p)
{
	if (!p)
		return;
	tuned_models_free(p->v, p->n);
	free(p->next);
	memset(p, 0, sizeof(*p));
}

void tuning_example_where(const struct tuning_example *ex, size_t i, const char *file, char *buf,
			  size_t len)
{
	if (ex->line > 0)
		snprintf(buf, len, "%s: line %d", file, ex->line);
	else
		snprintf(buf, len, "%s: example %zu", file, i + 1);
}

void tuning_request_clear(struct tuning_request *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->display_name);
	free(r->description);
	free(r->base_model);
	free(r->source_model);
	free(r->system_instruction);
	tuning_settings_clear(&r->settings);
	for (size_t i = 0; i < r->n_examples; i++) {
		free(r->examples[i].input);
		free(r->examples[i].output);
		free(r->examples[i].native);
	}
	free(r->examples);
	for (size_t i = 0; i < r->n_validation; i++) {
		free(r->validation[i].input);
		free(r->validation[i].output);
		free(r->validation[i].native);
	}
	free(r->validation);
	free(r->validation_file);
	memset(r, 0, sizeof(*r));
}

void generation_settings_clear(struct generation_settings *gs)
{
	if (!gs)
		return;
	for (size_t i = 0; i < gs->n_stop_sequences && i < BACKEND_MAX_STOP_SEQUENCES; i++)
		free(gs->stop_sequences[i]);
	memset(gs, 0, sizeof(*gs));
}

void generation_answer_clear(struct generation_answer *a)
{
	if (!a)
		return;
	free(a->text);
	free(a->finish_reason);
	free(a->block_reason);
	free(a->raw_json);
	memset(a, 0, sizeof(*a));
}

const char *backend_batch_state_name(enum batch_state s)
{
	static const char *const names[] = {"UNKNOWN", "PENDING",   "RUNNING", "SUCCEEDED",
					    "FAILED",  "CANCELLED", "EXPIRED"};

	return (unsigned)s < sizeof(names) / sizeof(*names) ? names[s] : "UNKNOWN";
}

void batch_status_clear(struct batch_status *s)
{
	free(s->failure);
	memset(s, 0, sizeof(*s));
}

void batch_results_free(struct batch_result *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].raw_json);
		free(v[i].error);
	}
	free(v);
}

const char *backend_error_kind_name(enum backend_error_kind k)
{
	static const char *const names[] = {
	    "other",	  "unreachable",  "timeout",	 "cancelled",	"too-large",
	    "bad-answer", "rate-limited", "unavailable", "credentials", "diverged"};

	return (unsigned)k < sizeof(names) / sizeof(*names) ? names[k] : "other";
}
