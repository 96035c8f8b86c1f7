/* model_record.h - tunedfs's own record of a tuned model on disk (the kept listing): the
 * neutral tuned_model of backend.h as a small JSON object, whatever service it came from.
 * No file I/O here: model_table_store.c reads and writes the file. */
#ifndef TUNEDFS_MODEL_RECORD_H
#define TUNEDFS_MODEL_RECORD_H

#include <cjson/cJSON.h>

#include "api/backend.h"

/* A new cJSON object for m (aborts on out of memory). */
cJSON *model_record_to_json(const struct tuned_model *m);
/* Fills m from a record (m zeroed first): 0, or -EINVAL when it is not one (no id). */
int model_record_from_json(const cJSON *o, struct tuned_model *m);

#endif
