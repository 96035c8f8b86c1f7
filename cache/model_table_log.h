/* model_table_log.h - the answer log's lines (model_table_log.c). */
#ifndef TUNEDFS_MODEL_TABLE_LOG_H
#define TUNEDFS_MODEL_TABLE_LOG_H

#include "cache/model_table_impl.h"

/* Lines of log.jsonl (no lock held) for an answer generated, and for one
 * answered again from what is kept (json, as cached) */
void model_table_log_answer(struct model_table *t, const char *id, const char *prompt, size_t len,
			    const struct generation_answer *a, long latency_ms, int cached);
void model_table_log_kept(struct model_table *t, const char *id, const char *prompt, size_t len,
			  const char *json, size_t jlen, long latency_ms);

#endif
