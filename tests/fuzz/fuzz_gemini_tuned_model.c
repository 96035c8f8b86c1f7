/* fuzz_gemini_tuned_model.c - libFuzzer target for gemini_parse_tuned_model(), the client's
 * reading of a TunedModel resource (tunedModels.get, patch, list items). Every string
 * is read through and the result copied, so dangling or unterminated fields show up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gemini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_gemini_tuned_model: contract broken: %s\n", why);
	abort();
}

static size_t fz_len(const char *s)
{
	return s ? strlen(s) : 0;
}

static size_t fz_touch(const struct gemini_tuned_model *m)
{
	size_t n = fz_len(m->name) + fz_len(m->display_name) + fz_len(m->description) +
		   fz_len(m->base_model) + fz_len(m->source_model) + fz_len(m->create_time) +
		   fz_len(m->update_time) + fz_len(m->json);

	if (m->n_snapshots && !m->snapshots)
		fz_fail("snapshots counted but NULL");
	for (size_t i = 0; i < m->n_snapshots; i++)
		n += strnlen(m->snapshots[i].compute_time, sizeof(m->snapshots[i].compute_time));
	if (strlen(gemini_model_state_name(m->state)) == 0)
		fz_fail("state without a name");
	return n;
}

static int fz_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gemini_tuned_model m, copy;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = gemini_parse_tuned_model((const char *)data, size, &m);
	if (rc > 0)
		fz_fail("positive return");
	if (rc == 0) {
		fz_touch(&m);
		memset(&copy, 0, sizeof(copy));
		gemini_tuned_model_copy(&copy, &m);
		if (!fz_same(copy.name, m.name) || !fz_same(copy.json, m.json) ||
		    copy.n_snapshots != m.n_snapshots || copy.state != m.state)
			fz_fail("gemini_tuned_model_copy differs from its source");
		/* The copy must own its strings: it is read after the source is gone. */
		gemini_tuned_model_clear(&m);
		fz_touch(&copy);
		gemini_tuned_model_clear(&copy);
		return 0;
	}
	gemini_tuned_model_clear(&m);
	return 0;
}
