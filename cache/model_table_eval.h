/* model_table_eval.h - eval/ of each model (model_table_eval.c): what the rest of the
 * table asks of it; the calls fs/ makes are in model_table.h. */
#ifndef TUNEDFS_MODEL_TABLE_EVAL_H
#define TUNEDFS_MODEL_TABLE_EVAL_H

#include "cache/model_table_impl.h"

/* The eval files of every ACTIVE model, or of one, asked for. */
void model_table_eval_resume(struct model_table *t);
void model_table_eval_ask_model(struct model_table *t, const char *id);
void model_table_eval_drop(struct model_table *t, const char *id);
/* The config's validation_examples read into req->validation from the draft's eval/ (0
 * when the config names none); -EINVAL with "config: validation_examples: ..." in msg. */
int model_table_eval_validation(struct model_table *t, const char *id, struct tuning_request *req,
				char *msg, size_t msg_len);

#endif
