/* batch_impl.h - the parts of tunedfs-server's batch jobs shared by batch.c (the table
 * and its runners) and batch_file.c (their files). Private to those two. */
#ifndef TUNEDFS_SERVER_BATCH_IMPL_H
#define TUNEDFS_SERVER_BATCH_IMPL_H

#include "server/batch.h"

/* Writes b's record (batch.json) atomically. */
int srv_batch_file_save(const char *dir, const struct srv_batch *b);
/* Makes DIR/batches/ID/ with its items, then its record. -EEXIST when the id is taken. */
int srv_batch_file_create(const char *dir, const struct srv_batch *b);
/* Appends item i's answer to results.jsonl. */
int srv_batch_file_answer(const char *dir, const struct srv_batch *b, size_t i);
/* Removes b's files and directory. */
void srv_batch_file_remove(const char *dir, const char *id);
/* Every batch under DIR/batches (heap array of heap records, in no order); unreadable
 * ones are skipped. */
int srv_batch_file_load_all(const char *dir, struct srv_batch ***out, size_t *n);
void srv_batch_free(struct srv_batch *b);

#endif
