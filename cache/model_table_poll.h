/* model_table_poll.h - the model table's background thread (model_table_poll.c): creates,
 * listings, polls of training models, rounds of the prompt store and the spools. */
#ifndef TUNEDFS_MODEL_TABLE_POLL_H
#define TUNEDFS_MODEL_TABLE_POLL_H

#include "cache/model_table_impl.h"

int model_table_poll_start(struct model_table *t);
void model_table_poll_stop(struct model_table *t);

#endif
