/* model_table_store.h - the last listing kept on disk (model_table_store.c). */
#ifndef TUNEDFS_MODEL_TABLE_STORE_H
#define TUNEDFS_MODEL_TABLE_STORE_H

#include "cache/model_table_impl.h"

/* Under t->mu. */
void model_table_listing_save(struct model_table *t);
void model_table_listing_load(struct model_table *t);

#endif
