/* model_table_user.h - the prompt store (model_table_user.c): prompt and generation kept
 * across mounts (options.prompts), saved in rounds by the background thread under its own
 * user_mu (taken before the table's mu). */
#ifndef TUNEDFS_MODEL_TABLE_USER_H
#define TUNEDFS_MODEL_TABLE_USER_H

#include "cache/model_table_impl.h"

void model_table_user_load_names(struct model_table *t); /* at model_table_new */
void model_table_user_apply(struct model_table *t,
			    struct model_table_entry *e); /* a new entry; under mu */
void model_table_user_reset(struct model_table *t,
			    struct model_table_entry *e); /* a new draft; under mu */
void model_table_user_mark(struct model_table *t,
			   struct model_table_entry *e);	     /* changed; under mu */
void model_table_user_drop(struct model_table *t, const char *id);   /* gone; under mu */
int model_table_user_save(struct model_table *t, int force);	     /* under mu */
void model_table_user_forget(struct model_table *t, const char *id); /* rmdir; not under mu */
void model_table_user_free(struct model_table *t);

#endif
