/* spool.h - the prompt spool store: per model, the prompts written into MODEL/prompts/,
 * kept as user data in the data directory (atomic, durable, 0700/0600, never evicted,
 * surviving unmount and kill -9). Only storage: answers are the response cache's, and
 * what a prompt's closing starts is the model table's (model_table.h). */
#ifndef TUNEDFS_SPOOL_H
#define TUNEDFS_SPOOL_H

#include <stddef.h>

/* A spool file's name: 1 to this many bytes, no '/', not "." or "..". */
#define SPOOL_NAME_MAX 126
/* The largest prompt a spool keeps. */
#define SPOOL_MAX ((size_t)8 << 20)

struct spool;

int spool_valid_name(const char *name);
/* dir is created 0700 when missing. Safe from several threads. */
int spool_open(const char *dir, struct spool **out);
void spool_close(struct spool *sp);

/* The models with a spool, and one model's prompt names: sorted heap arrays. */
int spool_models(struct spool *sp, char ***names, size_t *n);
int spool_list(struct spool *sp, const char *model, char ***names, size_t *n);
void spool_names_free(char **names, size_t n);
/* -ENOENT when model/name was never written. */
int spool_read(struct spool *sp, const char *model, const char *name, char **data, size_t *len);
/* Atomic replacement, durable when it returns 0. */
int spool_write(struct spool *sp, const char *model, const char *name, const char *data,
		size_t len);
int spool_unlink(struct spool *sp, const char *model, const char *name);
/* Every prompt of model, and its directory (rm -r of the model). */
int spool_drop(struct spool *sp, const char *model);

/* Notes beside a model's prompts (what a batch under way holds), named by a tag of 1-64
 * of [a-z0-9-]: written atomically and durably, listed, read, removed; spool_drop takes
 * them too. */
int spool_note_write(struct spool *sp, const char *model, const char *tag, const char *data,
		     size_t len);
int spool_note_read(struct spool *sp, const char *model, const char *tag, char **data, size_t *len);
int spool_note_unlink(struct spool *sp, const char *model, const char *tag);
int spool_note_list(struct spool *sp, const char *model, char ***tags, size_t *n);

#endif
