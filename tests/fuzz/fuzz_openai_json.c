/* fuzz_openai_json.c - libFuzzer target for the openai backend's readers of what the
 * service sends: a fine_tuning.job, a page of jobs, events and checkpoints (then the
 * progress they make), a chat completion and the error envelope with its reset headers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/backend.h"
#include "api/http.h"
#include "api/openai_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_openai_json: contract broken: %s\n", why);
	abort();
}

static size_t fz_len(const char *s)
{
	return s ? strlen(s) : 0;
}

static size_t fz_touch(const struct tuned_model *m)
{
	size_t n = fz_len(m->id) + fz_len(m->job) + fz_len(m->version) + fz_len(m->endpoint) +
		   fz_len(m->failure) + fz_len(m->raw_json) + fz_len(m->base_model);

	if (!m->id || !*m->id)
		fz_fail("a model without a name");
	if (m->n_snapshots && !m->snapshots)
		fz_fail("snapshots counted but absent");
	for (size_t i = 1; i < m->n_snapshots; i++)
		if (m->snapshots[i].step <= m->snapshots[i - 1].step)
			fz_fail("snapshots not in step order");
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct tuned_model m = {0};
	struct model_page p;
	struct generation_answer a;
	struct backend_error err;
	struct http_response resp = {0};
	char *last = NULL;
	long asked = -1;
	int more = 0;

	if (openai_parse_job(text, size, &m) == 0) {
		fz_touch(&m);
		char *first = NULL;
		openai_parse_events(text, size, NULL, &m, &more, &last, &first);
		free(last);
		free(first);
		openai_parse_checkpoints(text, size, &m);
		openai_finish_progress(&m);
		fz_touch(&m);
		if (m.percent > 100.0 + 1e-9)
			fz_fail("more than 100 percent");
		tuned_model_clear(&m);
	}
	if (openai_parse_page(text, size, &p) == 0) {
		for (size_t i = 0; i < p.n; i++)
			fz_touch(&p.v[i]);
		model_page_clear(&p);
	}
	if (openai_parse_completion(text, size, &a) == 0) {
		if (!a.text || !a.raw_json)
			fz_fail("an answer without text or raw JSON");
		generation_answer_clear(&a);
	}
	resp.status = 429;
	resp.body = (char *)text;
	resp.len = size;
	resp.headers = "x-ratelimit-reset-requests: 1m2.5s\nx-ratelimit-reset-tokens: 20ms\n";
	if (openai_read_error(&resp, &asked, &err) >= 0)
		fz_fail("an error answer read as success");
	if (asked != 62500)
		fz_fail("the longer reset was not asked for");
	if (memchr(err.message, '\n', strlen(err.message)))
		fz_fail("a message with a line break");
	return 0;
}
