/* model_table_commit.h - the commit path's helpers other parts use (model_table_commit.c);
 * the commits themselves are in model_table.h. */
#ifndef TUNEDFS_MODEL_TABLE_COMMIT_H
#define TUNEDFS_MODEL_TABLE_COMMIT_H

#include "cache/model_table_impl.h"

#endif
