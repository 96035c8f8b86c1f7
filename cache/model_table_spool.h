/* model_table_spool.h - the prompt spools' part of the table (model_table_spool.c); the
 * calls fs/ makes are in model_table.h. */
#ifndef TUNEDFS_MODEL_TABLE_SPOOL_H
#define TUNEDFS_MODEL_TABLE_SPOOL_H

#include "cache/model_table_impl.h"

/* The prompt a spool file holds (one trailing newline off: *len shortened); -EINVAL with
 * the reason in msg when it cannot be sent. */
int model_table_spool_prompt(const char *data, size_t *len, char *msg, size_t msg_len);
void model_table_spool_drop(struct model_table *t, const char *id); /* rmdir; not under mu */
void model_table_spool_resume(struct model_table *t); /* asks what spools miss; not under mu */

#endif
