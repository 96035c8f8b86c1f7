/* model_table_commit.h - the commit path's helpers other parts use (model_table_commit.c);
 * the commits themselves are in model_table.h. */
#ifndef TUNEDFS_MODEL_TABLE_COMMIT_H
#define TUNEDFS_MODEL_TABLE_COMMIT_H

#include "cache/model_table_impl.h"

/* spec_parse_examples with the character limits of the mount's backend (none without one). */
int model_table_parse_examples(struct model_table *t, const char *data, size_t len,
			       struct tuning_request *req, char *msg, size_t msg_len);

#endif
