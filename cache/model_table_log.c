/* model_table_log.c - which answers get a line in their model's log.jsonl and with what: each
 * answer generated, and each prompt written again that what is kept answers (marked
 * cached). Writing the lines, rotation and reading are cache/answer_log.c's. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "cache/answer_log.h"
#include "cache/model_table_log.h"
#include "cache/model_table_impl.h"

void model_table_log_answer(struct model_table *t, const char *id, const char *prompt, size_t len,
			    const struct generation_answer *a, long latency_ms, int cached)
{
	int rc;

	if (!t->o.answer_log)
		return;
	rc = answer_log_answer(t->o.answer_log, id, prompt, len, a, latency_ms, cached);
	if (rc < 0)
		model_table_logf(t, LOG_WARNING, "%s: log.jsonl: cannot append: %s", id,
				 strerror(-rc));
}

void model_table_log_kept(struct model_table *t, const char *id, const char *prompt, size_t len,
			  const char *json, size_t jlen, long latency_ms)
{
	struct generation_answer r = {0};

	if (t->o.answer_log && t->o.backend &&
	    backend_read_answer(t->o.backend, json, jlen, &r) == 0)
		model_table_log_answer(t, id, prompt, len, &r, latency_ms, 1);
	generation_answer_clear(&r);
}
