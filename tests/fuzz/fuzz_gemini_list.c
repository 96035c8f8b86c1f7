/* fuzz_gemini_list.c - libFuzzer target for the client's list-page parsers (tunedModels,
 * base models, operations; api/gemini_internal.h). The first byte picks the parser, the
 * rest is the page, parsed twice as two pages would be. Each listed model's json must be
 * the text of that same model, not of a neighbour. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/gemini_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_gemini_list: contract broken: %s\n", why);
	abort();
}

/* model.json is shown to the user as this model's resource: it must name this model. */
static void fz_check_model(const struct gemini_tuned_model *m)
{
	const cJSON *name;
	cJSON *own;

	if (!m->json)
		fz_fail("listed model without json");
	own = cJSON_Parse(m->json);
	if (!cJSON_IsObject(own))
		fz_fail("listed model's json is not an object");
	name = cJSON_GetObjectItemCaseSensitive(own, "name");
	if (cJSON_IsString(name) != (m->name != NULL) ||
	    (m->name && strcmp(name->valuestring, m->name) != 0)) {
		fprintf(stderr, "name %s, json %s\n", m->name ? m->name : "(none)", m->json);
		fz_fail("listed model's json belongs to another model");
	}
	cJSON_Delete(own);
}

static void fz_models(const char *json, size_t len)
{
	struct gemini_tuned_model *v = NULL;
	size_t n = 0, cap = 0;
	char *next = NULL;

	for (int page = 0; page < 2; page++) {
		if (gemini_parse_model_page(json, len, &v, &n, &cap, &next) != 0)
			break;
		if (n > cap)
			fz_fail("more models than capacity");
		free(next);
		next = NULL;
	}
	for (size_t i = 0; i < n; i++)
		fz_check_model(&v[i]);
	free(next);
	gemini_tuned_models_free(v, n);
}

static void fz_base_models(const char *json, size_t len)
{
	struct base_model *v = NULL;
	size_t n = 0, cap = 0;
	char *next = NULL;

	for (int page = 0; page < 2; page++) {
		if (gemini_parse_base_model_page(json, len, &v, &n, &cap, &next) != 0)
			break;
		free(next);
		next = NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i].name)
			fz_fail("base model without a name");
	free(next);
	base_models_free(v, n);
}

static void fz_operations(const char *json, size_t len)
{
	struct gemini_operation best;
	int have_best = 0;
	char *next = NULL;

	memset(&best, 0, sizeof(best));
	for (int page = 0; page < 2; page++) {
		if (gemini_parse_operation_page(json, len, &best, &have_best, &next) != 0)
			break;
		free(next);
		next = NULL;
	}
	if (have_best && !best.name)
		fz_fail("chosen operation without a name");
	free(next);
	if (have_best)
		gemini_operation_clear(&best);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data + 1;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fz_models(json, size - 1);
		break;
	case 1:
		fz_base_models(json, size - 1);
		break;
	default:
		fz_operations(json, size - 1);
		break;
	}
	return 0;
}
